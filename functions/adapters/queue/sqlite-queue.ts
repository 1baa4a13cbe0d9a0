import { randomBytes, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import {
  AdapterError,
  BatchRejectedError,
  InvalidQueueRequestError,
  MessageNotInFlightError,
  MessageRejectedError,
  messageOf,
  NoDeadLetterQueueError,
  QueueClosedError,
  QueueNotFoundError,
  QueueUnavailableError,
} from '../errors.ts';
import {
  type BatchMessage,
  type DeleteBatchEntry,
  type DeleteBatchResult,
  deadLetterMessage,
  type MessageAttribute,
  type MessageAttributes,
  type OutgoingMessage,
  QUEUE_LIMITS,
  type QueueCounts,
  type ReceivedMessage,
  type ReceiveOptions,
  type RedrivePolicy,
  type SendBatchResult,
  type SentMessage,
  type WorkQueue,
} from './port.ts';
import { batchRefusal, checkReceiveOptions, checkVisibilityTimeout, messageRefusal } from './rules.ts';

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
 *   spins. Writers in other processes are noticed at the next `pollIntervalMs` (default 1 s).
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
 */

/** Where message times come from (milliseconds since the epoch). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

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

export interface SqliteQueueStoreOptions {
  readonly clock?: Clock;
  /** The sender recorded on messages sent through handles that did not name one. Default `local`. */
  readonly senderId?: string;
  /** How often a long poll looks for messages written by another process. Default 1,000 ms. */
  readonly pollIntervalMs?: number;
}

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
const RECEIPT_HANDLE_BYTES = 24;
const MS_PER_SECOND = 1_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS work_queues (
  name TEXT PRIMARY KEY,
  visibility_timeout_ms INTEGER NOT NULL,
  max_message_bytes INTEGER NOT NULL,
  retention_ms INTEGER NOT NULL,
  dead_letter_queue TEXT,
  max_receive_count INTEGER,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS work_queue_messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  message_id TEXT NOT NULL,
  body TEXT NOT NULL,
  attributes TEXT,
  sender_id TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  receive_count INTEGER NOT NULL DEFAULT 0,
  receipt_handle TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS work_queue_messages_by_visibility
  ON work_queue_messages (queue, visible_at, seq);
CREATE INDEX IF NOT EXISTS work_queue_messages_by_age
  ON work_queue_messages (queue, sent_at);
CREATE UNIQUE INDEX IF NOT EXISTS work_queue_messages_by_receipt
  ON work_queue_messages (receipt_handle) WHERE receipt_handle IS NOT NULL;
`;

interface QueueRow {
  name: string;
  visibility_timeout_ms: number;
  max_message_bytes: number;
  retention_ms: number;
  dead_letter_queue: string | null;
  max_receive_count: number | null;
}

interface MessageRow {
  seq: number;
  message_id: string;
  body: string;
  attributes: string | null;
  sender_id: string;
  sent_at: number;
  visible_at: number;
  receive_count: number;
}

type StoredAttribute = { t: 'S' | 'N'; v: string } | { t: 'B'; v: string };

const encodeAttributes = (attributes: MessageAttributes | undefined): string | null => {
  const entries = Object.entries(attributes ?? {});
  if (entries.length === 0) return null;
  const stored: Record<string, StoredAttribute> = {};
  for (const [name, attribute] of entries) {
    stored[name] =
      attribute.type === 'Binary'
        ? { t: 'B', v: Buffer.from(attribute.value).toString('base64') }
        : { t: attribute.type === 'String' ? 'S' : 'N', v: attribute.value };
  }
  return JSON.stringify(stored);
};

const decodeAttributes = (text: string | null): MessageAttributes => {
  if (text === null) return {};
  const stored = JSON.parse(text) as Record<string, StoredAttribute>;
  const attributes: Record<string, MessageAttribute> = {};
  for (const [name, attribute] of Object.entries(stored)) {
    attributes[name] =
      attribute.t === 'B'
        ? { type: 'Binary', value: new Uint8Array(Buffer.from(attribute.v, 'base64')) }
        : { type: attribute.t === 'S' ? 'String' : 'Number', value: attribute.v };
  }
  return attributes;
};

const checkQueueName = (name: string): string => {
  if (!QUEUE_NAME.test(name)) {
    throw new InvalidQueueRequestError(name, 'a queue name is 1–80 letters, digits, - or _');
  }
  return name;
};

const checkInteger = (queue: string, what: string, value: number, min: number, max: number): number => {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidQueueRequestError(
      queue,
      `${what} must be an integer from ${min} to ${max} (got ${value})`,
    );
  }
  return value;
};

const newReceiptHandle = (): string => randomBytes(RECEIPT_HANDLE_BYTES).toString('base64url');

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
export class SqliteQueueStore {
  readonly clock: Clock;
  readonly pollIntervalMs: number;
  readonly defaultSenderId: string;
  readonly #db: Database.Database;
  readonly #ownsDb: boolean;
  readonly #waiters = new Map<string, Set<() => void>>();
  #closed = false;
  #lastPruneAt = Number.NEGATIVE_INFINITY;
  readonly #statements: ReturnType<typeof prepare>;

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
      db.exec(SCHEMA);
      this.#statements = prepare(db);
    } catch (error) {
      if (ownsDb) db.close();
      throw new QueueUnavailableError(db.name, `cannot prepare the queue tables: ${messageOf(error)}`, {
        cause: error,
      });
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
    const maxBytes = checkInteger(
      name,
      'maxMessageBytes',
      config.maxMessageBytes ?? SQLITE_QUEUE_DEFAULTS.maxMessageBytes,
      MIN_MESSAGE_BYTES,
      QUEUE_LIMITS.maxMessageBytes,
    );
    const retention = checkInteger(
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
      checkInteger(name, 'maxReceiveCount', redrive.maxReceiveCount, 1, 1_000);
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
      return this.#db.transaction(work).immediate();
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
  get statements(): ReturnType<typeof prepare> {
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

  /** Wakes the long polls waiting on `queue`. @internal */
  wake(queue: string): void {
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

const prepare = (db: Database.Database) => ({
  getQueue: db.prepare<[string], QueueRow>(
    `SELECT name, visibility_timeout_ms, max_message_bytes, retention_ms, dead_letter_queue, max_receive_count
       FROM work_queues WHERE name = ?`,
  ),
  allQueues: db.prepare<[], { name: string; retention_ms: number }>(
    'SELECT name, retention_ms FROM work_queues',
  ),
  queueNames: db.prepare<[], string>('SELECT name FROM work_queues ORDER BY name').pluck(),
  upsertQueue: db.prepare<[string, number, number, number, string | null, number | null, number]>(
    `INSERT INTO work_queues
       (name, visibility_timeout_ms, max_message_bytes, retention_ms, dead_letter_queue, max_receive_count, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET
       visibility_timeout_ms = excluded.visibility_timeout_ms,
       max_message_bytes = excluded.max_message_bytes,
       retention_ms = excluded.retention_ms,
       dead_letter_queue = excluded.dead_letter_queue,
       max_receive_count = excluded.max_receive_count`,
  ),
  insertQueueIfMissing: db.prepare<[string, number, number, number, number]>(
    `INSERT INTO work_queues (name, visibility_timeout_ms, max_message_bytes, retention_ms, created_at)
     VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
  ),
  insertMessage: db.prepare<[string, string, string, string | null, string, number, number]>(
    `INSERT INTO work_queue_messages (queue, message_id, body, attributes, sender_id, sent_at, visible_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ),
  /** Ready messages after the cursor (visible_at, seq), in visibility order. */
  ready: db.prepare<[string, number, number, number, number], MessageRow>(
    `SELECT seq, message_id, body, attributes, sender_id, sent_at, visible_at, receive_count
       FROM work_queue_messages
      WHERE queue = ? AND visible_at <= ? AND (visible_at, seq) > (?, ?)
      ORDER BY visible_at, seq
      LIMIT ?`,
  ),
  markReceived: db.prepare<[string, number, number]>(
    `UPDATE work_queue_messages
        SET receipt_handle = ?, visible_at = ?, receive_count = receive_count + 1
      WHERE seq = ?`,
  ),
  moveToQueue: db.prepare<[string, number, number]>(
    `UPDATE work_queue_messages SET queue = ?, visible_at = ?, receipt_handle = NULL WHERE seq = ?`,
  ),
  deleteByReceipt: db.prepare<[string, string]>(
    'DELETE FROM work_queue_messages WHERE queue = ? AND receipt_handle = ?',
  ),
  changeVisibility: db.prepare<[number, string, string, number]>(
    `UPDATE work_queue_messages SET visible_at = ?
      WHERE queue = ? AND receipt_handle = ? AND visible_at > ?`,
  ),
  nextVisibleAt: db.prepare<[string, number], { visible_at: number | null }>(
    'SELECT MIN(visible_at) AS visible_at FROM work_queue_messages WHERE queue = ? AND visible_at > ?',
  ),
  counts: db.prepare<
    [number, number, number, string],
    { visible: number; in_flight: number; delayed: number }
  >(
    `SELECT
        COALESCE(SUM(visible_at <= ?), 0) AS visible,
        COALESCE(SUM(visible_at > ? AND receipt_handle IS NOT NULL), 0) AS in_flight,
        COALESCE(SUM(visible_at > ? AND receipt_handle IS NULL), 0) AS delayed
       FROM work_queue_messages WHERE queue = ?`,
  ),
  deleteOlderThan: db.prepare<[string, number]>(
    'DELETE FROM work_queue_messages WHERE queue = ? AND sent_at < ?',
  ),
});

/** Messages looked at per step while collecting a receive (they may be redriven instead of delivered). */
const RECEIVE_SCAN_STEP = 32;

/** A handle on one queue of a {@link SqliteQueueStore}. */
export class SqliteQueue implements WorkQueue {
  readonly #store: SqliteQueueStore;

  /** @internal use {@link SqliteQueueStore.queue} */
  constructor(
    store: SqliteQueueStore,
    readonly name: string,
    /** The sender recorded on what this handle sends (SQS `SenderId`). */
    readonly senderId: string,
  ) {
    this.#store = store;
  }

  /** The same queue, sending as `senderId` (a host id in the local runtime). */
  withSender(senderId: string): SqliteQueue {
    if (senderId.length === 0) throw new InvalidQueueRequestError(this.name, 'a sender id cannot be empty');
    return new SqliteQueue(this.#store, this.name, senderId);
  }

  async send(message: OutgoingMessage): Promise<SentMessage> {
    const messageId = this.#store.transaction(this.name, () => {
      const config = this.#store.config(this.name);
      const refused = messageRefusal(message, config.max_message_bytes);
      if (refused !== undefined) throw new MessageRejectedError(this.name, refused.code, refused.message);
      return this.#insert(message);
    });
    this.#store.wake(this.name);
    return { messageId };
  }

  async sendBatch(messages: readonly BatchMessage[]): Promise<SendBatchResult> {
    const refusedBatch = batchRefusal(messages.map((message) => message.id));
    if (refusedBatch !== undefined) {
      throw new BatchRejectedError(this.name, refusedBatch.code, refusedBatch.message);
    }
    const result = this.#store.transaction(this.name, () => {
      const config = this.#store.config(this.name);
      const successful: { id: string; messageId: string }[] = [];
      const failed: { id: string; code: string; message: string; senderFault: boolean }[] = [];
      for (const message of messages) {
        const refused = messageRefusal(message, config.max_message_bytes);
        if (refused === undefined) successful.push({ id: message.id, messageId: this.#insert(message) });
        else failed.push({ id: message.id, code: refused.code, message: refused.message, senderFault: true });
      }
      return { successful, failed };
    });
    if (result.successful.length > 0) this.#store.wake(this.name);
    return result;
  }

  #insert(message: OutgoingMessage): string {
    const now = this.#store.clock.now();
    const messageId = randomUUID();
    this.#store.statements.insertMessage.run(
      this.name,
      messageId,
      message.body,
      encodeAttributes(message.attributes),
      this.senderId,
      now,
      now + (message.delaySeconds ?? 0) * MS_PER_SECOND,
    );
    return messageId;
  }

  async receive(options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const { maxMessages, waitTimeSeconds, visibilityTimeoutSeconds } = checkReceiveOptions(
      this.name,
      options,
    );
    const attempt = (): ReceivedMessage[] => this.#receiveNow(maxMessages, visibilityTimeoutSeconds);
    const first = attempt();
    if (first.length > 0 || waitTimeSeconds === 0) return first;
    const deadline = performance.now() + waitTimeSeconds * MS_PER_SECOND;
    while (!this.#store.closed && options.signal?.aborted !== true && performance.now() < deadline) {
      await this.#store.waitForMessages(this.name, deadline, options.signal);
      if (this.#store.closed) return [];
      const messages = attempt();
      if (messages.length > 0) return messages;
    }
    return [];
  }

  #receiveNow(maxMessages: number, visibilityTimeoutSeconds: number | undefined): ReceivedMessage[] {
    let redrivenTo: string | undefined;
    const received = this.#store.transaction(this.name, () => {
      const now = this.#store.clock.now();
      this.#store.pruneIfDue(now);
      const config = this.#store.config(this.name);
      const visibilityMs =
        visibilityTimeoutSeconds === undefined
          ? config.visibility_timeout_ms
          : visibilityTimeoutSeconds * MS_PER_SECOND;
      const deadLetterQueue = config.dead_letter_queue;
      const maxReceiveCount = config.max_receive_count;
      const messages: ReceivedMessage[] = [];
      const seen = new Set<number>();
      let cursor = { visibleAt: Number.NEGATIVE_INFINITY, seq: Number.NEGATIVE_INFINITY };
      while (messages.length < maxMessages) {
        const rows = this.#store.statements.ready.all(
          this.name,
          now,
          cursor.visibleAt,
          cursor.seq,
          RECEIVE_SCAN_STEP,
        );
        if (rows.length === 0) break;
        for (const row of rows) {
          cursor = { visibleAt: row.visible_at, seq: row.seq };
          if (messages.length >= maxMessages) break;
          if (seen.has(row.seq)) continue;
          seen.add(row.seq);
          if (deadLetterQueue !== null && maxReceiveCount !== null && row.receive_count >= maxReceiveCount) {
            this.#store.statements.moveToQueue.run(deadLetterQueue, now, row.seq);
            redrivenTo = deadLetterQueue;
            continue;
          }
          const receiptHandle = newReceiptHandle();
          this.#store.statements.markReceived.run(receiptHandle, now + visibilityMs, row.seq);
          messages.push({
            messageId: row.message_id,
            receiptHandle,
            body: row.body,
            receiveCount: row.receive_count + 1,
            sentAt: new Date(row.sent_at),
            senderId: row.sender_id,
            attributes: decodeAttributes(row.attributes),
          });
        }
      }
      return messages;
    });
    if (redrivenTo !== undefined) this.#store.wake(redrivenTo);
    return received;
  }

  async delete(receiptHandle: string): Promise<void> {
    this.#store.transaction(this.name, () => {
      this.#store.config(this.name);
      this.#store.statements.deleteByReceipt.run(this.name, receiptHandle);
    });
  }

  async deleteBatch(entries: readonly DeleteBatchEntry[]): Promise<DeleteBatchResult> {
    const refused = batchRefusal(entries.map((entry) => entry.id));
    if (refused !== undefined) throw new BatchRejectedError(this.name, refused.code, refused.message);
    return this.#store.transaction(this.name, () => {
      this.#store.config(this.name);
      for (const entry of entries) this.#store.statements.deleteByReceipt.run(this.name, entry.receiptHandle);
      // As SQS: a receipt handle that no longer names a message deletes nothing and is not an error.
      return { successful: entries.map((entry) => ({ id: entry.id })), failed: [] };
    });
  }

  async changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<void> {
    const seconds = checkVisibilityTimeout(this.name, visibilityTimeoutSeconds);
    this.#store.transaction(this.name, () => {
      this.#store.config(this.name);
      const now = this.#store.clock.now();
      const changed = this.#store.statements.changeVisibility.run(
        now + seconds * MS_PER_SECOND,
        this.name,
        receiptHandle,
        now,
      );
      if (changed.changes === 0) throw new MessageNotInFlightError(this.name);
    });
    if (seconds === 0) this.#store.wake(this.name);
  }

  async redrivePolicy(): Promise<RedrivePolicy | undefined> {
    const config = this.#store.transaction(this.name, () => this.#store.config(this.name));
    return config.dead_letter_queue === null || config.max_receive_count === null
      ? undefined
      : { deadLetterQueue: config.dead_letter_queue, maxReceiveCount: config.max_receive_count };
  }

  async deadLetterQueue(): Promise<SqliteQueue> {
    const policy = await this.redrivePolicy();
    if (policy === undefined) throw new NoDeadLetterQueueError(this.name);
    return new SqliteQueue(this.#store, policy.deadLetterQueue, this.senderId);
  }

  async deadLetter(message: ReceivedMessage, reason: string): Promise<void> {
    const deadLetterQueue = await this.deadLetterQueue();
    await deadLetterQueue.send(deadLetterMessage(message, reason, this.name));
    await this.delete(message.receiptHandle);
  }

  async counts(): Promise<QueueCounts> {
    const row = this.#store.transaction(this.name, () => {
      this.#store.config(this.name);
      const now = this.#store.clock.now();
      return this.#store.statements.counts.get(now, now, now, this.name);
    });
    return { visible: row?.visible ?? 0, inFlight: row?.in_flight ?? 0, delayed: row?.delayed ?? 0 };
  }
}
