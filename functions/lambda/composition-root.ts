import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { OutgoingMessage, WorkQueue } from '../adapters/queue/port.ts';
import { SqsQueue } from '../adapters/queue/sqs-queue.ts';
import { KmsPlanSigner } from '../adapters/signer/kms-plan-signer.ts';
import { LocalPlanSigner } from '../adapters/signer/local-plan-signer.ts';
import type { PlanSigner } from '../adapters/signer/port.ts';
import { DynamoDbStore } from '../adapters/store/dynamodb-store.ts';
import type { Store } from '../adapters/store/port.ts';
import { SqliteStore } from '../adapters/store/sqlite-store.ts';
import type { ApiDeps } from '../api/app.ts';
import type { CorrelateDeps } from '../correlate/deps.ts';
import { type DeliveryLog, InMemoryDeliveryLog } from '../notify/delivery-log.ts';
import type { NotifyDeps } from '../notify/deps.ts';
import { SqliteDeliveryLog } from '../notify/sqlite-delivery-log.ts';
import type { SweepDeps } from '../sweep/deps.ts';
import {
  apiSettings,
  correlateSettings,
  type DecidingSettings,
  type Env,
  notifySettings,
  type StoreSettings,
  sweepSettings,
} from './settings.ts';

/**
 * The one composition root of the Lambda functions: each handler's dependencies from its
 * environment (functions/lambda/settings.ts). Nothing is read or built at import, nor when a
 * `…FromEnv` function runs (importing a handler never fails and opens no connection): the
 * environment is validated once, on the first invocation, and each client is built when first
 * used. An invalid environment fails every invocation with an error naming each problem, until it
 * is fixed. The local runtime (local/) composes the same handlers over the embedded adapters
 * itself.
 */

/** A value made on first use, once. */
export const once = <T>(make: () => T): (() => T) => {
  let made: { value: T } | undefined;
  return () => {
    if (made === undefined) made = { value: make() };
    return made.value;
  };
};

/** An object whose target is made on first use (the first property read), then reused. */
export const lazy = <T extends object>(make: () => T): T => {
  const target = once(make);
  return new Proxy({} as T, {
    get: (_, property) => {
      const made = target();
      const value = Reflect.get(made, property, made) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(made) : value;
    },
  });
};

const regionOf = (region: string | undefined): { region?: string } =>
  region === undefined ? {} : { region };

/** The store the settings name: DynamoDB in the cloud, or one SQLite file. */
const storeFrom = (settings: StoreSettings): Store => {
  const { store, dynamodbEndpoint, region } = settings;
  if (store.kind === 'sqlite') return new SqliteStore({ path: store.path });
  return new DynamoDbStore({
    client: new DynamoDBClient({
      ...regionOf(region),
      ...(dynamodbEndpoint === undefined ? {} : { endpoint: dynamodbEndpoint }),
    }),
    tableName: store.table,
  });
};

const signerFrom = ({ signer, region }: DecidingSettings): PlanSigner =>
  signer.kind === 'kms'
    ? new KmsPlanSigner({ client: new KMSClient(regionOf(region)), keyId: signer.keyId })
    : new LocalPlanSigner({ dataDir: signer.dataDir });

/** A queue that only sends, built on its first message. */
const lazySender = (make: () => WorkQueue): Pick<WorkQueue, 'send'> => {
  const queue = once(make);
  return { send: (message: OutgoingMessage) => queue().send(message) };
};

/** One SQS client per function, shared by its queues. */
const sqsClient = (settings: () => { readonly region: string | undefined }): (() => SQSClient) =>
  once(() => new SQSClient(regionOf(settings().region)));

/** What correlate and sweep share: the store, the plan signer and the notify queue. */
const decidingResources = (settings: () => DecidingSettings, sqs: () => SQSClient) => ({
  store: lazy(() => storeFrom(settings())),
  signer: lazy(() => signerFrom(settings())),
  notifyQueue: lazySender(() => new SqsQueue({ client: sqs(), queueUrl: settings().notifyQueueUrl })),
});

export const correlateFromEnv = (env: Env = process.env): CorrelateDeps => {
  const settings = once(() => correlateSettings(env));
  const own = once(() => {
    const { core, trustedSenders, maxReceiveCount, tickLimit } = settings();
    return { core, trustedSenders, maxReceiveCount, tickLimit };
  });
  const sqs = sqsClient(settings);
  return {
    get settings() {
      return own();
    },
    ...decidingResources(settings, sqs),
    deadLetterQueue: lazySender(
      () => new SqsQueue({ client: sqs(), queueUrl: settings().deadLetterQueueUrl }),
    ),
  };
};

export const sweepFromEnv = (env: Env = process.env): SweepDeps => {
  const settings = once(() => sweepSettings(env));
  const own = once(() => {
    const { core, graceSeconds, finishLimit, tickLimit } = settings();
    return { core, graceSeconds, finishLimit, tickLimit };
  });
  return {
    get settings() {
      return own();
    },
    ...decidingResources(settings, sqsClient(settings)),
  };
};

/**
 * The API's dependencies, as a function the handler calls on the first request (long polling of
 * plans is off: Lambda never holds a request open, docs/architecture.md §6).
 */
export const apiFromEnv =
  (env: Env = process.env): (() => ApiDeps) =>
  () => {
    const settings = apiSettings(env);
    return {
      store: storeFrom(settings),
      eventsQueue: new SqsQueue({
        client: new SQSClient(regionOf(settings.region)),
        queueUrl: settings.eventsQueueUrl,
      }),
    };
  };

export const notifyFromEnv = (env: Env = process.env): NotifyDeps => {
  const settings = once(() => notifySettings(env));
  const deliveryLog = lazy((): DeliveryLog => {
    const target = settings().deliveryLog;
    return target.kind === 'memory' ? new InMemoryDeliveryLog() : SqliteDeliveryLog.open(target.path);
  });
  return {
    loadConfig: async () => settings().config,
    deadLetterQueue: lazySender(
      () => new SqsQueue({ client: sqsClient(settings)(), queueUrl: settings().deadLetterQueueUrl }),
    ),
    deliveryLog,
  };
};
