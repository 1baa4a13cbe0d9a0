import { derSignature, P256_HALF_ORDER, P256_ORDER, signatureScalars } from '../../events/signing.ts';

/**
 * The two forms of one ECDSA P-256 signature (events/signing.ts): `(r, s)` and its twin
 * `(r, n − s)`, which `crypto.verify` accepts alike. What the signers must never hand out, and the
 * agents must refuse, is the high one.
 */

const scalarsOf = (der: Uint8Array): { r: bigint; s: bigint } => {
  const scalars = signatureScalars(der);
  if (scalars === undefined) throw new TypeError('not a DER ECDSA signature');
  return scalars;
};

/** Whether a DER signature's `s` is in the high half (`s > n/2`). */
export const isHighS = (der: Uint8Array): boolean => scalarsOf(der).s > P256_HALF_ORDER;

/** The same signature with `s` in the high half: verifies with plain `crypto.verify`, refused by the agents. */
export const highSTwin = (der: Uint8Array): Buffer => {
  const { r, s } = scalarsOf(der);
  return derSignature(r, s > P256_HALF_ORDER ? s : P256_ORDER - s);
};

/** The same signature with `s` in the low half. */
export const lowSTwin = (der: Uint8Array): Buffer => {
  const { r, s } = scalarsOf(der);
  return derSignature(r, s > P256_HALF_ORDER ? P256_ORDER - s : s);
};
