import { NagSuppressions } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { FaultlineStack } from './faultline-stack.ts';

/** One accepted cdk-nag finding: on exactly this resource, for this reason. */
export interface NagSuppression {
  readonly resource: IConstruct;
  readonly rule: `AwsSolutions-${string}`;
  readonly reason: string;
}

const NODE_22_REASON =
  'nodejs22.x is the runtime the deployment contract pins (issue 7): an LTS line Lambda supports into 2027, ' +
  'the one the handlers and their pinned dependencies are built (esbuild target node22) and tested for; ' +
  'moving to nodejs24.x is a deliberate upgrade of that contract, not something to follow automatically.';

/**
 * Every cdk-nag finding the stack accepts, each on its own resource (never the whole stack, never
 * a whole rule), each with its reason. Anything else cdk-nag reports fails `cdk synth` and the
 * infra tests.
 */
export const nagSuppressions = (stack: FaultlineStack): NagSuppression[] => [
  ...[stack.correlate, stack.api, stack.notify, stack.sweep].map(
    (fn): NagSuppression => ({ resource: fn.function, rule: 'AwsSolutions-L1', reason: NODE_22_REASON }),
  ),
  {
    resource: stack.httpApi.api.node.findChild('DefaultRoute'),
    rule: 'AwsSolutions-APIG4',
    reason:
      'The Hono app authorises every route itself (docs/architecture.md §6): bearer tokens checked against their SHA-256 ' +
      'hashes in the store, agent tokens bound to their host id (which an API Gateway authorizer cannot hold ' +
      'against the events in a body), operator tokens for the rest; GET /v1/health answers without a token by ' +
      'design. The same code authorises the local runtime, so there is one authorisation to test.',
  },
  {
    resource: stack.notifyConfig,
    rule: 'AwsSolutions-SMG4',
    reason:
      'The secret holds credentials that third parties issue (PagerDuty integration keys, Slack incoming ' +
      'webhook URLs, webhook HMAC keys shared with their receivers): no rotation function can mint new ones, ' +
      'so operators replace them with put-secret-value when the issuer rotates them (infra/README.md).',
  },
];

export const applyNagSuppressions = (stack: FaultlineStack): void => {
  for (const suppression of nagSuppressions(stack)) {
    NagSuppressions.addResourceSuppressions(suppression.resource, [
      { id: suppression.rule, reason: suppression.reason },
    ]);
  }
};
