import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import type { Plan, UnsignedPlan } from './plan.ts';

/**
 * Plan signatures: ECDSA P-256 with SHA-256 over the canonical JSON of the plan without its
 * signature, DER-encoded and base64'd. This is what KMS `Sign` returns for an `ECC_NIST_P256` key
 * with `ECDSA_SHA_256` over a RAW message, so the cloud (KMS) and the local runtime (a key file)
 * produce signatures the agent verifies with the same code.
 */

/** The KMS signing algorithm that produces signatures `verifyPlan` accepts. */
export const PLAN_SIGNING_ALGORITHM = 'ECDSA_SHA_256' as const;
const P256 = 'prime256v1';

/** A PEM or DER-SPKI/PKCS8 key, or an already loaded key object. */
export type PlanKey = KeyObject | string;

/** The exact bytes a plan's signature covers. */
export const planSigningBytes = (plan: UnsignedPlan | Plan): Buffer => {
  const { signature: _signature, ...unsigned } = plan as Plan;
  return Buffer.from(canonicalJson(unsigned), 'utf8');
};

const assertP256 = (key: KeyObject): KeyObject => {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== P256) {
    throw new TypeError('plan keys are ECDSA P-256 (prime256v1) keys');
  }
  return key;
};

const privateKeyOf = (key: PlanKey): KeyObject =>
  assertP256(typeof key === 'string' ? createPrivateKey(key) : key);

const publicKeyOf = (key: PlanKey): KeyObject => {
  if (typeof key === 'string') return assertP256(createPublicKey(key));
  return assertP256(key.type === 'private' ? createPublicKey(key) : key);
};

/** Signs a plan with a local P-256 private key (the local runtime's key file). */
export const signPlan = (plan: UnsignedPlan, privateKey: PlanKey): Plan => ({
  ...plan,
  signature: sign('sha256', planSigningBytes(plan), privateKeyOf(privateKey)).toString('base64'),
});

/** Signs a plan with a remote signer (KMS) that returns a DER ECDSA signature over the bytes given. */
export const signPlanWith = async (
  plan: UnsignedPlan,
  signBytes: (bytes: Uint8Array) => Promise<Uint8Array>,
): Promise<Plan> => ({
  ...plan,
  signature: Buffer.from(await signBytes(planSigningBytes(plan))).toString('base64'),
});

/**
 * Whether a plan's signature verifies with the given public key. A malformed signature is simply
 * false (the agent refuses the plan); a key that is not P-256 throws, as a configuration error.
 */
export const verifyPlan = (plan: Plan, publicKey: PlanKey): boolean => {
  const key = publicKeyOf(publicKey);
  try {
    return verify('sha256', planSigningBytes(plan), key, Buffer.from(plan.signature, 'base64'));
  } catch {
    return false;
  }
};
