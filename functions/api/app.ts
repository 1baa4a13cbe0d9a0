import { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { LIMITS } from '../../events/index.ts';
import { StoreRejectedError } from '../adapters/errors.ts';
import type { WorkQueue } from '../adapters/queue/port.ts';
import type { IncidentQuery, Page, Store } from '../adapters/store/port.ts';
import { newTokenSecret } from '../adapters/store/tokens.ts';
import { authenticate, DEFAULT_OPERATOR_LABEL, type Principal, requireHost } from './auth.ts';
import { readJsonBody } from './body.ts';
import {
  approveCommand,
  type CommandInput,
  newCommandId,
  openIncident,
  queueCommand,
  resolveCommand,
} from './commands.ts';
import { type ApiLog, errorResponse } from './error-response.ts';
import { InternalError, InvalidRequestError, MethodNotAllowedError, NotFoundError } from './errors.ts';
import { ingestEvents } from './ingest.ts';
import {
  type LongPollOptions,
  nextPollSeconds,
  POLL_SECONDS,
  type PollSeconds,
  waitForPlans,
} from './plans.ts';
import { type ApiContext, type ApiEnv, defineRoute, errorAnswer, type RouteEntry } from './routes.ts';
import {
  ApproveBody,
  CommandAccepted,
  EventsAccepted,
  EventsRequest,
  HealthBody,
  HostIdParams,
  IncidentDetailBody,
  IncidentDetailQuery,
  IncidentIdParams,
  IncidentList,
  IncidentListQuery,
  MaintenanceBody,
  MaintenanceParams,
  PlansQuery,
  PlansResponse,
  ResumeBody,
  StatsBody,
  StatsQuery,
  TokenCreated,
  TokenRequest,
} from './schemas.ts';
import { mintToken } from './tokens.ts';

/**
 * The HTTP API (DESIGN.md §6): one Hono app, served by Lambda through `hono/aws-lambda`
 * (./handler.ts) and by the local runtime through `@hono/node-server`. It only wires: requests are
 * parsed at the edge (./routes.ts, ./body.ts), authenticated (./auth.ts), and handed to ingest
 * (./ingest.ts), the plan reader (./plans.ts), operator commands (./commands.ts) or the store's
 * projections; every failure is answered by one `onError` (./error-response.ts).
 */

/** What the API reads from the store: projections, the host slices (roles, plan progress) and tokens. */
export type ApiStore = Pick<
  Store,
  | 'getSlices'
  | 'plansForHost'
  | 'listIncidents'
  | 'getIncident'
  | 'listTimeline'
  | 'listAffectedHosts'
  | 'stats'
  | 'getControl'
  | 'getToken'
  | 'putToken'
>;

export interface ApiDeps {
  readonly store: ApiStore;
  /** The events queue correlate consumes: events and operator commands, stamped with their sender. */
  readonly eventsQueue: Pick<WorkQueue, 'send' | 'sendBatch'>;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
  /** Operator command ids; default `cmd-<uuid>`. */
  readonly newCommandId?: () => string;
  /** Token secrets; default `flt_` and 32 random bytes. */
  readonly newTokenSecret?: () => string;
  /** JSON log lines (5xx and warnings only); default one line on stdout. */
  readonly log?: ApiLog;
  /** Long polling of plans (`?wait=`): only where requests may be held open (the local runtime, not Lambda). */
  readonly longPoll?: LongPollOptions;
  /** How often agents are asked to poll, with and without work in flight; default 5 s and 60 s. */
  readonly pollSeconds?: Partial<PollSeconds>;
  /** The version shown in `/openapi.json`. */
  readonly version?: string;
}

/** The largest body of an operator request (approve, resume, maintenance, tokens). */
export const MAX_COMMAND_BODY_BYTES = 16 * 1024;
const DEFAULT_INCIDENT_PAGE = 50;
const DEFAULT_DETAIL_PAGE = 100;
const DEFAULT_VERSION = '0.1.0';

const jsonLog: ApiLog = (entry) => {
  console.log(JSON.stringify({ service: 'api', ...entry }));
};

/** A path as echoed in an error message: at most this long. */
const MAX_SHOWN_PATH = 200;
const shown = (path: string): string =>
  path.length <= MAX_SHOWN_PATH ? path : `${path.slice(0, MAX_SHOWN_PATH)}…`;

const cursorOf = (page: Page<unknown>): string | null => page.cursor ?? null;

/** A store call given a client's cursor: a cursor the store refuses is the client's mistake (400). */
const withCursor = async <T>(
  cursor: string | undefined,
  path: (string | number)[],
  read: () => Promise<T>,
): Promise<T> => {
  try {
    return await read();
  } catch (error) {
    if (cursor !== undefined && error instanceof StoreRejectedError) {
      throw new InvalidRequestError(
        'invalid cursor',
        [{ path, message: 'not a cursor of this listing with these filters', code: 'invalid-cursor' }],
        { cause: error },
      );
    }
    throw error;
  }
};

/** Drops the keys whose value is undefined (for `exactOptionalPropertyTypes`). */
const defined = <T extends Record<string, unknown>>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };

