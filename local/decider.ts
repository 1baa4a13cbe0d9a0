import { Worker } from 'node:worker_threads';
import { StoreUnavailableError } from '../functions/adapters/errors.ts';
import { type LogLevel, levelOf, passes } from '../functions/adapters/observability/log-entry.ts';
import { MetricsBuffer } from '../functions/adapters/observability/metrics-buffer.ts';
import type { MetricSample } from '../functions/adapters/observability/metrics-port.ts';
import { SqliteQueueStore } from '../functions/adapters/queue/sqlite-queue.ts';
import { LocalPlanSigner } from '../functions/adapters/signer/local-plan-signer.ts';
import { storageFailureOf } from '../functions/adapters/store/sqlite/database.ts';
import { SqliteStore } from '../functions/adapters/store/sqlite-store.ts';
import { createHandler as createCorrelate } from '../functions/correlate/create-handler.ts';
import { createHandler as createSweep } from '../functions/sweep/create-handler.ts';
import type { RuntimeConfig } from './config.ts';
import { API_SENDER, QUEUES } from './data-files.ts';
import { type DataFolderIdentity, DataFolderWatch, faultReason } from './data-folder-watch.ts';
import { eventSourceMapping } from './event-source-mapping.ts';

/**
 * The deciding half of the local runtime: correlate fed from the events queue as a Lambda event
 * source mapping feeds it (each batch one store unit, committed before its messages are deleted),
 * and sweep on its timer, over connections of their own to the store and queue files.
 *
 * The control plane runs it in a worker thread ({@link startDeciderThread}), so the API keeps
 * acknowledging events on one core while correlate decides on the other, as the API and correlate
 * are apart in the cloud (the queue between them). Nothing is shared but the files: SQLite's
 * locks order the writes of the two threads (a correlate batch holds the store's write lock until
 * it commits; the API's few store writes wait for it without blocking the API's thread), WAL lets the API read meanwhile, and the
 * queue files' long polls are woken across threads (functions/adapters/queue/sqlite-queue.ts).
 */

export interface DeciderOptions {
  readonly dataDir: string;
  readonly databaseFile: string;
  readonly queuesFile: string;
  readonly config: RuntimeConfig;
  /** The lowest level logged: `debug` logs the handlers' per-decision lines too. */
  readonly logLevel: LogLevel;
  /**
   * The folder and files as the control plane opened them (./data-folder-watch.ts): a decider
   * started later (after its thread died) still compares the paths with these, not with whatever
   * they name by then. Taken from the paths at its own start when absent.
   */
  readonly identity?: DataFolderIdentity;
}

type Log = (entry: Readonly<Record<string, unknown>>) => void;

/** How often the decider tries a write while its store's writes fail, to learn when they commit again. */
const STORE_PROBE_MS = 1000;

export interface Decider {
  /** Stops receiving and sweeping, waits for the batch in hand, then closes the files. */
  stop(): Promise<void>;
}

/**
 * What a handler logs, named after it (`service`), from `level` up: its per-decision `debug` lines
 * only at `--log-level debug`. Both threads of the runtime log their handlers so; the entries
 * below the level never leave the thread.
 */
export const handlerLogOf =
  (log: Log, level: LogLevel) =>
  (service: string): Log =>
  (entry) => {
    if (!passes(levelOf(entry), level)) return;
    log({ service, ...entry });
  };

/**
 * Runs correlate and sweep in this thread. Their metrics are added up over each batch and each
 * sweep, then handed to `publishMetrics` (the thread that serves `/metrics`).
 */
