import type { z } from 'zod';
import {
  type AffectedHostBody,
  type IncidentBody,
  IncidentDetailBody,
  IncidentDetailQuery,
  IncidentIdParams,
  IncidentList,
  IncidentListQuery,
  type PageRoutesBody,
  StatsBody,
  StatsQuery,
  type TimelineEntryBody,
} from '../../../events/index.ts';
import { StoreRejectedError } from '../../adapters/errors.ts';
import type {
  AffectedHost,
  DurationStats,
  IncidentQuery,
  IncidentRecord,
  IncidentStats,
  Page,
  ProjectionReader,
} from '../../adapters/store/port.ts';
import type { TimelineEntry } from '../../core/index.ts';
import { defineRoute, errorAnswer, type RouteGroup, routeGroup } from '../define-route.ts';
import { InvalidRequestError, NotFoundError } from '../errors.ts';

/**
 * The incidents route group, mounted at `/v1`: what operators read of the store's projections
 * (incidents, one incident with its timeline and affected hosts, the stats), paginated by the
 * store's cursors. The answers are the store's values as they are; the compile-time checks at the
 * end keep each response schema of the contract (events/api.ts) able to describe every one of them.
 */

export interface IncidentRoutesDeps {
  readonly store: Pick<
    ProjectionReader,
    'listIncidents' | 'getIncident' | 'listTimeline' | 'listAffectedHosts' | 'stats'
  >;
  /** Where pages go, added to `GET /v1/stats` when the runtime knows it. */
  readonly pages?: PageRoutesBody | undefined;
}

const DEFAULT_INCIDENT_PAGE = 50;
const DEFAULT_DETAIL_PAGE = 100;

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

/** The incidents group: `GET /v1/incidents`, `GET /v1/incidents/:id` and `GET /v1/stats`. */
export const incidentRoutes = ({ store, pages }: IncidentRoutesDeps): RouteGroup => {
  const group = routeGroup();

  defineRoute(
    group,
    {
      method: 'get',
      path: '/incidents',
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
      const page = await withCursor(query.cursor, ['query', 'cursor'], () => store.listIncidents(filter));
      return c.json({ incidents: page.items, cursor: cursorOf(page) }, 200);
    },
  );

  defineRoute(
    group,
    {
      method: 'get',
      path: '/incidents/{id}',
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
      const detail = await store.getIncident(params.id, { limit });
      if (detail === undefined) throw new NotFoundError(`no incident ${params.id}`);
      const timelineCursor = query.timelineCursor;
      const hostsCursor = query.hostsCursor;
      const [timeline, affectedHosts] = await Promise.all([
        timelineCursor === undefined
          ? detail.timeline
          : withCursor(timelineCursor, ['query', 'timelineCursor'], () =>
              store.listTimeline(params.id, { limit, cursor: timelineCursor }),
            ),
        hostsCursor === undefined
          ? detail.affectedHosts
          : withCursor(hostsCursor, ['query', 'hostsCursor'], () =>
              store.listAffectedHosts(params.id, { limit, cursor: hostsCursor }),
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
    group,
    {
      method: 'get',
      path: '/stats',
      access: 'operator',
      operationId: 'getStats',
      summary: 'Counts, time to detect and time to heal, by failure domain',
      tags: ['incidents'],
      query: StatsQuery,
      responses: {
        200: { description: 'The figures', content: { 'application/json': { schema: StatsBody } } },
      },
    },
    async (c, { query }) => {
      const stats = await store.stats(defined(query));
      return c.json(pages === undefined ? stats : { ...stats, pages }, 200);
    },
  );

  return group;
};

// ————————————————————————————————————————————— the store's values fit the documented shapes

/** True when every `Value` the store returns fits `Schema`; a mismatch fails the typecheck below. */
type Describes<Schema extends z.ZodType, Value> = [Value] extends [z.output<Schema>] ? true : false;
type Holds<Check extends true> = Check;

/** Compile-time only: the contract's response schemas describe what the store returns. */
export type StoreShapesDescribed = [
  Holds<Describes<typeof IncidentBody, IncidentRecord>>,
  Holds<Describes<typeof TimelineEntryBody, TimelineEntry>>,
  Holds<Describes<typeof AffectedHostBody, AffectedHost>>,
  Holds<Describes<typeof StatsBody, IncidentStats>>,
  Holds<Describes<typeof StatsBody.shape.timeToDetect, DurationStats>>,
];
