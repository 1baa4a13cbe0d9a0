import { CfnOutput, CfnParameter, Duration, SecretValue, Stack, type StackProps } from 'aws-cdk-lib';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { AgentAccess } from './constructs/agent-access.ts';
import { DeliveryLogTable } from './constructs/delivery-log-table.ts';
import { FaultlineFunction } from './constructs/faultline-function.ts';
import { FaultlineHttpApi } from './constructs/faultline-http-api.ts';
import { OperationalAlarms } from './constructs/operational-alarms.ts';
import { PlanSigningKey } from './constructs/plan-signing-key.ts';
import { StoreTables, type TableDefinition } from './constructs/store-tables.ts';
import { WorkQueue } from './constructs/work-queue.ts';
import {
  AGENT_ACCESS,
  ALARM_THRESHOLDS,
  API_SETTINGS,
  CORRELATE_RESERVED_CONCURRENCY,
  FUNCTION_SIZING,
  LOG_RETENTION,
  LOGGING,
  METRIC_NAMES,
  NOTIFY_CONFIG_CACHE_SECONDS,
  QUEUE_CONSUMERS,
  SWEEP_GRACE_SECONDS,
  SWEEP_SCHEDULE_MINUTES,
} from './settings.ts';

/** The table the functions' `FAULTLINE_STORE` names, among the store's tables. */
export const STORE_TABLE_NAME = 'store';

export interface FaultlineStackProps extends StackProps {
  /** The store's tables, as the DynamoDB adapter defines them; one of them named {@link STORE_TABLE_NAME}. */
  readonly tables: Readonly<Record<string, TableDefinition>>;
  /** An SNS topic for the alarms; none: they show in the console only. */
  readonly alarmTopicArn?: string;
  /** The functions' application log level; default `LOGGING.applicationLogLevel` (INFO). */
  readonly applicationLogLevel?: ApplicationLogLevelName;
}

/** The application log levels Lambda's logging controls know. */
export const APPLICATION_LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type ApplicationLogLevelName = (typeof APPLICATION_LOG_LEVELS)[number];

/** The notify configuration a fresh deployment starts with: no destinations, so nothing is sent. */
const EMPTY_NOTIFY_CONFIG = JSON.stringify({ destinations: [] });

/**
 * Faultline on AWS (docs/architecture.md §2): the events and notify queues with their DLQs, the store's
 * tables, notify's delivery log, correlate, api, notify and sweep, the HTTP API, the sweep
 * schedule, the plans' signing key, the notify configuration secret (which notify reads at run
 * time: no secret is ever in a function's environment), the agents' access through IAM Roles
 * Anywhere, and the alarms. infra/README.md says how to deploy it and point agents at it.
 */
export class FaultlineStack extends Stack {
  readonly eventsQueue: WorkQueue;
  readonly notifyQueue: WorkQueue;
  readonly store: StoreTables;
  readonly deliveryLog: DeliveryLogTable;
  readonly planKey: PlanSigningKey;
  readonly notifyConfig: Secret;
  readonly correlate: FaultlineFunction;
  readonly api: FaultlineFunction;
  readonly notify: FaultlineFunction;
  readonly sweep: FaultlineFunction;
  readonly httpApi: FaultlineHttpApi;
  readonly agents: AgentAccess;
  readonly alarms: OperationalAlarms;