export const createApp = (deps: ApiDeps): OpenAPIHono<ApiEnv> => {
  const now = deps.now ?? Date.now;
  const log = deps.log ?? jsonLog;
  const poll: PollSeconds = { ...POLL_SECONDS, ...deps.pollSeconds };
  const commandDeps = { queue: deps.eventsQueue, now, newId: deps.newCommandId ?? newCommandId };
  const app = new OpenAPIHono<ApiEnv>();
  const routes: RouteEntry[] = [];

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An agent token (bound to one host) or an operator token, from `POST /v1/tokens`.',
  });

  app.onError((error, c) => errorResponse(c, error, log));
  app.notFound((c) => {
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    const allowed = [
      ...new Set(routes.filter((route) => route.matcher.test(c.req.path)).map((route) => route.method)),
    ];
    return errorResponse(
      c,
      allowed.length > 0 && !allowed.includes(method)
        ? new MethodNotAllowedError(c.req.method, shown(c.req.path), allowed)
        : new NotFoundError(`no route ${c.req.method} ${shown(c.req.path)}`),
      log,
    );
  });

  // Hono hands `onError` only what is an Error; anything else thrown below is made one here.
  app.use('*', async (_c, next) => {
    try {
      await next();
    } catch (error) {
      throw error instanceof Error ? error : new InternalError({ cause: error });
    }
  });

  app.use('*', async (c, next) => {
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    const isPublic = routes.some(
      (route) => route.access === 'public' && route.method === method && route.matcher.test(c.req.path),
    );
    if (!isPublic) c.set('principal', await authenticate(c.req.header('authorization'), deps.store));
    await next();
    c.header('Cache-Control', 'no-store');
    c.header('X-Content-Type-Options', 'nosniff');
  });

  const queueOperatorCommand = async (
    c: ApiContext,
    input: CommandInput,
    label: string,
  ): Promise<Response> => {
    const command = await queueCommand(commandDeps, input, label);
    return c.json({ commandId: command.id, type: command.type }, 202);
  };
  const operatorLabel = (principal: Principal): string =>
    principal.kind === 'operator' ? principal.label : DEFAULT_OPERATOR_LABEL;

  const accepted = (description: string) => ({
    202: { description, content: { 'application/json': { schema: CommandAccepted } } },
  });

  // ——— agents

  defineRoute(
    app,
    routes,
    {
      method: 'post',
      path: '/v1/events',
      access: 'authenticated',
      operationId: 'postEvents',
      summary: 'Ingest one CloudEvent or a batch',
      description:
        "An agent token may post only its own host's events; `ipl.completed`, `domain.rebooted` and `domain.going-down` only from a host of role hosting or control, or an operator token. Accepted events are stamped with `receivedat` and queued for correlate.",
      tags: ['agents'],
      rawBody: {
        schema: EventsRequest,
        maxBytes: LIMITS.maxBatchBytes,
        mediaTypes: [
          'application/cloudevents-batch+json',
          'application/cloudevents+json',
          'application/json',
        ],
      },
      responses: {
        202: {
          description: 'At least one event was accepted; the others are listed by index with their issues.',
          content: { 'application/json': { schema: EventsAccepted } },
        },
      },
    },
    async (c, { principal }) => {
      const body = await readJsonBody(c.req.raw, { maxBytes: LIMITS.maxBatchBytes, required: true });
      const answer = await ingestEvents(body, principal, {
        store: deps.store,
        queue: deps.eventsQueue,
        now,
        log,
      });
      return c.json(answer, 202);
    },
  );

  defineRoute(
    app,
    routes,
    {
      method: 'get',
      path: '/v1/agents/{hostId}/plans',
      access: 'authenticated',
      operationId: 'getPlans',
      summary: "A host's signed plans, and when to ask again",
      description:
        'Plans not revoked, not expired and not finished, oldest first. `?wait=` holds the request until a plan is there where the deployment allows it (the local runtime); elsewhere it answers at once.',
      tags: ['agents'],
      params: HostIdParams,
      query: PlansQuery,
      responses: {
        200: { description: 'The plans', content: { 'application/json': { schema: PlansResponse } } },
        403: errorAnswer("An agent token asking for another host's plans."),
      },
    },
    async (c, { params, query, principal }) => {
      requireHost(principal, params.hostId);
      const hostPlans = await waitForPlans(
        { store: deps.store, now, longPoll: deps.longPoll },
        params.hostId,
        query.wait ?? 0,
        c.req.raw.signal,
      );
      return c.json({ plans: hostPlans.plans, nextPollSeconds: nextPollSeconds(hostPlans, poll) }, 200);
    },
  );

  // ——— incidents and stats

  defineRoute(
    app,
    routes,
    {
      method: 'get',
      path: '/v1/incidents',
      access: 'operator',
      operationId: 'listIncidents',
      summary: 'Incidents, newest first, filtered and paginated',
      tags: ['incidents'],
      query: IncidentListQuery,
      responses: {
        200: { description: 'A page', content: { 'application/json': { schema: IncidentList } } },
      },
    },
    async (c, { query }) => {
      const filter: IncidentQuery = defined({ ...query, limit: query.limit ?? DEFAULT_INCIDENT_PAGE });
      const page = await withCursor(query.cursor, ['query', 'cursor'], () =>
        deps.store.listIncidents(filter),
      );
      return c.json({ incidents: page.items, cursor: cursorOf(page) }, 200);
    },
  );

  defineRoute(
    app,
    routes,
    {
      method: 'get',
      path: '/v1/incidents/{id}',
      access: 'operator',
      operationId: 'getIncident',
      summary: 'One incident with its timeline and affected hosts',
      tags: ['incidents'],
      params: IncidentIdParams,
      query: IncidentDetailQuery,
      responses: {
        200: { description: 'The incident', content: { 'application/json': { schema: IncidentDetailBody } } },
        404: errorAnswer('No such incident.'),
      },
    },
    async (c, { params, query }) => {
      const limit = query.limit ?? DEFAULT_DETAIL_PAGE;
      const detail = await deps.store.getIncident(params.id, { limit });
      if (detail === undefined) throw new NotFoundError(`no incident ${params.id}`);
      const timelineCursor = query.timelineCursor;
      const hostsCursor = query.hostsCursor;
      const [timeline, affectedHosts] = await Promise.all([
        timelineCursor === undefined
          ? detail.timeline
          : withCursor(timelineCursor, ['query', 'timelineCursor'], () =>
              deps.store.listTimeline(params.id, { limit, cursor: timelineCursor }),
            ),
        hostsCursor === undefined
          ? detail.affectedHosts
          : withCursor(hostsCursor, ['query', 'hostsCursor'], () =>
              deps.store.listAffectedHosts(params.id, { limit, cursor: hostsCursor }),
            ),
      ]);
      return c.json(
        {
          incident: detail.incident,
          timeline: { items: timeline.items, cursor: cursorOf(timeline) },
          affectedHosts: { items: affectedHosts.items, cursor: cursorOf(affectedHosts) },
        },
        200,
      );
    },
  );

  defineRoute(
    app,
    routes,
    {
      method: 'get',
      path: '/v1/stats',
      access: 'operator',
      operationId: 'getStats',
      summary: 'Counts, time to detect and time to heal, by failure domain',
      tags: ['incidents'],
      query: StatsQuery,
      responses: {
        200: { description: 'The figures', content: { 'application/json': { schema: StatsBody } } },
      },
    },
    async (c, { query }) => c.json(await deps.store.stats(defined(query)), 200),
  );

  // ——— operator commands

  defineRoute(
    app,
    routes,
    {
      method: 'post',
      path: '/v1/incidents/{id}/approve',
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
      const incident = await openIncident(deps.store, params.id);
      return queueOperatorCommand(c, approveCommand(incident, body.canaryHost), operatorLabel(principal));
    },
  );

  defineRoute(
    app,
    routes,
    {
      method: 'post',
      path: '/v1/incidents/{id}/resolve',
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
      const incident = await openIncident(deps.store, params.id);
      return queueOperatorCommand(c, resolveCommand(incident), operatorLabel(principal));
    },
  );

  defineRoute(
    app,
    routes,
    {
      method: 'post',
      path: '/v1/control/pause',
      access: 'operator',
      operationId: 'pause',
      summary: 'Pause all dispatch at once',
      tags: ['operators'],
      body: { schema: z.strictObject({}), maxBytes: MAX_COMMAND_BODY_BYTES },
      responses: accepted('The pause is queued'),
    },
    async (c, { principal }) => queueOperatorCommand(c, { type: 'operator.pause' }, operatorLabel(principal)),
  );

  defineRoute(
    app,
    routes,
    {
      method: 'post',
      path: '/v1/control/resume',
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
        operatorLabel(principal),
      ),
  );

  defineRoute(
    app,
    routes,
    {
      method: 'put',
      path: '/v1/maintenance/{kind}/{id}',
      routingPath: '/v1/maintenance/:kind/:id{.+}',
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
        operatorLabel(principal),
      );
    },
  );

  // ——— tokens

  defineRoute(
    app,
    routes,
    {
      method: 'post',
      path: '/v1/tokens',
      access: 'operator',
      operationId: 'createToken',
      summary: 'Mint an agent token for a host, or an operator token',
      description: 'The secret is in this answer only; the store keeps its SHA-256.',
      tags: ['operators'],
      body: { schema: TokenRequest, maxBytes: MAX_COMMAND_BODY_BYTES },
      responses: {
        201: { description: 'The token', content: { 'application/json': { schema: TokenCreated } } },
      },
    },
    async (c, { body }) => {
      const grant =
        'hostId' in body ? { kind: 'agent' as const, hostId: body.hostId } : { kind: 'operator' as const };
      const minted = await mintToken(
        { tokens: deps.store, now, newSecret: deps.newTokenSecret ?? newTokenSecret },
        grant,
        body.label,
      );
      return c.json(minted, 201);
    },
  );

  // ——— service

  defineRoute(
    app,
    routes,
    {
      method: 'get',
      path: '/v1/health',
      access: 'public',
      operationId: 'health',
      summary: 'Whether the API and its store answer (no token needed)',
      tags: ['service'],
      responses: { 200: { description: 'Healthy', content: { 'application/json': { schema: HealthBody } } } },
    },
    async (c) => {
      const control = await deps.store.getControl();
      return c.json(
        { status: 'ok' as const, paused: control.paused, time: new Date(now()).toISOString() },
        200,
      );
    },
  );

  let document: unknown;
  defineRoute(
    app,
    routes,
    {
      method: 'get',
      path: '/openapi.json',
      access: 'authenticated',
      operationId: 'openapi',
      summary: 'This description (OpenAPI 3.0)',
      tags: ['service'],
      responses: {
        200: {
          description: 'The OpenAPI document',
          content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } },
        },
      },
    },
    (c) => {
      document ??= app.getOpenAPIDocument({
        openapi: '3.0.3',
        info: {
          title: 'Faultline API',
          version: deps.version ?? DEFAULT_VERSION,
          description:
            'The control plane of Faultline (DESIGN.md §6). Errors are always `{error:{code,message,issues?}}`.',
        },
      });
      return c.json(document as Record<string, unknown>, 200);
    },
  );

  return app;
};

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
