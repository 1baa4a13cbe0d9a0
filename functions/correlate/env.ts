import { z } from 'zod';
import type { OutgoingMessage } from '../adapters/queue/port.ts';
import { SqsQueue } from '../adapters/queue/sqs-queue.ts';
import { type Env, once, parseEnv, sharedResources, sharedSettings } from '../outbox/runtime.ts';
import type { CorrelateDeps, CorrelateSettings } from './handler.ts';

/**
 * correlate's dependencies on Lambda, from its environment, read and validated once on the first
 * batch (an invalid environment fails every batch with a `RuntimeConfigError` naming each
 * problem); clients are built then, never at import. Besides the shared variables of
 * functions/outbox/runtime.ts:
 *
 * - `FAULTLINE_EVENTS_DLQ_URL`: the events queue's dead-letter queue (refused records, with their reason).
 * - `FAULTLINE_TRUSTED_SENDERS`: comma-separated SenderIds whose `FaultlineSender` stamp is
 *   believed (the API's role as `<role id>:`; see messages.ts). Empty: every record is bound to
 *   its own SenderId.
 * - `FAULTLINE_EVENTS_MAX_RECEIVE_COUNT`: the events queue's `maxReceiveCount` (default 3).
 * - `FAULTLINE_TICK_LIMIT`: timers fired after each batch (default 100).
 */

const CorrelateEnv = z.object({
  FAULTLINE_EVENTS_DLQ_URL: z.url({ protocol: /^https?$/ }),
  FAULTLINE_TRUSTED_SENDERS: z.string().default(''),
  FAULTLINE_EVENTS_MAX_RECEIVE_COUNT: z.coerce.number().int().min(1).max(1000).default(3),
  FAULTLINE_TICK_LIMIT: z.coerce.number().int().min(0).max(10_000).default(100),
});

export const fromEnv = (env: Env = process.env): CorrelateDeps => {
  const settings = once(() => {
    const shared = sharedSettings(env, 'correlate');
    const own = parseEnv(CorrelateEnv, env, 'correlate');
    const correlate: CorrelateSettings = {
      core: shared.core,
      trustedSenders: own.FAULTLINE_TRUSTED_SENDERS.split(',')
        .map((sender) => sender.trim())
        .filter((sender) => sender.length > 0),
      maxReceiveCount: own.FAULTLINE_EVENTS_MAX_RECEIVE_COUNT,
      tickLimit: own.FAULTLINE_TICK_LIMIT,
    };
    return { shared, correlate, deadLetterQueueUrl: own.FAULTLINE_EVENTS_DLQ_URL };
  });
  const resources = sharedResources(() => settings().shared);
  const deadLetterQueue = once(
    () => new SqsQueue({ client: resources.sqs(), queueUrl: settings().deadLetterQueueUrl }),
  );
  return {
    get settings() {
      return settings().correlate;
    },
    store: resources.store,
    signer: resources.signer,
    notifyQueue: resources.notifyQueue,
    deadLetterQueue: { send: (message: OutgoingMessage) => deadLetterQueue().send(message) },
  };
};
