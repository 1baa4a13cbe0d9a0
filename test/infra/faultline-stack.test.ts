import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS } from '../../functions/adapters/observability/metric-catalogue.ts';
import { STORE_TABLE } from '../../functions/adapters/store/dynamodb-table.ts';
import { apiFromEnv } from '../../functions/lambda/api.ts';
import { correlateFromEnv } from '../../functions/lambda/correlate.ts';
import { notifyFromEnv } from '../../functions/lambda/notify.ts';
import { sweepFromEnv } from '../../functions/lambda/sweep.ts';
import { CERTIFICATE_CN } from '../../infra/constructs/agent-access.ts';
import { DELIVERY_LOG_ACTIONS, DELIVERY_LOG_TABLE } from '../../infra/constructs/delivery-log-table.ts';
import type { FaultlineFunction } from '../../infra/constructs/faultline-function.ts';
import { STORE_READ_ACTIONS, STORE_WRITE_ACTIONS } from '../../infra/constructs/store-tables.ts';
import { createFaultlineApp } from '../../infra/faultline-app.ts';
import { STORE_TABLE_NAME } from '../../infra/faultline-stack.ts';
import {
  ALARM_THRESHOLDS,
  LOGGING,
  METRIC_NAMES,
  NOTIFY_CONFIG_CACHE_SECONDS,
  QUEUE_SETTINGS,
} from '../../infra/settings.ts';
import {
  type FakeSecretsManager,
  startFakeSecretsManager,
} from '../functions/lambda/fake-secrets-manager.ts';
import {
  actionCovers,
  type BuiltFaultline,
  buildFaultline,
  environmentOf,
  FAKE_REGION,
  identityStatements,
  logicalIdOf,
  referencedId,
  type resolveValue,
  resourcesOfType,
  type Statement,
  type TemplateResource,
} from './template-helpers.ts';

let built: BuiltFaultline;
let resources: Readonly<Record<string, TemplateResource>>;
let secretsManager: FakeSecretsManager;

beforeAll(async () => {
  // The api's fromEnv builds SDK clients, which warn once that Node 20 support ends (TOOLCHAIN.md).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  built = buildFaultline();
  resources = built.resources;
  secretsManager = await startFakeSecretsManager();
});

afterAll(async () => {
  built?.dispose();
  await secretsManager?.close();
});

const propertiesOf = (id: string): Record<string, unknown> => {
  const resource = resources[id];
  if (resource === undefined) throw new Error(`no resource ${id} in the template`);
  return resource.Properties ?? {};
};

const sqsMappings = (): [string, TemplateResource][] =>
  resourcesOfType(resources, 'AWS::Lambda::EventSourceMapping').filter(
    ([, mapping]) =>
      resources[referencedId(mapping.Properties?.EventSourceArn) ?? '']?.Type === 'AWS::SQS::Queue',
  );

const deadLetterTargets = (): Set<string> =>
  new Set(
    resourcesOfType(resources, 'AWS::SQS::Queue')
      .map(([, queue]) =>
        referencedId(
          (queue.Properties?.RedrivePolicy as { deadLetterTargetArn?: unknown })?.deadLetterTargetArn,
        ),
      )
      .filter((id): id is string => id !== undefined),
  );

