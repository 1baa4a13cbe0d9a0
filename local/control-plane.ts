import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import type { PageRoutesBody } from '../events/index.ts';
import { jsonLogLine, type LogLevel } from '../functions/adapters/observability/log-entry.ts';
import { type SqliteQueue, SqliteQueueStore } from '../functions/adapters/queue/sqlite-queue.ts';
import { LocalPlanSigner } from '../functions/adapters/signer/local-plan-signer.ts';
import { SqliteStore } from '../functions/adapters/store/sqlite-store.ts';
import { hashToken, newTokenSecret } from '../functions/adapters/store/tokens.ts';
import { createApp } from '../functions/api/app.ts';
import { authenticate, requireOperator } from '../functions/api/auth.ts';
import { errorBody, STATUS_BY_CODE } from '../functions/api/error-response.ts';
import { ApiError, InternalError } from '../functions/api/errors.ts';
import type { NotifyConfig } from '../functions/notify/config.ts';
import { createHandler as createNotify } from '../functions/notify/create-handler.ts';
import { SqliteDeliveryLog } from '../functions/notify/sqlite-delivery-log.ts';
import type { RuntimeConfig } from './config.ts';
import { API_SENDER, DATA_FILES, QUEUES } from './data-files.ts';
import { lockDataFolder } from './data-folder-lock.ts';
import { handlerLogOf, startDeciderThread } from './decider.ts';
import { eventSourceMapping } from './event-source-mapping.ts';
import { pageRoutesOf, whileListening } from './pages.ts';
import { PROMETHEUS_CONTENT_TYPE, PrometheusMetrics, type QueueReading } from './prometheus-metrics.ts';

/**
 * The whole control plane on one machine (docs/architecture.md §2, `faultline up`): the same handlers as on
 * Lambda, over the embedded adapters — one SQLite file for the store, another for the queues and
 * the delivery log — with correlate and notify hosted exactly like Lambda event source mappings
 * (batches of up to `batchSize`, partial batch failures, visibility timeouts, redelivery,
 * dead-letter queues after `maxReceiveCount`) and sweep on a timer. correlate and sweep run in a
 * worker thread of their own (decider.ts), so ingest and correlation use both cores. Each
 * correlate batch is one store transaction, committed before its messages are deleted. Stopping drains what is in
 * flight; starting again resumes from the files with nothing lost (a batch cut off mid-way comes
 * back after its visibility timeout, and every handler is idempotent).
 *
 * Observability (docs/architecture.md §6): `GET /metrics` on this server answers the Prometheus
 * text of this control plane's metrics (prometheus-metrics.ts) to an operator token; with
 * `metricsListen`, a second plain HTTP server answers it there to anyone (for a Prometheus on the
 * same host or network). It is served here, ahead of the API's app, not by the app: the app is the
 * Lambda's too, where metrics are CloudWatch's. Logs go to `log`, the handlers' `debug` lines only
 * at `logLevel` debug. Pages with no destination are kept in their incident's timeline (pages.ts).
 */

export type ControlPlaneOptions = {
  listen: string;
  port: number;
  dataDir: string;
  config: RuntimeConfig;
  /** Sets the operator token instead of minting one on first start. */
  operatorToken?: string | undefined;
  tls?: { certFile: string; keyFile: string } | undefined;
  log?: (entry: Readonly<Record<string, unknown>>) => void;
  /** The lowest level the handlers log: `debug` also logs each decision they make; default `info`. */
  logLevel?: LogLevel | undefined;
  /** Also serve `GET /metrics`, without a token, on this address. */
  metricsListen?: { host: string; port: number } | undefined;
};

export type ControlPlane = {
  url: string;
  dataDir: string;
  databaseFile: string;
  queuesFile: string;
  /** Set when this start minted the operator token (first start): show it once. */
  mintedOperatorToken: string | undefined;
  /** Where pages go (pages.ts), as the start banner and `faultline stats` say it. */
  pages: PageRoutesBody;
  /** `http://<metricsListen>/metrics`, when `metricsListen` was given. */
  metricsUrl: string | undefined;
  /** What `GET /metrics` reads. */
  metrics: PrometheusMetrics;
  store: SqliteStore;
  stop: () => Promise<void>;
};

