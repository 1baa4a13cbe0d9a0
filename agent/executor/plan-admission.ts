import type { KeyObject } from 'node:crypto';
import { Identifier, type Plan, type PlanAction, parsePlan, verifyPlan } from '../../events/index.ts';
import { PLAN_REFUSAL, type PlanRefusalCode } from './codes.ts';
import { pathExists } from './host-files.ts';
import type { PlanLedger } from './plan-ledger.ts';

/**
 * Whether a plan may run at all (§4), decided before anything touches the host, in this order:
 * it parses against the contract; its signature verifies with the configured key; it names this
 * host; it was made for this boot; it is not older than `ttlSeconds` since this agent first
 * received it; it never ran here; every action is one this agent can run; no stop file; no other
 * plan holds the lock. Only then is the plan id written, durably, as started, and the lock held.
 *
 * "Made for this boot": a plan names the boot it was made for (`bootId`), which must be this one;
 * and, whether or not it names one (an older control plane's plan does not), on what the agent can
 * see: a plan issued before this boot began (plus a grace for the time the control
 * plane needs to hear from the new boot, and for clock skew) was decided on the previous boot's
 * devices, whose names may have moved since; and a plan first received during an earlier boot is
 * that boot's. Both refuse with `wrong-boot`.
 */

export type AdmissionPolicy = {
  /** A plan issued less than this after the boot began is taken as made for the boot before. */
  bootGraceSeconds: number;
  /**
   * However recently it arrived, a plan issued more than its TTL plus this before the agent's
   * clock is expired: a replay of an old plan, tolerant of a day of clock skew.
   */
  issueSkewSeconds: number;
};

export const ADMISSION_DEFAULTS: AdmissionPolicy = { bootGraceSeconds: 120, issueSkewSeconds: 86_400 };

export type AdmissionContext = {
  hostId: string;
  bootId: string;
  publicKey: KeyObject | undefined;
  capabilities: readonly PlanAction[];
  /** The ledger, or why there is none. */
  ledger: PlanLedger | Error;
  now: Date;
  /** When the agent received the plan; defaults to `now`. */
  receivedAt?: Date;
  /** When this boot began, when known. */
  bootedAt: Date | null;
  stopFile: string;
  policy: AdmissionPolicy;
};

export type Admission =
  | { admitted: true; plan: Plan; ledger: PlanLedger; release: () => void }
  | {
      admitted: false;
      code: PlanRefusalCode;
      detail: string;
      /** The plan when it parsed (its signature may still be bad). */
      plan?: Plan;
      /** The id the input carries, when it is one, even if the plan did not parse. */
      planId?: string;
    };

const refuse = (code: PlanRefusalCode, detail: string, plan?: Plan, planId?: string): Admission => ({
  admitted: false,
  code,
  detail,
  ...(plan === undefined ? {} : { plan, planId: plan.id }),
  ...(plan === undefined && planId !== undefined ? { planId } : {}),
});

/** The `id` of an input that is not a valid plan, when it is at least a valid identifier. */
const idOf = (raw: unknown): string | undefined => {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      return undefined;
    }
  }
  const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
  return Identifier.safeParse(id).success ? (id as string) : undefined;
};

