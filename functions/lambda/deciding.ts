import { KMSClient } from '@aws-sdk/client-kms';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { KmsPlanSigner } from '../adapters/signer/kms-plan-signer.ts';
import { LocalPlanSigner } from '../adapters/signer/local-plan-signer.ts';
import type { PlanSigner } from '../adapters/signer/port.ts';
import { CoreConfig } from '../core/index.ts';
import {
  afterColon,
  awsClientConfig,
  httpUrl,
  lazy,
  lazySender,
  prefixed,
  problemsOf,
} from './environment.ts';
import { RuntimeConfigError } from './errors.ts';
import { StoreEnv, type StoreSettings, storeFrom, storeSettings } from './store.ts';

/**
 * What correlate and sweep share: they decide, so besides the store they sign plans and enqueue
 * notifications.
 * - `FAULTLINE_PLAN_SIGNER`: `kms:<key id, ARN or alias>` or `local:<data folder>`.
 * - `FAULTLINE_NOTIFY_QUEUE_URL`: the notify function's queue.
 * - `FAULTLINE_CORE_CONFIG`: optional JSON of the core's knobs (functions/core/config.ts); the
 *   defaults of docs/architecture.md §5 otherwise.
 */
export const DecidingEnv = StoreEnv.extend({
  FAULTLINE_PLAN_SIGNER: prefixed(['kms', 'local'], 'kms:<key id> or local:<data folder>'),
  FAULTLINE_NOTIFY_QUEUE_URL: httpUrl(),
  FAULTLINE_CORE_CONFIG: z.string().optional(),
});

export interface DecidingSettings extends StoreSettings {
  readonly signer:
    | { readonly kind: 'kms'; readonly keyId: string }
    | { readonly kind: 'local'; readonly dataDir: string };
  readonly notifyQueueUrl: string;
  readonly core: CoreConfig;
}

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

export const decidingSettings = (parsed: z.infer<typeof DecidingEnv>, what: string): DecidingSettings => ({
  ...storeSettings(parsed),
  signer: parsed.FAULTLINE_PLAN_SIGNER.startsWith('kms:')
    ? { kind: 'kms', keyId: afterColon(parsed.FAULTLINE_PLAN_SIGNER) }
    : { kind: 'local', dataDir: afterColon(parsed.FAULTLINE_PLAN_SIGNER) },
  notifyQueueUrl: parsed.FAULTLINE_NOTIFY_QUEUE_URL,
  core: coreConfig(parsed.FAULTLINE_CORE_CONFIG, what),
});

// KMS `Sign` is one short call: the timeouts of every AWS client (environment.ts) keep a hung one
// from holding the batch whose plan it signs.
const signerFrom = ({ signer, region }: DecidingSettings): PlanSigner =>
  signer.kind === 'kms'
    ? new KmsPlanSigner({ client: new KMSClient(awsClientConfig(region)), keyId: signer.keyId })
    : new LocalPlanSigner({ dataDir: signer.dataDir });

/** The store, the plan signer and the notify queue, each made on first use. */
export const decidingResources = (settings: () => DecidingSettings, sqs: () => SQSClient) => ({
  store: lazy(() => storeFrom(settings())),
  signer: lazy(() => signerFrom(settings())),
  notifyQueue: lazySender(sqs, () => settings().notifyQueueUrl),
});
