import { z } from 'zod';
import type { CorrelateDeps } from '../correlate/deps.ts';
import { DecidingEnv, decidingResources, decidingSettings } from './deciding.ts';
import { type Env, httpUrl, lazySender, once, parseEnv, sqsClient } from './environment.ts';
import { lambdaObservability } from './observability.ts';

/**
 * correlate's composition root on Lambda: its dependencies from its environment, validated once
 * on the first batch (an invalid environment fails every batch with a `RuntimeConfigError` naming
 * each problem); clients are made then, never at import. Besides the variables of the store and of
 * deciding (store.ts, deciding.ts):
 * - `FAULTLINE_EVENTS_DLQ_URL`: the events queue's dead-letter queue (refused records, with their reason).
 * - `FAULTLINE_TRUSTED_SENDERS`: comma-separated SenderIds whose `FaultlineSender` stamp is
 *   believed (the API's role as `<role id>:`; see functions/correlate/messages.ts). Empty: every
 *   record is bound to its own SenderId.
 * - `FAULTLINE_EVENTS_MAX_RECEIVE_COUNT`: the events queue's `maxReceiveCount` (default 3).
 * - `FAULTLINE_TICK_LIMIT`: timers fired after each batch (default 100).
 * Logs and metrics: ./observability.ts.
 */
const CorrelateEnv = DecidingEnv.extend({
  FAULTLINE_EVENTS_DLQ_URL: httpUrl(),
  FAULTLINE_TRUSTED_SENDERS: z.string().default(''),
  FAULTLINE_EVENTS_MAX_RECEIVE_COUNT: z.coerce.number().int().min(1).max(1000).default(3),
  FAULTLINE_TICK_LIMIT: z.coerce.number().int().min(0).max(10_000).default(100),
});

export const correlateFromEnv = (env: Env = process.env): CorrelateDeps => {
  const parsed = once(() => parseEnv(CorrelateEnv, env, 'correlate'));
  const shared = once(() => decidingSettings(parsed(), 'correlate'));
  const settings = once(() => ({
    core: shared().core,
    trustedSenders: parsed()
      .FAULTLINE_TRUSTED_SENDERS.split(',')
      .map((sender) => sender.trim())
      .filter((sender) => sender.length > 0),
    maxReceiveCount: parsed().FAULTLINE_EVENTS_MAX_RECEIVE_COUNT,
    tickLimit: parsed().FAULTLINE_TICK_LIMIT,
  }));
  const sqs = sqsClient(shared);
  const { log, metrics } = lambdaObservability('correlate', env);
  return {
    log,
    metrics,
    get settings() {
      return settings();
    },
    ...decidingResources(shared, sqs),
    deadLetterQueue: lazySender(sqs, () => parsed().FAULTLINE_EVENTS_DLQ_URL),
  };
};
