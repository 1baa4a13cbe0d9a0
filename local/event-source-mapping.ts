import type { QueueEvent } from '../functions/adapters/queue/batch.ts';
import { toQueueRecord } from '../functions/adapters/queue/batch.ts';
import type { ReceivedMessage, WorkQueue } from '../functions/adapters/queue/port.ts';
import type { RuntimeConfig } from './config.ts';

/** How long the mapping pauses after an empty receive when it does not long-poll (`waitTimeSeconds` 0). */
const IDLE_POLL_MS = 100;

/**
 * A Lambda event source mapping over a queue: receive a batch, hand it to the handler as an SQS
 * event, delete what did not fail; failures come back after the visibility timeout, and the
 * queue's redrive policy moves a record to its dead-letter queue after `maxReceiveCount` receives.
 */
export const eventSourceMapping = (
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
    await queue.deleteMany(
      done.map((message, index) => ({ id: `m${index}`, receiptHandle: message.receiptHandle })),
    );
  };
  /**
   * A batch as Lambda's poller gathers one (`receiveMany`): a receive that waits, then what is
   * ready at once, until `batchSize` or the queue has no more.
   */
  const receiveBatch = (): Promise<ReceivedMessage[]> =>
    queue.receiveMany({
      maxMessages: config.batchSize,
      visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
      waitTimeSeconds: config.waitTimeSeconds,
      signal: controller.signal,
    });
  const loop = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      try {
        const messages = await receiveBatch();
        if (messages.length === 0) {
          // Without a long poll, an empty queue would be polled without a pause, starving the thread.
          if (config.waitTimeSeconds === 0) await new Promise((done) => setTimeout(done, IDLE_POLL_MS));
          continue;
        }
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
