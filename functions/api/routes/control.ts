import { z } from 'zod';
import {
  ApproveBody,
  CommandAccepted,
  HostIdParams,
  IncidentIdParams,
  MaintenanceBody,
  MaintenanceParams,
  ResumeBody,
} from '../../../events/index.ts';
import type { ProjectionReader } from '../../adapters/store/port.ts';
import type { Principal } from '../auth.ts';
import {
  approveCommand,
  type CommandDeps,
  type CommandInput,
  openIncident,
  queueCommand,
  resolveCommand,
} from '../commands.ts';
import {
  type ApiContext,
  defineRoute,
  errorAnswer,
  MAX_COMMAND_BODY_BYTES,
  type RouteGroup,
  routeGroup,
} from '../define-route.ts';
import { InvalidRequestError } from '../errors.ts';

/**
 * The control route group, mounted at `/v1`: the operator's actions (approve, resolve, pause,
 * resume, maintenance). Each becomes an operator command queued for correlate (../commands.ts) and
 * is answered 202 with its id.
 */

export interface ControlRoutesDeps {
  /** Where approve and resolve read the incident they name. */
  readonly store: Pick<ProjectionReader, 'getIncident'>;
  readonly commands: CommandDeps;
}

const accepted = (description: string) => ({
  202: { description, content: { 'application/json': { schema: CommandAccepted } } },
});

/** A maintenance target's name, checked as a host id or a failure domain by its kind. */
const maintenanceTarget = (kind: 'host' | 'domain', id: string): string => {
  const schema = kind === 'host' ? HostIdParams.shape.hostId : ResumeBody.shape.failureDomain.unwrap();
  const parsed = schema.safeParse(id);
  if (!parsed.success) {
    throw new InvalidRequestError(`invalid ${kind}`, [
      {
        path: ['params', 'id'],
        message: parsed.error.issues[0]?.message ?? `not a ${kind}`,
        code: 'invalid_format',
      },
    ]);
  }
  return parsed.data;
};

/**
 * The control group: `POST /v1/incidents/:id/approve` and `/resolve`, `POST /v1/control/pause`
 * and `/resume`, `PUT /v1/maintenance/:kind/:id`.
 */
export const controlRoutes = ({ store, commands }: ControlRoutesDeps): RouteGroup => {
  const group = routeGroup();

  const queueOperatorCommand = async (
    c: ApiContext,
    input: CommandInput,
    principal: Principal,
  ): Promise<Response> => {
    const command = await queueCommand(commands, input, principal);
    return c.json({ commandId: command.id, type: command.type }, 202);
  };

  defineRoute(
    group,
    {
      method: 'post',
      path: '/incidents/{id}/approve',
      access: 'operator',
      operationId: 'approveIncident',
      summary: "Approve an outage's next wave (approve mode), optionally naming the canary",
      tags: ['operators'],
      params: IncidentIdParams,
      body: { schema: ApproveBody, maxBytes: MAX_COMMAND_BODY_BYTES },
      responses: {
        ...accepted('The approval is queued'),
        404: errorAnswer('No such incident.'),
        409: errorAnswer('Resolved, or not an outage.'),
      },
    },
    async (c, { params, body, principal }) => {
      const incident = await openIncident(store, params.id);
      return queueOperatorCommand(c, approveCommand(incident, body.canaryHost), principal);
    },
  );

  defineRoute(
    group,
    {
      method: 'post',
      path: '/incidents/{id}/resolve',
      access: 'operator',
      operationId: 'resolveIncident',
      summary: 'Resolve an incident by hand',
      tags: ['operators'],
      params: IncidentIdParams,
      body: { schema: z.strictObject({}), maxBytes: MAX_COMMAND_BODY_BYTES },
      responses: {
        ...accepted('The resolution is queued'),
        404: errorAnswer('No such incident.'),
        409: errorAnswer('Already resolved.'),
      },
    },
    async (c, { params, principal }) => {
      const incident = await openIncident(store, params.id);
      return queueOperatorCommand(c, resolveCommand(incident), principal);
    },
  );

  defineRoute(
    group,
    {
      method: 'post',
      path: '/control/pause',
      access: 'operator',
      operationId: 'pause',
      summary: 'Pause all dispatch at once',
      tags: ['operators'],
      body: { schema: z.strictObject({}), maxBytes: MAX_COMMAND_BODY_BYTES },
      responses: accepted('The pause is queued'),
    },
    async (c, { principal }) => queueOperatorCommand(c, { type: 'operator.pause' }, principal),
  );

  defineRoute(
    group,
    {
      method: 'post',
      path: '/control/resume',
      access: 'operator',
      operationId: 'resume',
      summary: "End the global pause, or lift one failure domain's halt",
      tags: ['operators'],
      body: { schema: ResumeBody, maxBytes: MAX_COMMAND_BODY_BYTES },
      responses: accepted('The resume is queued'),
    },
    async (c, { body, principal }) =>
      queueOperatorCommand(
        c,
        {
          type: 'operator.resume',
          ...(body.failureDomain === undefined ? {} : { failureDomain: body.failureDomain }),
        },
        principal,
      ),
  );

  defineRoute(
    group,
    {
      method: 'put',
      path: '/maintenance/{kind}/{id}',
      routingPath: '/maintenance/:kind/:id{.+}',
      access: 'operator',
      operationId: 'setMaintenance',
      summary: 'Put a host or a failure domain in or out of maintenance',
      tags: ['operators'],
      params: MaintenanceParams,
      body: { schema: MaintenanceBody, maxBytes: MAX_COMMAND_BODY_BYTES },
      responses: accepted('The change is queued'),
    },
    async (c, { params, body, principal }) => {
      const name = maintenanceTarget(params.kind, params.id);
      return queueOperatorCommand(
        c,
        { type: 'operator.maintenance', target: params.kind, name, on: body.on },
        principal,
      );
    },
  );

  return group;
};
