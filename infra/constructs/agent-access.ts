import { Duration, Stack } from 'aws-cdk-lib';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnProfile, CfnTrustAnchor } from 'aws-cdk-lib/aws-rolesanywhere';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface AgentAccessProps {
  /** The queue agents send their events to (docs/architecture.md §2). */
  readonly eventsQueue: IQueue;
  /**
   * The PEM certificate of the CA that issues the hosts' certificates (a root or an intermediate):
   * a stack parameter, so the same template serves every fleet. Each host's certificate has its
   * host id as its subject common name (CN).
   */
  readonly caCertificate: string;
  /** How long a session lasts (900–43,200 s); the credential helper renews before it ends. */
  readonly sessionDuration: Duration;
}

/** The shortest `MaxSessionDuration` IAM accepts on a role. */
const MIN_ROLE_SESSION_SECONDS = 3_600;

/** The policy variable of the certificate's subject CN, as IAM Roles Anywhere maps it (default mapping). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a JavaScript template
export const CERTIFICATE_CN = '${aws:PrincipalTag/x509Subject/CN}';

/**
 * How agents send to SQS (docs/architecture.md §3, sender binding): each host authenticates to IAM Roles
 * Anywhere with its own X.509 certificate, issued by the fleet's CA (the trust anchor), and gets
 * a session of one role whose only permission is `sqs:SendMessage` on the events queue
 * (`SendMessageBatch` is authorised by it too).
 *
 * The session name is the host id, and IAM holds the host to it: the profile accepts a custom
 * role session name (`--role-session-name` of `aws_signing_helper`) and the role's trust policy
 * allows `sts:AssumeRole` only when that name equals the certificate's CN, from this trust anchor
 * only. So a message's `SenderId` (`<role id>:<session name>`) names the host whose certificate
 * sent it, and correlate compares it with the event's `hostid`. A session asked for without a
 * name (the certificate's serial number) or with another host's name is refused.
 *
 * The profile carries a session policy of the same single permission, so a later edit of the
 * role alone cannot widen what agents may do.
 */
export class AgentAccess extends Construct {
  readonly trustAnchor: CfnTrustAnchor;
  readonly profile: CfnProfile;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: AgentAccessProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.trustAnchor = new CfnTrustAnchor(this, 'TrustAnchor', {
      name: `${stack.stackName}-agents`,
      enabled: true,
      source: {
        sourceType: 'CERTIFICATE_BUNDLE',
        sourceData: { x509CertificateData: props.caCertificate },
      },
    });

    const fromThisTrustAnchor = { ArnEquals: { 'aws:SourceArn': this.trustAnchor.attrTrustAnchorArn } };
    const sendEvents = new PolicyStatement({
      sid: 'SendEventsOnly',
      actions: ['sqs:SendMessage'],
      resources: [props.eventsQueue.queueArn],
    });

    this.role = new Role(this, 'Role', {
      description: 'Faultline agents (IAM Roles Anywhere): send events to the events queue, as their host id',
      assumedBy: new ServicePrincipal('rolesanywhere.amazonaws.com').withConditions({
        ...fromThisTrustAnchor,
        StringEquals: { 'sts:RoleSessionName': CERTIFICATE_CN },
      }),
      // IAM's floor is one hour; the profile's duration is what sessions actually get.
      maxSessionDuration: Duration.seconds(
        Math.max(MIN_ROLE_SESSION_SECONDS, props.sessionDuration.toSeconds()),
      ),
      inlinePolicies: { SendEvents: new PolicyDocument({ statements: [sendEvents] }) },
    });
    // Roles Anywhere also tags the session with the certificate's attributes and sets its
    // source identity; neither may widen the session, and both come from the same anchor only.
    this.role.assumeRolePolicy?.addStatements(
      new PolicyStatement({
        actions: ['sts:TagSession', 'sts:SetSourceIdentity'],
        principals: [new ServicePrincipal('rolesanywhere.amazonaws.com')],
        conditions: fromThisTrustAnchor,
      }),
    );

    this.profile = new CfnProfile(this, 'Profile', {
      name: `${stack.stackName}-agents`,
      enabled: true,
      roleArns: [this.role.roleArn],
      acceptRoleSessionName: true,
      durationSeconds: props.sessionDuration.toSeconds(),
      sessionPolicy: stack.toJsonString({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: props.eventsQueue.queueArn }],
      }),
    });
  }
}
