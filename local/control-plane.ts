import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import type { QueueEvent } from '../functions/adapters/queue/batch.ts';
import { toQueueRecord } from '../functions/adapters/queue/batch.ts';
import { QUEUE_LIMITS, type ReceivedMessage, type WorkQueue } from '../functions/adapters/queue/port.ts';
import { type SqliteQueue, SqliteQueueStore } from '../functions/adapters/queue/sqlite-queue.ts';
import { LocalPlanSigner } from '../functions/adapters/signer/local-plan-signer.ts';
import { SqliteStore } from '../functions/adapters/store/sqlite-store.ts';
import { hashToken, newTokenSecret } from '../functions/adapters/store/tokens.ts';
import { createApp } from '../functions/api/app.ts';
import { createHandler as createCorrelate } from '../functions/correlate/handler.ts';
import { createHandler as createNotify } from '../functions/notify/handler.ts';
import { SqliteDeliveryLog } from '../functions/notify/sqlite-delivery-log.ts';
import { createHandler as createSweep } from '../functions/sweep/handler.ts';
import type { RuntimeConfig } from './config.ts';

/**
 * The whole control plane on one machine (docs/architecture.md §2, `faultline up`): the same handlers as on
 * Lambda, over the embedded adapters — one SQLite file for the store, another for the queues and
 * the delivery log — with correlate and notify hosted exactly like Lambda event source mappings
 * (batches of up to `batchSize`, partial batch failures, visibility timeouts, redelivery,
 * dead-letter queues after `maxReceiveCount`) and sweep on a timer. Each correlate batch is one
 * store transaction, committed before its messages are deleted. Stopping drains what is in
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

/** The files the data folder holds besides the database, for the operator commands on this machine. */
export const DATA_FILES = {
  database: 'faultline.db',
  /**
   * The queues and notify's delivery log, apart from the store: each correlate batch holds the
   * store's write lock until it commits, and ingest must queue events meanwhile.
   */
  queues: 'queues.db',
  url: 'url',
  operatorToken: 'operator-token',
  /** The public key agents verify plans with (the private key stays in the signer's own file). */
  planPublicKey: 'plan-public-key.pem',
} as const;

export const QUEUES = {
  events: 'events',
  eventsDeadLetter: 'events-dlq',
  notify: 'notify',
  notifyDeadLetter: 'notify-dlq',
} as const;

/** The SenderId the local API sends with: correlate believes its `FaultlineSender` stamp. */
const API_SENDER = 'faultline-api';

const writePrivate = (file: string, text: string): void => {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
};

/**
 * A Lambda event source mapping over a queue: receive a batch, hand it to the handler as an SQS
 * event, delete what did not fail; failures come back after the visibility timeout, and the
 * queue's redrive policy moves a record to its dead-letter queue after `maxReceiveCount` receives.
 */
