import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import type { Store } from '../adapters/store/port.ts';
import { type NotifyConfig, parseNotifyConfig } from '../notify/config.ts';
import { DEFAULT_VISIBILITY_TIMEOUT_MS } from '../notify/create-handler.ts';
import { type DeliveryLog, InMemoryDeliveryLog } from '../notify/delivery-log.ts';
import type { NotifyDeps } from '../notify/deps.ts';
import { DynamoDbDeliveryLog } from '../notify/dynamodb-delivery-log.ts';
import { NotifyConfigError } from '../notify/errors.ts';
import { SqliteDeliveryLog } from '../notify/sqlite-delivery-log.ts';
import {
  AWS_HTTP_TIMEOUTS,
  type AwsHttpTimeouts,
  afterColon,
  awsClientConfig,
  type Env,
  httpUrl,
  lazy,
  lazySender,
  once,
  problemsOf,
  sqsClient,
} from './environment.ts';
import { cachedNotifyConfig } from './notify-config-secret.ts';
import { lambdaObservability } from './observability.ts';
import { dynamoDbClientOf, StoreEnv, storeFrom, storeSettings } from './store.ts';

/**
 * notify's composition root on Lambda: its dependencies from its environment,
 * read and validated once, on the first batch; an invalid environment fails every batch with a
 * `NotifyConfigError` naming each problem (as the destinations' own problems are), until fixed.
 * - `FAULTLINE_NOTIFY_CONFIG_SECRET_ARN`: the Secrets Manager secret holding the destinations as
 *   JSON (functions/notify/config.ts), secrets included: read with `GetSecretValue` at run time and
 *   cached for `FAULTLINE_NOTIFY_CONFIG_CACHE_SECONDS` (default 300), so no secret is ever in the
 *   environment and a rotation takes effect within the cache time (./notify-config-secret.ts).
 *   The cloud's way (infra sets it).
 * - `FAULTLINE_NOTIFY_CONFIG`: the destinations as inline JSON instead, for a run with no Secrets
 *   Manager (a test, a bundle run by hand). Exactly one of the two.
 * - `FAULTLINE_NOTIFY_DLQ_URL`: the notify queue's dead-letter queue.
 * - `FAULTLINE_NOTIFY_DELIVERY_LOG`: `dynamodb:<table>` (the cloud: durable across instances and
 *   cold starts), `sqlite:<path>`, or `memory` (delivered-once only within a warm instance).
 *   Required on Lambda (`AWS_LAMBDA_FUNCTION_NAME` set): notify runs there on several instances
 *   that Lambda recycles, so a memory log pages twice for a record redelivered to another one;
 *   `memory` must then be asked for by name. Elsewhere (a test, a bundle run by hand) the default
 *   is `memory`.
 * - `FAULTLINE_NOTIFY_VISIBILITY_TIMEOUT_SECONDS`: the notify queue's visibility timeout (infra
 *   sets it from the queue), which bounds a delivery's lease (`NotifyDeps.visibilityTimeoutMs`);
 *   optional (create-handler.ts assumes SQS's default).
 * - `FAULTLINE_STORE` (and `FAULTLINE_DYNAMODB_ENDPOINT`, store.ts, which the DynamoDB delivery log
 *   uses too): optional; the store whose timelines keep the pages no destination takes (none
 *   configured). Without it such a page is only logged.
 * - `AWS_REGION`, `AWS_LAMBDA_FUNCTION_NAME`: set by Lambda.
 * Every AWS client (Secrets Manager, DynamoDB, SQS) has the timeouts of environment.ts.
 * Logs and metrics: ./observability.ts.
 */

/** How long the configuration read from its secret is used before it is read again. */
export const DEFAULT_NOTIFY_CONFIG_CACHE_SECONDS = 300;
const MAX_NOTIFY_CONFIG_CACHE_SECONDS = 3_600;
const MS_PER_SECOND = 1_000;
/** SQS's longest visibility timeout: 12 hours. */
const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;

const SecretArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/,
    'the ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>)',
  );

const NotifyEnv = StoreEnv.partial({ FAULTLINE_STORE: true }).extend({
  FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: SecretArn.optional(),
  FAULTLINE_NOTIFY_CONFIG_CACHE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_NOTIFY_CONFIG_CACHE_SECONDS)
    .default(DEFAULT_NOTIFY_CONFIG_CACHE_SECONDS),
  FAULTLINE_NOTIFY_CONFIG: z.string().min(1, 'the destinations as JSON, when set').optional(),
  FAULTLINE_NOTIFY_DLQ_URL: httpUrl(),
  FAULTLINE_NOTIFY_VISIBILITY_TIMEOUT_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_VISIBILITY_TIMEOUT_SECONDS)
    .optional(),
  FAULTLINE_NOTIFY_DELIVERY_LOG: z
    .union([
      z.literal('memory'),
      z.string().regex(/^(?:sqlite|dynamodb):.+$/, 'memory, sqlite:<path> or dynamodb:<table>'),
    ])
    .default('memory'),
  AWS_REGION: z.string().min(1).optional(),
});

/** Where the destinations come from: inline JSON (validated with the environment), or the secret. */
type ConfigSource =
  | { readonly kind: 'inline'; readonly config: NotifyConfig }
  | { readonly kind: 'secret'; readonly secretArn: string; readonly cacheMs: number };

/**
 * A required delivery log on Lambda. A warning logged once per instance would leave the double
 * pages it announces; a deploy made by hand without the variable fails every batch instead, as one
 * without its secret's ARN does, with a problem that names the fix, and its records wait in the
 * queue (then its dead-letter queue, to be redriven) rather than page twice. Infra sets it.
 */
