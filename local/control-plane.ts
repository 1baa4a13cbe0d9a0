import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  existsSync,
  constants as fsConstants,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
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
import type { StoreHealth } from '../functions/adapters/store/port.ts';
import { storageFailureOf } from '../functions/adapters/store/sqlite/database.ts';
import { SqliteStore } from '../functions/adapters/store/sqlite-store.ts';
import { hashToken, newTokenSecret } from '../functions/adapters/store/tokens.ts';
import { createApp } from '../functions/api/app.ts';
import { authenticate, requireOperator } from '../functions/api/auth.ts';
import { errorBody, STATUS_BY_CODE } from '../functions/api/error-response.ts';
import { ApiError, InternalError } from '../functions/api/errors.ts';
import { readHealth } from '../functions/api/routes/service.ts';
import type { NotifyConfig } from '../functions/notify/config.ts';
import { createHandler as createNotify } from '../functions/notify/create-handler.ts';
import { SqliteDeliveryLog } from '../functions/notify/sqlite-delivery-log.ts';
import type { RuntimeConfig } from './config.ts';
import { API_SENDER, DATA_FILES, QUEUES } from './data-files.ts';
import { lockDataFolder } from './data-folder-lock.ts';
import { type DataFolderState, inspectDataFolder } from './data-folder-start.ts';
import {
  DataFolderLostError,
  DataFolderWatch,
  faultForOperator,
  faultReason,
  StoreWritesFailingError,
} from './data-folder-watch.ts';
import { type DeciderThread, handlerLogOf, startDeciderThread } from './decider.ts';
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
 *
 * Storage faults are loud, never silent (issue #18):
 * - A start decides first what its data folder holds (./data-folder-start.ts): a new folder is a
 *   first start (`dataFolder: 'new'`, which the banner and stderr announce: a new plan-signing key
 *   and operator token); a database without its signing key, or the key without its database, is
 *   refused (`DataFolderIncompleteError`) instead of silently made whole.
 * - While it runs, it watches that its folder and files are still the ones it opened
 *   (./data-folder-watch.ts): a request that writes is checked before the app sees it and again
 *   before its answer leaves (503 with `DataFolderLostError` when a file went meanwhile), correlate
 *   and sweep hold (./decider.ts), notify holds, and the log says it once at `error`.
 * - While correlate's writes to the database fail for a reason of the file or the disk (its thread
 *   reports it: ./decider.ts), correlate receives nothing, a request that writes gets 503
 *   (`StoreWritesFailingError`) and health says so, until a probe write commits again.
 * - `GET /v1/health` is answered here, ahead of the app, like `/metrics`: only this runtime knows
 *   its queue file and its decider thread. It says, with the store's own check
 *   (`SqliteStore.health`), whether an event posted now would be acknowledged durably; 503 when
 *   not. The check is a few `stat`/`access` calls, no SQL.
 * - Node's HTTP server timeouts are set explicitly ({@link SERVER_TIMEOUTS}).
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
  /**
   * `new` when this start found no database and no plan-signing key and made both (and an operator
   * token, unless one was given): agents configured with another key refuse its plans until given
   * `planPublicKeyFile`. Say so loudly.
   */
  dataFolder: DataFolderState;
  /** The public key agents verify plans with, and the first 16 hex digits of its SHA-256. */
  planPublicKeyFile: string;
  planKeyFingerprint: string;
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
/** The health route, answered by this runtime ahead of the app (it knows the queue file and the decider). */
const HEALTH_PATH = '/v1/health';

