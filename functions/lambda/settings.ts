import { z } from 'zod';
import { CoreConfig } from '../core/index.ts';
import { type NotifyConfig, parseNotifyConfig } from '../notify/config.ts';
import { NotifyConfigError } from '../notify/errors.ts';
import { RuntimeConfigError } from '../outbox/errors.ts';

/**
 * The environment of the four Lambda functions, validated with zod into settings. This is the only
 * place in functions/ that knows environment variable names; it reads nothing itself (the
 * composition root hands it `process.env` on the first invocation, never at import).
 *
 * Every function that touches the store:
 * - `FAULTLINE_STORE`: `dynamodb:<table name>` (the cloud) or `sqlite:<path>` (one machine).
 * - `FAULTLINE_DYNAMODB_ENDPOINT`: optional, for DynamoDB Local or an emulator.
 * - `AWS_REGION`: set by Lambda.
 *
 * correlate and sweep (they decide, so they sign plans and enqueue notifications):
 * - `FAULTLINE_PLAN_SIGNER`: `kms:<key id, ARN or alias>` or `local:<data folder>`.
 * - `FAULTLINE_NOTIFY_QUEUE_URL`: the notify function's queue.
 * - `FAULTLINE_CORE_CONFIG`: optional JSON of the core's knobs (functions/core/config.ts); the
 *   defaults of docs/architecture.md §5 otherwise.
 *
 * correlate:
 * - `FAULTLINE_EVENTS_DLQ_URL`: the events queue's dead-letter queue (refused records, with their reason).
 * - `FAULTLINE_TRUSTED_SENDERS`: comma-separated SenderIds whose `FaultlineSender` stamp is
 *   believed (the API's role as `<role id>:`; see functions/correlate/messages.ts). Empty: every
 *   record is bound to its own SenderId.
 * - `FAULTLINE_EVENTS_MAX_RECEIVE_COUNT`: the events queue's `maxReceiveCount` (default 3).
 * - `FAULTLINE_TICK_LIMIT`: timers fired after each batch (default 100).
 *
 * sweep:
 * - `FAULTLINE_SWEEP_GRACE_SECONDS`: decision records younger than this are left to the correlate
 *   writing them (default 60).
 * - `FAULTLINE_SWEEP_FINISH_LIMIT`, `FAULTLINE_SWEEP_TICK_LIMIT`: per run (default 500 each).
 *
 * api:
 * - `FAULTLINE_EVENTS_QUEUE_URL`: the events queue correlate consumes.
 *
 * notify (no store):
 * - `FAULTLINE_NOTIFY_CONFIG`: the destinations as JSON (functions/notify/config.ts), secrets
 *   included. Secrets Manager is the seam for the cloud: a `FAULTLINE_NOTIFY_CONFIG_SECRET_ARN`
 *   read with `GetSecretValue` inside notify's `loadConfig` (once per cold start), when
 *   `@aws-sdk/client-secrets-manager` joins the dependencies; nothing else changes.
 * - `FAULTLINE_NOTIFY_DLQ_URL`: the notify queue's dead-letter queue.
 * - `FAULTLINE_NOTIFY_DELIVERY_LOG`: `memory` (default: delivered-once only within a warm Lambda)
 *   or `sqlite:<path>`.
 */

export type Env = Readonly<Record<string, string | undefined>>;

const httpUrl = () => z.url({ protocol: /^https?$/ });
const prefixed = (prefixes: readonly string[], what: string) =>
  z.string().regex(new RegExp(`^(?:${prefixes.join('|')}):.+$`), what);

const StoreEnv = z.object({
  FAULTLINE_STORE: prefixed(['dynamodb', 'sqlite'], 'dynamodb:<table> or sqlite:<path>'),
  FAULTLINE_DYNAMODB_ENDPOINT: httpUrl().optional(),
  AWS_REGION: z.string().min(1).optional(),
});

