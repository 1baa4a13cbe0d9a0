import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  derSignature,
  isCanonicalSignature,
  lowSSignature,
  P256_HALF_ORDER,
  P256_ORDER,
  type Plan,
  parsePlan,
  planSigningBytes,
  signatureScalars,
  signPlan,
  signPlanWith,
  verifyPlan,
} from '../../events/index.ts';
import { highSTwin, isHighS } from '../helpers/ecdsa-forms.ts';
import { example, examplePlanPublicKey } from '../helpers/examples.ts';

const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const unsigned = () => {
  const { signature: _signature, ...plan } = example('plan');
  return plan as Omit<Plan, 'signature'>;
};

describe('plan signatures', () => {
  const { privateKey, publicKey } = keyPair();
  const signed = signPlan(unsigned(), privateKey);

  it('verifies with the public key of the key that signed it', () => {
    expect(verifyPlan(signed, publicKey)).toBe(true);
    expect(verifyPlan(signed, publicKey.export({ type: 'spki', format: 'pem' }).toString())).toBe(true);
  });

  it('fails with another key', () => {
    expect(verifyPlan(signed, keyPair().publicKey)).toBe(false);
  });

  it('verifies the checked-in example plan with its example key', () => {
    const result = parsePlan(example('plan'));
    if (!result.ok) expect.fail(JSON.stringify(result.issues));
    expect(verifyPlan(result.value, examplePlanPublicKey())).toBe(true);
  });

  it('covers the canonical bytes, so key order does not matter', () => {
    const reordered = Object.fromEntries(Object.entries(signed).reverse()) as Plan;
    expect(planSigningBytes(reordered).equals(planSigningBytes(signed))).toBe(true);
    expect(verifyPlan(reordered, publicKey)).toBe(true);
  });

  test.prop([fc.nat()], { numRuns: 200 })('fails after any byte of the signed content changes', (seed) => {
    const bytes = planSigningBytes(signed);
    const position = seed % bytes.length;
    const tampered = Buffer.from(bytes);
    tampered[position] = (tampered[position] ?? 0) ^ (1 + (seed % 255));
    let changed: Plan;
    try {
      changed = { ...JSON.parse(tampered.toString('utf8')), signature: signed.signature };
    } catch {
      return; // a change that breaks the JSON never reaches verification: parsePlan rejects it
    }
    expect(verifyPlan(changed, publicKey)).toBe(false);
  });

  test.prop([fc.nat()], { numRuns: 100 })('fails after any byte of the signature changes', (seed) => {
    const signature = Buffer.from(signed.signature, 'base64');
    const position = seed % signature.length;
    signature[position] = (signature[position] ?? 0) ^ (1 + (seed % 255));
    expect(verifyPlan({ ...signed, signature: signature.toString('base64') }, publicKey)).toBe(false);
  });

  it('accepts a remote signer that returns DER, as KMS does', async () => {
    const remote = await signPlanWith(unsigned(), async (bytes) => sign('sha256', bytes, privateKey));
    expect(verifyPlan(remote, publicKey)).toBe(true);
  });

  it('refuses the high-S twin of a valid signature, which plain crypto.verify accepts', () => {
    const low = Buffer.from(signed.signature, 'base64');
    const high = highSTwin(low);
    expect(high.equals(low)).toBe(false);
    expect(signatureScalars(high)?.r).toBe(signatureScalars(low)?.r);
    expect(verify('sha256', planSigningBytes(signed), publicKey, high)).toBe(true);
    expect(verifyPlan({ ...signed, signature: high.toString('base64') }, publicKey)).toBe(false);
    expect(verifyPlan(signed, publicKey)).toBe(true);
  });

  it('signs only low-S, locally and through a remote signer that answers either form', async () => {
    for (let attempt = 1; attempt <= 32; attempt += 1) {
      const plan = { ...unsigned(), attempt };
      const local = signPlan(plan, privateKey);
      expect(isHighS(Buffer.from(local.signature, 'base64'))).toBe(false);
      // A remote signer answering high-S every time (KMS does about half the time).
      const remote = await signPlanWith(plan, async (bytes) => highSTwin(sign('sha256', bytes, privateKey)));
      expect(isHighS(Buffer.from(remote.signature, 'base64'))).toBe(false);
      expect(verifyPlan(remote, publicKey)).toBe(true);
    }
  });

  it('moves s to the low half and keeps r, in strict DER', () => {
    const high = derSignature(5n, P256_ORDER - 7n);
    expect(signatureScalars(lowSSignature(high))).toEqual({ r: 5n, s: 7n });
    expect(lowSSignature(derSignature(5n, 7n)).equals(derSignature(5n, 7n))).toBe(true);
    // The largest low s stays; one above it flips.
    expect(signatureScalars(lowSSignature(derSignature(1n, P256_HALF_ORDER)))?.s).toBe(P256_HALF_ORDER);
    expect(signatureScalars(lowSSignature(derSignature(1n, P256_HALF_ORDER + 1n)))?.s).toBe(P256_HALF_ORDER);
    expect(() => lowSSignature(Buffer.from('not a signature'))).toThrow(TypeError);
    expect(() => lowSSignature(derSignature(0n, 1n))).toThrow(TypeError);
  });

  it('accepts only strict DER as canonical: no padding, no negative or out-of-range scalars, no trailing bytes', () => {
    expect(isCanonicalSignature(derSignature(1n, 1n))).toBe(true);
    expect(isCanonicalSignature(derSignature(1n, P256_HALF_ORDER + 1n))).toBe(false);
    expect(isCanonicalSignature(derSignature(P256_ORDER, 1n))).toBe(false);
    expect(isCanonicalSignature(derSignature(0n, 1n))).toBe(false);
    // r = 1 written with a needless leading zero byte.
    expect(isCanonicalSignature(Buffer.from([0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]))).toBe(
      false,
    );
    // r = -1.
    expect(isCanonicalSignature(Buffer.from([0x30, 0x06, 0x02, 0x01, 0xff, 0x02, 0x01, 0x01]))).toBe(false);
    expect(isCanonicalSignature(Buffer.concat([derSignature(1n, 1n), Buffer.from([0])]))).toBe(false);
  });

  it('refuses keys that are not P-256', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(() => signPlan(unsigned(), rsa.privateKey)).toThrow(/P-256/);
    expect(() => verifyPlan(signed, rsa.publicKey)).toThrow(/P-256/);
  });
});
