import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  type BatchResponse,
  type QueueEvent,
  toQueueRecord,
} from '../../../functions/adapters/queue/batch.ts';
import type { ReceivedMessage, WorkQueue } from '../../../functions/adapters/queue/port.ts';
import { SqsQueue } from '../../../functions/adapters/queue/sqs-queue.ts';
import { type NotifyConfigInput, parseNotifyConfig } from '../../../functions/notify/config.ts';
import { createHandler } from '../../../functions/notify/create-handler.ts';
import { DynamoDbDeliveryLog } from '../../../functions/notify/dynamodb-delivery-log.ts';

/**
 * A notify consumer as Lambda runs one, for the takeover test (notify-takeover.test.ts): the real
 * handler over the SQS emulator (fauxqs) and the DynamoDB delivery log (dynalite), fed by a loop
 * that does what an event source mapping does: receive a batch, hand it to the handler, delete
 * what did not fail. Shared by the test's own consumers and by the consumer it runs as a process of
 * its own (notify-consumer-process.ts).
 */

/** Where the consumer finds its queue, its delivery log and its destinations: what Lambda's environment gives it. */
export interface NotifyConsumerSettings {
  readonly sqsEndpoint: string;
  readonly dynamoEndpoint: string;
  readonly region: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly deadLetterQueueUrl: string;
  readonly deliveryLogTable: string;
  readonly visibilityTimeoutMs: number;
  readonly config: NotifyConfigInput;
}

/** What a consumer did: records it handed to the handler, how many of them it got on a second (or later) receive, and how many failed. */
export interface ConsumerSummary {
  handled: number;
  redelivered: number;
  failed: number;
}

const EMULATOR_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface NotifyConsumer {
  readonly queue: WorkQueue;
  readonly handle: (event: QueueEvent) => Promise<BatchResponse>;
  readonly eventOf: (messages: readonly ReceivedMessage[]) => QueueEvent;
  /** Handles one batch and deletes what did not fail, as an event source mapping does. */
  readonly consume: (messages: readonly ReceivedMessage[]) => Promise<void>;
  /** Receives and consumes until the queue holds nothing, visible or in flight. */
  readonly drain: () => Promise<void>;
  readonly summary: ConsumerSummary;
  readonly close: () => void;
}

export const notifyConsumer = (
  settings: NotifyConsumerSettings,
  overrides: { readonly fetch?: typeof fetch } = {},
): NotifyConsumer => {
  const sqs = new SQSClient({
    endpoint: settings.sqsEndpoint,
    region: settings.region,
    credentials: EMULATOR_CREDENTIALS,
    maxAttempts: 3,
  });
  const dynamo = new DynamoDBClient({
    endpoint: settings.dynamoEndpoint,
    region: settings.region,
    credentials: EMULATOR_CREDENTIALS,
    maxAttempts: 3,
  });
  const queue = new SqsQueue({ client: sqs, queueUrl: settings.queueUrl });
  const deadLetterQueue = new SqsQueue({ client: sqs, queueUrl: settings.deadLetterQueueUrl });
  const handle = createHandler({
    loadConfig: async () => parseNotifyConfig(settings.config),
    deliveryLog: new DynamoDbDeliveryLog(dynamo, settings.deliveryLogTable),
    deadLetterQueue,
    visibilityTimeoutMs: settings.visibilityTimeoutMs,
    log: (entry) => {
      if (entry.level === 'error') process.stderr.write(`${JSON.stringify(entry)}\n`);
    },
    ...(overrides.fetch === undefined ? {} : { fetch: overrides.fetch }),
  });
  const summary: ConsumerSummary = { handled: 0, redelivered: 0, failed: 0 };
  const eventOf = (messages: readonly ReceivedMessage[]): QueueEvent => ({
    Records: messages.map((message) => toQueueRecord(message, settings.queueArn)),
  });
  const consume = async (messages: readonly ReceivedMessage[]): Promise<void> => {
    const response = await handle(eventOf(messages));
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    summary.handled += messages.length;
    summary.redelivered += messages.filter((message) => message.receiveCount > 1).length;
    summary.failed += failed.size;
    const done = messages.filter((message) => !failed.has(message.messageId));
    if (done.length > 0) {
      await queue.deleteMany(
        done.map((message, index) => ({ id: `m${index}`, receiptHandle: message.receiptHandle })),
      );
    }
  };
  const drain = async (): Promise<void> => {
    for (;;) {
      const messages = await queue.receive({ maxMessages: 4, waitTimeSeconds: 1 });
      if (messages.length > 0) {
        await consume(messages);
        continue;
      }
      const counts = await queue.counts();
      if (counts.visible + counts.inFlight + counts.delayed === 0) return;
    }
  };
  return {
    queue,
    handle,
    eventOf,
    consume,
    drain,
    summary,
    close: () => {
      sqs.destroy();
      dynamo.destroy();
    },
  };
};
