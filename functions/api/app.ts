import { OpenAPIHono } from '@hono/zod-openapi';
import type { PageRoutesBody } from '../../events/index.ts';
import { createWebApp } from '../../web/app.ts';
import type { Metrics } from '../adapters/observability/metrics-port.ts';
import type { WorkQueue } from '../adapters/queue/port.ts';
import type { Store } from '../adapters/store/port.ts';
import { newTokenSecret } from '../adapters/store/tokens.ts';
import { authenticate } from './auth.ts';
import { newCommandId } from './commands.ts';
import { type ApiEnv, RouteTable } from './define-route.ts';
import { type ApiLog, errorResponse } from './error-response.ts';
import { InternalError, MethodNotAllowedError, NotFoundError } from './errors.ts';
import { type LongPollOptions, POLL_SECONDS, type PollSeconds } from './plans.ts';
import { IngestRateLimit, type IngestRateLimitOptions } from './rate-limit.ts';
import { agentRoutes } from './routes/agents.ts';
import { controlRoutes } from './routes/control.ts';
import { eventRoutes } from './routes/events.ts';
import { hostRoutes } from './routes/hosts.ts';
import { incidentRoutes } from './routes/incidents.ts';
import { serviceRoutes } from './routes/service.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { topologyRoutes } from './routes/topology.ts';

/**
 * The HTTP API (docs/architecture.md §6): one Hono app, served by Lambda through `hono/aws-lambda`
 * (./handler.ts) and by the local runtime through `@hono/node-server`. It only composes: the
 * middleware every request goes through (authentication, ./auth.ts; the security headers), the one
 * `onError` that answers every failure (./error-response.ts), and one sub-app per route group
 * (./routes/), mounted with `app.route()`. Each route parses its input at the edge (./define-route.ts)
 * and hands it to ingest (./ingest.ts), the sh agent's collect (./collect.ts), the plan reader (./plans.ts), operator commands
 * (./commands.ts), token minting (./tokens.ts), server registration (./hosts.ts) or the store's
 * projections.
 */

/**
 * What the API reads from the store: projections, the host slices (plan progress, topology),
 * tokens, the registry of servers (which it also writes: an operator's grants), and what the
 * collect route remembers of each sh agent's host (which it writes too, ./collect.ts).
 */
export type ApiStore = Pick<
  Store,
  | 'getSlices'
  | 'plansForHost'
  | 'hostPlans'
  | 'listIncidents'
  | 'getIncident'
  | 'listTimeline'
  | 'listAffectedHosts'
  | 'stats'
  | 'listHosts'
  | 'getControl'
  | 'getToken'
  | 'putToken'
  | 'listTokens'
  | 'deleteToken'
  | 'getHostRecord'
  | 'putHostRecord'
  | 'listHostRecords'
  | 'getCollect'
  | 'putCollect'
>;

export interface ApiDeps {
  readonly store: ApiStore;
  /** The events queue correlate consumes: events and operator commands, stamped with their sender. */
  readonly eventsQueue: Pick<WorkQueue, 'send' | 'sendMany'>;
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
  /** Ingest's counters (events accepted and rejected); none by default. `GET /metrics` is the runtime's, not this app's. */
  readonly metrics?: Metrics;
  /** Where pages go, for `GET /v1/stats`, where the runtime knows it (the local one does). */
  readonly pages?: PageRoutesBody;
  /**
   * The per-token ingest rate limit (./rate-limit.ts), one set of buckets for a token's events and
   * its collects; the defaults of `INGEST_RATE_LIMITS` otherwise.
   */
  readonly rateLimit?: Partial<IngestRateLimitOptions>;
}

const DEFAULT_VERSION = '0.1.0';

const jsonLog: ApiLog = (entry) => {
  console.log(JSON.stringify({ service: 'api', ...entry }));
};

/** A path as echoed in an error message: at most this long. */
const MAX_SHOWN_PATH = 200;
const shown = (path: string): string =>
  path.length <= MAX_SHOWN_PATH ? path : `${path.slice(0, MAX_SHOWN_PATH)}…`;

export const createApp = (deps: ApiDeps): OpenAPIHono<ApiEnv> => {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.log ?? jsonLog;
  const app = new OpenAPIHono<ApiEnv>();
  const routes = new RouteTable();

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An agent token (bound to one host) or an operator token, from `POST /v1/tokens`.',
  });

  app.onError((error, c) => errorResponse(c, error, log));
  app.notFound((c) => {
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    const allowed = routes.allowedMethods(c.req.path);
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

  // The web page (web/): its own sign-in (a cookie), so it is mounted before the bearer check;
  // it reads and acts through this app's own routes, with the signed-in operator's token.
  app.route('/', createWebApp({ api: (path, init) => app.request(path, init), now }));

  app.use('*', async (c, next) => {
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    if (!routes.isPublic(method, c.req.path)) {
      c.set('principal', await authenticate(c.req.header('authorization'), store));
    }
    await next();
    c.header('Cache-Control', 'no-store');
    c.header('X-Content-Type-Options', 'nosniff');
  });

  // The groups in the order `/openapi.json` lists their routes.
  const { metrics } = deps;
  const rateLimit = new IngestRateLimit(deps.rateLimit, now);
  routes.mount(
    app,
    '/v1/events',
    eventRoutes({ store, queue: deps.eventsQueue, now, log, metrics, rateLimit }),
  );
  routes.mount(
    app,
    '/v1/agents',
    agentRoutes({
      store,
      now,
      longPoll: deps.longPoll,
      poll: { ...POLL_SECONDS, ...deps.pollSeconds },
      collect: { store, queue: deps.eventsQueue, now, log, metrics, rateLimit },
    }),
  );
  routes.mount(app, '/v1', incidentRoutes({ store, pages: deps.pages }));
  routes.mount(app, '/v1', topologyRoutes({ store }));
  routes.mount(
    app,
    '/v1',
    controlRoutes({
      store,
      commands: { queue: deps.eventsQueue, now, newId: deps.newCommandId ?? newCommandId },
    }),
  );
  routes.mount(
    app,
    '/v1/tokens',
    tokenRoutes({ tokens: store, hosts: store, now, newSecret: deps.newTokenSecret ?? newTokenSecret }),
  );
  routes.mount(app, '/v1/hosts', hostRoutes({ hosts: store, now }));
  routes.mount(
    app,
    '/',
    serviceRoutes({
      store,
      now,
      describe: () =>
        app.getOpenAPIDocument({
          openapi: '3.0.3',
          info: {
            title: 'Faultline API',
            version: deps.version ?? DEFAULT_VERSION,
            description:
              'The control plane of Faultline (docs/architecture.md §6). Errors are always `{error:{code,message,issues?}}`.',
          },
        }) as unknown as Record<string, unknown>,
    }),
  );

  return app;
};
