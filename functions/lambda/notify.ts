import { z } from 'zod';
import type { Store } from '../adapters/store/port.ts';
import { parseNotifyConfig } from '../notify/config.ts';
import { type DeliveryLog, InMemoryDeliveryLog } from '../notify/delivery-log.ts';
import type { NotifyDeps } from '../notify/deps.ts';
import { NotifyConfigError } from '../notify/errors.ts';
import { SqliteDeliveryLog } from '../notify/sqlite-delivery-log.ts';
import {
  afterColon,
  type Env,
  httpUrl,
  lazy,
  lazySender,
  once,
  problemsOf,
  sqsClient,
} from './environment.ts';
import { lambdaObservability } from './observability.ts';
import { StoreEnv, storeFrom, storeSettings } from './store.ts';

/**
 * notify's composition root on Lambda: its dependencies from its environment,
 * read and validated once, on the first batch; an invalid environment fails every batch with a
 * `NotifyConfigError` naming each problem (as the destinations' own problems are), until fixed.
 * - `FAULTLINE_NOTIFY_CONFIG`: the destinations as JSON (functions/notify/config.ts), secrets
 *   included. Secrets Manager is the seam for the cloud: a `FAULTLINE_NOTIFY_CONFIG_SECRET_ARN`
 *   read with `GetSecretValue` inside `loadConfig` (once per cold start), when
 *   `@aws-sdk/client-secrets-manager` joins the dependencies; nothing else changes.
 * - `FAULTLINE_NOTIFY_DLQ_URL`: the notify queue's dead-letter queue.
 * - `FAULTLINE_NOTIFY_DELIVERY_LOG`: `memory` (default: delivered-once only within a warm Lambda)
 *   or `sqlite:<path>`.
 * - `FAULTLINE_STORE` (and `FAULTLINE_DYNAMODB_ENDPOINT`, store.ts): optional; the store whose
 *   timelines keep the pages no destination takes (none configured). Without it such a page is
 *   only logged.
 * - `AWS_REGION`: set by Lambda.
 * Logs and metrics: ./observability.ts.
 */
const NotifyEnv = StoreEnv.partial({ FAULTLINE_STORE: true }).extend({
  FAULTLINE_NOTIFY_CONFIG: z.string().min(1, 'FAULTLINE_NOTIFY_CONFIG is required: the destinations as JSON'),
  FAULTLINE_NOTIFY_DLQ_URL: httpUrl(),
  FAULTLINE_NOTIFY_DELIVERY_LOG: z
    .union([z.literal('memory'), z.string().regex(/^sqlite:.+$/, 'memory or sqlite:<path>')])
    .default('memory'),
  AWS_REGION: z.string().min(1).optional(),
});

const notifySettings = (env: Env) => {
  const parsed = NotifyEnv.safeParse(env);
  if (!parsed.success) throw new NotifyConfigError('invalid notify environment', problemsOf(parsed.error));
  return {
    config: parseNotifyConfig(parsed.data.FAULTLINE_NOTIFY_CONFIG),
    deadLetterQueueUrl: parsed.data.FAULTLINE_NOTIFY_DLQ_URL,
    deliveryLog: parsed.data.FAULTLINE_NOTIFY_DELIVERY_LOG,
    region: parsed.data.AWS_REGION,
    store:
      parsed.data.FAULTLINE_STORE === undefined
        ? undefined
        : storeSettings({ ...parsed.data, FAULTLINE_STORE: parsed.data.FAULTLINE_STORE }),
  };
};

export const notifyFromEnv = (env: Env = process.env): NotifyDeps => {
  const settings = once(() => notifySettings(env));
  const store = once((): Store | undefined => {
    const where = settings().store;
    return where === undefined ? undefined : storeFrom(where);
  });
  const { log, metrics } = lambdaObservability('notify', env);
  return {
    log,
    metrics,
    // Read on the first page that needs it, when the environment has been read (never at import).
    get timeline() {
      return store();
    },
    loadConfig: async () => settings().config,
    deadLetterQueue: lazySender(sqsClient(settings), () => settings().deadLetterQueueUrl),
    deliveryLog: lazy((): DeliveryLog => {
      const target = settings().deliveryLog;
      return target === 'memory' ? new InMemoryDeliveryLog() : SqliteDeliveryLog.open(afterColon(target));
    }),
  };
};