/**
 * Node's HTTP server timeouts, set rather than left to the defaults of whichever Node runs it
 * (they changed between 18 and 20), each with the agents' traffic in mind:
 *
 * - `headersTimeout` 20 s: the longest a client may take to send a request's headers. A slow or
 *   stalled client (slowloris) holds a socket no longer than that; an agent sends its headers at
 *   once. Longer than `keepAliveTimeout`, as Node advises, so a request that begins on a kept-alive
 *   socket just before it would close is not cut.
 * - `requestTimeout` 300 s: the longest the whole request may take to arrive, body included: a
 *   1 MiB batch over a slow link (down to about 3.5 KiB/s, 28 kbit/s) still gets in. It is a
 *   backstop only: a body trickled a byte now and then is cut by the socket timeout below (idle
 *   in either direction), so a generous bound here refuses no honest agent on a poor link. It
 *   counts only the receiving, not the answer, so a long poll is not affected.
 * - `keepAliveTimeout` 10 s: an idle kept-alive socket closes after that. Longer than the active
 *   poll (5 s) and the default undici client's own idle timeout (4 s), so an agent with work in
 *   flight reuses its connection and never races the server's close; far shorter than the idle
 *   poll (60 s), so a quiet fleet holds no sockets open between polls.
 * - the socket timeout (`server.timeout`): the longest a socket may stay silent in either
 *   direction. A long poll (`GET /v1/agents/:hostId/plans?wait=20`) is silent until it answers,
 *   for up to `longPollMaxSeconds`, so this is that plus a margin; a socket silent longer is dead
 *   (a vanished client) and is destroyed.
 * - `connectionsCheckingInterval` 5 s: how often Node looks for requests past the first two (its
 *   default, 30 s, would let a stalled request hold its socket up to 50 s instead of 20).
 */
export const SERVER_TIMEOUTS = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 10_000,
  socketMarginMs: 30_000,
  checkEveryMs: 5_000,
} as const;

/** The timeouts as options of `http.createServer` (and `https`'s): some can be set only there. */
const SERVER_OPTIONS = {
  headersTimeout: SERVER_TIMEOUTS.headersTimeoutMs,
  requestTimeout: SERVER_TIMEOUTS.requestTimeoutMs,
  keepAliveTimeout: SERVER_TIMEOUTS.keepAliveTimeoutMs,
  connectionsCheckingInterval: SERVER_TIMEOUTS.checkEveryMs,
} as const;

/** The socket timeout of {@link SERVER_TIMEOUTS}, for a server whose longest silent answer is `longestWaitSeconds`. */
const setSocketTimeout = (server: HttpServer, longestWaitSeconds: number): void => {
  server.setTimeout(longestWaitSeconds * 1000 + SERVER_TIMEOUTS.socketMarginMs);
};

/** How often the data folder is looked at when nothing writes, so the log says a fault at once. */
const DATA_FOLDER_WATCH_MS = 1000;

const hostOf = (address: AddressInfo): string =>
  address.family === 'IPv6' ? `[${address.address}]` : address.address;

/**
 * How long a sender refused for a data folder that went should wait before trying again: an
 * operator must restart the control plane, so a tight retry only adds load.
 */
const DATA_FOLDER_LOST_RETRY_SECONDS = 30;
/** How long a sender refused while the database refuses writes should wait: the decider probes each second. */
const STORE_WRITES_FAILING_RETRY_SECONDS = 5;

