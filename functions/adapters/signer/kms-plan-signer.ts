import { createHash, createPublicKey } from 'node:crypto';
import {
  GetPublicKeyCommand,
  type GetPublicKeyCommandOutput,
  type KMSClient,
  SignCommand,
} from '@aws-sdk/client-kms';
import type { Plan, UnsignedPlan } from '../../../events/plan.ts';
import {
  lowSSignature,
  PLAN_SIGNING_ALGORITHM,
  signPlanWith,
  verifyCanonical,
  verifyPlan,
} from '../../../events/signing.ts';
import {
  AdapterError,
  isTransientSdkError,
  messageOf,
  SignerKeyInvalidError,
  SignerRejectedError,
  SignerUnavailableError,
  sdkErrorName,
} from '../errors.ts';
import type { PlanSigner } from './port.ts';

/**
 * The cloud's plan signer: a KMS asymmetric key (`ECC_NIST_P256`, usage `SIGN_VERIFY`) that never
 * leaves KMS. `Sign` with `ECDSA_SHA_256` returns the DER signature `verifyPlan` checks.
 *
 * KMS signs a RAW message of at most 4,096 bytes. A larger plan (a host with many arrays) is
 * signed as a DIGEST: its SHA-256 computed here, which is exactly what KMS computes for a RAW
 * message, so the signature is the same kind and verifies the same way. A plan's lines for the sh
 * agent (`signLines`) are signed the same way, over their bytes.
 *
 * KMS returns either of an ECDSA signature's two forms, `(r, s)` or `(r, n − s)`, about half the
 * time each; the agents accept only the low-S one (events/signing.ts: one canonical form per
 * plan), so every signature KMS returns is normalised to low S here, plan and lines alike.
 *
 * Every signature is checked against the key's public key before the plan leaves (one
 * `GetPublicKey`, cached): a key of the wrong spec or a misconfigured key id fails here, loudly,
 * instead of on every agent.
 *
 * The client is passed in (built by the function's composition root in functions/lambda/); failures are
 * wrapped: `SignerUnavailableError` (retryable) for throttling, KMS internal errors and the network,
 * `SignerRejectedError` for access denied, a disabled or missing key, and `SignerKeyInvalidError`
 * for a key that is not an ECDSA P-256 signing key.
 */
export interface KmsPlanSignerOptions {
  readonly client: KMSClient;
  /** Key id, key ARN, alias name (`alias/faultline-plans`) or alias ARN. */
  readonly keyId: string;
}

/** The largest message KMS `Sign` accepts as RAW. */
export const KMS_MAX_RAW_MESSAGE_BYTES = 4_096;
const KMS_KEY_SPEC = 'ECC_NIST_P256';
const KMS_KEY_USAGE = 'SIGN_VERIFY';

const wrap = (what: string, error: unknown): AdapterError => {
  if (error instanceof AdapterError) return error;
  const detail = `${what}: ${sdkErrorName(error)}: ${messageOf(error)}`;
  return isTransientSdkError(error)
    ? new SignerUnavailableError(detail, { cause: error })
    : new SignerRejectedError(detail, { cause: error });
};

export class KmsPlanSigner implements PlanSigner {
  readonly keyId: string;
  readonly #client: KMSClient;
  #publicKey: Promise<string> | undefined;

  constructor(options: KmsPlanSignerOptions) {
    this.#client = options.client;
    this.keyId = options.keyId;
  }

  async sign(plan: UnsignedPlan): Promise<Plan> {
    const signed = await signPlanWith(plan, (bytes) => this.#signLowS(bytes));
    if (!verifyPlan(signed, await this.publicKeyPem())) {
      throw new SignerKeyInvalidError(
        `KMS key ${this.keyId} returned a signature its own public key does not verify`,
      );
    }
    return signed;
  }

  /** A plan's lines (events/plan-lines.ts), signed as bytes the same way and checked the same way. */
  async signLines(lines: string): Promise<string> {
    const bytes = Buffer.from(lines, 'utf8');
    const signature = await this.#signLowS(bytes);
    if (!verifyCanonical(bytes, signature, await this.publicKeyPem())) {
      throw new SignerKeyInvalidError(
        `KMS key ${this.keyId} returned a signature of plan lines its own public key does not verify`,
      );
    }
    return signature.toString('base64');
  }

  /** KMS's signature of `bytes` in the low-S form (KMS returns either form). */
  async #signLowS(bytes: Uint8Array): Promise<Buffer> {
    const signature = await this.#signBytes(bytes);
    try {
      return lowSSignature(signature);
    } catch (error) {
      throw new SignerKeyInvalidError(
        `KMS key ${this.keyId} returned a signature that is not DER ECDSA P-256`,
        { cause: error },
      );
    }
  }

  async #signBytes(bytes: Uint8Array): Promise<Uint8Array> {
    const raw = bytes.byteLength <= KMS_MAX_RAW_MESSAGE_BYTES;
    try {
      const answer = await this.#client.send(
        new SignCommand({
          KeyId: this.keyId,
          Message: raw ? bytes : createHash('sha256').update(bytes).digest(),
          MessageType: raw ? 'RAW' : 'DIGEST',
          SigningAlgorithm: PLAN_SIGNING_ALGORITHM,
        }),
      );
      if (answer.Signature === undefined || answer.Signature.byteLength === 0) {
        throw new SignerUnavailableError(`KMS Sign with ${this.keyId} answered without a signature`);
      }
      return answer.Signature;
    } catch (error) {
      throw wrap(`KMS Sign with ${this.keyId}`, error);
    }
  }

  publicKeyPem(): Promise<string> {
    if (this.#publicKey === undefined) {
      const loading = this.#fetchPublicKey();
      this.#publicKey = loading;
      loading.catch(() => {
        if (this.#publicKey === loading) this.#publicKey = undefined;
      });
    }
    return this.#publicKey;
  }

  async #fetchPublicKey(): Promise<string> {
    let answer: GetPublicKeyCommandOutput;
    try {
      answer = await this.#client.send(new GetPublicKeyCommand({ KeyId: this.keyId }));
    } catch (error) {
      throw wrap(`KMS GetPublicKey of ${this.keyId}`, error);
    }
    if (answer.KeySpec !== KMS_KEY_SPEC || answer.KeyUsage !== KMS_KEY_USAGE) {
      throw new SignerKeyInvalidError(
        `KMS key ${this.keyId} is ${answer.KeySpec ?? 'of an unknown spec'} for ${answer.KeyUsage ?? 'an unknown usage'}; plans need ${KMS_KEY_SPEC} for ${KMS_KEY_USAGE}`,
      );
    }
    if (
      answer.SigningAlgorithms !== undefined &&
      !answer.SigningAlgorithms.includes(PLAN_SIGNING_ALGORITHM)
    ) {
      throw new SignerKeyInvalidError(`KMS key ${this.keyId} does not sign with ${PLAN_SIGNING_ALGORITHM}`);
    }
    if (answer.PublicKey === undefined) {
      throw new SignerUnavailableError(`KMS GetPublicKey of ${this.keyId} answered without a key`);
    }
    try {
      return createPublicKey({ key: Buffer.from(answer.PublicKey), format: 'der', type: 'spki' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
    } catch (error) {
      throw new SignerKeyInvalidError(`KMS key ${this.keyId} has a public key that is not DER SPKI`, {
        cause: error,
      });
    }
  }
}
