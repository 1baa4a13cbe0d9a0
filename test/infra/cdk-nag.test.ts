import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nagSuppressions } from '../../infra/nag-suppressions.ts';
import { type BuiltFaultline, buildFaultline, logicalIdOf } from './template-helpers.ts';

let built: BuiltFaultline;

beforeAll(() => {
  built = buildFaultline();
});

afterAll(() => built?.dispose());

const AWS_SOLUTIONS = Match.stringLikeRegexp('AwsSolutions-.*');

/** A finding as a line a person can act on. */
const describeFinding = (finding: { id: string; entry: { data?: unknown } }): string =>
  `${finding.id}: ${String(finding.entry.data).split('\n')[0]}`;

interface SuppressionMetadata {
  readonly rules_to_suppress?: readonly { id?: unknown; reason?: unknown; applies_to?: unknown }[];
}

describe('cdk-nag AwsSolutions checks', () => {
  it('report no unsuppressed error', () => {
    const errors = Annotations.fromStack(built.stack).findError('*', AWS_SOLUTIONS);
    expect(errors.map(describeFinding)).toEqual([]);
  });

  it('report no unsuppressed warning', () => {
    const warnings = Annotations.fromStack(built.stack).findWarning('*', AWS_SOLUTIONS);
    expect(warnings.map(describeFinding)).toEqual([]);
  });

  it('are suppressed only on named resources, never for the whole stack', () => {
    const metadata = (built.template.toJSON() as { Metadata?: Record<string, unknown> }).Metadata ?? {};
    expect(metadata.cdk_nag).toBeUndefined();
  });

  it('are suppressed exactly where infra/nag-suppressions.ts says, each with its reason', () => {
    const inTemplate: string[] = [];
    for (const [id, resource] of Object.entries(built.resources)) {
      const nag = resource.Metadata?.cdk_nag as SuppressionMetadata | undefined;
      for (const rule of nag?.rules_to_suppress ?? []) {
        expect(rule.id).toMatch(/^AwsSolutions-[A-Z]+\d+$/);
        expect(typeof rule.reason).toBe('string');
        // A reason says why, in a sentence or more, not "n/a".
        expect((rule.reason as string).length).toBeGreaterThan(80);
        expect(rule.applies_to).toBeUndefined();
        inTemplate.push(`${id} ${String(rule.id)}`);
      }
    }
    const declared = nagSuppressions(built.stack).map(
      (suppression) => `${logicalIdOf(suppression.resource)} ${suppression.rule}`,
    );
    expect(inTemplate.sort()).toEqual(declared.sort());
  });
});
