/**
 * The work queue port (docs/architecture.md §2 "Queues"). Everything that moves between Faultline's functions
 * travels through a queue with the semantics of SQS standard queues, because that is what the
 * cloud runs on and what Lambda event source mappings assume:
 *
 * - at-least-once delivery: a received message stays in the queue, invisible for its visibility
 *   timeout, and comes back if it is not deleted in time, with its receive count one higher;
 * - a redrive policy moves a message to the queue's dead-letter queue (DLQ) instead of delivering
 *   it again once it has been received `maxReceiveCount` times;
 * - a consumer that finds a record it can never process (it does not parse) sends it to the DLQ
 *   itself, with a `reason` message attribute, so the rest of the batch goes on and an operator
 *   can read why (§3: "a record that cannot be parsed ends in the DLQ with its reason");
 * - the order is only roughly the sending order, and a message may arrive twice: consumers are
 *   idempotent (ids are derived, deliveries are keyed by them).
 *
 * The local runtime hosts the same handlers on the SQLite adapter with exactly these semantics,
 * so a handler that works on one machine works on Lambda, and one contract suite
 * (test/functions/adapters/queue/contract.ts) holds every adapter to them.
 */

/** A message attribute, typed as SQS types them (`Number` values travel as strings). */
export type MessageAttribute =
  | { readonly type: 'String'; readonly value: string }
  | { readonly type: 'Number'; readonly value: string }
  | { readonly type: 'Binary'; readonly value: Uint8Array };

/** Message attributes by name (at most 10, as SQS allows). */
export type MessageAttributes = Readonly<Record<string, MessageAttribute>>;

/** The limits SQS enforces, which every adapter enforces too so the local runtime fails where the cloud would. */
export const QUEUE_LIMITS = {
  maxBatchEntries: 10,
  maxReceiveMessages: 10,
  maxAttributes: 10,
  maxAttributeNameLength: 256,
  maxWaitTimeSeconds: 20,
  maxVisibilityTimeoutSeconds: 43_200,
  maxDelaySeconds: 900,
  /** SQS's default and largest `MaximumMessageSize`: body plus attribute names, types and values. */
  maxMessageBytes: 1_048_576,
  maxBatchEntryIdLength: 80,
} as const;

/** `SendMessageBatch` (or `DeleteMessageBatch`) requests one `sendMany` (`deleteMany`) keeps in flight on SQS. */
export const SEND_MANY_IN_FLIGHT = 4;

/** Names of the attributes a dead-lettering consumer adds (see {@link deadLetterMessage}). */
export const DEAD_LETTER_ATTRIBUTES = {
  /** Why the consumer gave up on the record (zod issues, "not JSON", ...). */
  reason: 'reason',
  /** The id the message had in the queue it came from. */
  sourceMessageId: 'sourceMessageId',
  /** The name of the queue it came from. */
  sourceQueue: 'sourceQueue',
} as const;

/** The longest `reason` kept on a dead-lettered message; longer ones are cut with an ellipsis. */
export const MAX_DEAD_LETTER_REASON_LENGTH = 4096;

export interface OutgoingMessage {
  readonly body: string;
  readonly attributes?: MessageAttributes;
  /** Keep the message invisible for this long after sending (0–900 s). */
  readonly delaySeconds?: number;
}

/** One entry of a batch send; `id` (letters, digits, `-`, `_`, ≤ 80) names it in the result. */
export interface BatchMessage extends OutgoingMessage {
  readonly id: string;
}

export interface SentMessage {
  readonly messageId: string;
}

/** Why one entry of a batch failed, as the queue reported it. */
export interface BatchEntryFailure {
  readonly id: string;
  /** The queue's code (`InvalidMessageContents`, `ReceiptHandleIsInvalid`, ...). */
  readonly code: string;
  readonly message: string;
  /** True when the entry itself is at fault (sending it again will fail again). */
  readonly senderFault: boolean;
}

/** A batch send answers per entry: a batch is never all-or-nothing. */
export interface SendBatchResult {
  readonly successful: readonly { readonly id: string; readonly messageId: string }[];
  readonly failed: readonly BatchEntryFailure[];
}

export interface DeleteBatchEntry {
  readonly id: string;
  readonly receiptHandle: string;
}

export interface DeleteBatchResult {
  readonly successful: readonly { readonly id: string }[];
  readonly failed: readonly BatchEntryFailure[];
}