  constructor(scope: Construct, id: string, props: FaultlineStackProps) {
    super(scope, id, props);

    // ———————————————————————————————————————— parameters

    const agentCaCertificate = new CfnParameter(this, 'AgentCaCertificate', {
      type: 'String',
      description:
        'PEM certificate of the CA that issues the hosts\u2019 certificates (subject CN = host id): the IAM Roles Anywhere trust anchor',
      allowedPattern: '^-----BEGIN CERTIFICATE-----[\\s\\S]+-----END CERTIFICATE-----\\s*$',
      constraintDescription: 'a PEM certificate (-----BEGIN CERTIFICATE----- ...)',
    });

    // ———————————————————————————————————————— queues and store

    this.eventsQueue = new WorkQueue(this, 'EventsQueue', {
      consumerTimeout: Duration.seconds(FUNCTION_SIZING.correlate.timeoutSeconds),
      batchingWindow: Duration.seconds(QUEUE_CONSUMERS.correlate.maxBatchingWindowSeconds),
    });
    this.notifyQueue = new WorkQueue(this, 'NotifyQueue', {
      consumerTimeout: Duration.seconds(FUNCTION_SIZING.notify.timeoutSeconds),
      batchingWindow: Duration.seconds(QUEUE_CONSUMERS.notify.maxBatchingWindowSeconds),
    });
    this.store = new StoreTables(this, 'Store', { definitions: props.tables });
    this.deliveryLog = new DeliveryLogTable(this, 'DeliveryLog');
    this.planKey = new PlanSigningKey(this, 'PlanSigningKey');

    this.notifyConfig = new Secret(this, 'NotifyConfig', {
      description:
        'Faultline notify: destinations as JSON (PagerDuty routing keys, Slack webhook URLs, webhook secrets); see infra/README.md',
      secretStringValue: SecretValue.unsafePlainText(EMPTY_NOTIFY_CONFIG),
    });

    // ———————————————————————————————————————— functions

    /**
     * Every function: the CloudWatch namespace of its embedded metrics (functions/lambda/
     * observability.ts), the stack's name, which the alarms below read; its logs' levels.
     */
    const metricsNamespace = this.stackName;
    const observed = {
      logRetention: LOG_RETENTION,
      logLevels: {
        application: props.applicationLogLevel ?? LOGGING.applicationLogLevel,
        system: LOGGING.systemLogLevel,
      },
    } as const;
    const metricsEnvironment = { FAULTLINE_METRICS_NAMESPACE: metricsNamespace };

    /** What correlate and sweep share (functions/lambda/deciding.ts): the store, the signer, notify. */
    const outboxEnvironment = {
      FAULTLINE_STORE: `dynamodb:${this.store.table(STORE_TABLE_NAME).tableName}`,
      FAULTLINE_PLAN_SIGNER: `kms:${this.planKey.key.keyArn}`,
      FAULTLINE_NOTIFY_QUEUE_URL: this.notifyQueue.queue.queueUrl,
    };

    this.api = new FaultlineFunction(this, 'Api', {
      name: 'api',
      description: 'Faultline api: the HTTP API (events, plans, incidents, control)',
      timeout: Duration.seconds(FUNCTION_SIZING.api.timeoutSeconds),
      memoryMiB: FUNCTION_SIZING.api.memoryMiB,
      ...observed,
      environment: {
        ...metricsEnvironment,
        FAULTLINE_STORE: outboxEnvironment.FAULTLINE_STORE,
        FAULTLINE_EVENTS_QUEUE_URL: this.eventsQueue.queue.queueUrl,
      },
    });
    this.correlate = new FaultlineFunction(this, 'Correlate', {
      name: 'correlate',
      description:
        'Faultline correlate: applies events from the events queue to the store, performs the outbox',
      timeout: Duration.seconds(FUNCTION_SIZING.correlate.timeoutSeconds),
      memoryMiB: FUNCTION_SIZING.correlate.memoryMiB,
      reservedConcurrency: CORRELATE_RESERVED_CONCURRENCY,
      ...observed,
      environment: {
        ...metricsEnvironment,
        ...outboxEnvironment,
        FAULTLINE_EVENTS_DLQ_URL: this.eventsQueue.deadLetterQueue.queueUrl,
        FAULTLINE_EVENTS_MAX_RECEIVE_COUNT: String(this.eventsQueue.maxReceiveCount),
        // The api's stamp (`FaultlineSender`) is believed from the api's role sessions only:
        // SenderId `<role id>:<session>` (functions/correlate/messages.ts).
        FAULTLINE_TRUSTED_SENDERS: `${this.api.role.roleId}:`,
      },
    });
    this.notify = new FaultlineFunction(this, 'Notify', {
      name: 'notify',
      description: 'Faultline notify: delivers notifications to PagerDuty, Slack and webhooks',
      timeout: Duration.seconds(FUNCTION_SIZING.notify.timeoutSeconds),
      memoryMiB: FUNCTION_SIZING.notify.memoryMiB,
      ...observed,
      environment: {
        ...metricsEnvironment,
        // Where a page no destination takes is kept: its incident's timeline (functions/notify/notify.ts).
        FAULTLINE_STORE: outboxEnvironment.FAULTLINE_STORE,
        // The secret's ARN only: notify reads the value at run time, cached for a few minutes, so it
        // is never in the environment (readable with lambda:GetFunctionConfiguration) and a
        // put-secret-value takes effect with no deployment (functions/lambda/notify.ts).
        FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: this.notifyConfig.secretArn,
        FAULTLINE_NOTIFY_CONFIG_CACHE_SECONDS: String(NOTIFY_CONFIG_CACHE_SECONDS),
        FAULTLINE_NOTIFY_DLQ_URL: this.notifyQueue.deadLetterQueue.queueUrl,
        // A delivery's lease ends before the queue may hand the record to another consumer.
        FAULTLINE_NOTIFY_VISIBILITY_TIMEOUT_SECONDS: String(this.notifyQueue.visibilityTimeout.toSeconds()),
        // Durable across instances and cold starts: a redelivered record never pages twice.
        FAULTLINE_NOTIFY_DELIVERY_LOG: `dynamodb:${this.deliveryLog.table.tableName}`,
      },
    });
    this.sweep = new FaultlineFunction(this, 'Sweep', {
      name: 'sweep',
      description: 'Faultline sweep: fires due timers and drains the outbox, every minute',
      timeout: Duration.seconds(FUNCTION_SIZING.sweep.timeoutSeconds),
      memoryMiB: FUNCTION_SIZING.sweep.memoryMiB,
      ...observed,
      environment: {
        ...metricsEnvironment,
        ...outboxEnvironment,
        FAULTLINE_SWEEP_GRACE_SECONDS: String(SWEEP_GRACE_SECONDS),
      },
    });

    // ———————————————————————————————————————— wiring and grants

    this.correlate.consume(this.eventsQueue, {
      batchSize: QUEUE_CONSUMERS.correlate.batchSize,
      maxBatchingWindow: Duration.seconds(QUEUE_CONSUMERS.correlate.maxBatchingWindowSeconds),
      maxConcurrency: QUEUE_CONSUMERS.correlate.maxConcurrency,
    });
    this.notify.consume(this.notifyQueue, {
      batchSize: QUEUE_CONSUMERS.notify.batchSize,
      maxBatchingWindow: Duration.seconds(QUEUE_CONSUMERS.notify.maxBatchingWindowSeconds),
      maxConcurrency: QUEUE_CONSUMERS.notify.maxConcurrency,
    });

    this.store.grant(this.correlate.role, 'read-write');
    this.store.grant(this.sweep.role, 'read-write');
    this.store.grant(this.api.role, 'read-write');
    // notify writes only the timeline rows of pages kept for want of a destination.
    this.store.grantIncidentTimelineWrites(this.notify.role);
    this.deliveryLog.grantDeliveries(this.notify.role);
    this.planKey.allowSigning(this.correlate.role, 'Correlate');
    this.planKey.allowSigning(this.sweep.role, 'Sweep');
    this.notifyQueue.grantSend(this.correlate.role);
    this.notifyQueue.grantSend(this.sweep.role);
    this.eventsQueue.grantSend(this.api.role);
    this.notify.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [this.notifyConfig.secretArn],
      }),
    );

    new Rule(this, 'SweepSchedule', {
      description: 'Faultline sweep: every minute',
      schedule: Schedule.rate(Duration.minutes(SWEEP_SCHEDULE_MINUTES)),
      // A missed tick is covered by the next one: no retries piling up behind a slow sweep.
      targets: [
        new LambdaFunction(this.sweep.function, {
          retryAttempts: 0,
          maxEventAge: Duration.minutes(SWEEP_SCHEDULE_MINUTES),
        }),
      ],
    });

    this.httpApi = new FaultlineHttpApi(this, 'HttpApi', {
      handler: this.api.function,
      logRetention: LOG_RETENTION,
      rateLimitPerSecond: API_SETTINGS.rateLimitPerSecond,
      burstLimit: API_SETTINGS.burstLimit,
    });

    this.agents = new AgentAccess(this, 'Agents', {
      eventsQueue: this.eventsQueue.queue,
      caCertificate: agentCaCertificate.valueAsString,
      sessionDuration: Duration.seconds(AGENT_ACCESS.sessionDurationSeconds),
    });

    // ———————————————————————————————————————— alarms

    this.alarms = new OperationalAlarms(this, 'Alarms', {
      thresholds: ALARM_THRESHOLDS,
      ...(props.alarmTopicArn === undefined
        ? {}
        : { action: new SnsAction(Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn)) }),
    });
    this.alarms.watchQueue('Events', this.eventsQueue);
    this.alarms.watchQueue('Notify', this.notifyQueue);
    for (const fn of [this.correlate, this.api, this.notify, this.sweep]) this.alarms.watchFunction(fn);
    this.alarms.watchFaultline({ namespace: metricsNamespace, ...METRIC_NAMES });

    // ———————————————————————————————————————— outputs (infra/README.md)

    const output = (id: string, value: string, description: string): void => {
      new CfnOutput(this, id, { value, description });
    };
    output('Region', this.region, 'The region agents send to (targets.sqs.region)');
    output('ApiUrl', this.httpApi.url, 'The HTTP API (targets.api.url)');
    output('EventsQueueUrl', this.eventsQueue.queue.queueUrl, 'The events queue (targets.sqs.queueUrl)');
    output(
      'AgentTrustAnchorArn',
      this.agents.trustAnchor.attrTrustAnchorArn,
      'aws_signing_helper --trust-anchor-arn',
    );
    output('AgentProfileArn', this.agents.profile.attrProfileArn, 'aws_signing_helper --profile-arn');
    output('AgentRoleArn', this.agents.role.roleArn, 'aws_signing_helper --role-arn');
    output(
      'PlanSigningKeyArn',
      this.planKey.key.keyArn,
      'aws kms get-public-key --key-id: the key agents verify plans with',
    );
    output(
      'NotifyConfigSecretArn',
      this.notifyConfig.secretArn,
      'aws secretsmanager put-secret-value --secret-id',
    );
    output(
      'EventsDeadLetterQueueUrl',
      this.eventsQueue.deadLetterQueue.queueUrl,
      'Rejected and poison events',
    );
    output(
      'NotifyDeadLetterQueueUrl',
      this.notifyQueue.deadLetterQueue.queueUrl,
      'Undeliverable notifications',
    );
  }
}