const DecidingEnv = StoreEnv.extend({
  FAULTLINE_PLAN_SIGNER: prefixed(['kms', 'local'], 'kms:<key id> or local:<data folder>'),
  FAULTLINE_NOTIFY_QUEUE_URL: httpUrl(),
  FAULTLINE_CORE_CONFIG: z.string().optional(),
});

const CorrelateEnv = DecidingEnv.extend({
  FAULTLINE_EVENTS_DLQ_URL: httpUrl(),
  FAULTLINE_TRUSTED_SENDERS: z.string().default(''),
  FAULTLINE_EVENTS_MAX_RECEIVE_COUNT: z.coerce.number().int().min(1).max(1000).default(3),
  FAULTLINE_TICK_LIMIT: z.coerce.number().int().min(0).max(10_000).default(100),
});

const SweepEnv = DecidingEnv.extend({
  FAULTLINE_SWEEP_GRACE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  FAULTLINE_SWEEP_FINISH_LIMIT: z.coerce.number().int().min(1).max(10_000).default(500),
  FAULTLINE_SWEEP_TICK_LIMIT: z.coerce.number().int().min(1).max(10_000).default(500),
});

const ApiEnv = StoreEnv.extend({ FAULTLINE_EVENTS_QUEUE_URL: httpUrl() });

const NotifyEnv = z.object({
  FAULTLINE_NOTIFY_CONFIG: z.string().min(1, 'FAULTLINE_NOTIFY_CONFIG is required: the destinations as JSON'),
  FAULTLINE_NOTIFY_DLQ_URL: httpUrl(),
  FAULTLINE_NOTIFY_DELIVERY_LOG: z
    .union([z.literal('memory'), z.string().regex(/^sqlite:.+$/, 'memory or sqlite:<path>')])
    .default('memory'),
  AWS_REGION: z.string().min(1).optional(),
});

/** Where the store lives, and the region every client of one function shares. */
export interface StoreSettings {
  readonly store:
    | { readonly kind: 'dynamodb'; readonly table: string }
    | { readonly kind: 'sqlite'; readonly path: string };
  readonly dynamodbEndpoint: string | undefined;
  readonly region: string | undefined;
}

/** What correlate and sweep share: they decide, so they sign plans and enqueue notifications. */
export interface DecidingSettings extends StoreSettings {
  readonly signer:
    | { readonly kind: 'kms'; readonly keyId: string }
    | { readonly kind: 'local'; readonly dataDir: string };
  readonly notifyQueueUrl: string;
  readonly core: CoreConfig;
}

export interface CorrelateEnvSettings extends DecidingSettings {
  readonly deadLetterQueueUrl: string;
  readonly trustedSenders: readonly string[];
  readonly maxReceiveCount: number;
  readonly tickLimit: number;
}

export interface SweepEnvSettings extends DecidingSettings {
  readonly graceSeconds: number;
  readonly finishLimit: number;
  readonly tickLimit: number;
}

export interface ApiEnvSettings extends StoreSettings {
  readonly eventsQueueUrl: string;
}

export interface NotifyEnvSettings {
  readonly config: NotifyConfig;
  readonly deadLetterQueueUrl: string;
  readonly deliveryLog: { readonly kind: 'memory' } | { readonly kind: 'sqlite'; readonly path: string };
  readonly region: string | undefined;
}

const problemsOf = (error: z.ZodError, prefix = ''): string[] =>
  error.issues.map((issue) => `${prefix}${issue.path.join('.')}: ${issue.message}`);

/** Parses an environment with `schema`, or throws `RuntimeConfigError` naming every problem. */
const parseEnv = <S extends z.ZodType>(schema: S, env: Env, what: string): z.infer<S> => {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new RuntimeConfigError(`invalid ${what} environment`, problemsOf(parsed.error));
  return parsed.data;
};

const afterColon = (value: string): string => value.slice(value.indexOf(':') + 1);