export const startDecider = (
  options: DeciderOptions,
  log: Log,
  publishMetrics: (samples: readonly MetricSample[]) => void = () => undefined,
  reportStorage: (failure: string | undefined) => void = () => undefined,
): Decider => {
  const { config } = options;
  const handlerLog = handlerLogOf(log, options.logLevel);
  const metrics = new MetricsBuffer(publishMetrics);
  // Nothing is received, decided or deleted while the data folder is not the one opened: what
  // correlate and sweep would write would go where no later start finds it. (The watch is made once
  // both files are open: without the control plane's identity it takes theirs.)
  let watch: DataFolderWatch | undefined;
  const folderFault = (): string | undefined => {
    const fault = watch?.check();
    return fault === undefined || watch === undefined ? undefined : faultReason(fault, watch);
  };
  // And no store commit is made then either, the queue file's fault too: a unit whose outbox sent a
  // page into a queue file that went meanwhile is rolled back, not recorded as sent.
  const store = new SqliteStore({ path: options.databaseFile, commitGuard: folderFault });
  // While the store's writes fail for a reason of the file or the disk (read-only, full, corrupt,
  // held by another writer), correlate receives nothing: every batch would fail, and each receive
  // would count towards the dead-letter queue. The control plane's thread hears of it (ingest
  // answers 503, health says why); a probe write each second ends it once a write commits again.
  let storageFailure: string | undefined;
  const noteStorage = (failure: string | undefined): void => {
    // A data folder that went is its own fault, held for good and said by the control plane's watch.
    if (failure === storageFailure || (failure !== undefined && folderFault() !== undefined)) return;
    if (failure !== undefined && storageFailure === undefined)
      log({
        level: 'error',
        service: 'runtime',
        message: `the database refuses correlate's writes: ${failure}`,
      });
    if (failure === undefined)
      log({ level: 'info', service: 'runtime', message: 'the database takes writes again' });
    storageFailure = failure;
    reportStorage(failure);
  };
  /** The storage failure an error of a write shows, if any (a logic refusal is none). */
  const storageFailureIn = (error: unknown): string | undefined =>
    storageFailureOf((error as Error | undefined)?.cause) ??
    (error instanceof StoreUnavailableError ? error.message : undefined);
  /** After a batch or a sweep: what the store's own check says of its last write. */
  const noteStoreHealth = async (): Promise<void> => {
    const health = await store.health();
    if (health.status === 'unavailable') noteStorage(health.detail ?? 'the database is unavailable');
  };
  let probing: Promise<void> | undefined;
  const probeTimer = setInterval(() => {
    if (storageFailure === undefined || probing !== undefined || folderFault() !== undefined) return;
    probing = store
      .probeWrite()
      .then(async () => {
        const health = await store.health();
        noteStorage(health.status === 'unavailable' ? (health.detail ?? storageFailure) : undefined);
      })
      .catch((error: unknown) => noteStorage(storageFailureIn(error) ?? storageFailure))
      .finally(() => {
        probing = undefined;
      });
  }, STORE_PROBE_MS);
  const holdWhile = (): string | undefined =>
    folderFault() ??
    (storageFailure === undefined ? undefined : `the database refuses writes: ${storageFailure}`);
  const queues = SqliteQueueStore.open(options.queuesFile);
  const events = queues.queue(QUEUES.events);
  const notify = queues.queue(QUEUES.notify);
  watch = new DataFolderWatch(options, options.identity);
  const signer = new LocalPlanSigner({ dataDir: options.dataDir, createIfMissing: false });
  // The main thread made or read the key before this thread started; this signer never makes one
  // (a key gone now means the folder went under the control plane), and reads it now, while it is
  // the one the control plane started with.
  signer
    .publicKeyPem()
    .catch((error: Error) => log({ level: 'error', service: 'runtime', message: error.message }));
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
    deadLetterQueue: queues.queue(QUEUES.eventsDeadLetter),
    sourceQueue: QUEUES.events,
    log: handlerLog('correlate'),
    metrics,
  });
  const sweep = createSweep({
    settings: { core: config.core, graceSeconds: 30, finishLimit: 500, tickLimit: 500 },
    store,
    signer,
    notifyQueue: notify,
    log: handlerLog('sweep'),
    metrics,
  });
  // Each correlate batch is one store transaction (one commit), committed before its messages
  // are deleted from the queue: a crash mid-batch loses nothing, the batch comes back.
  const mapping = eventSourceMapping(
    events,
    async (batch) => {
      try {
        const response = await store.unit(() => correlate(batch));
        await noteStoreHealth();
        return response;
      } catch (error) {
        noteStorage(storageFailureIn(error) ?? storageFailure);
        throw error;
      }
    },
    config.queues,
    `arn:faultline:local:${QUEUES.events}`,
    log,
    { holdWhile },
  );
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweepTimer = setInterval(() => {
    sweeping = sweeping
      .then(async () => {
        if (holdWhile() !== undefined) return;
        await sweep().catch((error: unknown) => {
          noteStorage(storageFailureIn(error) ?? storageFailure);
          throw error;
        });
        await noteStoreHealth();
      })
      .catch((error: Error) => log({ level: 'error', service: 'sweep', message: error.message }));
  }, config.sweepIntervalSeconds * 1000);
  return {
    stop: async () => {
      clearInterval(sweepTimer);
      clearInterval(probeTimer);
      await probing;
      await mapping.stop();
      await sweeping;
      queues.close();
      await store.close();
    },
  };
};

/** The messages between the control plane and its decider thread. */
export type DeciderMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'log'; readonly entry: Readonly<Record<string, unknown>> }
  | { readonly kind: 'metrics'; readonly samples: readonly MetricSample[] }
  /** The decider's store writes fail for a reason of the file or the disk (`failure`), or no longer do. */
  | { readonly kind: 'storage'; readonly failure: string | undefined }
  | { readonly kind: 'stop' }
  | { readonly kind: 'stopped' };

