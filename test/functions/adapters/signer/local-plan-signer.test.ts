import { generateKeyPairSync, verify } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UnsignedPlan } from '../../../../events/plan.ts';
import { planLines } from '../../../../events/plan-lines.ts';
import { verifyPlan } from '../../../../events/signing.ts';
import { SignerKeyInvalidError } from '../../../../functions/adapters/errors.ts';
import {
  LocalPlanSigner,
  PLAN_SIGNING_KEY_FILE,
} from '../../../../functions/adapters/signer/local-plan-signer.ts';
import { isHighS } from '../../../helpers/ecdsa-forms.ts';
import { example } from '../../../helpers/examples.ts';
import { temporaryFolder } from '../../../helpers/queue-files.ts';

const unsignedPlan = (): UnsignedPlan => {
  const { signature: _signature, ...plan } = example('plan');
  return plan as UnsignedPlan;
};

describe('LocalPlanSigner', () => {
  let folder: ReturnType<typeof temporaryFolder>;
  let dataDir: string;

  beforeEach(() => {
    folder = temporaryFolder('faultline-signer-');
    dataDir = join(folder.path, 'data');
  });
  afterEach(() => folder.remove());

  it('creates a P-256 key readable only by its owner on first use, and signs plans that verify with it', async () => {
    const signer = new LocalPlanSigner({ dataDir });
    const plan = await signer.sign(unsignedPlan());
    expect(signer.keyPath).toBe(join(dataDir, PLAN_SIGNING_KEY_FILE));
    expect(statSync(signer.keyPath).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(readFileSync(signer.keyPath, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const publicKey = await signer.publicKeyPem();
    expect(publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(verifyPlan(plan, publicKey)).toBe(true);
    expect({ ...plan, signature: undefined }).toEqual({ ...unsignedPlan(), signature: undefined });
  });

  it('makes no key, and no folder, when told not to: a key gone under a running control plane is an error', async () => {
    const signer = new LocalPlanSigner({ dataDir, createIfMissing: false });
    await expect(signer.sign(unsignedPlan())).rejects.toBeInstanceOf(SignerKeyInvalidError);
    await expect(signer.publicKeyPem()).rejects.toThrow(/is gone: .* no new key is made/);
    expect(existsSync(dataDir)).toBe(false);
    const made = new LocalPlanSigner({ dataDir });
    const publicKey = await made.publicKeyPem();
    expect(await signer.publicKeyPem()).toBe(publicKey);
  });

  it("signs a plan's lines over exactly their bytes with the same key", async () => {
    const signer = new LocalPlanSigner({ dataDir });
    const lines = planLines(unsignedPlan());
    const signature = Buffer.from(await signer.signLines(lines), 'base64');
    const publicKey = await signer.publicKeyPem();
    expect(verify('sha256', Buffer.from(lines, 'utf8'), publicKey, signature)).toBe(true);
    expect(verify('sha256', Buffer.from(`${lines} `, 'utf8'), publicKey, signature)).toBe(false);
  });

  it('signs plans and their lines only in the low-S form, over many plans', async () => {
    const signer = new LocalPlanSigner({ dataDir });
    const publicKey = await signer.publicKeyPem();
    // Node's crypto.sign answers high-S about half the time: 64 signatures would show one
    // unless the signer normalises (the chance that none is high is 2^-64).
    for (let attempt = 1; attempt <= 32; attempt += 1) {
      const plan = { ...unsignedPlan(), attempt };
      const signed = await signer.sign(plan);
      expect(isHighS(Buffer.from(signed.signature, 'base64'))).toBe(false);
      expect(verifyPlan(signed, publicKey)).toBe(true);
      const lines = Buffer.from(await signer.signLines(planLines(plan)), 'base64');
      expect(isHighS(lines)).toBe(false);
      expect(verify('sha256', Buffer.from(planLines(plan), 'utf8'), publicKey, lines)).toBe(true);
    }
  });

  it('reuses the key it created, across restarts', async () => {
    const first = await new LocalPlanSigner({ dataDir }).publicKeyPem();
    const restarted = new LocalPlanSigner({ dataDir });
    expect(await restarted.publicKeyPem()).toBe(first);
    expect(verifyPlan(await restarted.sign(unsignedPlan()), first)).toBe(true);
  });

  it('ends with one key when two processes create it at once', async () => {
    const keys = await Promise.all(
      Array.from({ length: 4 }, () => new LocalPlanSigner({ dataDir }).publicKeyPem()),
    );
    expect(new Set(keys).size).toBe(1);
  });

  it('refuses a key file other users can read', async () => {
    const signer = new LocalPlanSigner({ dataDir });
    await signer.publicKeyPem();
    chmodSync(signer.keyPath, 0o644);
    const restarted = new LocalPlanSigner({ dataDir });
    await expect(restarted.sign(unsignedPlan())).rejects.toBeInstanceOf(SignerKeyInvalidError);
    chmodSync(signer.keyPath, 0o600);
    expect(await restarted.publicKeyPem()).toBe(await signer.publicKeyPem());
  });

  it('refuses a key that is not ECDSA P-256', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const signer = new LocalPlanSigner({ dataDir: folder.path, fileName: 'p384.pem' });
    writeFileSync(signer.keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await expect(signer.sign(unsignedPlan())).rejects.toMatchObject({
      code: 'signer-key-invalid',
      retryable: false,
    });
  });

  it('refuses a key file that is not a key', async () => {
    const signer = new LocalPlanSigner({ dataDir: folder.path, fileName: 'garbage.pem' });
    writeFileSync(signer.keyPath, 'not a key\n', { mode: 0o600 });
    await expect(signer.publicKeyPem()).rejects.toBeInstanceOf(SignerKeyInvalidError);
  });
});
