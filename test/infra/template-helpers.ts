import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { createFaultlineApp } from '../../infra/faultline-app.ts';
import type { FaultlineStack } from '../../infra/faultline-stack.ts';

/** A CloudFormation resource as the template holds it. */
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly Metadata?: Record<string, unknown>;
}

export interface BuiltFaultline {
  readonly stack: FaultlineStack;
  readonly template: Template;
  readonly resources: Readonly<Record<string, TemplateResource>>;
  /** Where the assembly went; removed by `dispose`. */
  readonly outdir: string;
  dispose(): void;
}

/**
 * Synthesizes the Faultline app (bundling included) into a folder of its own under the temporary
 * directory, so nothing is left behind once `dispose` runs: no `cdk.out*` folder per
 * `Template.fromStack`, as an app without an `outdir` would leave.
 */
export const buildFaultline = (): BuiltFaultline => {
  const outdir = mkdtempSync(join(tmpdir(), 'faultline-infra-'));
  try {
    const { stack } = createFaultlineApp({ outdir });
    const template = Template.fromStack(stack);
    const resources = (template.toJSON() as { Resources: Record<string, TemplateResource> }).Resources;
    return {
      stack,
      template,
      resources,
      outdir,
      dispose: () => rmSync(outdir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
};

/** The logical id of a construct's CloudFormation resource (its default child for an L2). */
export const logicalIdOf = (construct: IConstruct): string => {
  const resource = (construct.node.defaultChild ?? construct) as CfnResource;
  return Stack.of(construct).getLogicalId(resource);
};

/** The resources of one type, by logical id. */
export const resourcesOfType = (
  resources: Readonly<Record<string, TemplateResource>>,
  type: string,
): [string, TemplateResource][] => Object.entries(resources).filter(([, resource]) => resource.Type === type);

/** The logical id a `Ref` or `Fn::GetAtt` points at; undefined for anything else. */
export const referencedId = (value: unknown): string | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  const ref = (value as { Ref?: unknown }).Ref;
  if (typeof ref === 'string') return ref;
  const getAtt = (value as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
};

/** A policy statement with its lists always lists. */
export interface Statement {
  readonly effect: 'Allow' | 'Deny';
  readonly actions: readonly string[];
  readonly resources: readonly unknown[];
  readonly principals: readonly unknown[];
  readonly conditions: Record<string, Record<string, unknown>>;
  readonly sid?: string;
}

const asList = (value: unknown): unknown[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** The statements of a policy document, normalised. */
export const statementsOf = (document: unknown): Statement[] =>
  asList((document as { Statement?: unknown } | undefined)?.Statement).map((raw) => {
    const statement = raw as Record<string, unknown>;
    const principal = statement.Principal as Record<string, unknown> | string | undefined;
    return {
      effect: statement.Effect as 'Allow' | 'Deny',
      actions: asList(statement.Action).map(String),
      resources: asList(statement.Resource),
      principals:
        principal === undefined
          ? []
          : typeof principal === 'string'
            ? [principal]
            : Object.values(principal).flatMap(asList),
      conditions: (statement.Condition as Record<string, Record<string, unknown>> | undefined) ?? {},
      ...(typeof statement.Sid === 'string' ? { sid: statement.Sid } : {}),
    };
  });

/** Whether an IAM action pattern (`kms:*`, `kms:S*`, `*`) covers `action`; IAM compares case-insensitively. */
export const actionCovers = (pattern: string, action: string): boolean => {
  const regex = new RegExp(
    `^${pattern
      .split('')
      .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
    'i',
  );
  return regex.test(action);
};

/**
 * Every identity-policy statement in the template with the roles it applies to: the roles'
 * inline policies, and `AWS::IAM::Policy` / `AWS::IAM::ManagedPolicy` resources attached to roles.
 */
export const identityStatements = (
  resources: Readonly<Record<string, TemplateResource>>,
): { roleIds: string[]; statement: Statement }[] => {
  const found: { roleIds: string[]; statement: Statement }[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const properties = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Role') {
      for (const inline of asList(properties.Policies)) {
        for (const statement of statementsOf((inline as { PolicyDocument: unknown }).PolicyDocument)) {
          found.push({ roleIds: [id], statement });
        }
      }
    }
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      const roleIds = asList(properties.Roles)
        .map(referencedId)
        .filter((ref): ref is string => ref !== undefined);
      for (const statement of statementsOf(properties.PolicyDocument)) found.push({ roleIds, statement });
    }
  }
  return found;
};

/** Where the resolved values pretend the stack runs. */
export const FAKE_REGION = 'eu-west-1';
export const FAKE_ACCOUNT = '123456789012';

/**
 * A CloudFormation value (a string, `Ref`, `Fn::GetAtt`, `Fn::Join`, a Secrets Manager dynamic
 * reference) as it would be once deployed, with made-up but well-formed names: a queue's URL, a
 * table's name, an ARN. Lets a test hand a function the environment the template gives it.
 */
export const resolveValue = (
  value: unknown,
  template: {
    Resources: Readonly<Record<string, TemplateResource>>;
    Parameters?: Record<string, { Default?: unknown }>;
  },
): string => {
  if (typeof value === 'string') return resolveDynamicReference(value, template);
  if (typeof value === 'number') return String(value);
  const object = value as Record<string, unknown>;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return resolveDynamicReference(
      parts.map((part) => resolveValue(part, template)).join(separator),
      template,
    );
  }
  const ref = object.Ref;
  if (typeof ref === 'string') {
    if (ref === 'AWS::Region') return FAKE_REGION;
    if (ref === 'AWS::AccountId') return FAKE_ACCOUNT;
    if (ref === 'AWS::Partition') return 'aws';
    if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
    const parameter = template.Parameters?.[ref];
    if (parameter !== undefined) return String(parameter.Default ?? '');
    const type = template.Resources[ref]?.Type;
    if (type === 'AWS::SQS::Queue') return `https://sqs.${FAKE_REGION}.amazonaws.com/${FAKE_ACCOUNT}/${ref}`;
    if (type === 'AWS::SecretsManager::Secret')
      return `arn:aws:secretsmanager:${FAKE_REGION}:${FAKE_ACCOUNT}:secret:${ref}-AbCdEf`;
    return ref;
  }
  const getAtt = object['Fn::GetAtt'];
  if (Array.isArray(getAtt)) {
    const [id, attribute] = getAtt as [string, string];
    const type = template.Resources[id]?.Type;
    if (attribute === 'RoleId')
      return `AROA${id
        .toUpperCase()
        .replace(/[^A-Z0-9]/g, '')
        .slice(0, 17)}`;
    if (attribute === 'Arn' && type === 'AWS::KMS::Key')
      return `arn:aws:kms:${FAKE_REGION}:${FAKE_ACCOUNT}:key/${id}`;
    if (attribute === 'Arn' && type === 'AWS::SQS::Queue')
      return `arn:aws:sqs:${FAKE_REGION}:${FAKE_ACCOUNT}:${id}`;
    if (attribute === 'Arn' && type === 'AWS::IAM::Role') return `arn:aws:iam::${FAKE_ACCOUNT}:role/${id}`;
    return `${id}.${attribute}`;
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
};

/** `{{resolve:secretsmanager:<arn>:SecretString:...}}` → the secret's value as the template creates it. */
const resolveDynamicReference = (
  text: string,
  template: { Resources: Readonly<Record<string, TemplateResource>> },
): string => {
  const match =
    /^\{\{resolve:secretsmanager:arn:aws:secretsmanager:[^:]+:\d+:secret:([A-Za-z0-9]+)-AbCdEf:SecretString:/.exec(
      text,
    );
  if (match === null) return text;
  const secret = template.Resources[match[1] ?? '']?.Properties?.SecretString;
  if (typeof secret !== 'string') throw new Error(`no initial value for the secret in ${text}`);
  return secret;
};

/** A function's environment from the template, resolved as by {@link resolveValue}. */
export const environmentOf = (
  functionId: string,
  template: {
    Resources: Readonly<Record<string, TemplateResource>>;
    Parameters?: Record<string, { Default?: unknown }>;
  },
): Record<string, string> => {
  const variables =
    (
      template.Resources[functionId]?.Properties?.Environment as
        | { Variables?: Record<string, unknown> }
        | undefined
    )?.Variables ?? {};
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, resolveValue(value, template)]),
  );
};