/**
 * The thread's entry. From the runtime's bundle (local/runtime-bundle.mjs: this module is then part
 * of `main.mjs`), the thread's own bundle beside it, which the bundle's holder keeps; from the
 * sources, decider-thread.ts run as the CLI runs it (tsx), whoever started this one.
 */
const BUNDLED = import.meta.url.endsWith('.mjs');
const TSX = import.meta.resolve('tsx/esm/api');
const ENTRY = new URL(BUNDLED ? './decider-thread.mjs' : './decider-thread.ts', import.meta.url);
const threadOf = (options: DeciderOptions): Worker =>
  BUNDLED
    ? new Worker(ENTRY, { workerData: options, name: 'faultline-decider' })
    : new Worker(
        `import(${JSON.stringify(TSX)}).then(({ register }) => { register(); return import(${JSON.stringify(ENTRY.href)}); })`,
        { eval: true, workerData: options, name: 'faultline-decider' },
      );
/** How long a thread may take to come up before it counts as failed. */
const START_TIMEOUT_MS = 30_000;
/** The wait before starting a dead thread again: doubled after each failure, up to the maximum. */
const RESTART_DELAY_MS = { first: 1000, max: 60_000 } as const;

export interface DeciderThread extends Decider {
  /** The thread now up, if one is (diagnostics, tests). */
  thread(): Worker | undefined;
}

/**
 * Runs the decider in a worker thread, answering once it is up (or failing, if it does not come up
 * within {@link START_TIMEOUT_MS}). A thread that dies later is logged at `error` and started
 * again, after 1 s, then twice as long after each failure in a row, up to a minute, for as long as
 * the runtime runs: everything it knew is in the files, and the batch it held comes back after its
 * visibility timeout (each death uses up one receive of that batch). `stop` answers at once when
 * no thread is up, after a start in progress has ended otherwise.
 */
export const startDeciderThread = async (
  options: DeciderOptions,
  log: Log,
  applyMetrics: (samples: readonly MetricSample[]) => void = () => undefined,
  applyStorage: (failure: string | undefined) => void = () => undefined,
): Promise<DeciderThread> => {
  let stopping = false;
  let live: Worker | undefined;
  let starting: Promise<void> | undefined;
  let restart: NodeJS.Timeout | undefined;
  let failures = 0;
  const logError = (message: string): void => log({ level: 'error', service: 'runtime', message });

  const start = (): Promise<void> =>
    new Promise<void>((ready, fail) => {
      const thread = threadOf(options);
      let upAt: number | undefined;
      const timeout = setTimeout(() => {
        fail(new Error(`the decider thread did not come up within ${START_TIMEOUT_MS / 1000} s`));
        void thread.terminate();
      }, START_TIMEOUT_MS);
      thread.on('message', (message: DeciderMessage) => {
        if (message.kind === 'log') log(message.entry);
        else if (message.kind === 'metrics') applyMetrics(message.samples);
        else if (message.kind === 'storage') applyStorage(message.failure);
        else if (message.kind === 'ready') {
          clearTimeout(timeout);
          upAt = Date.now();
          live = thread;
          ready();
        }
      });
      thread.on('error', (error) => {
        if (upAt === undefined) fail(error);
        else logError(`the decider thread failed: ${error.message}`);
      });
      thread.on('exit', (code) => {
        clearTimeout(timeout);
        if (upAt === undefined) {
          fail(new Error(`the decider thread exited (${code}) before it came up`));
          return;
        }
        if (live === thread) live = undefined;
        // The next thread finds out again, from its own first write.
        applyStorage(undefined);
        if (stopping) return;
        // A thread that ran a while was well: the next failure waits the first delay again.
        if (Date.now() - upAt >= RESTART_DELAY_MS.max) failures = 0;
        logError(`the decider thread exited (${code}); starting it again`);
        startLater();
      });
    });

  const startLater = (): void => {
    const delay = Math.min(RESTART_DELAY_MS.max, RESTART_DELAY_MS.first * 2 ** failures);
    failures += 1;
    restart = setTimeout(() => {
      restart = undefined;
      if (stopping) return;
      starting = start()
        .catch((error: Error) => {
          logError(`the decider thread did not start: ${error.message}`);
          if (!stopping) startLater();
        })
        .finally(() => {
          starting = undefined;
        });
    }, delay);
  };

  await start();
  return {
    thread: () => live,
    stop: async () => {
      stopping = true;
      clearTimeout(restart);
      await starting;
      const thread = live;
      if (thread === undefined) return;
      const stopped = new Promise<void>((done) => {
        thread.on('message', (message: DeciderMessage) => {
          if (message.kind === 'stopped') done();
        });
        thread.once('exit', () => done());
      });
      thread.postMessage({ kind: 'stop' } satisfies DeciderMessage);
      await stopped;
      await thread.terminate();
    },
  };
};