const deliveryLogProblems = (env: Env): string[] =>
  env.AWS_LAMBDA_FUNCTION_NAME !== undefined && env.FAULTLINE_NOTIFY_DELIVERY_LOG === undefined
    ? [
        'FAULTLINE_NOTIFY_DELIVERY_LOG: required on Lambda: dynamodb:<table>, so that a record redelivered to another instance is not delivered twice (memory, to accept that)',
      ]
    : [];

/** The one-of rule zod's object refinements would skip while another variable is invalid. */
const configSourceProblems = (env: Env): string[] => {
  const inline = env.FAULTLINE_NOTIFY_CONFIG !== undefined;
  const secret = env.FAULTLINE_NOTIFY_CONFIG_SECRET_ARN !== undefined;
  if (inline && secret)
    return [
      'FAULTLINE_NOTIFY_CONFIG: set with FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: name the destinations one way only',
    ];
  if (!inline && !secret)
    return [
      'FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: required: the secret holding the destinations as JSON (or FAULTLINE_NOTIFY_CONFIG, the JSON itself, where there is no Secrets Manager)',
    ];
  return [];
};

const notifySettings = (env: Env) => {
  const parsed = NotifyEnv.safeParse(env);
  const problems = [
    ...configSourceProblems(env),
    ...deliveryLogProblems(env),
    ...(parsed.success ? [] : problemsOf(parsed.error)),
  ];
  if (!parsed.success || problems.length > 0)
    throw new NotifyConfigError('invalid notify environment', problems);
  const { data } = parsed;
  const configSource: ConfigSource =
    data.FAULTLINE_NOTIFY_CONFIG !== undefined
      ? { kind: 'inline', config: parseNotifyConfig(data.FAULTLINE_NOTIFY_CONFIG) }
      : {
          kind: 'secret',
          secretArn: data.FAULTLINE_NOTIFY_CONFIG_SECRET_ARN as string,
          cacheMs: data.FAULTLINE_NOTIFY_CONFIG_CACHE_SECONDS * MS_PER_SECOND,
        };
  return {
    configSource,
    deadLetterQueueUrl: data.FAULTLINE_NOTIFY_DLQ_URL,
    deliveryLog: data.FAULTLINE_NOTIFY_DELIVERY_LOG,
    visibilityTimeoutMs:
      data.FAULTLINE_NOTIFY_VISIBILITY_TIMEOUT_SECONDS === undefined
        ? undefined
        : data.FAULTLINE_NOTIFY_VISIBILITY_TIMEOUT_SECONDS * MS_PER_SECOND,
    dynamodbEndpoint: data.FAULTLINE_DYNAMODB_ENDPOINT,
    region: data.AWS_REGION,
    store:
      data.FAULTLINE_STORE === undefined
        ? undefined
        : storeSettings({ ...data, FAULTLINE_STORE: data.FAULTLINE_STORE }),
  };
};

/** What the composition root takes besides the environment: a clock and clients, for tests. */
export interface NotifyRuntime {
  /** The clock of the configuration's cache (default `Date.now`). */
  readonly now?: () => number;
  /** The Secrets Manager client (default: one in `AWS_REGION`, made on the first read). */
  readonly secretsManager?: SecretsManagerClient;
  /** The timeouts of the AWS clients made here (default `AWS_HTTP_TIMEOUTS`): short ones in tests. */
  readonly awsHttpTimeouts?: AwsHttpTimeouts;
}

export const notifyFromEnv = (env: Env = process.env, runtime: NotifyRuntime = {}): NotifyDeps => {
  const settings = once(() => notifySettings(env));
  const timeouts = runtime.awsHttpTimeouts ?? AWS_HTTP_TIMEOUTS;
  const store = once((): Store | undefined => {
    const where = settings().store;
    return where === undefined ? undefined : storeFrom(where, timeouts);
  });
  const { log, metrics } = lambdaObservability('notify', env);
  // With timeouts: a hung GetSecretValue (the first read, or a refresh) would otherwise hold every
  // batch until Lambda's timeout; it now fails in seconds, and a refresh keeps the last configuration.
  const secretsManager = once(
    () => runtime.secretsManager ?? new SecretsManagerClient(awsClientConfig(settings().region, timeouts)),
  );
  const loadConfig = once((): (() => Promise<NotifyConfig>) => {
    const source = settings().configSource;
    if (source.kind === 'inline') return async () => source.config;
    return cachedNotifyConfig({
      secretArn: source.secretArn,
      cacheMs: source.cacheMs,
      client: secretsManager,
      now: runtime.now ?? Date.now,
      log,
    });
  });
  return {
    log,
    metrics,
    // Read on the first page that needs it, when the environment has been read (never at import).
    get timeline() {
      return store();
    },
    loadConfig: async () => loadConfig()(),
    // create-handler.ts reads it when the handler is made, at import: an environment that does not
    // validate reads as SQS's default here, and fails every batch with its problems (loadConfig).
    get visibilityTimeoutMs() {
      try {
        return settings().visibilityTimeoutMs ?? DEFAULT_VISIBILITY_TIMEOUT_MS;
      } catch {
        return DEFAULT_VISIBILITY_TIMEOUT_MS;
      }
    },
    deadLetterQueue: lazySender(sqsClient(settings, timeouts), () => settings().deadLetterQueueUrl),
    deliveryLog: lazy((): DeliveryLog => {
      const target = settings().deliveryLog;
      if (target === 'memory') return new InMemoryDeliveryLog();
      if (target.startsWith('sqlite:')) return SqliteDeliveryLog.open(afterColon(target));
      return new DynamoDbDeliveryLog(dynamoDbClientOf(settings(), timeouts), afterColon(target));
    }),
  };
};
