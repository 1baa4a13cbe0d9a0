import { messageOf } from '../errors.ts';
import {
  deadLetterMessage,
  type MessageAttribute,
  type MessageAttributes,
  QUEUE_LIMITS,
  type ReceivedMessage,
  type WorkQueue,
} from './port.ts';

/**
 * The SQS batch consumer shape that Lambda and the local runtime share (docs/architecture.md §2 "Queues").
 *
 * A handler (correlate, notify) gets a batch of records and answers, per record, `ok`, `retry` or
 * `reject` with a reason. {@link processBatch} turns that into Lambda's partial batch response
 * (`ReportBatchItemFailures`): the records to retry are reported by id and come back after their
 * visibility timeout (and end in the DLQ after `maxReceiveCount` receives); a rejected record —
 * one that can never be processed, such as one that does not parse — is sent to the DLQ at once
 * with its reason and is not retried; and one record throwing never stops the others (it is
 * retried). The local runtime receives from its SQLite queue, calls {@link consumeMessages}, which
 * does the same and then deletes what succeeded, exactly as an event source mapping does.
 */

/** A message attribute as Lambda's SQS event carries it (`binaryValue` in base64). */
export interface QueueRecordMessageAttribute {
  readonly dataType: string;
  readonly stringValue?: string | undefined;
  readonly binaryValue?: string | undefined;
}

/** The SQS system attributes of a record, as strings (`ApproximateReceiveCount: "2"`). */
export interface QueueRecordAttributes {
  readonly ApproximateReceiveCount?: string;
  readonly SentTimestamp?: string;
  readonly SenderId?: string;
  readonly ApproximateFirstReceiveTimestamp?: string;
  readonly [name: string]: string | undefined;
}

/** One record: the fields of Lambda's `SQSRecord` that Faultline reads, so a Lambda event fits as is. */
export interface QueueRecord {
  readonly messageId: string;
  readonly body: string;
  readonly attributes: QueueRecordAttributes;
  readonly messageAttributes?: Readonly<Record<string, QueueRecordMessageAttribute>>;
  readonly receiptHandle?: string;
  readonly eventSourceARN?: string;
}

/** Lambda's SQS event. */
export interface QueueEvent {
  readonly Records: readonly QueueRecord[];
}

/** Lambda's partial batch response (`ReportBatchItemFailures`). */
export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** What a handler decided about one record. */
export type RecordOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'retry'; readonly reason: string }
  | { readonly kind: 'reject'; readonly reason: string };

export const recordOk: RecordOutcome = { kind: 'ok' };
/** Try the record again later (a dependency is down, a conditional write lost a race). */
export const retryRecord = (reason: string): RecordOutcome => ({ kind: 'retry', reason });
/** Never try the record again: send it to the DLQ with `reason` (it does not parse, it is not allowed). */
export const rejectRecord = (reason: string): RecordOutcome => ({ kind: 'reject', reason });

export type RecordHandler = (record: QueueRecord) => Promise<RecordOutcome>;

/** What became of one record, for logs and counters. */
export type RecordResult =
  | { readonly kind: 'ok' }
  | { readonly kind: 'retry'; readonly reason: string }
  /** In the DLQ with its reason. */
  | { readonly kind: 'rejected'; readonly reason: string }
  /** The handler threw, or the DLQ could not be reached for a rejected record: it will be retried. */
  | { readonly kind: 'failed'; readonly reason: string; readonly error: unknown };

export interface BatchOptions {
  /** Where rejected records go, with their reason. */
  readonly deadLetterQueue: Pick<WorkQueue, 'send'>;
  /** The name of the queue the records come from, recorded on dead-lettered records. */
  readonly sourceQueue: string;
  /** How many records are handled at once; default 1 (in order). */
  readonly concurrency?: number;
  /** Hears what became of each record. It must not throw; if it does, the throw is ignored. */
  readonly onResult?: (record: QueueRecord, result: RecordResult) => void;
}

const fromRecordAttributes = (
  attributes: Readonly<Record<string, QueueRecordMessageAttribute>> | undefined,
): MessageAttributes => {
  const result: Record<string, MessageAttribute> = {};
  for (const [name, attribute] of Object.entries(attributes ?? {})) {
    if (attribute.dataType.startsWith('Binary')) {
      if (attribute.binaryValue !== undefined) {
        result[name] = {
          type: 'Binary',
          value: new Uint8Array(Buffer.from(attribute.binaryValue, 'base64')),
        };
      }
    } else if (attribute.stringValue !== undefined) {
      result[name] = {
        type: attribute.dataType.startsWith('Number') ? 'Number' : 'String',
        value: attribute.stringValue,
      };
    }
  }
  return result;
};