/** Where the Prometheus text is served. */
export const METRICS_PATH = '/metrics';

const hostOf = (address: AddressInfo): string =>
  address.family === 'IPv6' ? `[${address.address}]` : address.address;

/** A JSON error answer, as the API gives them. */
const errorAnswer = (error: unknown): Response => {
  const known = error instanceof ApiError ? error : new InternalError({ cause: error });
  return new Response(JSON.stringify(errorBody(known)), {
    status: STATUS_BY_CODE[known.code],
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
};

/** The Prometheus text, or 405 for a method other than GET and HEAD. */
const metricsAnswer = async (request: Request, metrics: PrometheusMetrics): Promise<Response> => {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return new Response(null, { status: 405, headers: { allow: 'GET, HEAD' } });
  }
  const text = await metrics.text();
  return new Response(request.method === 'HEAD' ? null : text, {
    status: 200,
    headers: { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' },
  });
};

/** Whether a request's URL is `/metrics` (with or without a query), cheaply: every request asks. */
const isMetricsPath = (url: string): boolean => {
  const at = url.indexOf(METRICS_PATH);
  if (at < 0) return false;
  return new URL(url).pathname === METRICS_PATH;
};

export { DATA_FILES, QUEUES } from './data-files.ts';

const writePrivate = (file: string, text: string): void => {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
};

/**
 * Data folders from before the queues had their own file kept them in the store's file: their
 * messages (and the queues' settings) move to the queues file once, in one transaction of each
 * file, so nothing queued is lost on the upgrade; a start cut off half-way moves them again (rows
 * already copied are skipped).
 */
const moveQueuedMessages = (
  databaseFile: string,
  queuesFile: string,
  log: (entry: Readonly<Record<string, unknown>>) => void,
): void => {
  if (!existsSync(databaseFile)) return;
  const old = new Database(databaseFile);
  try {
    const tables = old
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('work_queues', 'work_queue_messages', 'notify_deliveries')",
      )
      .all()
      .map((row) => row.name);
    if (tables.length === 0) return;
    SqliteQueueStore.open(queuesFile).close();
    new SqliteDeliveryLog(new Database(queuesFile), {}, true).close();
    old.exec(`ATTACH DATABASE '${queuesFile.replaceAll("'", "''")}' AS moved`);
    old.transaction(() => {
      for (const table of tables) {
        old.exec(`INSERT OR IGNORE INTO moved.${table} SELECT * FROM main.${table}`);
        old.exec(`DROP TABLE main.${table}`);
      }
    })();
    old.exec('DETACH DATABASE moved');
    log({
      level: 'info',
      service: 'runtime',
      message: `moved the queues from ${databaseFile} to ${queuesFile}`,
    });
  } finally {
    old.close();
  }
};

const ensureOperatorToken = async (
  store: SqliteStore,
  dataDir: string,
  given: string | undefined,
  now: string,
): Promise<string | undefined> => {
  const tokenFile = join(dataDir, DATA_FILES.operatorToken);
  if (given !== undefined) {
    await store.putToken({ hash: hashToken(given), kind: 'operator', label: 'flag', createdAt: now });
    writePrivate(tokenFile, `${given}\n`);
    return undefined;
  }
  const existing = (await store.listTokens()).some((token) => token.kind === 'operator');
  if (existing) return undefined;
  const token = newTokenSecret();
  await store.putToken({ hash: hashToken(token), kind: 'operator', label: 'first-start', createdAt: now });
  writePrivate(tokenFile, `${token}\n`);
  return token;
};

/**
 * Starts the control plane on its data folder, which it holds alone while it runs
 * (./data-folder-lock.ts): a second start on the same folder fails with `DataFolderInUseError`.
 */
export const startControlPlane = async (options: ControlPlaneOptions): Promise<ControlPlane> => {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const unlock = lockDataFolder(dataDir);
  try {
    const plane = await startOnLockedFolder(options, dataDir);
    return {
      ...plane,
      stop: async () => {
        await plane.stop();
        unlock();
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
};

const startOnLockedFolder = async (options: ControlPlaneOptions, dataDir: string): Promise<ControlPlane> => {
  const log = options.log ?? ((entry) => console.log(jsonLogLine(entry, new Date(), 'runtime')));
  const logLevel = options.logLevel ?? 'info';
  const databaseFile = join(dataDir, DATA_FILES.database);
  const { config } = options;

  const queuesFile = join(dataDir, DATA_FILES.queues);
  moveQueuedMessages(databaseFile, queuesFile, log);
  const store = new SqliteStore({ path: databaseFile });
  const queues = SqliteQueueStore.open(queuesFile);
  const redrive = (deadLetterQueue: string) => ({
    deadLetterQueue,
    maxReceiveCount: config.queues.maxReceiveCount,
  });
  const visibility = { visibilityTimeoutSeconds: config.queues.visibilityTimeoutSeconds };
  const events: SqliteQueue = queues.queue(QUEUES.events, {
    ...visibility,
    redrive: redrive(QUEUES.eventsDeadLetter),
  });
  const notify: SqliteQueue = queues.queue(QUEUES.notify, {
    ...visibility,
    redrive: redrive(QUEUES.notifyDeadLetter),
  });
  const eventsDeadLetter = queues.queue(QUEUES.eventsDeadLetter);
  const notifyDeadLetter = queues.queue(QUEUES.notifyDeadLetter);
  const deliveryDb = new Database(queuesFile);
  const deliveryLog = new SqliteDeliveryLog(deliveryDb, {}, true);
  const signer = new LocalPlanSigner({ dataDir });
  writeFileSync(join(dataDir, DATA_FILES.planPublicKey), await signer.publicKeyPem());

  // The queues' depth and the age of their oldest message, read at each scrape: the counts
  // through the queue port, the age from the adapter's message table (by its age index) over a
  // read-only connection of this thread's own.
  const queuesReader = new Database(queuesFile, { readonly: true });
  const oldestSentAt = queuesReader.prepare<[string], { sent_at: number | null }>(
    'SELECT MIN(sent_at) AS sent_at FROM work_queue_messages WHERE queue = ?',
  );
  const watched: readonly SqliteQueue[] = [events, notify, eventsDeadLetter, notifyDeadLetter];
  const readQueues = async (): Promise<QueueReading[]> => {
    const now = Date.now();
    return Promise.all(
      watched.map(async (queue) => {
        const counts = await queue.counts();
        const sentAt = oldestSentAt.get(queue.name)?.sent_at ?? null;
        return {
          queue: queue.name,
          visible: counts.visible,
          inFlight: counts.inFlight,
          delayed: counts.delayed,
          oldestAgeSeconds: sentAt === null ? 0 : Math.max(0, now - sentAt) / 1000,
        };
      }),
    );
  };
  const metrics = new PrometheusMetrics({ collectQueues: readQueues });

  const notifyOver = (notifyConfig: NotifyConfig) =>
    createNotify({
      loadConfig: async () => notifyConfig,
      deliveryLog,
      deadLetterQueue: notifyDeadLetter,
      sourceQueue: QUEUES.notify,
      log: handlerLogOf(log, logLevel)('notify'),
      timeline: store,
      metrics,
    });
  const notifyHandler =
    config.notify === undefined ? whileListening(notifyOver, dataDir) : notifyOver(config.notify);
  const pages = pageRoutesOf(config.notify);
  const now = new Date().toISOString();
  const mintedOperatorToken = await ensureOperatorToken(store, dataDir, options.operatorToken, now);

  const app = createApp({
    store,
    eventsQueue: events.withSender(API_SENDER),
    longPoll: { maxWaitSeconds: config.longPollMaxSeconds, intervalMs: 250 },
    pollSeconds: config.pollSeconds,
    metrics,
    pages,
    // Its warnings and errors go where the handlers' do: stderr, as JSON lines.
    log: handlerLogOf(log, logLevel)('api'),
  });
  // `GET /metrics` to an operator token, ahead of the app; everything else is the app's.
  const fetchOrMetrics = async (request: Request): Promise<Response> => {
    if (!isMetricsPath(request.url)) return app.fetch(request);
    try {
      requireOperator(await authenticate(request.headers.get('authorization') ?? undefined, store));
    } catch (error) {
      return errorAnswer(error);
    }
    return metricsAnswer(request, metrics);
  };
  const tls =
    options.tls === undefined
      ? undefined
      : { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) };
  const server = await new Promise<ReturnType<typeof serve>>((ready, fail) => {
    const started = serve(
      {
        fetch: fetchOrMetrics,
        hostname: options.listen,
        port: options.port,
        ...(tls === undefined ? {} : { createServer: createHttpsServer, serverOptions: tls }),
      },
      () => ready(started),
    );
    started.once('error', fail);
  });
  const address = server.address() as AddressInfo;
  const url = `${tls === undefined ? 'http' : 'https'}://${hostOf(address)}:${address.port}`;
  writeFileSync(join(dataDir, DATA_FILES.url), `${url}\n`);
  const closeServer = (): Promise<void> => new Promise<void>((done) => server.close(() => done()));

  // The Prometheus text without a token, on an address of its own, when asked for.
  let metricsServer: HttpServer | undefined;
  let metricsUrl: string | undefined;
  if (options.metricsListen !== undefined) {
    const { host: metricsHost, port: metricsPort } = options.metricsListen;
    const opened = serve({
      fetch: (request: Request) =>
        new URL(request.url).pathname === METRICS_PATH
          ? metricsAnswer(request, metrics)
          : new Response('only /metrics here\n', { status: 404, headers: { 'content-type': 'text/plain' } }),
      hostname: metricsHost,
      port: metricsPort,
      createServer: createHttpServer,
    }) as HttpServer;
    try {
      await new Promise<void>((ready, fail) => {
        if (opened.listening) ready();
        opened.once('listening', () => ready());
        opened.once('error', fail);
      });
    } catch (error) {
      await closeServer();
      queuesReader.close();
      throw error;
    }
    metricsServer = opened;
    metricsUrl = `http://${hostOf(opened.address() as AddressInfo)}:${(opened.address() as AddressInfo).port}${METRICS_PATH}`;
  }
  const closeMetricsServer = (): Promise<void> =>
    metricsServer === undefined
      ? Promise.resolve()
      : new Promise<void>((done) => {
          metricsServer?.closeAllConnections();
          metricsServer?.close(() => done());
        });

  const notifyMapping = eventSourceMapping(
    notify,
    notifyHandler,
    { ...config.queues, batchSize: config.queues.notifyBatchSize },
    `arn:faultline:local:${QUEUES.notify}`,
    log,
  );
  // correlate and sweep decide in a thread of their own (decider.ts): ingest keeps acknowledging
  // on this one while they use the other core.
  const decider = await startDeciderThread(
    { dataDir, databaseFile, queuesFile, config, logLevel },
    log,
    (samples) => metrics.apply(samples),
  ).catch(async (error: unknown) => {
    await Promise.all([closeServer(), closeMetricsServer()]);
    await notifyMapping.stop();
    queues.close();
    queuesReader.close();
    deliveryLog.close();
    await store.close();
    throw error;
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.all([closeServer(), closeMetricsServer()]);
      await Promise.all([notifyMapping.stop(), decider.stop()]);
      queues.close();
      queuesReader.close();
      deliveryLog.close();
      await store.close();
    })();
    return stopped;
  };
  // The terminal's banner says as much (cli/up.ts); the JSON log keeps it at debug.
  log({
    level: 'debug',
    service: 'runtime',
    message: 'control plane up',
    url,
    data: dataDir,
    fingerprint: createHash('sha256')
      .update(await signer.publicKeyPem())
      .digest('hex')
      .slice(0, 16),
  });
  return {
    url,
    dataDir,
    databaseFile,
    queuesFile,
    mintedOperatorToken,
    pages,
    metricsUrl,
    metrics,
    store,
    stop,
  };
};
