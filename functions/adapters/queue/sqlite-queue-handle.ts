import { randomBytes, randomUUID } from 'node:crypto';
import {
  BatchRejectedError,
  InvalidQueueRequestError,
  MessageNotInFlightError,
  MessageRejectedError,
  NoDeadLetterQueueError,
} from '../errors.ts';
import {
  type BatchMessage,
  type DeleteBatchEntry,
  type DeleteBatchResult,
  type OutgoingMessage,
  QUEUE_LIMITS,
  type QueueCounts,
  type ReceivedMessage,
  type ReceiveManyOptions,
  type ReceiveOptions,
  type RedrivePolicy,
  type SendBatchResult,
  type SentMessage,
  sendToDeadLetterQueue,
  type WorkQueue,
} from './port.ts';
import { batchRefusal, checkReceiveOptions, checkVisibilityTimeout, messageRefusal } from './rules.ts';
import {
  decodeAttributes,
  encodeAttributes,
  MS_PER_SECOND,
  type QueueRow,
  type QueueStatements,
} from './sqlite-queue-tables.ts';

/**
 * A handle on one queue of the SQLite queue file (sqlite-queue.ts): the port's operations as
 * statements on the queue tables. Here are the receive protocol (visibility, receipt handles,
 * redrive to the dead-letter queue at the receive after `maxReceiveCount` receives, long polling
 * over the store's wake-ups), sending under SQS's rules and deleting by receipt handle. The store
 * owns the file, the transactions and the wake-ups; a handle reaches them through {@link QueueFile}.
 */

/** Where message times come from (milliseconds since the epoch). */
export interface Clock {
  now(): number;
}

/**
 * What a queue handle needs of the store it belongs to (`SqliteQueueStore` is the one), so the
 * handle and the store stay two rooms. @internal
 */
export interface QueueFile {
  readonly clock: Clock;
  readonly closed: boolean;
  readonly statements: QueueStatements;
  /** Runs `work` in one immediate transaction, wrapping SQLite failures. */
  transaction<T>(queue: string, work: () => T): T;
  /** The queue's configuration; `QueueNotFoundError` when it does not exist. */
  config(name: string): QueueRow;
  /** Deletes messages past their queue's retention when that is due. */
  pruneIfDue(now: number): void;
  /** Wakes the long polls waiting on `queue`. */
  wake(queue: string): void;
  /** Waits until `queue` may have a message for a receive, `deadline` (real time) or `signal`. */
  waitForMessages(queue: string, deadline: number, signal: AbortSignal | undefined): Promise<void>;
}

const RECEIPT_HANDLE_BYTES = 24;

/** Messages looked at per step while collecting a receive (they may be redriven instead of delivered). */
const RECEIVE_SCAN_STEP = 32;

const newReceiptHandle = (): string => randomBytes(RECEIPT_HANDLE_BYTES).toString('base64url');

/** A handle on one queue of a `SqliteQueueStore`. */
export class SqliteQueue implements WorkQueue {
  readonly #store: QueueFile;

  /** @internal use `SqliteQueueStore.queue` */
  constructor(
    store: QueueFile,
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
    return this.#sendAll(messages, QUEUE_LIMITS.maxBatchEntries);
  }

  /** Any number of messages in one transaction: one commit (and one wake-up) for all of them. */
  async sendMany(messages: readonly BatchMessage[]): Promise<SendBatchResult> {
    if (messages.length === 0) return { successful: [], failed: [] };
    return this.#sendAll(messages, Number.POSITIVE_INFINITY);
  }

  /** Throws `BatchRejectedError` as SQS would for a batch of these entry ids, `maxEntries` at most. */
  #checkBatch(ids: readonly string[], maxEntries: number): void {
    const refused = batchRefusal(ids, maxEntries);
    if (refused !== undefined) throw new BatchRejectedError(this.name, refused.code, refused.message);
  }

  #sendAll(messages: readonly BatchMessage[], maxEntries: number): SendBatchResult {
    this.#checkBatch(
      messages.map((message) => message.id),
      maxEntries,
    );
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
    return this.#receiveWaiting(options, QUEUE_LIMITS.maxReceiveMessages);
  }

  /** What is ready, up to `maxMessages`, in one transaction (after waiting for a first one). */
  async receiveMany(options: ReceiveManyOptions): Promise<ReceivedMessage[]> {
    return this.#receiveWaiting(options, Number.POSITIVE_INFINITY);
  }

  async #receiveWaiting(options: ReceiveOptions, maxReceiveMessages: number): Promise<ReceivedMessage[]> {
    const { maxMessages, waitTimeSeconds, visibilityTimeoutSeconds } = checkReceiveOptions(
      this.name,
      options,
      maxReceiveMessages,
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
    return this.#deleteAll(entries, QUEUE_LIMITS.maxBatchEntries);
  }

  /** Any number of received messages in one transaction. */
  async deleteMany(entries: readonly DeleteBatchEntry[]): Promise<DeleteBatchResult> {
    if (entries.length === 0) return { successful: [], failed: [] };
    return this.#deleteAll(entries, Number.POSITIVE_INFINITY);
  }

  #deleteAll(entries: readonly DeleteBatchEntry[], maxEntries: number): DeleteBatchResult {
    this.#checkBatch(
      entries.map((entry) => entry.id),
      maxEntries,
    );
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

  deadLetter(message: ReceivedMessage, reason: string): Promise<void> {
    return sendToDeadLetterQueue(this, message, reason);
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
