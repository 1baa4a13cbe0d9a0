import { BroadcastChannel } from 'node:worker_threads';
import Database from 'better-sqlite3';
import {
  AdapterError,
  InvalidQueueRequestError,
  messageOf,
  QueueClosedError,
  QueueNotFoundError,
  QueueUnavailableError,
} from '../errors.ts';
import { QUEUE_LIMITS, type RedrivePolicy } from './port.ts';
import { checkRange, checkVisibilityTimeout } from './rules.ts';
import { type Clock, type QueueFile, SqliteQueue } from './sqlite-queue-handle.ts';
import {
  MS_PER_SECOND,
  prepareQueueTables,
  type QueueRow,
  type QueueStatements,
} from './sqlite-queue-tables.ts';

export { type Clock, SqliteQueue };

/**
 * The embedded work queue: any number of named queues in one SQLite file (WAL), with the semantics
 * of SQS standard queues, for the local runtime (`faultline up`) and for tests.
 *
 * - **Visibility**: a receive hides each message until `now + visibilityTimeout` and gives it a
 *   fresh receipt handle; only that handle deletes it or changes its visibility. When the timeout
 *   runs out the message is delivered again, its receive count one higher, and the old handle no
 *   longer deletes it.
 * - **Redrive**: with a redrive policy, a message already received `maxReceiveCount` times is moved
 *   to the dead-letter queue at the next receive instead of being delivered (as SQS does). It keeps
 *   its id, its sent time and its receive count, and carries no `reason` (see `deadLetterReason`).
 * - **Order**: messages are handed out in the order they became visible (`visible_at`, then the
 *   order of writing). A message received for the first time comes in the order sent; one whose
 *   visibility timeout ran out takes its place at the moment it became visible again, behind what
 *   was sent before that moment. This keeps a receive an index range scan however large the
 *   backlog and however many messages wait for redelivery.
 * - **Long polling**: a receive with `waitTimeSeconds` sleeps until a message is sent to (or given
 *   back to, or redriven into) that queue through this store, until the next in-flight message of
 *   the queue becomes visible again, or until the wait is over, whichever comes first; it never
 *   spins. Writers through another store on the same file in this process (another worker thread:
 *   the local runtime decides in one) wake it at once too, over a `BroadcastChannel` named after
 *   the file; writers in other processes are noticed at the next `pollIntervalMs` (default 1 s).
 * - **Clock**: message times (sent, visible, retention) come from the injected clock, so tests
 *   move time by hand. How long a long poll waits is real time: it bounds how long the caller is
 *   held, not when messages become visible.
 * - **Retention**: messages older than the queue's retention (by first sent time, 4 days by
 *   default, 14 days for a dead-letter queue created by a redrive policy) are deleted, as SQS does.
 * - **Senders**: every message records its sender (`senderId`), the identity of the handle that
 *   sent it (`withSender`): the local API sends each host's events as that host, as each host
 *   sends as its own IAM role session in the cloud.
 *
 * Durability: every operation is its own transaction in WAL mode with `synchronous = NORMAL`
 * (durable across a process crash; the last transactions may be lost if the machine loses power).
 *
 * The rooms: this file is the store (the file, provisioning, transactions, retention and the
 * wake-ups of long polls); sqlite-queue-handle.ts is a queue handle (the port's operations and the
 * receive protocol); sqlite-queue-tables.ts holds the schema and the statements both run.
 */

/** The real clock, the default of a store. */
export const systemClock: Clock = { now: () => Date.now() };

/** A queue's configuration: SQS's queue attributes that the local runtime sets itself. */
export interface SqliteQueueConfig {
  /** Default 30 s, as SQS. */
  readonly visibilityTimeoutSeconds?: number;
  /** Body plus attributes; default and maximum 1 MiB, as SQS. */
  readonly maxMessageBytes?: number;
  /** 60 s – 14 days; default 4 days, as SQS. */
  readonly retentionSeconds?: number;
  /** Where a message goes after `maxReceiveCount` receives; the dead-letter queue is created if missing. */
  readonly redrive?: RedrivePolicy;
}

/** How a store is opened. */
export interface SqliteQueueStoreOptions {
  readonly clock?: Clock;
  /** The sender recorded on messages sent through handles that did not name one. Default `local`. */
  readonly senderId?: string;
  /** How often a long poll looks for messages written by another process. Default 1,000 ms. */
  readonly pollIntervalMs?: number;
}

/** SQS's defaults, and the store's own timings. */
export const SQLITE_QUEUE_DEFAULTS = {
  visibilityTimeoutSeconds: 30,
  maxMessageBytes: QUEUE_LIMITS.maxMessageBytes,
  retentionSeconds: 4 * 86_400,
  deadLetterRetentionSeconds: 14 * 86_400,
  senderId: 'local',
  pollIntervalMs: 1_000,
  pruneIntervalMs: 60_000,
  busyTimeoutMs: 5_000,
} as const;