export interface ReceiveOptions {
  /** 1–10, default 1. */
  readonly maxMessages?: number;
  /** Overrides the queue's visibility timeout for these messages (0–43,200 s). */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Long polling (0–20 s, default 0): wait up to this long for a message when none is there, and
   * answer as soon as one arrives.
   */
  readonly waitTimeSeconds?: number;
  /** Ends a long poll early (shutdown): the receive then answers with what it has, usually nothing. */
  readonly signal?: AbortSignal;
}

/** {@link ReceiveOptions} for `receiveMany`, whose `maxMessages` may be any positive integer. */
export interface ReceiveManyOptions extends Omit<ReceiveOptions, 'maxMessages'> {
  readonly maxMessages: number;
}

export interface ReceivedMessage {
  readonly messageId: string;
  /** Names this receive of the message: delete and change its visibility with it. */
  readonly receiptHandle: string;
  readonly body: string;
  /** How many times the message has been received, this time included (SQS `ApproximateReceiveCount`). */
  readonly receiveCount: number;
  /** When the message was first sent (SQS `SentTimestamp`; kept when redriven to the DLQ). */
  readonly sentAt: Date;
  /**
   * Who sent it (SQS `SenderId`: the IAM principal, `<role id>:<session name>` for an assumed role;
   * the SQLite adapter's sender identity). Correlate binds it to the event's `hostid` (§3).
   * Undefined when the queue does not say.
   */
  readonly senderId: string | undefined;
  readonly attributes: MessageAttributes;
}

/** The redrive policy of a queue: where its messages go after `maxReceiveCount` receives. */
export interface RedrivePolicy {
  /** The name of the dead-letter queue. */
  readonly deadLetterQueue: string;
  readonly maxReceiveCount: number;
}

/** How many messages a queue holds, approximately (SQS answers approximately; SQLite exactly). */
export interface QueueCounts {
  /** Ready to be received. */
  readonly visible: number;
  /** Received and not yet deleted, their visibility timeout still running. */
  readonly inFlight: number;
  /** Sent with a delay that has not run out. */
  readonly delayed: number;
}

/**
 * A durable work queue with SQS standard-queue semantics.
 *
 * Why a port: correlate, notify and the outbox must run unchanged on Lambda (SQS) and in the local
 * runtime (one SQLite file), and tests must be able to hold both to the same behaviour. Only what
 * both can honour is here; provisioning (creating queues, setting the redrive policy) belongs to
 * infra in the cloud and to the SQLite adapter's own `queue(name, config)` locally.
 */
export interface WorkQueue {
  /** The queue's name (the last segment of an SQS URL). */
  readonly name: string;

  /** Sends one message; a malformed one throws `MessageRejectedError`. */
  send(message: OutgoingMessage): Promise<SentMessage>;

  /**
   * Sends up to 10 messages. One bad entry fails alone (`failed`); a malformed batch as a whole
   * (empty, more than 10, duplicate or invalid ids) throws `BatchRejectedError`.
   */
  sendBatch(messages: readonly BatchMessage[]): Promise<SendBatchResult>;

  /**
   * Sends any number of messages, answering per entry as `sendBatch` does (ids distinct, else
   * `BatchRejectedError`; none is a no-op). Each adapter sends them as cheaply as it can: SQS ten
   * to a `SendMessageBatch`, {@link SEND_MANY_IN_FLIGHT} at a time (a failed request throws once
   * those in flight settle, no new one starts, and what was sent stays sent: the caller sends the
   * messages again, so consumers must be idempotent, as they are); the SQLite queue in one
   * transaction.
   */
  sendMany(messages: readonly BatchMessage[]): Promise<SendBatchResult>;

  /** Receives up to `maxMessages` visible messages, hiding each for the visibility timeout. */
  receive(options?: ReceiveOptions): Promise<ReceivedMessage[]>;

  /**
   * Receives a batch as a Lambda poller gathers one: waits up to `waitTimeSeconds` for a first
   * message, then takes what is ready without waiting, up to `maxMessages` (any number). SQS
   * receives ten at a time; the SQLite queue takes what is ready in one transaction.
   */
  receiveMany(options: ReceiveManyOptions): Promise<ReceivedMessage[]>;

  /**
   * Deletes a received message. A receipt handle that is no longer current (the message was
   * received again since) may or may not delete it (SQS may; SQLite does not): delete before the
   * visibility timeout runs out.
   */
  delete(receiptHandle: string): Promise<void>;

  /** Deletes up to 10 received messages, answering per entry. */
  deleteBatch(entries: readonly DeleteBatchEntry[]): Promise<DeleteBatchResult>;

