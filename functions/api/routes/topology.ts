import type { z } from 'zod';
import {
  DomainIdParams,
  DomainImpactBody,
  type SinglePointOfFailureBody,
  TopologyBody,
  type TopologyHostBody,
  TopologyQuery,
} from '../../../events/index.ts';
import { StoreRejectedError } from '../../adapters/errors.ts';
import type { HostRegistry, Page, ProjectionReader } from '../../adapters/store/port.ts';
import type { HostSlice } from '../../core/index.ts';
import {
  type DomainImpact,
  domainImpactOf,
  type HostImpact,
  type HostTopology,
  hostImpactOf,
  type SinglePointOfFailure,
  topologyOf,
} from '../../core/topology.ts';
import { defineRoute, errorAnswer, type RouteGroup, routeGroup } from '../define-route.ts';
import { InvalidRequestError, NotFoundError } from '../errors.ts';

/**
 * The topology route group, mounted at `/v1` (docs/architecture.md §5.4, §6): which failure domains
 * each host's arrays and maps depend on and which are single points of failure
 * (`GET /v1/topology`), and what one domain going down now would cost (`GET /v1/domains/:id/impact`:
 * the hosts that lose a half, and those that would lose their last good copy). Both read the host
 * slices through the store (`listHosts`) and compute with the core's own rules
 * (functions/core/topology.ts), so this warning and the core's planned-maintenance page agree.
 */

export interface TopologyRoutesDeps {
  readonly store: Pick<ProjectionReader, 'listHosts'> & Pick<HostRegistry, 'listHostRecords'>;
}

const DEFAULT_TOPOLOGY_PAGE = 100;
/** The impact reads the whole fleet: in pages this large. */
const IMPACT_PAGE = 1000;

/** The topology and impact group: `GET /v1/topology` and `GET /v1/domains/:id/impact`. */
export const topologyRoutes = ({ store }: TopologyRoutesDeps): RouteGroup => {
  const group = routeGroup();

  defineRoute(
    group,
    {
      method: 'get',
      path: '/topology',
      access: 'operator',
      operationId: 'getTopology',
      summary:
        'Hosts with the failure domains their arrays and maps depend on, and the single points of failure',
      description:
        'A page of the fleet by host id. With `domain`, only the hosts that depend on it (a page may then show fewer than it read; follow `cursor`).',
      tags: ['topology'],
      query: TopologyQuery,
      responses: {
        200: { description: 'A page', content: { 'application/json': { schema: TopologyBody } } },
      },
    },
    async (c, { query }) => {
      const limit = query.limit ?? DEFAULT_TOPOLOGY_PAGE;
      const cursor = query.cursor;
      let page: Page<HostSlice>;
      try {
        page = await store.listHosts({ limit, ...(cursor === undefined ? {} : { cursor }) });
      } catch (error) {
        if (cursor !== undefined && error instanceof StoreRejectedError) {
          throw new InvalidRequestError(
            'invalid cursor',
            [{ path: ['query', 'cursor'], message: 'not a cursor of this listing', code: 'invalid-cursor' }],
            { cause: error },
          );
        }
        throw error;
      }
      const topology = topologyOf(page.items, query.domain === undefined ? {} : { domain: query.domain });
      return c.json({ ...topology, cursor: page.cursor ?? null }, 200);
    },
  );

  defineRoute(
    group,
    {
      method: 'get',
      path: '/domains/{id}/impact',
      routingPath: '/domains/:id{.+}/impact',
      access: 'operator',
      operationId: 'getDomainImpact',
      summary: 'What this failure domain going down now would cost: who loses a half, who loses the last one',
      tags: ['topology'],
      params: DomainIdParams,
      responses: {
        200: { description: 'The impact', content: { 'application/json': { schema: DomainImpactBody } } },
        404: errorAnswer('No host depends on this domain and no server is registered for it.'),
      },
    },
    async (c, { params }) => {
      const domain = params.id;
      const hosts: HostImpact[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listHosts({
          limit: IMPACT_PAGE,
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const host of page.items) {
          const impact = hostImpactOf(host, domain);
          if (impact !== undefined) hosts.push(impact);
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
      // An empty answer must not read as "safe to take down" for a mistyped name: a domain no host
      // depends on and no server is granted is unknown.
      if (
        hosts.length === 0 &&
        !(await store.listHostRecords()).some((record) => record.serves.includes(domain))
      ) {
        throw new NotFoundError(
          `no host Faultline knows depends on ${domain} and no server is registered for it; faultline topology lists the domains`,
        );
      }
      return c.json(domainImpactOf(domain, hosts), 200);
    },
  );

  return group;
};

// ————————————————————————————————————————————— the core's values fit the documented shapes

/** True when every `Value` the core computes fits `Schema`; a mismatch fails the typecheck below. */
type Describes<Schema extends z.ZodType, Value> = [Value] extends [z.output<Schema>] ? true : false;
type Holds<Check extends true> = Check;

/** Compile-time only: the contract's response schemas describe what the core computes. */
export type TopologyShapesDescribed = [
  Holds<Describes<typeof DomainImpactBody, DomainImpact>>,
  Holds<[HostTopology] extends [TopologyHostBody] ? true : false>,
  Holds<[SinglePointOfFailure] extends [SinglePointOfFailureBody] ? true : false>,
];
