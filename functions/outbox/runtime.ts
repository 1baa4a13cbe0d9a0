import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import type { OutgoingMessage, WorkQueue } from '../adapters/queue/port.ts';
import { SqsQueue } from '../adapters/queue/sqs-queue.ts';
import { KmsPlanSigner } from '../adapters/signer/kms-plan-signer.ts';
import { LocalPlanSigner } from '../adapters/signer/local-plan-signer.ts';
import type { PlanSigner } from '../adapters/signer/port.ts';
import { DynamoDbStore } from '../adapters/store/dynamodb-store.ts';
import type { Store } from '../adapters/store/port.ts';
import { SqliteStore } from '../adapters/store/sqlite-store.ts';
import { CoreConfig } from '../core/index.ts';
import { RuntimeConfigError } from './errors.ts';

/**
 * What correlate and sweep share on Lambda: the store, the plan signer, the notify queue and the
 * core's knobs, from validated environment variables. Nothing is read or built at import: the
 * environment is parsed once, on first use, and each client is built when first needed.
 *
 * - `FAULTLINE_STORE`: `dynamodb:<table name>` (the cloud) or `sqlite:<path>` (one machine).
 * - `FAULTLINE_DYNAMODB_ENDPOINT`: optional, for DynamoDB Local or an emulator.
 * - `FAULTLINE_PLAN_SIGNER`: `kms:<key id, ARN or alias>` or `local:<data folder>`.
 * - `FAULTLINE_NOTIFY_QUEUE_URL`: the notify function's queue.
 * - `FAULTLINE_CORE_CONFIG`: optional JSON of the core's knobs (functions/core/config.ts); the
 *   defaults of DESIGN.md §5 otherwise.
 * - `AWS_REGION`: set by Lambda.
 */

const prefixed = (prefix: string, what: string) => z.string().regex(new RegExp(`^${prefix}:.+$`), what);

export const SharedEnv = z.object({
  FAULTLINE_STORE: z.union([
    prefixed('dynamodb', 'dynamodb:<table> or sqlite:<path>'),
    prefixed('sqlite', 'dynamodb:<table> or sqlite:<path>'),
  ]),
  FAULTLINE_DYNAMODB_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  FAULTLINE_PLAN_SIGNER: z.union([
    prefixed('kms', 'kms:<key id> or local:<data folder>'),
    prefixed('local', 'kms:<key id> or local:<data folder>'),
  ]),
  FAULTLINE_NOTIFY_QUEUE_URL: z.url({ protocol: /^https?$/ }),
  FAULTLINE_CORE_CONFIG: z.string().optional(),
  AWS_REGION: z.string().min(1).optional(),
});

export interface SharedSettings {
  readonly store:
    | { readonly kind: 'dynamodb'; readonly table: string }
    | { readonly kind: 'sqlite'; readonly path: string };
  readonly dynamodbEndpoint: string | undefined;
  readonly signer:
    | { readonly kind: 'kms'; readonly keyId: string }
    | { readonly kind: 'local'; readonly dataDir: string };
  readonly notifyQueueUrl: string;
  readonly core: CoreConfig;
  readonly region: string | undefined;
}

export type Env = Readonly<Record<string, string | undefined>>;

const problemsOf = (error: z.ZodError, prefix = ''): string[] =>
  error.issues.map((issue) => `${prefix}${issue.path.join('.')}: ${issue.message}`);

/** Parses an environment with `schema`, or throws `RuntimeConfigError` naming every problem. */
export const parseEnv = <S extends z.ZodType>(schema: S, env: Env, what: string): z.infer<S> => {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new RuntimeConfigError(`invalid ${what} environment`, problemsOf(parsed.error));
  return parsed.data;
};

const afterColon = (value: string): string => value.slice(value.indexOf(':') + 1);

export const sharedSettings = (env: Env, what: string): SharedSettings => {
  const parsed = parseEnv(SharedEnv, env, what);
  let core: CoreConfig;
  try {
    const json: unknown =
      parsed.FAULTLINE_CORE_CONFIG === undefined ? {} : JSON.parse(parsed.FAULTLINE_CORE_CONFIG);
    const result = CoreConfig.safeParse(json);
    if (!result.success) {
      throw new RuntimeConfigError(
        `invalid ${what} environment`,
        problemsOf(result.error, 'FAULTLINE_CORE_CONFIG.'),
      );
    }
    core = result.data;
  } catch (error) {
    if (error instanceof RuntimeConfigError) throw error;
    throw new RuntimeConfigError(`invalid ${what} environment`, ['FAULTLINE_CORE_CONFIG: not JSON'], {
      cause: error,
    });
  }
  return {
    store: parsed.FAULTLINE_STORE.startsWith('dynamodb:')
      ? { kind: 'dynamodb', table: afterColon(parsed.FAULTLINE_STORE) }
      : { kind: 'sqlite', path: afterColon(parsed.FAULTLINE_STORE) },
    dynamodbEndpoint: parsed.FAULTLINE_DYNAMODB_ENDPOINT,
    signer: parsed.FAULTLINE_PLAN_SIGNER.startsWith('kms:')
      ? { kind: 'kms', keyId: afterColon(parsed.FAULTLINE_PLAN_SIGNER) }
      : { kind: 'local', dataDir: afterColon(parsed.FAULTLINE_PLAN_SIGNER) },
    notifyQueueUrl: parsed.FAULTLINE_NOTIFY_QUEUE_URL,
    core,
    region: parsed.AWS_REGION,
  };
};

/** A value made on first use, once. */
export const once = <T>(make: () => T): (() => T) => {
  let made: { value: T } | undefined;
  return () => {
    if (made === undefined) made = { value: make() };
    return made.value;
  };
};

/** An object whose target is made on first use (the first method call), then reused. */
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

export interface SharedResources {
  readonly store: Store;
  readonly signer: PlanSigner;
  readonly notifyQueue: Pick<WorkQueue, 'send'>;
  /** The SQS client, built once, for other queues of the same function. */
  readonly sqs: () => SQSClient;
}

export const sharedResources = (settings: () => SharedSettings): SharedResources => {
  const region = () => {
    const value = settings().region;
    return value === undefined ? {} : { region: value };
  };
  const sqs = once(() => new SQSClient(region()));
  const store = lazy((): Store => {
    const { store: target, dynamodbEndpoint } = settings();
    if (target.kind === 'sqlite') return new SqliteStore({ path: target.path });
    return new DynamoDbStore({
      client: new DynamoDBClient({
        ...region(),
        ...(dynamodbEndpoint === undefined ? {} : { endpoint: dynamodbEndpoint }),
      }),
      tableName: target.table,
    });
  });
  const signer = lazy((): PlanSigner => {
    const target = settings().signer;
    return target.kind === 'kms'
      ? new KmsPlanSigner({ client: new KMSClient(region()), keyId: target.keyId })
      : new LocalPlanSigner({ dataDir: target.dataDir });
  });
  const notifyQueue = once(() => new SqsQueue({ client: sqs(), queueUrl: settings().notifyQueueUrl }));
  return {
    store,
    signer,
    notifyQueue: { send: (message: OutgoingMessage) => notifyQueue().send(message) },
    sqs,
  };
};
