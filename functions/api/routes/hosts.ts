import { HostGrant, HostList, HostRecordBody, HostRecordParams } from '../../../events/index.ts';
import type { HostRecord, HostRegistry } from '../../adapters/store/port.ts';
import {
  defineRoute,
  errorAnswer,
  MAX_COMMAND_BODY_BYTES,
  type RouteGroup,
  routeGroup,
} from '../define-route.ts';
import { type RegisterDeps, registerServer } from '../hosts.ts';

/**
 * The hosts route group, mounted at `/v1/hosts` (docs/architecture.md §3 "Sender binding", §6):
 * operators register servers with their grants and list them (../hosts.ts). Every host not
 * listed is a client.
 */

export interface HostRoutesDeps extends RegisterDeps {
  readonly hosts: Pick<HostRegistry, 'putHostRecord' | 'listHostRecords'>;
}

/** A stored record as the API shows it (the store's shape fits the contract's, checked here). */
const recordBody = (record: HostRecord): HostRecordBody =>
  ({
    hostId: record.hostId,
    role: record.role,
    serves: [...record.serves],
    registeredAt: record.registeredAt,
    registeredBy: record.registeredBy,
  }) satisfies HostRecordBody;

const byHostId = (a: HostRecord, b: HostRecord): number =>
  a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0;

/** The hosts group: `GET /v1/hosts` and `PUT /v1/hosts/:id`. */
export const hostRoutes = (deps: HostRoutesDeps): RouteGroup => {
  const group = routeGroup();

  defineRoute(
    group,
    {
      method: 'get',
      path: '/',
      access: 'operator',
      operationId: 'listHosts',
      summary: 'The registered servers with their grants, by host id',
      description:
        'Every host not listed is a client: its agent may not claim a server role or announce a domain.',
      tags: ['operators'],
      responses: {
        200: { description: 'The servers', content: { 'application/json': { schema: HostList } } },
      },
    },
    async (c) => {
      const records = [...(await deps.hosts.listHostRecords())].sort(byHostId);
      return c.json({ hosts: records.map(recordBody) } satisfies HostList, 200);
    },
  );

  defineRoute(
    group,
    {
      method: 'put',
      path: '/{id}',
      access: 'operator',
      operationId: 'registerHost',
      summary: 'Register a server, or replace its grant: its role and the failure domains it serves',
      description:
        "The grant replaces the host's previous one whole. Its agent may then heartbeat with that role, list those domains in `serves` and `guests`, and announce `ipl.completed`, `domain.rebooted` and `domain.going-down` for them; anything beyond the grant is refused at ingest.",
      tags: ['operators'],
      params: HostRecordParams,
      body: { schema: HostGrant, maxBytes: MAX_COMMAND_BODY_BYTES },
      responses: {
        200: {
          description: 'The host record as stored',
          content: { 'application/json': { schema: HostRecordBody } },
        },
        409: errorAnswer('A later grant of this host was registered meanwhile.'),
      },
    },
    async (c, { params, body, principal }) =>
      c.json(recordBody(await registerServer(deps, params.id, body, principal)), 200),
  );

  return group;
};