/** A JSON error answer, as the API gives them. */
const errorAnswer = (error: unknown): Response => {
  const known = error instanceof ApiError ? error : new InternalError({ cause: error });
  return new Response(JSON.stringify(errorBody(known)), {
    status: STATUS_BY_CODE[known.code],
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...(known instanceof DataFolderLostError
        ? { 'retry-after': String(DATA_FOLDER_LOST_RETRY_SECONDS) }
        : known instanceof StoreWritesFailingError
          ? { 'retry-after': String(STORE_WRITES_FAILING_RETRY_SECONDS) }
          : {}),
    },
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

/** Whether a request's URL is `path` (with or without a query), cheaply: every request asks. */
const isPath = (url: string, path: string): boolean => {
  const at = url.indexOf(path);
  if (at < 0) return false;
  return new URL(url).pathname === path;
};
const isMetricsPath = (url: string): boolean => isPath(url, METRICS_PATH);

/** Requests that only read: served even while the data folder is not whole (nothing to lose). */
const isReadOnly = (method: string): boolean => method === 'GET' || method === 'HEAD';

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

/** `--operator-token` names a token this data folder does not hold (revoked, or never its own). */
export class OperatorTokenNotKnownError extends Error {
  constructor(dataDir: string) {
    super(
      `the operator token given (--operator-token or FAULTLINE_OPERATOR_TOKEN) is not an operator token of ${dataDir}: it was revoked, or the folder already has operator tokens of its own. Start without it (the CLI reads ${join(dataDir, DATA_FILES.operatorToken)}), or give a token this folder holds (faultline tokens list)`,
    );
    this.name = 'OperatorTokenNotKnownError';
  }
}

const ensureOperatorToken = async (
  store: SqliteStore,
  dataDir: string,
  given: string | undefined,
  now: string,
): Promise<string | undefined> => {
  const tokenFile = join(dataDir, DATA_FILES.operatorToken);
  const existing = (await store.listTokens()).some((token) => token.kind === 'operator');
  if (given !== undefined) {
    // The given token seeds a data folder that has no operator token yet; on one that has, it
    // must be one of them. Registering it again at every start would bring back a token an
    // operator revoked (`faultline tokens revoke`) with the next restart of the unit that passes it.
    const stored = await store.getToken(hashToken(given));
    if (stored === undefined && existing) throw new OperatorTokenNotKnownError(dataDir);
    if (stored !== undefined && stored.kind !== 'operator') throw new OperatorTokenNotKnownError(dataDir);
    if (stored === undefined) {
      await store.putToken({
        hash: hashToken(given),
        kind: 'operator',
        label: 'local operator from --operator-token',
        createdAt: now,
      });
    }
    writePrivate(tokenFile, `${given}\n`);
    return undefined;
  }
  if (existing) return undefined;
  const token = newTokenSecret();
  await store.putToken({ hash: hashToken(token), kind: 'operator', label: 'local operator', createdAt: now });
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
  // Before anything is opened (opening makes what is missing): a folder with half of what makes
  // it a control plane is refused here.
  const dataFolder = inspectDataFolder(dataDir);
  moveQueuedMessages(databaseFile, queuesFile, log);
  const store = new SqliteStore({ path: databaseFile });
  const queues = SqliteQueueStore.open(queuesFile);
  const watch = new DataFolderWatch({ dataDir, databaseFile, queuesFile });
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
  const planPublicKeyFile = join(dataDir, DATA_FILES.planPublicKey);
  const planPublicKey = await signer.publicKeyPem();
  writeFileSync(planPublicKeyFile, planPublicKey);
  const planKeyFingerprint = createHash('sha256').update(planPublicKey).digest('hex').slice(0, 16);

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
      visibilityTimeoutMs: config.queues.visibilityTimeoutSeconds * 1_000,
      log: handlerLogOf(log, logLevel)('notify'),
      timeline: store,
      metrics,
    });
  const notifyHandler =
    config.notify === undefined ? whileListening(notifyOver, dataDir) : notifyOver(config.notify);
  const pages = pageRoutesOf(config.notify);
  const now = new Date().toISOString();
  const mintedOperatorToken = await ensureOperatorToken(store, dataDir, options.operatorToken, now);

  // The last write ingest made to the queue file, for health: a file made unwritable, or a full
  // disk, shows there first (ingest answers 503 for it; health says why).
  const apiQueue = events.withSender(API_SENDER);
  let queueWriteFailure: string | undefined;
  const noted = async <T>(sending: Promise<T>): Promise<T> => {
    try {
      const sent = await sending;
      queueWriteFailure = undefined;
      return sent;
    } catch (error) {
      queueWriteFailure = storageFailureOf((error as Error).cause) ?? queueWriteFailure;
      throw error;
    }
  };
  const eventsQueue: Pick<SqliteQueue, 'send' | 'sendMany'> = {
    send: (message) => noted(apiQueue.send(message)),
    sendMany: (messages) => noted(apiQueue.sendMany(messages)),
  };

  const app = createApp({
    store,
    eventsQueue,
    longPoll: { maxWaitSeconds: config.longPollMaxSeconds, intervalMs: 250 },
    pollSeconds: config.pollSeconds,
    metrics,
    pages,
    // Its warnings and errors go where the handlers' do: stderr, as JSON lines.
    log: handlerLogOf(log, logLevel)('api'),
  });
  // Health, as this runtime knows it: the store's own check, the queue file's, the decider's.
  let decider: DeciderThread | undefined;
  // Why correlate's last write to the database failed, for a reason of the file or the disk, as
  // its thread reports it (undefined once a write commits again): see decider.ts.
  let deciderStorageFailure: string | undefined;
  const storeHealth = async (): Promise<StoreHealth> => {
    const fault = watch.check();
    if (fault?.part === 'folder' || fault?.part === 'database')
      return { status: 'unavailable', detail: faultReason(fault, watch) };
    if (deciderStorageFailure !== undefined)
      return { status: 'unavailable', detail: `correlate's writes fail: ${deciderStorageFailure}` };
    return store.health();
  };
  const queueHealth = (): StoreHealth => {
    const fault = watch.check();
    if (fault !== undefined && fault.part !== 'database')
      return { status: 'unavailable', detail: faultReason(fault, watch) };
    try {
      accessSync(queuesFile, fsConstants.W_OK);
    } catch {
      return { status: 'unavailable', detail: 'the queue file is not writable' };
    }
    return queueWriteFailure === undefined
      ? { status: 'ok' }
      : {
          status: 'unavailable',
          detail: `the last write failed: ${queueWriteFailure}`,
        };
  };
  const correlationHealth = (): StoreHealth =>
    decider === undefined || decider.thread() !== undefined
      ? { status: 'ok' }
      : { status: 'degraded', detail: 'correlation is restarting; events are queued meanwhile' };
  const healthAnswer = async (request: Request): Promise<Response> => {
    if (!isReadOnly(request.method)) return app.fetch(request);
    const { body, httpStatus } = await readHealth(
      { getControl: () => store.getControl(), health: storeHealth },
      Date.now(),
      { queue: queueHealth(), correlation: correlationHealth() },
    );
    return new Response(request.method === 'HEAD' ? null : JSON.stringify(body), {
      status: httpStatus,
      headers: {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      },
    });
  };

  // `GET /metrics` to an operator token, ahead of the app; everything else is the app's.
  const fetchOrMetrics = async (request: Request): Promise<Response> => {
    if (isPath(request.url, HEALTH_PATH)) return healthAnswer(request);
    if (!isMetricsPath(request.url)) return app.fetch(request);
    try {
      requireOperator(await authenticate(request.headers.get('authorization') ?? undefined, store));
    } catch (error) {
      return errorAnswer(error);
    }
    return metricsAnswer(request, metrics);
  };
  // A request that writes is acknowledged only if the files it wrote are still the ones at their
  // paths, looked at before the app sees it and again before its answer leaves: the answer of a
  // request during which the folder or a file went becomes 503 (what it wrote went to a file no
  // later start finds; its sender sends it again, and correlate ignores an event it already has).
  const answerOrRefuse = async (request: Request): Promise<Response> => {
    if (isReadOnly(request.method)) return fetchOrMetrics(request);
    const before = watch.check();
    if (before !== undefined) return errorAnswer(new DataFolderLostError(before, watch));
    if (deciderStorageFailure !== undefined)
      return errorAnswer(new StoreWritesFailingError(deciderStorageFailure));
    const answer = await fetchOrMetrics(request);
    // A refusal acknowledged nothing; a success or a redirect (the web page's forms) did.
    if (answer.status >= 400) return answer;
    const after = watch.check();
    if (after === undefined) return answer;
    await answer.body?.cancel();
    return errorAnswer(new DataFolderLostError(after, watch));
  };
  const tls =
    options.tls === undefined
      ? undefined
      : { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) };
  const server = await new Promise<ReturnType<typeof serve>>((ready, fail) => {
    const started = serve(
      {
        fetch: answerOrRefuse,
        hostname: options.listen,
        port: options.port,
        ...(tls === undefined
          ? { createServer: createHttpServer, serverOptions: SERVER_OPTIONS }
          : { createServer: createHttpsServer, serverOptions: { ...SERVER_OPTIONS, ...tls } }),
      },
      () => ready(started),
    );
    started.once('error', fail);
  });
  setSocketTimeout(server as HttpServer, config.longPollMaxSeconds);
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
      serverOptions: SERVER_OPTIONS,
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
    setSocketTimeout(opened, 0);
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
    // A delivery recorded in a queue file no longer at its path would be forgotten by the next
    // start, which would page again: notify holds too.
    {
      holdWhile: () => {
        const fault = watch.check();
        return fault === undefined ? undefined : faultReason(fault, watch);
      },
    },
  );
  // The log says a fault once, at error, as soon as it is seen, even when nothing writes.
  let faultLogged = false;
  const watchTimer = setInterval(() => {
    const fault = watch.check();
    if (fault === undefined || faultLogged) return;
    faultLogged = true;
    log({ level: 'error', service: 'runtime', message: faultForOperator(fault, watch) });
  }, DATA_FOLDER_WATCH_MS);
  watchTimer.unref();
  // correlate and sweep decide in a thread of their own (decider.ts): ingest keeps acknowledging
  // on this one while they use the other core.
  decider = await startDeciderThread(
    { dataDir, databaseFile, queuesFile, config, logLevel, identity: watch.identity },
    log,
    (samples) => metrics.apply(samples),
    (failure) => {
      deciderStorageFailure = failure;
    },
  ).catch(async (error: unknown) => {
    clearInterval(watchTimer);
    await Promise.all([closeServer(), closeMetricsServer()]);
    await notifyMapping.stop();
    queues.close();
    queuesReader.close();
    deliveryLog.close();
    await store.close();
    throw error;
  });
  const deciding = decider;

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      clearInterval(watchTimer);
      await Promise.all([closeServer(), closeMetricsServer()]);
      await Promise.all([notifyMapping.stop(), deciding.stop()]);
      queues.close();
      queuesReader.close();
      deliveryLog.close();
      await store.close();
      // The write-ahead log of a file that went stays behind (SQLite keeps it when its file moved):
      // set aside, so the next start does not replay it into the file now at that path.
      for (const journal of watch.setAsideJournals(new Date()))
        log({
          level: 'warn',
          service: 'runtime',
          message: `set aside ${journal}: the journal of a file that went while faultline up ran`,
        });
    })();
    return stopped;
  };
  // The terminal's banner says as much (cli/up.ts), and a first start loudly, on stderr too; the
  // JSON log keeps both at debug.
  log({
    level: 'debug',
    service: 'runtime',
    message: 'control plane up',
    url,
    data: dataDir,
    fingerprint: planKeyFingerprint,
  });
  if (dataFolder === 'new') {
    log({
      level: 'debug',
      service: 'runtime',
      message: `a new data folder: made a new plan-signing key (fingerprint ${planKeyFingerprint})${mintedOperatorToken === undefined ? '' : ' and a new operator token'}; agents configured with another key refuse every plan until given ${planPublicKeyFile}`,
      data: dataDir,
      fingerprint: planKeyFingerprint,
    });
  }
  return {
    url,
    dataDir,
    databaseFile,
    queuesFile,
    dataFolder,
    planPublicKeyFile,
    planKeyFingerprint,
    mintedOperatorToken,
    pages,
    metricsUrl,
    metrics,
    store,
    stop,
  };
};
