import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import type { Plan, UnsignedPlan } from './plan.ts';

/**
 * Plan signatures: ECDSA P-256 with SHA-256 over the canonical JSON of the plan without its
 * signature, DER-encoded and base64'd. This is what KMS `Sign` returns for an `ECC_NIST_P256` key
 * with `ECDSA_SHA_256` over a RAW message, so the cloud (KMS) and the local runtime (a key file)
 * produce signatures the agent verifies with the same code.
 *
 * **One canonical form per plan (low S).** An ECDSA signature `(r, s)` has a twin `(r, n − s)`
 * that verifies just as well, so anyone holding a signed plan can mint a second, different
 * signature for it without the key. Both signers (the key file and KMS, which returns the high
 * half about as often as the low one) therefore normalise `s` to the low half (`s ≤ n/2`, as
 * Bitcoin's BIP 62 and libsecp256k1 do) and write strict DER; the agent accepts only that form
 * ({@link isCanonicalSignature}), so a plan has exactly one signature its agent admits. The sh
 * agent checks the same with `openssl asn1parse` (agent/sh/faultline-agent.sh).
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

/** The order `n` of the P-256 group (SEC 2, secp256r1), and its half: the largest low `s`. */
export const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
export const P256_HALF_ORDER = P256_ORDER >> 1n;

const DER_SEQUENCE = 0x30;
const DER_INTEGER = 0x02;
/** A P-256 scalar is 32 bytes; its DER INTEGER at most 33 (a leading zero keeps it positive). */
const MAX_SCALAR_BYTES = 33;
/** Short-form DER lengths only: an ECDSA-Sig-Value of P-256 is at most 72 bytes. */
const MAX_SHORT_LENGTH = 0x7f;

/** The `(r, s)` of an ECDSA-Sig-Value in strict DER (RFC 3279 §2.2.3), or undefined when it is not one. */
export const signatureScalars = (der: Uint8Array): { r: bigint; s: bigint } | undefined => {
  const bytes = Buffer.from(der);
  if (bytes.length < 8 || bytes[0] !== DER_SEQUENCE || bytes[1] !== bytes.length - 2) return undefined;
  if ((bytes[1] ?? 0) > MAX_SHORT_LENGTH) return undefined;
  const scalars: bigint[] = [];
  let at = 2;
  for (let index = 0; index < 2; index += 1) {
    if (bytes[at] !== DER_INTEGER) return undefined;
    const length = bytes[at + 1] ?? 0;
    const value = bytes.subarray(at + 2, at + 2 + length);
    if (length === 0 || length > MAX_SCALAR_BYTES || value.length !== length) return undefined;
    const first = value[0] ?? 0;
    // Negative, or not minimal (a leading zero that does not keep the next byte's high bit clear).
    if (first & 0x80) return undefined;
    if (first === 0 && length > 1 && ((value[1] ?? 0) & 0x80) === 0) return undefined;
    scalars.push(BigInt(`0x${value.toString('hex')}`));
    at += 2 + length;
  }
  const [r, s] = scalars;
  if (at !== bytes.length || r === undefined || s === undefined) return undefined;
  return { r, s };
};

const derInteger = (value: bigint): Buffer => {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  // A high bit set would read as negative: DER keeps it positive with a leading zero byte.
  if (Number.parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  const body = Buffer.from(hex, 'hex');
  return Buffer.concat([Buffer.from([DER_INTEGER, body.length]), body]);
};

/** `(r, s)` as a strict DER ECDSA-Sig-Value. */
export const derSignature = (r: bigint, s: bigint): Buffer => {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.from([DER_SEQUENCE, body.length]), body]);
};

/**
 * A DER ECDSA P-256 signature in its canonical form: `s` moved to the low half (`n − s` when
 * `s > n/2`, which verifies the same), re-encoded in strict DER. Throws on what is not a DER
 * signature of P-256 (a signer that answered garbage must fail loudly, not sign plans badly).
 */
export const lowSSignature = (der: Uint8Array): Buffer => {
  const scalars = signatureScalars(der);
  if (
    scalars === undefined ||
    scalars.r <= 0n ||
    scalars.r >= P256_ORDER ||
    scalars.s <= 0n ||
    scalars.s >= P256_ORDER
  ) {
    throw new TypeError('not a DER ECDSA P-256 signature');
  }
  const s = scalars.s > P256_HALF_ORDER ? P256_ORDER - scalars.s : scalars.s;
  return derSignature(scalars.r, s);
};

/** Whether a signature is in the one form plans are signed in: strict DER, `0 < r < n`, `0 < s ≤ n/2`. */
export const isCanonicalSignature = (der: Uint8Array): boolean => {
  const scalars = signatureScalars(der);
  return (
    scalars !== undefined &&
    scalars.r > 0n &&
    scalars.r < P256_ORDER &&
    scalars.s > 0n &&
    scalars.s <= P256_HALF_ORDER
  );
};

/** Signs bytes with a local P-256 private key, in the canonical (low-S) form: plans and plan lines alike. */
export const signCanonical = (bytes: Uint8Array, privateKey: PlanKey): Buffer =>
  lowSSignature(sign('sha256', bytes, privateKeyOf(privateKey)));

/** Signs a plan with a local P-256 private key (the local runtime's key file), low S. */
export const signPlan = (plan: UnsignedPlan, privateKey: PlanKey): Plan => ({
  ...plan,
  signature: signCanonical(planSigningBytes(plan), privateKey).toString('base64'),
});

/**
 * Signs a plan with a remote signer (KMS) that returns a DER ECDSA signature over the bytes given;
 * its `s` is normalised to the low half here, since KMS returns either half.
 */
export const signPlanWith = async (
  plan: UnsignedPlan,
  signBytes: (bytes: Uint8Array) => Promise<Uint8Array>,
): Promise<Plan> => ({
  ...plan,
  signature: lowSSignature(await signBytes(planSigningBytes(plan))).toString('base64'),
});

/**
 * Whether `signature` (DER) over `bytes` verifies with the public key and is in the canonical
 * low-S form: its high-S twin, which `crypto.verify` alone accepts, is refused.
 */
export const verifyCanonical = (bytes: Uint8Array, signature: Uint8Array, publicKey: PlanKey): boolean => {
  const key = publicKeyOf(publicKey);
  if (!isCanonicalSignature(signature)) return false;
  try {
    return verify('sha256', bytes, key, signature);
  } catch {
    return false;
  }
};

/**
 * Whether a plan's signature verifies with the given public key, in its one canonical form (low
 * S, strict DER). A malformed or high-S signature is simply false (the agent refuses the plan); a
 * key that is not P-256 throws, as a configuration error.
 */
export const verifyPlan = (plan: Plan, publicKey: PlanKey): boolean =>
  verifyCanonical(planSigningBytes(plan), Buffer.from(plan.signature, 'base64'), publicKey);