const MIN_RETENTION_SECONDS = 60;
const MAX_RETENTION_SECONDS = 14 * 86_400;
const MIN_MESSAGE_BYTES = 1_024;
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

const checkQueueName = (name: string): string => {
  if (!QUEUE_NAME.test(name)) {
    throw new InvalidQueueRequestError(name, 'a queue name is 1–80 letters, digits, - or _');
  }
  return name;
};

/** SQLite answered "busy" or "locked": another connection holds the write lock past the busy timeout. */
const isBusy = (error: unknown): boolean =>
  typeof error === 'object' &&
  error !== null &&
  typeof (error as { code?: unknown }).code === 'string' &&
  /^SQLITE_(?:BUSY|LOCKED)/.test((error as { code: string }).code);

/**
 * One SQLite file holding named queues. Open it once per process and take queue handles from it;
 * it may share its `Database` with other embedded adapters (its tables are prefixed `work_queue`).
 */
export class SqliteQueueStore implements QueueFile {
  readonly clock: Clock;
  readonly pollIntervalMs: number;
  readonly defaultSenderId: string;
  readonly #db: Database.Database;
  /** One transaction function for every write (better-sqlite3 builds a wrapper per `transaction` call). */
  #immediate: Database.Transaction<(work: () => unknown) => unknown> | undefined;
  readonly #ownsDb: boolean;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Wake-ups to and from the stores on the same file in other threads of this process. */
  readonly #threads: BroadcastChannel | undefined;
  #closed = false;
  #lastPruneAt = Number.NEGATIVE_INFINITY;
  readonly #statements: QueueStatements;

  /** Opens (creating if needed) the queue file at `path`, in WAL mode. */
  static open(path: string, options: SqliteQueueStoreOptions = {}): SqliteQueueStore {
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (error) {
      throw new QueueUnavailableError(path, `cannot open ${path}: ${messageOf(error)}`, { cause: error });
    }
    return new SqliteQueueStore(db, options, true);
  }