export const admitPlan = async (raw: unknown, context: AdmissionContext): Promise<Admission> => {
  const parsed = parsePlan(raw);
  if (!parsed.ok) {
    const issues = parsed.issues.map((issue) => `${issue.path.join('.') || '(plan)'}: ${issue.message}`);
    return refuse(
      PLAN_REFUSAL.invalidPlan,
      `not a plan: ${issues.slice(0, 5).join('; ')}`,
      undefined,
      idOf(raw),
    );
  }
  const plan = parsed.value;
  if (context.publicKey === undefined) {
    return refuse(PLAN_REFUSAL.noPlanKey, 'no planPublicKey is configured: this agent runs no plan', plan);
  }
  if (!verifyPlan(plan, context.publicKey)) {
    return refuse(PLAN_REFUSAL.badSignature, 'the signature does not verify with the configured key', plan);
  }
  if (plan.hostId !== context.hostId) {
    return refuse(
      PLAN_REFUSAL.wrongHost,
      `the plan is for ${plan.hostId}, this host is ${context.hostId}`,
      plan,
    );
  }
  // The contract has no boot id yet; should a later one carry it, it is compared for equality.
  const namedBoot = (plan as { bootId?: unknown }).bootId;
  if (typeof namedBoot === 'string' && namedBoot !== context.bootId) {
    return refuse(
      PLAN_REFUSAL.wrongBoot,
      `the plan is for boot ${namedBoot}, this is ${context.bootId}`,
      plan,
    );
  }
  const issuedAt = Date.parse(plan.issuedAt);
  if (
    context.bootedAt !== null &&
    issuedAt < context.bootedAt.getTime() + context.policy.bootGraceSeconds * 1000
  ) {
    return refuse(
      PLAN_REFUSAL.wrongBoot,
      `issued ${plan.issuedAt}, before this boot (${context.bootId}, up since ${context.bootedAt.toISOString()}) was known to the control plane`,
      plan,
    );
  }
  if (context.ledger instanceof Error)
    return refuse(PLAN_REFUSAL.ledgerUnavailable, context.ledger.message, plan);
  const ledger = context.ledger;
  const receipt = ledger.receipt(plan.id, context.bootId, context.receivedAt ?? context.now);
  if (receipt.bootId !== context.bootId) {
    return refuse(
      PLAN_REFUSAL.wrongBoot,
      `first received during boot ${receipt.bootId}, this is ${context.bootId}`,
      plan,
    );
  }
  if (ledger.hasRun(plan.id, plan.mode)) {
    return refuse(PLAN_REFUSAL.alreadyRun, `plan ${plan.id} (${plan.mode}) already ran on this host`, plan);
  }
  const ageMs = context.now.getTime() - Date.parse(receipt.firstReceivedAt);
  if (ageMs >= plan.ttlSeconds * 1000) {
    return refuse(
      PLAN_REFUSAL.expired,
      `first received ${receipt.firstReceivedAt}, ${Math.floor(ageMs / 1000)} s ago; its TTL is ${plan.ttlSeconds} s`,
      plan,
    );
  }
  if (context.now.getTime() - issuedAt > (plan.ttlSeconds + context.policy.issueSkewSeconds) * 1000) {
    return refuse(
      PLAN_REFUSAL.expired,
      `issued ${plan.issuedAt}, more than its TTL (${plan.ttlSeconds} s) and ${context.policy.issueSkewSeconds} s of clock skew ago`,
      plan,
    );
  }
  const unsupported = [...plan.steps, ...(plan.fastPath ?? [])].filter(
    (step) => !context.capabilities.includes(step.action),
  );
  if (unsupported.length > 0) {
    return refuse(
      PLAN_REFUSAL.unsupportedAction,
      `this agent cannot run ${[...new Set(unsupported.map((step) => step.action))].join(', ')}`,
      plan,
    );
  }
  if (await pathExists(context.stopFile)) {
    return refuse(PLAN_REFUSAL.stopFile, `the stop file ${context.stopFile} exists: no plan runs`, plan);
  }
  const lock = ledger.lock(plan.id, context.bootId, context.now);
  if (!lock.acquired) {
    return refuse(
      PLAN_REFUSAL.planRunning,
      `plan ${lock.holder.planId} is running (pid ${lock.holder.pid}, since ${lock.holder.acquiredAt})`,
      plan,
    );
  }
  if (!ledger.markStarted(plan.id, plan.mode, context.bootId, context.now)) {
    lock.release();
    return refuse(PLAN_REFUSAL.alreadyRun, `plan ${plan.id} (${plan.mode}) already ran on this host`, plan);
  }
  return { admitted: true, plan, ledger, release: lock.release };
};