describe('the queues', () => {
  it('has a mapping for each work queue, correlate on events and notify on notify', () => {
    const consumers = new Map(
      sqsMappings().map(([, mapping]) => [
        referencedId(mapping.Properties?.EventSourceArn),
        referencedId(mapping.Properties?.FunctionName),
      ]),
    );
    expect(consumers).toEqual(
      new Map([
        [logicalIdOf(built.stack.eventsQueue.queue), logicalIdOf(built.stack.correlate.function)],
        [logicalIdOf(built.stack.notifyQueue.queue), logicalIdOf(built.stack.notify.function)],
      ]),
    );
  });

  it('reports partial batch failures on every SQS mapping, with a batch size, a window and a concurrency cap', () => {
    const mappings = sqsMappings();
    expect(mappings.length).toBeGreaterThan(0);
    for (const [, mapping] of mappings) {
      expect(mapping.Properties?.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(mapping.Properties?.BatchSize).toEqual(expect.any(Number));
      expect(mapping.Properties?.MaximumBatchingWindowInSeconds).toEqual(expect.any(Number));
      expect(
        (mapping.Properties?.ScalingConfig as { MaximumConcurrency?: unknown } | undefined)
          ?.MaximumConcurrency,
      ).toEqual(expect.any(Number));
    }
  });

  it('gives every work queue a dead-letter queue after maxReceiveCount receives', () => {
    const targets = deadLetterTargets();
    const workQueues = resourcesOfType(resources, 'AWS::SQS::Queue').filter(([id]) => !targets.has(id));
    expect(workQueues.map(([id]) => id).sort()).toEqual(
      [logicalIdOf(built.stack.eventsQueue.queue), logicalIdOf(built.stack.notifyQueue.queue)].sort(),
    );
    for (const [, queue] of workQueues) {
      const redrive = queue.Properties?.RedrivePolicy as {
        deadLetterTargetArn: unknown;
        maxReceiveCount: number;
      };
      expect(resources[referencedId(redrive.deadLetterTargetArn) ?? '']?.Type).toBe('AWS::SQS::Queue');
      expect(redrive.maxReceiveCount).toBe(QUEUE_SETTINGS.maxReceiveCount);
    }
    // Every consumed queue is a work queue, never a DLQ.
    for (const [, mapping] of sqsMappings()) {
      expect(targets.has(referencedId(mapping.Properties?.EventSourceArn) ?? '')).toBe(false);
    }
  });

  it('hides a received batch for at least six times its consumer’s timeout, read from the template', () => {
    for (const [, mapping] of sqsMappings()) {
      const queue = propertiesOf(referencedId(mapping.Properties?.EventSourceArn) ?? '');
      const consumer = propertiesOf(referencedId(mapping.Properties?.FunctionName) ?? '');
      expect(consumer.Timeout).toEqual(expect.any(Number));
      expect(queue.VisibilityTimeout as number).toBeGreaterThanOrEqual(6 * (consumer.Timeout as number));
    }
  });

  it('encrypts every queue at rest and refuses requests over plain HTTP', () => {
    const policies = resourcesOfType(resources, 'AWS::SQS::QueuePolicy');
    for (const [id, queue] of resourcesOfType(resources, 'AWS::SQS::Queue')) {
      expect(queue.Properties?.SqsManagedSseEnabled).toBe(true);
      const denies = policies
        .filter(([, policy]) =>
          ((policy.Properties?.Queues as unknown[] | undefined) ?? []).some(
            (ref) => referencedId(ref) === id,
          ),
        )
        .flatMap(([, policy]) => statementsOfPolicy(policy))
        .filter(
          (statement) =>
            statement.effect === 'Deny' &&
            statement.actions.includes('sqs:*') &&
            statement.conditions.Bool?.['aws:SecureTransport'] === 'false',
        );
      expect(denies).toHaveLength(1);
    }
  });
});

const statementsOfPolicy = (policy: TemplateResource): Statement[] =>
  identityLikeStatements(policy.Properties?.PolicyDocument);

const identityLikeStatements = (document: unknown): Statement[] =>
  identityStatements({ policy: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: document } } }).map(
    (entry) => entry.statement,
  );

describe('the store', () => {
  it('provisions exactly the table layout the DynamoDB adapter works with', () => {
    expect(built.stack.store.definitions).toEqual({ [STORE_TABLE_NAME]: STORE_TABLE });
  });

  it('lists the hosts through a keys-only index, which a host slice rewritten under the same keys does not write', () => {
    const hosts = STORE_TABLE.globalSecondaryIndexes.find((index) => index.indexName === 'gsi4');
    expect(hosts?.projectionType).toBe('KEYS_ONLY');
  });

  it('creates one table per definition of the DynamoDB adapter, with its keys, indexes and TTL', () => {
    const tables = resourcesOfType(resources, 'AWS::DynamoDB::Table').filter(
      ([id]) => id !== logicalIdOf(built.stack.deliveryLog.table),
    );
    const definitions = Object.entries(built.stack.store.definitions);
    expect(tables).toHaveLength(definitions.length);
    for (const [name, definition] of definitions) {
      const table = propertiesOf(logicalIdOf(built.stack.store.table(name)));
      const keys = [
        { AttributeName: definition.partitionKey.name, KeyType: 'HASH' },
        ...(definition.sortKey === undefined
          ? []
          : [{ AttributeName: definition.sortKey.name, KeyType: 'RANGE' }]),
      ];
      expect(table.KeySchema).toEqual(keys);
      const indexes =
        (table.GlobalSecondaryIndexes as { IndexName: string; Projection: unknown }[] | undefined) ?? [];
      expect(indexes.map((index) => index.IndexName).sort()).toEqual(
        (definition.globalSecondaryIndexes ?? []).map((index) => index.indexName).sort(),
      );
      for (const index of definition.globalSecondaryIndexes ?? []) {
        expect(indexes.find((created) => created.IndexName === index.indexName)?.Projection).toEqual({
          ProjectionType: index.projectionType,
        });
      }
      if (definition.timeToLiveAttribute === undefined) {
        expect(table.TimeToLiveSpecification).toBeUndefined();
      } else {
        expect(table.TimeToLiveSpecification).toEqual({
          AttributeName: definition.timeToLiveAttribute,
          Enabled: true,
        });
      }
    }
  });

  it('keeps every table on demand, recoverable to a point in time, encrypted and retained', () => {
    for (const [, table] of resourcesOfType(resources, 'AWS::DynamoDB::Table')) {
      expect(table.Properties?.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.Properties?.PointInTimeRecoverySpecification).toEqual({
        PointInTimeRecoveryEnabled: true,
      });
      // SSEEnabled without a key: KMS with the AWS-managed key (aws/dynamodb), not the owned default.
      expect(table.Properties?.SSESpecification).toEqual({ SSEEnabled: true });
      expect(table.Properties?.DeletionProtectionEnabled).toBe(true);
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
    }
  });
});