  /**
   * Uses an open database (shared with the embedded store, say). The store closes it on `close()`
   * only when it opened it itself (`open`).
   */
  constructor(db: Database.Database, options: SqliteQueueStoreOptions = {}, ownsDb = false) {
    this.#db = db;
    this.#ownsDb = ownsDb;
    this.clock = options.clock ?? systemClock;
    this.pollIntervalMs = options.pollIntervalMs ?? SQLITE_QUEUE_DEFAULTS.pollIntervalMs;
    this.defaultSenderId = options.senderId ?? SQLITE_QUEUE_DEFAULTS.senderId;
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${SQLITE_QUEUE_DEFAULTS.busyTimeoutMs}`);
      this.#statements = prepareQueueTables(db);
    } catch (error) {
      if (ownsDb) db.close();
      throw new QueueUnavailableError(db.name, `cannot prepare the queue tables: ${messageOf(error)}`, {
        cause: error,
      });
    }
    if (!db.memory) {
      this.#threads = new BroadcastChannel(`faultline-queue:${db.name}`);
      this.#threads.unref();
      this.#threads.onmessage = (message: unknown) => {
        const queue = (message as { data?: unknown }).data;
        if (typeof queue === 'string') this.#wakeHere(queue);
      };
    }
  }

  /**
   * A handle on the queue `name`. With `config`, creates the queue or replaces its configuration
   * (and creates its dead-letter queue when missing); without, opens it as it is, creating it with
   * the defaults when missing.
   */
  queue(name: string, config?: SqliteQueueConfig): SqliteQueue {
    checkQueueName(name);
    this.transaction(name, () => {
      if (config !== undefined) this.#configure(name, config);
      else if (this.#statements.getQueue.get(name) === undefined) this.#configure(name, {});
    });
    return new SqliteQueue(this, name, this.defaultSenderId);
  }

  /** The names of the queues in the file. */
  queueNames(): string[] {
    return this.transaction('*', () => this.#statements.queueNames.all());
  }

  /** Closes the store: pending long polls answer with nothing, later calls throw `QueueClosedError`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiters of this.#waiters.values()) for (const wake of [...waiters]) wake();
    this.#waiters.clear();
    this.#threads?.close();
    if (this.#ownsDb) this.#db.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #configure(name: string, config: SqliteQueueConfig): void {
    const visibility = checkVisibilityTimeout(
      name,
      config.visibilityTimeoutSeconds ?? SQLITE_QUEUE_DEFAULTS.visibilityTimeoutSeconds,
    );
    const maxBytes = checkRange(
      name,
      'maxMessageBytes',
      config.maxMessageBytes ?? SQLITE_QUEUE_DEFAULTS.maxMessageBytes,
      MIN_MESSAGE_BYTES,
      QUEUE_LIMITS.maxMessageBytes,
    );
    const retention = checkRange(
      name,
      'retentionSeconds',
      config.retentionSeconds ?? SQLITE_QUEUE_DEFAULTS.retentionSeconds,
      MIN_RETENTION_SECONDS,
      MAX_RETENTION_SECONDS,
    );
    const redrive = config.redrive;
    if (redrive !== undefined) {
      checkQueueName(redrive.deadLetterQueue);
      if (redrive.deadLetterQueue === name) {
        throw new InvalidQueueRequestError(name, 'a queue cannot be its own dead-letter queue');
      }
      checkRange(name, 'maxReceiveCount', redrive.maxReceiveCount, 1, 1_000);
      this.#statements.insertQueueIfMissing.run(
        redrive.deadLetterQueue,
        SQLITE_QUEUE_DEFAULTS.visibilityTimeoutSeconds * MS_PER_SECOND,
        SQLITE_QUEUE_DEFAULTS.maxMessageBytes,
        SQLITE_QUEUE_DEFAULTS.deadLetterRetentionSeconds * MS_PER_SECOND,
        this.clock.now(),
      );
    }
    this.#statements.upsertQueue.run(
      name,
      visibility * MS_PER_SECOND,
      maxBytes,
      retention * MS_PER_SECOND,
      redrive?.deadLetterQueue ?? null,
      redrive?.maxReceiveCount ?? null,
      this.clock.now(),
    );
  }

  /** Runs `work` in one immediate transaction, wrapping SQLite failures. @internal */
  transaction<T>(queue: string, work: () => T): T {
    if (this.#closed) throw new QueueClosedError(queue);
    try {
      this.#immediate ??= this.#db.transaction((inner: () => unknown) => inner());
      return this.#immediate.immediate(work) as T;
    } catch (error) {
      if (error instanceof AdapterError) throw error;
      if (isBusy(error)) {
        throw new QueueUnavailableError(queue, 'the queue file is locked by another writer', {
          cause: error,
        });
      }
      throw new QueueUnavailableError(queue, messageOf(error), { cause: error });
    }
  }

  /** @internal */
  config(name: string): QueueRow {
    const row = this.#statements.getQueue.get(name);
    if (row === undefined) throw new QueueNotFoundError(name);
    return row;
  }

  /** @internal */
  get statements(): QueueStatements {
    return this.#statements;
  }

  /** Deletes messages past their queue's retention, at most once a minute. @internal */
  pruneIfDue(now: number): void {
    if (now - this.#lastPruneAt < SQLITE_QUEUE_DEFAULTS.pruneIntervalMs) return;
    this.#lastPruneAt = now;
    for (const queue of this.#statements.allQueues.all()) {
      this.#statements.deleteOlderThan.run(queue.name, now - queue.retention_ms);
    }
  }

  /** How long until the next hidden message of `queue` shows again (a busy file: wait for the poll interval). */
  #untilNextVisible(queue: string): number {
    try {
      const now = this.clock.now();
      const next = this.#statements.nextVisibleAt.get(queue, now)?.visible_at;
      return next === null || next === undefined ? Number.POSITIVE_INFINITY : next - now;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  /** Wakes the long polls waiting on `queue`, here and in the other threads' stores on this file. @internal */
  wake(queue: string): void {
    this.#wakeHere(queue);
    this.#threads?.postMessage(queue);
  }

  #wakeHere(queue: string): void {
    const waiters = this.#waiters.get(queue);
    if (waiters === undefined) return;
    for (const wake of [...waiters]) wake();
  }

  /**
   * Waits until `queue` may have a message for a receive: woken by a write through this store, by
   * the next in-flight message becoming visible, by the poll interval, by `deadline` (real time,
   * `performance.now()`), or by `signal`. @internal
   */
  waitForMessages(queue: string, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      if (this.#closed || signal?.aborted) {
        resolve();
        return;
      }
      const untilVisible = this.#untilNextVisible(queue);
      const delay = Math.max(0, Math.min(deadline - performance.now(), untilVisible, this.pollIntervalMs));
      let waiters = this.#waiters.get(queue);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waiters.set(queue, waiters);
      }
      const registered = waiters;
      const wake = (): void => {
        clearTimeout(timer);
        registered.delete(wake);
        if (registered.size === 0 && this.#waiters.get(queue) === registered) this.#waiters.delete(queue);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, delay);
      registered.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }
}
