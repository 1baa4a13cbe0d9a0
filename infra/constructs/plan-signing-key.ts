import { RemovalPolicy } from 'aws-cdk-lib';
import { AccountRootPrincipal, type IRole, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** The one algorithm plans are signed with (events/signing.ts, `PLAN_SIGNING_ALGORITHM`). */
export const PLAN_SIGNING_ALGORITHM = 'ECDSA_SHA_256';

/**
 * What the account (through IAM) may do with the key: administer it and read its public key.
 * Deliberately not `kms:*`: no `kms:Sign`, and no `kms:CreateGrant` either, since a grant is a
 * way to sign without appearing in this policy. Changing the policy itself (`kms:PutKeyPolicy`)
 * stays with the account, or the key could never be managed again (KMS refuses such a policy).
 */
const ACCOUNT_KEY_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:PutKeyPolicy',
  'kms:GetPublicKey',
  'kms:ListResourceTags',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ListGrants',
  'kms:RevokeGrant',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:UpdateKeyDescription',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
] as const;

/**
 * The plans' signing key (docs/architecture.md §4): a KMS asymmetric key, ECC_NIST_P256 for SIGN_VERIFY,
 * whose private half never leaves KMS. Its key policy is the whole of who may sign: the account
 * root gets administration only (so no IAM policy anywhere in the account can grant signing),
 * and each signer is named in the key policy itself. Agents verify with the public key, which
 * operators read once (`aws kms get-public-key`) and put in each agent's configuration.
 *
 * The key is retained when the stack is deleted: every agent trusts its public key.
 */
export class PlanSigningKey extends Construct {
  readonly key: Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description:
        'Faultline: signs remediation plans (ECDSA P-256 with SHA-256); only correlate and sweep sign',
      keySpec: KeySpec.ECC_NIST_P256,
      keyUsage: KeyUsage.SIGN_VERIFY,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: new PolicyDocument({
        statements: [
          new PolicyStatement({
            sid: 'AccountAdministersTheKeyButDoesNotSign',
            principals: [new AccountRootPrincipal()],
            actions: [...ACCOUNT_KEY_ACTIONS],
            resources: ['*'],
          }),
        ],
      }),
    });
  }

  /**
   * Lets `role` sign plans, with the plans' algorithm only, and read the public key (the signer
   * checks each signature against it). Granted in the key policy, since the account is not
   * trusted to delegate signing. `sid` names the signer in the policy.
   */
  allowSigning(role: IRole, sid: string): void {
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: `${sid}Signs`,
        principals: [role],
        actions: ['kms:Sign'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:SigningAlgorithm': PLAN_SIGNING_ALGORITHM } },
      }),
    );
    this.allowReadingPublicKey(role, sid);
  }

  /** Lets `role` read the public key, and nothing else (to hand it to agents, say). */
  allowReadingPublicKey(role: IRole, sid: string): void {
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: `${sid}ReadsThePublicKey`,
        principals: [role],
        actions: ['kms:GetPublicKey'],
        resources: ['*'],
      }),
    );
  }
}
