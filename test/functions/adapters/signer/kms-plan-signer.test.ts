import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { KMSClient } from '@aws-sdk/client-kms';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PlanStep, UnsignedPlan } from '../../../../events/plan.ts';
import { planLines } from '../../../../events/plan-lines.ts';
import { planSigningBytes, verifyPlan } from '../../../../events/signing.ts';
import {
  SignerKeyInvalidError,
  SignerRejectedError,
  SignerUnavailableError,
} from '../../../../functions/adapters/errors.ts';
import {
  KMS_MAX_RAW_MESSAGE_BYTES,
  KmsPlanSigner,
} from '../../../../functions/adapters/signer/kms-plan-signer.ts';
import { highSTwin, isHighS, lowSTwin } from '../../../helpers/ecdsa-forms.ts';
import { example } from '../../../helpers/examples.ts';

const REGION = 'eu-west-1';
const KMS = `https://kms.${REGION}.amazonaws.com`;
const KEY_ID = 'arn:aws:kms:eu-west-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const JSON_11 = { 'content-type': 'application/x-amz-json-1.1' };

const unsignedPlan = (): UnsignedPlan => {
  const { signature: _signature, ...plan } = example('plan');
  return plan as UnsignedPlan;
};

/** A plan too large for a RAW KMS message: a host with many arrays to wait on. */
const largePlan = (): UnsignedPlan => {
  const plan = unsignedPlan();
  const waits: PlanStep[] = Array.from({ length: 120 }, (_, n) => ({
    action: 'md.wait-sync',
    array: `md${n}`,
    stallSeconds: 600,
  }));
  return { ...plan, steps: [...plan.steps, ...waits] };
};

interface KmsRequest {
  readonly target: string;
  readonly body: Record<string, unknown>;
}

interface FakeKeyDescription {
  readonly KeySpec: string;
  readonly KeyUsage: string;
  readonly SigningAlgorithms: string[];
}

const P256_SIGNING_KEY: FakeKeyDescription = {
  KeySpec: 'ECC_NIST_P256',
  KeyUsage: 'SIGN_VERIFY',
  SigningAlgorithms: ['ECDSA_SHA_256'],
};

/**
 * KMS on its JSON 1.1 protocol, signing with a real P-256 key. A DIGEST request is answered by
 * finding, among `known`, the message whose SHA-256 it is (Node signs messages, not digests): the
 * signature is then exactly the one KMS would return.
 *
 * Like the real KMS (`Sign` with `ECDSA_SHA_256` does not normalise `s`: about half its
 * signatures are in the high half, `s > n/2`), it answers high-S about half the time: here every
 * other signature, so a test of the low-S normalisation sees both forms for sure.
 */
const fakeKms = (
  key: KeyObject,
  requests: KmsRequest[],
  options: {
    known?: Buffer[];
    description?: FakeKeyDescription;
    signature?: (message: Buffer) => Buffer;
  } = {},
  /** Every signature the fake answered, in the form it answered it. */
  answered: Buffer[] = [],
): void => {
  let signed = 0;
  nock(KMS)
    .persist()
    .post('/')
    .reply(function reply(_uri, requestBody) {
      const target = String(this.req.headers['x-amz-target']);
      const body = (typeof requestBody === 'string' ? JSON.parse(requestBody) : requestBody) as Record<
        string,
        unknown
      >;
      requests.push({ target, body });
      if (target === 'TrentService.GetPublicKey') {
        const publicKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
        return [
          200,
          {
            KeyId: KEY_ID,
            ...(options.description ?? P256_SIGNING_KEY),
            PublicKey: publicKey.toString('base64'),
          },
          JSON_11,
        ];
      }
      const message = Buffer.from(String(body.Message), 'base64');
      const original =
        body.MessageType === 'DIGEST'
          ? options.known?.find((bytes) => createHash('sha256').update(bytes).digest().equals(message))
          : message;
      if (original === undefined) {
        return [400, { __type: 'ValidationException', message: 'digest of no known message' }, JSON_11];
      }
      signed += 1;
      const plain = sign('sha256', original, key);
      const signature =
        options.signature?.(original) ?? (signed % 2 === 0 ? highSTwin(plain) : lowSTwin(plain));
      answered.push(signature);
      return [
        200,
        { KeyId: KEY_ID, SigningAlgorithm: 'ECDSA_SHA_256', Signature: signature.toString('base64') },
        JSON_11,
      ];
    });
};

