import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import { type SqliteQueue, SqliteQueueStore } from '../functions/adapters/queue/sqlite-queue.ts';
import { LocalPlanSigner } from '../functions/adapters/signer/local-plan-signer.ts';
import { SqliteStore } from '../functions/adapters/store/sqlite-store.ts';
import { hashToken, newTokenSecret } from '../functions/adapters/store/tokens.ts';
import { createApp } from '../functions/api/app.ts';
import { createHandler as createNotify } from '../functions/notify/create-handler.ts';
import { SqliteDeliveryLog } from '../functions/notify/sqlite-delivery-log.ts';
import type { RuntimeConfig } from './config.ts';
import { API_SENDER, DATA_FILES, QUEUES } from './data-files.ts';
import { handlerLogOf, startDeciderThread } from './decider.ts';
import { eventSourceMapping } from './event-source-mapping.ts';

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
  /** `debug` also logs each decision the handlers make (one JSON line each); default `info`. */
  logLevel?: 'info' | 'debug' | undefined;
};

export type ControlPlane = {
  url: string;
  dataDir: string;
  databaseFile: string;
  queuesFile: string;
  /** Set when this start minted the operator token (first start): show it once. */
  mintedOperatorToken: string | undefined;
  store: SqliteStore;
  stop: () => Promise<void>;
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

export const startControlPlane = async (options: ControlPlaneOptions): Promise<ControlPlane> => {
  const log = options.log ?? ((entry) => console.log(JSON.stringify(entry)));
  const debug = options.logLevel === 'debug';
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
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
  queues.queue(QUEUES.eventsDeadLetter);
  const notifyDeadLetter = queues.queue(QUEUES.notifyDeadLetter);
  const deliveryDb = new Database(queuesFile);
  const deliveryLog = new SqliteDeliveryLog(deliveryDb, {}, true);
  const signer = new LocalPlanSigner({ dataDir });
  writeFileSync(join(dataDir, DATA_FILES.planPublicKey), await signer.publicKeyPem());

  const notifyHandler = createNotify({
    loadConfig: async () => config.notify,
    deliveryLog,
    deadLetterQueue: notifyDeadLetter,
    sourceQueue: QUEUES.notify,
    log: handlerLogOf(log, debug)('notify'),
  });
  const now = new Date().toISOString();
  const mintedOperatorToken = await ensureOperatorToken(store, dataDir, options.operatorToken, now);

  const app = createApp({
    store,
    eventsQueue: events.withSender(API_SENDER),
    longPoll: { maxWaitSeconds: config.longPollMaxSeconds, intervalMs: 250 },
    pollSeconds: config.pollSeconds,
  });
  const tls =
    options.tls === undefined
      ? undefined
      : { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) };
  const server = await new Promise<ReturnType<typeof serve>>((ready, fail) => {
    const started = serve(
      {
        fetch: app.fetch,
        hostname: options.listen,
        port: options.port,
        ...(tls === undefined ? {} : { createServer: createHttpsServer, serverOptions: tls }),
      },
      () => ready(started),
    );
    started.once('error', fail);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
  writeFileSync(join(dataDir, DATA_FILES.url), `${url}\n`);

  const notifyMapping = eventSourceMapping(
    notify,
    notifyHandler,
    { ...config.queues, batchSize: config.queues.notifyBatchSize },
    `arn:faultline:local:${QUEUES.notify}`,
    log,
  );
  // correlate and sweep decide in a thread of their own (decider.ts): ingest keeps acknowledging
  // on this one while they use the other core.
  const decider = await startDeciderThread({ dataDir, databaseFile, queuesFile, config, debug }, log).catch(
    async (error: unknown) => {
      await new Promise<void>((done) => server.close(() => done()));
      await notifyMapping.stop();
      queues.close();
      deliveryLog.close();
      await store.close();
      throw error;
    },
  );

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await new Promise<void>((done) => server.close(() => done()));
      await Promise.all([notifyMapping.stop(), decider.stop()]);
      queues.close();
      deliveryLog.close();
      await store.close();
    })();
    return stopped;
  };
  log({
    level: 'info',
    service: 'runtime',
    message: 'control plane up',
    url,
    data: dataDir,
    fingerprint: createHash('sha256')
      .update(await signer.publicKeyPem())
      .digest('hex')
      .slice(0, 16),
  });
  return { url, dataDir, databaseFile, queuesFile, mintedOperatorToken, store, stop };
};