/** The port's view of a record's message attributes (to read a `reason`, or to pass them on). */
export const recordMessageAttributes = (record: QueueRecord): MessageAttributes =>
  fromRecordAttributes(record.messageAttributes);

/** A received message as Lambda would hand it to a function, for the local runtime. */
export const toQueueRecord = (message: ReceivedMessage, eventSourceARN?: string): QueueRecord => {
  const messageAttributes: Record<string, QueueRecordMessageAttribute> = {};
  for (const [name, attribute] of Object.entries(message.attributes)) {
    messageAttributes[name] =
      attribute.type === 'Binary'
        ? { dataType: 'Binary', binaryValue: Buffer.from(attribute.value).toString('base64') }
        : { dataType: attribute.type, stringValue: attribute.value };
  }
  const attributes: Record<string, string> = {
    ApproximateReceiveCount: String(message.receiveCount),
    SentTimestamp: String(message.sentAt.getTime()),
  };
  if (message.senderId !== undefined) attributes.SenderId = message.senderId;
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes,
    messageAttributes,
    ...(eventSourceARN === undefined ? {} : { eventSourceARN }),
  };
};

const report = (options: BatchOptions, record: QueueRecord, result: RecordResult): void => {
  try {
    options.onResult?.(record, result);
  } catch {
    // An observer's failure must not change what happens to the record.
  }
};

const settle = async (
  record: QueueRecord,
  handle: RecordHandler,
  options: BatchOptions,
): Promise<boolean> => {
  let outcome: RecordOutcome;
  try {
    outcome = await handle(record);
  } catch (error) {
    report(options, record, { kind: 'failed', reason: messageOf(error), error });
    return false;
  }
  switch (outcome.kind) {
    case 'ok':
      report(options, record, outcome);
      return true;
    case 'retry':
      report(options, record, outcome);
      return false;
    case 'reject':
      try {
        await options.deadLetterQueue.send(
          deadLetterMessage(
            { messageId: record.messageId, body: record.body, attributes: recordMessageAttributes(record) },
            outcome.reason,
            options.sourceQueue,
          ),
        );
      } catch (error) {
        report(options, record, {
          kind: 'failed',
          reason: `could not dead-letter the record (${outcome.reason}): ${messageOf(error)}`,
          error,
        });
        return false;
      }
      report(options, record, { kind: 'rejected', reason: outcome.reason });
      return true;
  }
};

/**
 * Handles each record and answers which ones to retry. Never throws because of a record: a handler
 * that throws, or a DLQ that cannot be reached, only makes that record a batch item failure.
 */
export const processBatch = async (
  records: readonly QueueRecord[],
  handle: RecordHandler,
  options: BatchOptions,
): Promise<BatchResponse> => {
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 1, records.length));
  const succeeded = new Array<boolean>(records.length).fill(false);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < records.length) {
      const index = next;
      next += 1;
      const record = records[index];
      if (record !== undefined) succeeded[index] = await settle(record, handle, options);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    batchItemFailures: records
      .filter((_, index) => succeeded[index] !== true)
      .map((record) => ({ itemIdentifier: record.messageId })),
  };
};

/** What {@link consumeMessages} did with a received batch. */
export interface ConsumeResult extends BatchResponse {
  /** Messages handled (or dead-lettered) whose deletion failed: they will come back, so handlers stay idempotent. */
  readonly undeleted: readonly string[];
}

/**
 * The local runtime's event source mapping for one received batch: handles the messages as Lambda
 * would, then deletes from `queue` every message not reported as a failure. Failures stay in the
 * queue and come back after their visibility timeout.
 */
export const consumeMessages = async (
  queue: Pick<WorkQueue, 'deleteBatch'>,
  messages: readonly ReceivedMessage[],
  handle: RecordHandler,
  options: BatchOptions & { readonly eventSourceARN?: string },
): Promise<ConsumeResult> => {
  const records = messages.map((message) => toQueueRecord(message, options.eventSourceARN));
  const response = await processBatch(records, handle, options);
  const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
  const done = messages.filter((message) => !failed.has(message.messageId));
  const undeleted: string[] = [];
  for (let start = 0; start < done.length; start += QUEUE_LIMITS.maxBatchEntries) {
    const chunk = done.slice(start, start + QUEUE_LIMITS.maxBatchEntries);
    try {
      const deleted = await queue.deleteBatch(
        chunk.map((message, index) => ({ id: `m${index}`, receiptHandle: message.receiptHandle })),
      );
      for (const failure of deleted.failed) {
        const message = chunk[Number(failure.id.slice(1))];
        if (message !== undefined) undeleted.push(message.messageId);
      }
    } catch {
      undeleted.push(...chunk.map((message) => message.messageId));
    }
  }
  return { ...response, undeleted };
};
