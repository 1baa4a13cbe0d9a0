import { generateKeyPairSync } from 'node:crypto';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  type Plan,
  parsePlan,
  planSigningBytes,
  signPlan,
  signPlanWith,
  verifyPlan,
} from '../../events/index.ts';
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
    const { sign } = await import('node:crypto');
    const remote = await signPlanWith(unsigned(), async (bytes) => sign('sha256', bytes, privateKey));
    expect(verifyPlan(remote, publicKey)).toBe(true);
  });

  it('refuses keys that are not P-256', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(() => signPlan(unsigned(), rsa.privateKey)).toThrow(/P-256/);
    expect(() => verifyPlan(signed, rsa.publicKey)).toThrow(/P-256/);
  });
});