const storeSettings = (parsed: z.infer<typeof StoreEnv>): StoreSettings => ({
  store: parsed.FAULTLINE_STORE.startsWith('dynamodb:')
    ? { kind: 'dynamodb', table: afterColon(parsed.FAULTLINE_STORE) }
    : { kind: 'sqlite', path: afterColon(parsed.FAULTLINE_STORE) },
  dynamodbEndpoint: parsed.FAULTLINE_DYNAMODB_ENDPOINT,
  region: parsed.AWS_REGION,
});

const coreConfig = (json: string | undefined, what: string): CoreConfig => {
  let value: unknown;
  try {
    value = json === undefined ? {} : JSON.parse(json);
  } catch (error) {
    throw new RuntimeConfigError(`invalid ${what} environment`, ['FAULTLINE_CORE_CONFIG: not JSON'], {
      cause: error,
    });
  }
  const result = CoreConfig.safeParse(value);
  if (!result.success) {
    throw new RuntimeConfigError(
      `invalid ${what} environment`,
      problemsOf(result.error, 'FAULTLINE_CORE_CONFIG.'),
    );
  }
  return result.data;
};

const decidingSettings = (parsed: z.infer<typeof DecidingEnv>, what: string): DecidingSettings => ({
  ...storeSettings(parsed),
  signer: parsed.FAULTLINE_PLAN_SIGNER.startsWith('kms:')
    ? { kind: 'kms', keyId: afterColon(parsed.FAULTLINE_PLAN_SIGNER) }
    : { kind: 'local', dataDir: afterColon(parsed.FAULTLINE_PLAN_SIGNER) },
  notifyQueueUrl: parsed.FAULTLINE_NOTIFY_QUEUE_URL,
  core: coreConfig(parsed.FAULTLINE_CORE_CONFIG, what),
});

export const correlateSettings = (env: Env): CorrelateEnvSettings => {
  const parsed = parseEnv(CorrelateEnv, env, 'correlate');
  return {
    ...decidingSettings(parsed, 'correlate'),
    deadLetterQueueUrl: parsed.FAULTLINE_EVENTS_DLQ_URL,
    trustedSenders: parsed.FAULTLINE_TRUSTED_SENDERS.split(',')
      .map((sender) => sender.trim())
      .filter((sender) => sender.length > 0),
    maxReceiveCount: parsed.FAULTLINE_EVENTS_MAX_RECEIVE_COUNT,
    tickLimit: parsed.FAULTLINE_TICK_LIMIT,
  };
};

export const sweepSettings = (env: Env): SweepEnvSettings => {
  const parsed = parseEnv(SweepEnv, env, 'sweep');
  return {
    ...decidingSettings(parsed, 'sweep'),
    graceSeconds: parsed.FAULTLINE_SWEEP_GRACE_SECONDS,
    finishLimit: parsed.FAULTLINE_SWEEP_FINISH_LIMIT,
    tickLimit: parsed.FAULTLINE_SWEEP_TICK_LIMIT,
  };
};

export const apiSettings = (env: Env): ApiEnvSettings => {
  const parsed = parseEnv(ApiEnv, env, 'api');
  return { ...storeSettings(parsed), eventsQueueUrl: parsed.FAULTLINE_EVENTS_QUEUE_URL };
};

/** notify's settings; its problems are a `NotifyConfigError`, as the notify config's own are. */
export const notifySettings = (env: Env): NotifyEnvSettings => {
  const parsed = NotifyEnv.safeParse(env);
  if (!parsed.success) throw new NotifyConfigError('invalid notify environment', problemsOf(parsed.error));
  const deliveryLog = parsed.data.FAULTLINE_NOTIFY_DELIVERY_LOG;
  return {
    config: parseNotifyConfig(parsed.data.FAULTLINE_NOTIFY_CONFIG),
    deadLetterQueueUrl: parsed.data.FAULTLINE_NOTIFY_DLQ_URL,
    deliveryLog:
      deliveryLog === 'memory' ? { kind: 'memory' } : { kind: 'sqlite', path: afterColon(deliveryLog) },
    region: parsed.data.AWS_REGION,
  };
};