describe('notify’s delivery log', () => {
  it('is a table of its own keyed by pk alone, whose items DynamoDB’s TTL removes after expiresAt', () => {
    const table = propertiesOf(logicalIdOf(built.stack.deliveryLog.table));
    expect(table.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(table.AttributeDefinitions).toEqual([{ AttributeName: 'pk', AttributeType: 'S' }]);
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(DELIVERY_LOG_TABLE).toEqual({ partitionKey: 'pk', timeToLiveAttribute: 'expiresAt' });
    expect(table.GlobalSecondaryIndexes).toBeUndefined();
    // On demand, point-in-time recovery, encrypted and retained: 'the store' checks every table.
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(logicalIdOf(built.stack.deliveryLog.table)).not.toBe(
      logicalIdOf(built.stack.store.table(STORE_TABLE_NAME)),
    );
  });

  it('grants exactly the item calls the DynamoDB adapter makes', () => {
    const source = readFileSync(
      new URL('../../functions/notify/dynamodb-delivery-log.ts', import.meta.url),
      'utf8',
    );
    const ACTION_OF_COMMAND: Record<string, string> = {
      Get: 'dynamodb:GetItem',
      Put: 'dynamodb:PutItem',
      Update: 'dynamodb:UpdateItem',
      Delete: 'dynamodb:DeleteItem',
    };
    const used = [...source.matchAll(/new (\w+)Command\(/g)].map((match) => {
      const action = ACTION_OF_COMMAND[match[1] ?? ''];
      if (action === undefined)
        throw new Error(
          `the delivery log calls ${match[1]}Command: grant it, or refuse to, in infra/constructs/delivery-log-table.ts`,
        );
      return action;
    });
    expect([...new Set(used)].sort()).toEqual([...DELIVERY_LOG_ACTIONS].sort());
  });
});

describe('the functions', () => {
  const functions = () => [built.stack.correlate, built.stack.api, built.stack.notify, built.stack.sweep];

  it('runs correlate, api, notify and sweep on nodejs22.x for arm64, each with its own role and log group', () => {
    expect(
      resourcesOfType(resources, 'AWS::Lambda::Function')
        .map(([id]) => id)
        .sort(),
    ).toEqual(
      functions()
        .map((fn) => logicalIdOf(fn.function))
        .sort(),
    );
    const roles = new Set<string>();
    for (const fn of functions()) {
      const properties = propertiesOf(logicalIdOf(fn.function));
      expect(properties.Runtime).toBe('nodejs22.x');
      expect(properties.Architectures).toEqual(['arm64']);
      expect(properties.Handler).toBe('index.handler');
      const role = referencedId(properties.Role) ?? '';
      expect(role).toBe(logicalIdOf(fn.role));
      roles.add(role);
      expect(propertiesOf(role).ManagedPolicyArns).toBeUndefined();
      const logGroup = referencedId((properties.LoggingConfig as { LogGroup?: unknown }).LogGroup) ?? '';
      expect(resources[logGroup]?.Type).toBe('AWS::Logs::LogGroup');
      expect(propertiesOf(logGroup).RetentionInDays).toEqual(expect.any(Number));
    }
    expect(roles.size).toBe(4);
  });

  it('reserves concurrency for correlate, no less than its mapping may use', () => {
    const correlate = propertiesOf(logicalIdOf(built.stack.correlate.function));
    expect(correlate.ReservedConcurrentExecutions).toEqual(expect.any(Number));
    for (const [, mapping] of sqsMappings()) {
      if (referencedId(mapping.Properties?.FunctionName) !== logicalIdOf(built.stack.correlate.function))
        continue;
      const cap = (mapping.Properties?.ScalingConfig as { MaximumConcurrency?: number } | undefined)
        ?.MaximumConcurrency;
      expect(cap).toBeLessThanOrEqual(correlate.ReservedConcurrentExecutions as number);
    }
  });

  it('runs sweep every minute from an EventBridge rule', () => {
    const rules = resourcesOfType(resources, 'AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0] ?? [];
    expect(rule?.Properties?.ScheduleExpression).toBe('rate(1 minute)');
    const targets = rule?.Properties?.Targets as { Arn: unknown }[];
    expect(targets.map((target) => referencedId(target.Arn))).toEqual([
      logicalIdOf(built.stack.sweep.function),
    ]);
  });

  it('serves the api behind an HTTP API whose one route goes to the api function, with access logs', () => {
    const apis = resourcesOfType(resources, 'AWS::ApiGatewayV2::Api');
    expect(apis.map(([, api]) => api.Properties?.ProtocolType)).toEqual(['HTTP']);
    const routes = resourcesOfType(resources, 'AWS::ApiGatewayV2::Route');
    expect(routes.map(([, route]) => route.Properties?.RouteKey)).toEqual(['$default']);
    const integrations = resourcesOfType(resources, 'AWS::ApiGatewayV2::Integration');
    expect(integrations).toHaveLength(1);
    expect(JSON.stringify(integrations[0]?.[1].Properties?.IntegrationUri)).toContain(
      logicalIdOf(built.stack.api.function),
    );
    const stages = resourcesOfType(resources, 'AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(1);
    const logs = stages[0]?.[1].Properties?.AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(resources[referencedId(logs.DestinationArn) ?? '']?.Type).toBe('AWS::Logs::LogGroup');
    expect(logs.Format).toContain('$context.requestId');
    expect(logs.Format).not.toMatch(/authorization/i);
  });
});

describe('the plan signing key', () => {
  const keyId = () => logicalIdOf(built.stack.planKey.key);
  const keyStatements = () => identityLikeStatements(propertiesOf(keyId()).KeyPolicy);
  const grantsSigning = (statement: Statement) =>
    statement.effect === 'Allow' &&
    statement.actions.some(
      (action) => actionCovers(action, 'kms:Sign') || actionCovers(action, 'kms:CreateGrant'),
    );

  it('is an ECC_NIST_P256 key for SIGN_VERIFY, kept when the stack goes', () => {
    expect(propertiesOf(keyId())).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect(resources[keyId()]?.DeletionPolicy).toBe('Retain');
  });

  it('lets only correlate and sweep sign, with ECDSA_SHA_256 only, per its key policy', () => {
    const signers = keyStatements()
      .filter(grantsSigning)
      .flatMap((statement) => {
        expect(statement.conditions.StringEquals?.['kms:SigningAlgorithm']).toBe('ECDSA_SHA_256');
        return statement.principals.map((principal) => referencedId(principal) ?? JSON.stringify(principal));
      });
    expect(signers.sort()).toEqual(
      [logicalIdOf(built.stack.correlate.role), logicalIdOf(built.stack.sweep.role)].sort(),
    );
  });

  it('does not let the account delegate signing through IAM', () => {
    const accountStatements = keyStatements().filter((statement) =>
      statement.principals.some((principal) => JSON.stringify(principal).includes(':root')),
    );
    expect(accountStatements.length).toBeGreaterThan(0);
    for (const statement of accountStatements) expect(grantsSigning(statement)).toBe(false);
  });

  it('is granted by no identity policy of the template', () => {
    for (const { statement } of identityStatements(resources)) {
      expect(grantsSigning(statement)).toBe(false);
      const onKey = statement.resources.some(
        (resource) => referencedId(resource) === keyId() || resource === '*',
      );
      if (onKey)
        expect(statement.actions.some((action) => action.toLowerCase().startsWith('kms:'))).toBe(false);
    }
  });
});

describe('the agents’ access', () => {
  const roleId = () => logicalIdOf(built.stack.agents.role);
  const trustAnchorId = () => logicalIdOf(built.stack.agents.trustAnchor);

  it('trusts the fleet’s CA, from the stack parameter, as an IAM Roles Anywhere trust anchor', () => {
    expect(propertiesOf(trustAnchorId())).toMatchObject({
      Enabled: true,
      Source: {
        SourceType: 'CERTIFICATE_BUNDLE',
        SourceData: { X509CertificateData: { Ref: 'AgentCaCertificate' } },
      },
    });
  });

  it('lets a session be opened only through that trust anchor, named after the certificate’s CN', () => {
    const trust = identityLikeStatements(propertiesOf(roleId()).AssumeRolePolicyDocument);
    for (const statement of trust) {
      expect(statement.principals).toEqual(['rolesanywhere.amazonaws.com']);
      expect(referencedId(statement.conditions.ArnEquals?.['aws:SourceArn'])).toBe(trustAnchorId());
    }
    const assume = trust.filter((statement) =>
      statement.actions.some((action) => actionCovers(action, 'sts:AssumeRole')),
    );
    expect(assume).toHaveLength(1);
    expect(assume[0]?.conditions.StringEquals?.['sts:RoleSessionName']).toBe(CERTIFICATE_CN);
  });

  it('may only send to the events queue', () => {
    expect(propertiesOf(roleId()).ManagedPolicyArns).toBeUndefined();
    const statements = identityStatements(resources).filter((entry) => entry.roleIds.includes(roleId()));
    expect(statements.map((entry) => entry.statement)).toEqual([
      expect.objectContaining({
        effect: 'Allow',
        actions: ['sqs:SendMessage'],
        resources: [{ 'Fn::GetAtt': [logicalIdOf(built.stack.eventsQueue.queue), 'Arn'] }],
      }),
    ]);
  });

  it('has a profile for that role alone, accepting the host id as session name, with the same single permission', () => {
    const profile = propertiesOf(logicalIdOf(built.stack.agents.profile));
    expect(profile.AcceptRoleSessionName).toBe(true);
    expect((profile.RoleArns as unknown[]).map(referencedId)).toEqual([roleId()]);
    const sessionPolicy = JSON.stringify(profile.SessionPolicy);
    expect(sessionPolicy).toContain('sqs:SendMessage');
    expect(sessionPolicy).toContain(logicalIdOf(built.stack.eventsQueue.queue));
    expect(sessionPolicy.match(/"Action/g)).toHaveLength(1);
  });
});

describe('the functions’ configuration', () => {
  /** The environment Lambda would give the function: the template's variables, resolved, and its region. */
  const lambdaEnvironment = (fn: FaultlineFunction): Record<string, string> => ({
    ...environmentOf(
      logicalIdOf(fn.function),
      built.template.toJSON() as Parameters<typeof environmentOf>[1],
    ),
    AWS_REGION: FAKE_REGION,
  });
  const variablesOf = (fn: FaultlineFunction): Record<string, unknown> =>
    (propertiesOf(logicalIdOf(fn.function)).Environment as { Variables: Record<string, unknown> }).Variables;
  const ref = (construct: Parameters<typeof logicalIdOf>[0]) => ({ Ref: logicalIdOf(construct) });

  it('gives correlate an environment its fromEnv accepts: its DLQ, maxReceiveCount and the api as trusted sender', () => {
    const settings = correlateFromEnv(lambdaEnvironment(built.stack.correlate)).settings;
    const redrive = propertiesOf(logicalIdOf(built.stack.eventsQueue.queue)).RedrivePolicy as {
      maxReceiveCount: number;
    };
    expect(settings.maxReceiveCount).toBe(redrive.maxReceiveCount);
    const variables = variablesOf(built.stack.correlate);
    expect(variables.FAULTLINE_EVENTS_DLQ_URL).toEqual(ref(built.stack.eventsQueue.deadLetterQueue));
    expect(variables.FAULTLINE_TRUSTED_SENDERS).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalIdOf(built.stack.api.role), 'RoleId'] }, ':']],
    });
    expect(settings.trustedSenders).toHaveLength(1);
  });

  it('gives correlate and sweep the store table, the plan key and the notify queue', () => {
    for (const fn of [built.stack.correlate, built.stack.sweep]) {
      const variables = variablesOf(fn);
      expect(variables.FAULTLINE_STORE).toEqual({
        'Fn::Join': ['', ['dynamodb:', ref(built.stack.store.table(STORE_TABLE_NAME))]],
      });
      expect(variables.FAULTLINE_PLAN_SIGNER).toEqual({
        'Fn::Join': ['', ['kms:', { 'Fn::GetAtt': [logicalIdOf(built.stack.planKey.key), 'Arn'] }]],
      });
      expect(variables.FAULTLINE_NOTIFY_QUEUE_URL).toEqual(ref(built.stack.notifyQueue.queue));
    }
    expect(() => sweepFromEnv(lambdaEnvironment(built.stack.sweep)).settings).not.toThrow();
  });

  it('lets sweep finish a decision record only once the correlate that wrote it has timed out', () => {
    const { graceSeconds } = sweepFromEnv(lambdaEnvironment(built.stack.sweep)).settings;
    const correlateTimeout = propertiesOf(logicalIdOf(built.stack.correlate.function)).Timeout as number;
    expect(graceSeconds).toBeGreaterThan(correlateTimeout);
  });

  it('gives the api an environment its fromEnv accepts: the store table and the events queue', () => {
    expect(() => apiFromEnv(lambdaEnvironment(built.stack.api))()).not.toThrow();
    const variables = variablesOf(built.stack.api);
    expect(variables.FAULTLINE_STORE).toEqual({
      'Fn::Join': ['', ['dynamodb:', ref(built.stack.store.table(STORE_TABLE_NAME))]],
    });
    expect(variables.FAULTLINE_EVENTS_QUEUE_URL).toEqual(ref(built.stack.eventsQueue.queue));
  });

  it('gives notify an environment its fromEnv accepts, with the configuration secret as deployed: its ARN, never its value', async () => {
    const environment = lambdaEnvironment(built.stack.notify);
    // The secret as the stack creates it, at the ARN the environment names, on a Secrets Manager
    // endpoint on loopback: notify reads it at run time.
    const initialValue = propertiesOf(logicalIdOf(built.stack.notifyConfig)).SecretString as string;
    secretsManager.create('NotifyConfig', initialValue, environment.FAULTLINE_NOTIFY_CONFIG_SECRET_ARN);
    const deps = notifyFromEnv(environment, { secretsManager: secretsManager.client() });
    await expect(deps.loadConfig()).resolves.toMatchObject({ destinations: [] });
    const variables = variablesOf(built.stack.notify);
    expect(variables.FAULTLINE_NOTIFY_CONFIG_SECRET_ARN).toEqual(ref(built.stack.notifyConfig));
    expect(variables).not.toHaveProperty('FAULTLINE_NOTIFY_CONFIG');
    expect(variables.FAULTLINE_NOTIFY_CONFIG_CACHE_SECONDS).toBe(String(NOTIFY_CONFIG_CACHE_SECONDS));
    expect(variables.FAULTLINE_NOTIFY_DLQ_URL).toEqual(ref(built.stack.notifyQueue.deadLetterQueue));
    // The store whose timelines keep the pages no destination takes.
    expect(variables.FAULTLINE_STORE).toEqual({
      'Fn::Join': ['', ['dynamodb:', ref(built.stack.store.table(STORE_TABLE_NAME))]],
    });
    expect(deps.timeline).toBeDefined();
  });

  it('names notify’s delivery log table, and the notify queue’s visibility timeout as the template sets it', () => {
    const variables = variablesOf(built.stack.notify);
    expect(variables.FAULTLINE_NOTIFY_DELIVERY_LOG).toEqual({
      'Fn::Join': ['', ['dynamodb:', ref(built.stack.deliveryLog.table)]],
    });
    const visibility = propertiesOf(logicalIdOf(built.stack.notifyQueue.queue)).VisibilityTimeout as number;
    expect(variables.FAULTLINE_NOTIFY_VISIBILITY_TIMEOUT_SECONDS).toBe(String(visibility));
    expect(notifyFromEnv(lambdaEnvironment(built.stack.notify)).visibilityTimeoutMs).toBe(visibility * 1000);
  });

  it('gives every function the stack’s name as the namespace of its embedded metrics', () => {
    for (const fn of [built.stack.correlate, built.stack.api, built.stack.notify, built.stack.sweep]) {
      expect(variablesOf(fn).FAULTLINE_METRICS_NAMESPACE).toBe(built.stack.stackName);
    }
  });
});

