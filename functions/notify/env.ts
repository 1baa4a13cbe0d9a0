import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import type { OutgoingMessage } from '../adapters/queue/port.ts';
import { SqsQueue } from '../adapters/queue/sqs-queue.ts';
import { type NotifyConfig, parseNotifyConfig } from './config.ts';
import type { DeliveryClaim, DeliveryKey, DeliveryLog } from './delivery-log.ts';
import { InMemoryDeliveryLog } from './delivery-log.ts';
import { NotifyConfigError } from './errors.ts';
import type { NotifyDeps } from './handler.ts';
import { SqliteDeliveryLog } from './sqlite-delivery-log.ts';

/**
 * notify's dependencies on Lambda, from its environment. Nothing is read, validated or built when
 * this runs (importing the handler never fails and never opens a connection): the environment is
 * read and validated once, on the first batch, and the SQS client is built then. An invalid
 * environment fails every batch with a `NotifyConfigError` naming each problem, until it is fixed.
 *
 * - `FAULTLINE_NOTIFY_CONFIG`: the destinations as JSON (see config.ts), secrets included.
 *   Secrets Manager is the seam for the cloud: a `FAULTLINE_NOTIFY_CONFIG_SECRET_ARN` read here
 *   with `GetSecretValue` inside `loadConfig` (once per cold start), when
 *   `@aws-sdk/client-secrets-manager` joins the dependencies; nothing else changes.
 * - `FAULTLINE_NOTIFY_DLQ_URL`: the notify queue's dead-letter queue.
 * - `FAULTLINE_NOTIFY_DELIVERY_LOG`: `memory` (default: delivered-once only within a warm Lambda)
 *   or `sqlite:<path>`; the DynamoDB delivery log replaces both when the store lands.
 * - `AWS_REGION`: set by Lambda.
 */

const Env = z.object({
  FAULTLINE_NOTIFY_CONFIG: z.string().min(1, 'FAULTLINE_NOTIFY_CONFIG is required: the destinations as JSON'),
  FAULTLINE_NOTIFY_DLQ_URL: z.url({ protocol: /^https?$/ }),
  FAULTLINE_NOTIFY_DELIVERY_LOG: z
    .union([z.literal('memory'), z.string().regex(/^sqlite:.+$/, 'memory or sqlite:<path>')])
    .default('memory'),
  AWS_REGION: z.string().min(1).optional(),
});

interface Settings {
  readonly config: NotifyConfig;
  readonly deadLetterQueueUrl: string;
  readonly deliveryLog: string;
  readonly region: string | undefined;
}

const once = <T>(make: () => T): (() => T) => {
  let made: { value: T } | undefined;
  return () => {
    if (made === undefined) made = { value: make() };
    return made.value;
  };
};

const readSettings = (env: Readonly<Record<string, string | undefined>>): Settings => {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    throw new NotifyConfigError(
      'invalid notify environment',
      parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
    );
  }
  return {
    config: parseNotifyConfig(parsed.data.FAULTLINE_NOTIFY_CONFIG),
    deadLetterQueueUrl: parsed.data.FAULTLINE_NOTIFY_DLQ_URL,
    deliveryLog: parsed.data.FAULTLINE_NOTIFY_DELIVERY_LOG,
    region: parsed.data.AWS_REGION,
  };
};

/** A delivery log made on first use. */
const lazyDeliveryLog = (make: () => DeliveryLog): DeliveryLog => ({
  claim: (key: DeliveryKey, options: { now: number; leaseMs: number }): Promise<DeliveryClaim> =>
    make().claim(key, options),
  markDelivered: (key, options) => make().markDelivered(key, options),
  release: (key, token) => make().release(key, token),
});

export const fromEnv = (env: Readonly<Record<string, string | undefined>> = process.env): NotifyDeps => {
  const settings = once(() => readSettings(env));
  const deadLetterQueue = once(() => {
    const { deadLetterQueueUrl, region } = settings();
    return new SqsQueue({
      client: new SQSClient(region === undefined ? {} : { region }),
      queueUrl: deadLetterQueueUrl,
    });
  });
  const deliveryLog = once((): DeliveryLog => {
    const target = settings().deliveryLog;
    return target === 'memory'
      ? new InMemoryDeliveryLog()
      : SqliteDeliveryLog.open(target.slice('sqlite:'.length));
  });
  return {
    loadConfig: async () => settings().config,
    deadLetterQueue: { send: (message: OutgoingMessage) => deadLetterQueue().send(message) },
    deliveryLog: lazyDeliveryLog(deliveryLog),
  };
};
