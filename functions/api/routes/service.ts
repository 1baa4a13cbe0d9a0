import { z } from 'zod';
import { type HealthPart, ServiceHealth } from '../../../events/index.ts';
import type { ProjectionReader, Store, StoreHealth } from '../../adapters/store/port.ts';
import { defineRoute, type RouteGroup, routeGroup } from '../define-route.ts';

/**
 * The service route group, mounted at `/`: whether the API can do its work (`GET /v1/health`, the
 * one route without a token) and what it is (`GET /openapi.json`, the document of the whole app).
 *
 * Health is for load balancers and monitors, so it says what they must act on: whether an event
 * posted now would be acknowledged durably. It asks the store ({@link Store.health}: on SQLite,
 * whether its file is still the one opened and writable; on DynamoDB, one read of the control
 * item) and answers 503 when the store cannot take writes, with a short reason and never a path or
 * an internal message (anyone may call it). It reads the pause too, when the store answers. It is
 * cheap, since monitors poll it: no SQL on SQLite; on DynamoDB two strongly consistent reads of
 * one small item (the check and the pause), two read units a poll.
 */

type HealthState = ServiceHealth['status'];

/** The status each state answers with: a monitor that reads only the status code still acts right. */
export const HEALTH_HTTP_STATUS = { ok: 200, degraded: 200, unavailable: 503 } as const satisfies Record<
  HealthState,
  number
>;

const RANK: Readonly<Record<HealthState, number>> = { ok: 0, degraded: 1, unavailable: 2 };

const partOf = (health: StoreHealth): HealthPart =>
  health.status === 'ok'
    ? { ok: true }
    : { ok: false, ...(health.detail === undefined ? {} : { detail: health.detail }) };

/** What health asks the store: its own check where it has one, and the pause. */
export type HealthStore = Pick<ProjectionReader, 'getControl'> & Pick<Partial<Store>, 'health'>;

/**
 * The health answer: the store's own state and the pause, with the runtime's other parts (the
 * local runtime's queue file and correlation thread); the worst part sets `status`.
 */
export const readHealth = async (
  store: HealthStore,
  now: number,
  others: { readonly queue?: StoreHealth; readonly correlation?: StoreHealth } = {},
): Promise<{ body: ServiceHealth; httpStatus: 200 | 503 }> => {
  let storeHealth: StoreHealth = (await store.health?.().catch(() => undefined)) ?? { status: 'ok' };
  let paused: boolean | undefined;
  try {
    paused = (await store.getControl()).paused;
  } catch {
    // A store without a check of its own is judged by this read; one with a check said its piece.
    if (storeHealth.status === 'ok')
      storeHealth = { status: 'unavailable', detail: 'the store did not answer' };
  }
  const states: HealthState[] = [storeHealth.status];
  if (others.queue !== undefined) states.push(others.queue.status);
  if (others.correlation !== undefined) states.push(others.correlation.status);
  const status = states.reduce((worst, state) => (RANK[state] > RANK[worst] ? state : worst), 'ok');
  const body: ServiceHealth = {
    status,
    ...(paused === undefined ? {} : { paused }),
    time: new Date(now).toISOString(),
    store: partOf(storeHealth),
    ...(others.queue === undefined ? {} : { queue: partOf(others.queue) }),
    ...(others.correlation === undefined ? {} : { correlation: partOf(others.correlation) }),
  };
  return { body, httpStatus: HEALTH_HTTP_STATUS[status] };
};

export interface ServiceRoutesDeps {
  /**
   * The store health reads (`health` where it has one: the SQLite and DynamoDB stores do; the
   * app's `ApiStore` does not name it yet, so it is optional here and found on the store itself).
   */
  readonly store: HealthStore;
  readonly now: () => number;
  /** The OpenAPI document of the composed app; asked on the first `GET /openapi.json`, then kept. */
  readonly describe: () => Record<string, unknown>;
}

/** The service group: `GET /v1/health` and `GET /openapi.json`. */
export const serviceRoutes = ({ store, now, describe }: ServiceRoutesDeps): RouteGroup => {
  const group = routeGroup();

  defineRoute(
    group,
    {
      method: 'get',
      path: '/v1/health',
      access: 'public',
      operationId: 'health',
      summary: 'Whether the control plane can acknowledge events now (no token needed)',
      tags: ['service'],
      responses: {
        200: {
          description: 'It acknowledges events (`ok`, or `degraded`: slower, or a part restarting)',
          content: { 'application/json': { schema: ServiceHealth } },
        },
        503: {
          description:
            'It cannot take writes now: an event posted now would get 503; `store` (or `queue`) says why',
          content: { 'application/json': { schema: ServiceHealth } },
        },
      },
    },
    async (c) => {
      const { body, httpStatus } = await readHealth(store, now());
      return httpStatus === 503 ? c.json(body, 503) : c.json(body, 200);
    },
  );

  let document: Record<string, unknown> | undefined;
  defineRoute(
    group,
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
      document ??= describe();
      return c.json(document, 200);
    },
  );

  return group;
};
