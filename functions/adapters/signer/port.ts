import type { Plan, UnsignedPlan } from '../../../events/plan.ts';

/**
 * Signs remediation plans (docs/architecture.md §4): ECDSA P-256 with SHA-256 over the plan's canonical JSON,
 * as `events/signing.ts` defines and the agent verifies, and over the plan's lines for the sh agent
 * (`GET /v1/agents/:hostId/plans?format=lines`, §6).
 *
 * Why a port: the private key must never be where the plans are stored. In the cloud it is a KMS
 * asymmetric key that never leaves KMS (the outbox asks KMS to sign); on one machine it is a key
 * file in the local runtime's data folder. The outbox signs through this port and does not know
 * which, and operators get the public key to configure their agents from `publicKeyPem`.
 */
export interface PlanSigner {
  /** The plan with its `signature`; throws an `AdapterError` (`signer-*`) when it cannot sign. */
  sign(plan: UnsignedPlan): Promise<Plan>;
  /**
   * The base64 DER ECDSA P-256 signature over exactly the UTF-8 bytes of `lines`: a plan in the line
   * format of the sh agent (events/plan-lines.ts `planLines`), which it verifies with
   * `openssl dgst -sha256 -verify` against the same public key. Signed once, when the plan is
   * issued (functions/outbox/effects.ts), and stored beside the plan, never inside it: the JSON plan
   * stays exactly the contract's. A plan stored without a lines signature (issued before lines
   * existed) is simply not offered in lines.
   */
  signLines(lines: string): Promise<string>;
  /** The SPKI PEM public key agents verify plans with (`-----BEGIN PUBLIC KEY-----`). */
  publicKeyPem(): Promise<string>;
}
