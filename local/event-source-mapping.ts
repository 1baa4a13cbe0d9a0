import type { QueueEvent } from '../functions/adapters/queue/batch.ts';
import { toQueueRecord } from '../functions/adapters/queue/batch.ts';
import type { ReceivedMessage, WorkQueue } from '../functions/adapters/queue/port.ts';
import type { RuntimeConfig } from './config.ts';

/** How long the mapping pauses after an empty receive when it does not long-poll (`waitTimeSeconds` 0). */
const IDLE_POLL_MS = 100;
/** How often a held mapping looks whether it may receive again. */
const HOLD_POLL_MS = 1000;

export interface EventSourceMappingOptions {
  /**
   * Why the mapping must not receive now, or undefined when it may: the local runtime's data
   * folder is not whole (./data-folder-watch.ts). While held it receives nothing (so no record
   * uses up a receive towards its dead-letter queue for a fault of the files), and a batch in hand
   * when the hold begins keeps its messages: they are not deleted, and come back after their
   * visibility timeout to whoever runs on the folder next.
   */
  readonly holdWhile?: () => string | undefined;
}

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
  options: EventSourceMappingOptions = {},
) => {
  const controller = new AbortController();
  let inFlight: Promise<void> = Promise.resolve();
  let heldFor: string | undefined;
  /** Why the mapping holds now; logged once when a hold begins. */
  const held = (): string | undefined => {
    const reason = options.holdWhile?.();
    if (reason !== undefined && heldFor === undefined) {
      log({ level: 'warn', service: 'runtime', queue: queue.name, message: `not receiving: ${reason}` });
    }
    heldFor = reason;
    return reason;
  };
  const handle = async (messages: readonly ReceivedMessage[]): Promise<void> => {
    const response = await handler({ Records: messages.map((message) => toQueueRecord(message, arn)) });
    // What the handler did may have gone to files no longer at their paths: its messages stay.
    if (held() !== undefined) return;
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
      if (held() !== undefined) {
        await new Promise((done) => setTimeout(done, HOLD_POLL_MS));
        continue;
      }
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