const eventSourceMapping = (
  queue: WorkQueue,
  handler: (event: QueueEvent) => Promise<{ batchItemFailures: readonly { itemIdentifier: string }[] }>,
  config: RuntimeConfig['queues'] & { readonly batchSize: number },
  arn: string,
  log: (entry: Readonly<Record<string, unknown>>) => void,
) => {
  const controller = new AbortController();
  let inFlight: Promise<void> = Promise.resolve();
  const handle = async (messages: readonly ReceivedMessage[]): Promise<void> => {
    const response = await handler({ Records: messages.map((message) => toQueueRecord(message, arn)) });
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    const done = messages.filter((message) => !failed.has(message.messageId));
    for (let start = 0; start < done.length; start += QUEUE_LIMITS.maxBatchEntries) {
      await queue.deleteBatch(
        done
          .slice(start, start + QUEUE_LIMITS.maxBatchEntries)
          .map((message, index) => ({ id: `m${index}`, receiptHandle: message.receiptHandle })),
      );
    }
  };
  /**
   * A batch as Lambda's poller gathers one: a receive that waits, then receives that do not,
   * ten messages at most each (SQS's limit), until `batchSize` or the queue has no more.
   */
  const receiveBatch = async (): Promise<ReceivedMessage[]> => {
    const receive = (waitTimeSeconds: number, wanted: number) =>
      queue.receive({
        maxMessages: Math.min(wanted, QUEUE_LIMITS.maxReceiveMessages),
        visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
        waitTimeSeconds,
        signal: controller.signal,
      });
    const messages = await receive(config.waitTimeSeconds, config.batchSize);
    while (messages.length > 0 && messages.length < config.batchSize && !controller.signal.aborted) {
      const more = await receive(0, config.batchSize - messages.length);
      if (more.length === 0) break;
      messages.push(...more);
    }
    return messages;
  };
  const loop = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      try {
        const messages = await receiveBatch();
        if (messages.length === 0) continue;
        inFlight = handle(messages);
        await inFlight;
      } catch (error) {
        if (controller.signal.aborted) break;
        log({ level: 'error', service: 'runtime', queue: queue.name, message: (error as Error).message });
        await new Promise((done) => setTimeout(done, 1000));
      }
    }
  };
  const running = loop();
  return {
    /** Stops receiving, then waits for the batch in hand to finish. */
    stop: async (): Promise<void> => {
      controller.abort();
      await running;
      await inFlight.catch(() => undefined);
    },
  };
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
  /** What a handler logs, named after it; its per-decision `debug` lines only at `--log-level debug`. */
  const handlerLog =
    (service: string) =>
    (entry: Readonly<Record<string, unknown>>): void => {
      if (entry.level === 'debug' && !debug) return;
      log({ service, ...entry });
    };
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
  const eventsDeadLetter = queues.queue(QUEUES.eventsDeadLetter);
  const notifyDeadLetter = queues.queue(QUEUES.notifyDeadLetter);
  const deliveryDb = new Database(queuesFile);
  const deliveryLog = new SqliteDeliveryLog(deliveryDb, {}, true);
  const signer = new LocalPlanSigner({ dataDir });
  writeFileSync(join(dataDir, DATA_FILES.planPublicKey), await signer.publicKeyPem());

  const correlate = createCorrelate({
    settings: {
      core: config.core,
      trustedSenders: [API_SENDER],
      maxReceiveCount: config.queues.maxReceiveCount,
      tickLimit: 100,
    },
    store,
    signer,
    notifyQueue: notify,
    deadLetterQueue: eventsDeadLetter,
    sourceQueue: QUEUES.events,
    log: handlerLog('correlate'),
  });
  const notifyHandler = createNotify({
    loadConfig: async () => config.notify,
    deliveryLog,
    deadLetterQueue: notifyDeadLetter,
    sourceQueue: QUEUES.notify,
    log: handlerLog('notify'),
  });
  const sweep = createSweep({
    settings: { core: config.core, graceSeconds: 30, finishLimit: 500, tickLimit: 500 },
    store,
    signer,
    notifyQueue: notify,
    log: handlerLog('sweep'),
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

  const mappings = [
    // Each correlate batch is one store transaction (one commit), committed before its messages
    // are deleted from the queue: a crash mid-batch loses nothing, the batch comes back.
    eventSourceMapping(
      events,
      (batch) => store.unit(() => correlate(batch)),
      config.queues,
      `arn:faultline:local:${QUEUES.events}`,
      log,
    ),
    eventSourceMapping(
      notify,
      notifyHandler,
      { ...config.queues, batchSize: config.queues.notifyBatchSize },
      `arn:faultline:local:${QUEUES.notify}`,
      log,
    ),
  ];
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweepTimer = setInterval(() => {
    sweeping = sweeping
      .then(() => sweep())
      .catch((error: Error) => log({ level: 'error', service: 'sweep', message: error.message }));
  }, config.sweepIntervalSeconds * 1000);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      clearInterval(sweepTimer);
      await new Promise<void>((done) => server.close(() => done()));
      await Promise.all(mappings.map((mapping) => mapping.stop()));
      await sweeping;
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