/** KMS answering every call with an error. */
const failingKms = (status: number, type: string): void => {
  nock(KMS)
    .persist()
    .post('/')
    .reply(status, { __type: type, message: `${type} (test)` }, JSON_11);
};

describe('KmsPlanSigner', () => {
  let client: KMSClient;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

  beforeAll(() => {
    // TOOLCHAIN.md: the SDK warns that Node 20 support ends; CI sets this too.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    nock.disableNetConnect();
  });
  afterAll(() => {
    nock.enableNetConnect();
  });
  beforeEach(() => {
    client = new KMSClient({
      region: REGION,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
  });
  afterEach(() => {
    client.destroy();
    nock.cleanAll();
  });

  it('signs a plan with KMS Sign (ECDSA_SHA_256, RAW) and the signature verifies with the key from GetPublicKey', async () => {
    const requests: KmsRequest[] = [];
    fakeKms(privateKey, requests);
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    const plan = unsignedPlan();
    const signed = await signer.sign(plan);

    const publicKeyPem = await signer.publicKeyPem();
    expect(publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(verifyPlan(signed, publicKeyPem)).toBe(true);
    expect(verifyPlan(signed, createPublicKey(privateKey))).toBe(true);

    const signs = requests.filter((request) => request.target === 'TrentService.Sign');
    expect(signs).toEqual([
      {
        target: 'TrentService.Sign',
        body: {
          KeyId: KEY_ID,
          Message: planSigningBytes(plan).toString('base64'),
          MessageType: 'RAW',
          SigningAlgorithm: 'ECDSA_SHA_256',
        },
      },
    ]);
    expect(requests.filter((request) => request.target === 'TrentService.GetPublicKey')).toEqual([
      { target: 'TrentService.GetPublicKey', body: { KeyId: KEY_ID } },
    ]);
  });

  it('asks for the public key once', async () => {
    const requests: KmsRequest[] = [];
    fakeKms(privateKey, requests);
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    await signer.sign(unsignedPlan());
    await signer.sign({ ...unsignedPlan(), attempt: 2 });
    await signer.publicKeyPem();
    expect(requests.map((request) => request.target).sort()).toEqual([
      'TrentService.GetPublicKey',
      'TrentService.Sign',
      'TrentService.Sign',
    ]);
  });

  it('signs a plan larger than a RAW message as its SHA-256 digest, verifying the same way', async () => {
    const plan = largePlan();
    const bytes = planSigningBytes(plan);
    expect(bytes.byteLength).toBeGreaterThan(KMS_MAX_RAW_MESSAGE_BYTES);
    const requests: KmsRequest[] = [];
    fakeKms(privateKey, requests, { known: [bytes] });
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    const signed = await signer.sign(plan);
    expect(verifyPlan(signed, await signer.publicKeyPem())).toBe(true);
    const [request] = requests.filter((r) => r.target === 'TrentService.Sign');
    expect(request?.body).toEqual({
      KeyId: KEY_ID,
      Message: createHash('sha256').update(bytes).digest().toString('base64'),
      MessageType: 'DIGEST',
      SigningAlgorithm: 'ECDSA_SHA_256',
    });
  });

  it("signs a plan's lines as their bytes (RAW), verifying with the same public key", async () => {
    const requests: KmsRequest[] = [];
    fakeKms(privateKey, requests);
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    const lines = planLines(unsignedPlan());
    const signature = await signer.signLines(lines);
    const bytes = Buffer.from(lines, 'utf8');
    expect(verify('sha256', bytes, await signer.publicKeyPem(), Buffer.from(signature, 'base64'))).toBe(true);
    const [request] = requests.filter((r) => r.target === 'TrentService.Sign');
    expect(request?.body).toMatchObject({ Message: bytes.toString('base64'), MessageType: 'RAW' });
  });

  it('hands out only low-S signatures, plans and lines alike, though KMS answers high-S half the time', async () => {
    const answered: Buffer[] = [];
    fakeKms(privateKey, [], {}, answered);
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    const publicKeyPem = await signer.publicKeyPem();
    for (let attempt = 1; attempt <= 24; attempt += 1) {
      const plan = { ...unsignedPlan(), attempt };
      const signed = await signer.sign(plan);
      const planSignature = Buffer.from(signed.signature, 'base64');
      expect(isHighS(planSignature)).toBe(false);
      expect(verifyPlan(signed, publicKeyPem)).toBe(true);
      const lines = Buffer.from(await signer.signLines(planLines(plan)), 'base64');
      expect(isHighS(lines)).toBe(false);
      expect(verify('sha256', Buffer.from(planLines(plan), 'utf8'), publicKeyPem, lines)).toBe(true);
    }
    // The fake did answer high-S: the normalisation, not luck, made them all low.
    expect(answered).toHaveLength(48);
    expect(answered.filter((signature) => isHighS(signature))).toHaveLength(24);
  });

  it('refuses a KMS answer that is not a DER ECDSA signature', async () => {
    fakeKms(privateKey, [], { signature: () => Buffer.from('not a signature') });
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    await expect(signer.sign(unsignedPlan())).rejects.toBeInstanceOf(SignerKeyInvalidError);
    await expect(signer.signLines(planLines(unsignedPlan()))).rejects.toBeInstanceOf(SignerKeyInvalidError);
  });

  it('refuses to hand out a lines signature its key does not verify', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    fakeKms(privateKey, [], { signature: (message) => sign('sha256', message, other) });
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    await expect(signer.signLines(planLines(unsignedPlan()))).rejects.toBeInstanceOf(SignerKeyInvalidError);
  });

  it('refuses to hand out a signature its key does not verify', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    fakeKms(privateKey, [], { signature: (message) => sign('sha256', message, other) });
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    await expect(signer.sign(unsignedPlan())).rejects.toBeInstanceOf(SignerKeyInvalidError);
  });

  it('refuses a key that is not an ECC_NIST_P256 signing key', async () => {
    fakeKms(privateKey, [], {
      description: {
        KeySpec: 'RSA_2048',
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: ['RSASSA_PSS_SHA_256'],
      },
    });
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    await expect(signer.publicKeyPem()).rejects.toMatchObject({
      code: 'signer-key-invalid',
      retryable: false,
    });
  });

  it('wraps throttling as a retryable SignerUnavailableError', async () => {
    failingKms(400, 'ThrottlingException');
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    const failure = signer.sign(unsignedPlan());
    await expect(failure).rejects.toBeInstanceOf(SignerUnavailableError);
    await expect(failure).rejects.toMatchObject({ retryable: true });
  });

  it('wraps a KMS internal error as retryable', async () => {
    failingKms(500, 'KMSInternalException');
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    await expect(signer.publicKeyPem()).rejects.toMatchObject({
      code: 'signer-unavailable',
      retryable: true,
    });
  });

  it('wraps access denied and a disabled key as a SignerRejectedError, keeping the cause', async () => {
    failingKms(400, 'AccessDeniedException');
    const signer = new KmsPlanSigner({ client, keyId: KEY_ID });
    const failure = await signer.sign(unsignedPlan()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SignerRejectedError);
    expect(failure).toMatchObject({ retryable: false, cause: { name: 'AccessDeniedException' } });
    nock.cleanAll();
    failingKms(400, 'DisabledException');
    await expect(signer.sign(unsignedPlan())).rejects.toBeInstanceOf(SignerRejectedError);
  });
});
