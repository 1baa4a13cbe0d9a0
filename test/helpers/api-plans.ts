import type { Plan, UnsignedPlan } from '../../events/index.ts';
import { LocalPlanSigner } from '../../functions/adapters/signer/local-plan-signer.ts';
import { example } from './examples.ts';

/**
 * Plans signed as the outbox signs them (the local runtime's key file in the data folder), to be
 * stored and read back through the API.
 */

export interface PlanOptions {
  readonly hostId: string;
  /** Milliseconds since the epoch. */
  readonly issuedAt: number;
  readonly id?: string;
  readonly incidentId?: string;
  readonly ttlSeconds?: number;
}

export const unsignedPlan = (options: PlanOptions): UnsignedPlan => {
  const { signature: _signature, ...plan } = example('plan') as Plan;
  return {
    ...plan,
    id: options.id ?? `pln-${options.hostId.replaceAll('.', '-')}-1`,
    incidentId: options.incidentId ?? plan.incidentId,
    hostId: options.hostId,
    issuedAt: new Date(options.issuedAt).toISOString(),
    ttlSeconds: options.ttlSeconds ?? plan.ttlSeconds,
  };
};

/** A signer whose key lives in `dataDir`. */
export const planSigner = (dataDir: string): LocalPlanSigner => new LocalPlanSigner({ dataDir });

export const signedPlan = async (dataDir: string, options: PlanOptions): Promise<Plan> =>
  planSigner(dataDir).sign(unsignedPlan(options));