  /**
   * Deletes any number of received messages, answering per entry as `deleteBatch` does (ids
   * distinct; none is a no-op): SQS ten to a request, {@link SEND_MANY_IN_FLIGHT} at a time; the
   * SQLite queue in one transaction.
   */
  deleteMany(entries: readonly DeleteBatchEntry[]): Promise<DeleteBatchResult>;

  /**
   * Changes how long a received message stays invisible, counted from now; 0 makes it visible at
   * once (give it back). Throws `MessageNotInFlightError` once its timeout has run out.
   */
  changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<void>;

  /** The queue's redrive policy, or undefined when it has no dead-letter queue. */
  redrivePolicy(): Promise<RedrivePolicy | undefined>;

  /** The queue's dead-letter queue; throws `NoDeadLetterQueueError` when it has none. */
  deadLetterQueue(): Promise<WorkQueue>;

  /**
   * Gives up on a received message: sends it to the dead-letter queue with `reason` (see
   * {@link deadLetterMessage}), then deletes it here. At least once: a crash between the two
   * leaves it in both, and it comes back here to be dead-lettered again.
   */
  deadLetter(message: ReceivedMessage, reason: string): Promise<void>;

  /** Approximate message counts, for health and stats. */
  counts(): Promise<QueueCounts>;
}

/**
 * A character SQS refuses in a body or an attribute: it accepts only `#x9 | #xA | #xD | #x20 to
 * #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF`.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: tab, LF and CR are the control characters SQS allows
export const SQS_INVALID_CHARACTER = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const INVALID_REASON_CHARS = new RegExp(SQS_INVALID_CHARACTER.source, 'gu');

/** A reason as it can travel in an attribute: only characters SQS accepts, at most 4096 of them. */
export const normaliseReason = (reason: string): string => {
  const clean = reason.replace(INVALID_REASON_CHARS, '\uFFFD').trim();
  const text = clean.length > 0 ? clean : 'no reason given';
  return text.length <= MAX_DEAD_LETTER_REASON_LENGTH
    ? text
    : `${text.slice(0, MAX_DEAD_LETTER_REASON_LENGTH - 1)}…`;
};

/**
 * The message a consumer sends to the DLQ for a record it rejects: the same body, its attributes
 * (as many as fit beside the three added), and `reason`, `sourceMessageId` and `sourceQueue`.
 */
export const deadLetterMessage = (
  record: { readonly messageId: string; readonly body: string; readonly attributes?: MessageAttributes },
  reason: string,
  sourceQueue: string,
): OutgoingMessage => {
  const added: Record<string, MessageAttribute> = {
    [DEAD_LETTER_ATTRIBUTES.reason]: { type: 'String', value: normaliseReason(reason) },
    [DEAD_LETTER_ATTRIBUTES.sourceMessageId]: { type: 'String', value: record.messageId },
    [DEAD_LETTER_ATTRIBUTES.sourceQueue]: { type: 'String', value: sourceQueue },
  };
  const reserved = new Set(Object.keys(added));
  const kept = Object.entries(record.attributes ?? {})
    .filter(([name]) => !reserved.has(name))
    .slice(0, QUEUE_LIMITS.maxAttributes - reserved.size);
  return { body: record.body, attributes: { ...Object.fromEntries(kept), ...added } };
};

/**
 * {@link WorkQueue.deadLetter}, written once for every adapter: sends the message to the queue's
 * dead-letter queue with `reason` (see {@link deadLetterMessage}), then deletes it from the queue.
 * At least once: a crash between the two leaves it in both, and it comes back to be dead-lettered
 * again.
 */
export const sendToDeadLetterQueue = async (
  queue: WorkQueue,
  message: ReceivedMessage,
  reason: string,
): Promise<void> => {
  const deadLetterQueue = await queue.deadLetterQueue();
  await deadLetterQueue.send(deadLetterMessage(message, reason, queue.name));
  await queue.delete(message.receiptHandle);
};

/**
 * Why a message is in a dead-letter queue: the `reason` its consumer gave when it rejected it, or
 * undefined when the queue's redrive policy moved it there after `maxReceiveCount` receives
 * (its consumer kept failing on it: look at the consumer's logs for that message id).
 */
export const deadLetterReason = (message: { readonly attributes: MessageAttributes }): string | undefined => {
  const reason = message.attributes[DEAD_LETTER_ATTRIBUTES.reason];
  return reason?.type === 'String' ? reason.value : undefined;
};

/** A String attribute, the common case. */
export const stringAttribute = (value: string): MessageAttribute => ({ type: 'String', value });