describe('the functions’ logs', () => {
  it('uses Lambda’s JSON log format on every function, the application at INFO and Lambda’s own lines from WARN', () => {
    const functions = resourcesOfType(resources, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(4);
    for (const [, fn] of functions) {
      expect(fn.Properties?.LoggingConfig).toEqual({
        LogFormat: 'JSON',
        ApplicationLogLevel: LOGGING.applicationLogLevel,
        SystemLogLevel: LOGGING.systemLogLevel,
        LogGroup: expect.anything(),
      });
    }
    expect(LOGGING.applicationLogLevel).toBe('INFO');
  });

  it('takes the application log level from the logLevel context, and refuses one Lambda does not know', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'faultline-infra-debug-'));
    try {
      const { stack } = createFaultlineApp({ outdir, context: { logLevel: 'debug' } });
      expect(stack.correlate.function.node.defaultChild).toBeDefined();
      const template = Template.fromStack(stack);
      template.allResourcesProperties('AWS::Lambda::Function', {
        LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'DEBUG', SystemLogLevel: 'WARN' },
      });
      expect(() => createFaultlineApp({ outdir, context: { logLevel: 'verbose' } })).toThrow(
        /logLevel=VERBOSE/,
      );
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('the functions’ permissions', () => {
  /** `action resource` for every identity-policy permission of a role, resources by logical id. */
  const permissionsOf = (fn: FaultlineFunction): string[] =>
    identityStatements(resources)
      .filter((entry) => entry.roleIds.includes(logicalIdOf(fn.role)))
      .flatMap(({ statement }) => {
        expect(statement.effect).toBe('Allow');
        return statement.actions.flatMap((action) =>
          statement.resources.map((resource) => `${action} ${describeResource(resource)}`),
        );
      })
      .sort();
  const describeResource = (resource: unknown): string => {
    const id = referencedId(resource);
    if (id !== undefined) return id;
    const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join !== undefined) return join[1].map((part) => referencedId(part) ?? String(part)).join(join[0]);
    return String(resource);
  };
  const id = (construct: Parameters<typeof logicalIdOf>[0]) => logicalIdOf(construct);
  const on = (resource: string, actions: readonly string[]) =>
    actions.map((action) => `${action} ${resource}`);
  const logs = (fn: FaultlineFunction) => on(id(fn.logGroup), ['logs:CreateLogStream', 'logs:PutLogEvents']);
  const consume = (queue: Parameters<typeof logicalIdOf>[0]) =>
    on(id(queue), [
      'sqs:ReceiveMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:GetQueueUrl',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
    ]);
  const send = (queue: Parameters<typeof logicalIdOf>[0]) => on(id(queue), ['sqs:SendMessage']);
  const store = () => {
    const table = id(built.stack.store.table(STORE_TABLE_NAME));
    const indexes = (built.stack.store.definitions[STORE_TABLE_NAME]?.globalSecondaryIndexes ?? []).map(
      (index) => `${table}/index/${index.indexName}`,
    );
    return [table, ...indexes].flatMap((resource) =>
      on(resource, [...STORE_READ_ACTIONS, ...STORE_WRITE_ACTIONS]),
    );
  };

  it('lets correlate consume events, dead-letter them, use the store and enqueue notifications, and no more', () => {
    const { stack } = built;
    expect(permissionsOf(stack.correlate)).toEqual(
      [
        ...logs(stack.correlate),
        ...consume(stack.eventsQueue.queue),
        ...send(stack.eventsQueue.deadLetterQueue),
        ...store(),
        ...send(stack.notifyQueue.queue),
      ].sort(),
    );
  });

  it('lets sweep use the store and enqueue notifications, and no more', () => {
    const { stack } = built;
    expect(permissionsOf(stack.sweep)).toEqual(
      [...logs(stack.sweep), ...store(), ...send(stack.notifyQueue.queue)].sort(),
    );
  });

  it('lets the api use the store and enqueue events, and no more', () => {
    const { stack } = built;
    expect(permissionsOf(stack.api)).toEqual(
      [...logs(stack.api), ...store(), ...send(stack.eventsQueue.queue)].sort(),
    );
  });

  it('lets notify consume notifications, dead-letter them, read its configuration, keep its delivery log and keep pages in incidents’ timelines, and no more', () => {
    const { stack } = built;
    expect(permissionsOf(stack.notify)).toEqual(
      [
        ...logs(stack.notify),
        ...consume(stack.notifyQueue.queue),
        ...send(stack.notifyQueue.deadLetterQueue),
        ...on(id(stack.notifyConfig), ['secretsmanager:GetSecretValue']),
        ...on(id(stack.store.table(STORE_TABLE_NAME)), ['dynamodb:PutItem']),
        ...on(id(stack.deliveryLog.table), DELIVERY_LOG_ACTIONS),
      ].sort(),
    );
    // Only new items of incidents' partitions: no token, plan or slice.
    const storeWrites = JSON.stringify(
      Object.values(resources).filter(
        (resource) =>
          resource.Type === 'AWS::IAM::Policy' &&
          JSON.stringify(resource.Properties?.Roles ?? []).includes(logicalIdOf(stack.notify.role)),
      ),
    );
    expect(storeWrites).toContain('"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["INCIDENT#*"]}');
  });

  it('grants the store exactly the calls the DynamoDB adapter makes', () => {
    const adapter = new URL('../../functions/adapters/store/', import.meta.url);
    const source = [
      'dynamodb-store.ts',
      ...readdirSync(new URL('dynamodb/', adapter)).map((name) => `dynamodb/${name}`),
    ]
      .filter((file) => file.endsWith('.ts'))
      .map((file) => readFileSync(new URL(file, adapter), 'utf8'))
      .join('\n');
    const ACTION_OF_COMMAND: Record<string, string> = {
      Get: 'dynamodb:GetItem',
      BatchGet: 'dynamodb:BatchGetItem',
      Query: 'dynamodb:Query',
      Scan: 'dynamodb:Scan',
      Put: 'dynamodb:PutItem',
      Update: 'dynamodb:UpdateItem',
      Delete: 'dynamodb:DeleteItem',
      BatchWrite: 'dynamodb:BatchWriteItem',
      TransactWrite: 'dynamodb:TransactWriteItems',
      TransactGet: 'dynamodb:TransactGetItems',
    };
    const used = new Set(
      [...source.matchAll(/new (\w+)Command\(/g)].map((match) => {
        const action = ACTION_OF_COMMAND[match[1] ?? ''];
        if (action === undefined)
          throw new Error(`the adapter calls ${match[1]}Command: map it to its IAM action`);
        return action;
      }),
    );
    expect([...used].sort()).toEqual([...STORE_READ_ACTIONS, ...STORE_WRITE_ACTIONS].sort());
  });
});

describe('the secrets', () => {
  const functionEnvironments = (): [string, unknown][] =>
    resourcesOfType(resources, 'AWS::Lambda::Function').map(([id, fn]) => [id, fn.Properties?.Environment]);

  it('has CloudFormation resolve no secret into any function’s environment', () => {
    const environments = functionEnvironments();
    expect(environments).toHaveLength(4);
    for (const [, environment] of environments) {
      const text = JSON.stringify(environment ?? {});
      expect(text).not.toContain('{{resolve:secretsmanager');
      expect(text).not.toContain('{{resolve:ssm-secure');
    }
  });

  it('puts no secret’s value in any function’s environment, each variable resolved as deployed', () => {
    const template = built.template.toJSON() as Parameters<typeof resolveValue>[1];
    const secretValues = resourcesOfType(resources, 'AWS::SecretsManager::Secret').map(
      ([, secret]) => secret.Properties?.SecretString,
    );
    expect(secretValues.length).toBeGreaterThan(0);
    for (const [id] of functionEnvironments()) {
      for (const value of Object.values(environmentOf(id, template))) {
        for (const secret of secretValues) {
          expect(typeof secret).toBe('string');
          expect(value).not.toContain(secret as string);
        }
      }
    }
  });

  it('lets notify alone read the notify configuration secret', () => {
    const readers = identityStatements(resources)
      .filter(({ statement }) =>
        statement.actions.some((action) => actionCovers(action, 'secretsmanager:GetSecretValue')),
      )
      .flatMap(({ roleIds }) => roleIds);
    expect(readers).toEqual([logicalIdOf(built.stack.notify.role)]);
  });
});

describe('the alarms', () => {
  /**
   * `metric on resource` for every alarm, the resource by logical id; for Faultline's own metrics,
   * `metric service=<function> <statistic> ≥ <threshold>` in the stack's namespace.
   */
  const alarms = () =>
    resourcesOfType(resources, 'AWS::CloudWatch::Alarm').map(([, alarm]) => {
      const properties = alarm.Properties ?? {};
      const dimensions = properties.Dimensions as { Name: string; Value: unknown }[];
      expect(dimensions).toHaveLength(1);
      expect(properties.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
      expect(properties.Threshold).toEqual(expect.any(Number));
      if (String(properties.Namespace).startsWith('AWS/'))
        return `${String(properties.MetricName)} ${referencedId(dimensions[0]?.Value) ?? ''}`;
      expect(properties.Namespace).toBe(built.stack.stackName);
      const statistic = String(properties.ExtendedStatistic ?? properties.Statistic);
      return `${String(properties.MetricName)} ${dimensions[0]?.Name}=${String(dimensions[0]?.Value)} ${statistic} ≥ ${String(properties.Threshold)}`;
    });

  it('watches the events refused at ingest and by correlate, and the time from ingest to visible', () => {
    const rejects = ALARM_THRESHOLDS.rejectedEvents;
    expect(alarms()).toEqual(
      expect.arrayContaining([
        `faultline_events_rejected_total service=api Sum ≥ ${rejects}`,
        `faultline_events_rejected_total service=correlate Sum ≥ ${rejects}`,
        `faultline_ingest_to_visible_seconds service=correlate p99 ≥ ${ALARM_THRESHOLDS.timeToVisibleP99Seconds}`,
      ]),
    );
  });

  it('names the metrics the functions write, as their catalogue names them', () => {
    expect(METRICS.eventsRejected.name).toBe(METRIC_NAMES.eventsRejected);
    expect(METRICS.ingestToVisible.name).toBe(METRIC_NAMES.ingestToVisible);
  });

  it('watches each DLQ’s depth and each work queue’s oldest message', () => {
    for (const workQueue of [built.stack.eventsQueue, built.stack.notifyQueue]) {
      expect(alarms()).toContain(
        `ApproximateNumberOfMessagesVisible ${logicalIdOf(workQueue.deadLetterQueue)}`,
      );
      expect(alarms()).toContain(`ApproximateAgeOfOldestMessage ${logicalIdOf(workQueue.queue)}`);
    }
  });

  it('watches each function’s errors and throttles', () => {
    for (const fn of [built.stack.correlate, built.stack.api, built.stack.notify, built.stack.sweep]) {
      expect(alarms()).toContain(`Errors ${logicalIdOf(fn.function)}`);
      expect(alarms()).toContain(`Throttles ${logicalIdOf(fn.function)}`);
    }
  });
});
