import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  type ApplicationLogLevel,
  Architecture,
  LoggingFormat,
  Runtime,
  type SystemLogLevel,
} from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DEPS_LOCK_FILE, handlerEntry, PROJECT_ROOT } from '../paths.ts';
import type { WorkQueue } from './work-queue.ts';

/** The functions of docs/architecture.md §2, each `functions/<name>/handler.ts`. */
export type FunctionName = 'correlate' | 'api' | 'notify' | 'sweep';

export interface FaultlineFunctionProps {
  readonly name: FunctionName;
  readonly description: string;
  readonly timeout: Duration;
  readonly memoryMiB: number;
  /** What the function's composition root (functions/lambda/) validates: the only configuration it gets. */
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: RetentionDays;
  /** The levels Lambda keeps (its advanced logging controls; Powertools Logger obeys the application's). */
  readonly logLevels: {
    readonly application: `${ApplicationLogLevel}`;
    readonly system: `${SystemLogLevel}`;
  };
  readonly reservedConcurrency?: number;
}

export interface QueueConsumerOptions {
  readonly batchSize: number;
  readonly maxBatchingWindow: Duration;
  readonly maxConcurrency: number;
}

/**
 * esbuild's ESM output has no `require`; the AWS SDK still calls it for Node built-ins
 * (`require('node:https')`), so the bundle gets one (TOOLCHAIN.md).
 */
const CREATE_REQUIRE_BANNER =
  "import { createRequire as faultlineCreateRequire } from 'node:module'; const require = faultlineCreateRequire(import.meta.url);";

/** Variables every function gets; each composition root ignores what it does not read. */
const COMMON_ENVIRONMENT = {
  /** Stack traces point into the TypeScript sources, not the minified bundle. */
  NODE_OPTIONS: '--enable-source-maps',
  /** The pinned SDK clients print a notice on Node 22 (TOOLCHAIN.md); it is noise in the logs. */
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
} as const;

/**
 * One Faultline function: `functions/<name>/handler.ts` bundled by the local esbuild (never
 * Docker) into one ESM file with the pinned AWS SDK inside, on Node.js 22 for arm64, with its own
 * execution role (only what it is granted, plus writing its own log group) and its own log group
 * with a retention, in Lambda's JSON log format at the levels it is given.
 */
export class FaultlineFunction extends Construct {
  readonly name: FunctionName;
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: FaultlineFunctionProps) {
    super(scope, id);
    this.name = props.name;
    this.timeout = props.timeout;

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Faultline ${props.name}: execution role`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: handlerEntry(props.name),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memoryMiB,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: props.logLevels.application as ApplicationLogLevel,
      systemLogLevelV2: props.logLevels.system as SystemLogLevel,
      environment: { ...COMMON_ENVIRONMENT, ...props.environment },
      ...(props.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrency }),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: DEPS_LOCK_FILE,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        target: 'node22',
        banner: CREATE_REQUIRE_BANNER,
        bundleAwsSDK: true,
        minify: true,
        keepNames: true,
        sourceMap: true,
        sourcesContent: false,
      },
    });
    // The function (and so its event source mappings) waits for the role's policies, grants made
    // later included: Lambda checks a mapping's permissions on the queue when creating it.
    this.function.node.addDependency(this.role);
  }

  /**
   * Consumes a work queue through an event source mapping that reports partial batch failures
   * (`ReportBatchItemFailures`), so one bad record never sends its whole batch round again.
   * Also lets the function send to the queue's DLQ: it dead-letters rejected records itself,
   * with their reason.
   */
  consume(workQueue: WorkQueue, options: QueueConsumerOptions): void {
    workQueue.assertConsumerFits(this.timeout);
    this.function.addEventSource(
      new SqsEventSource(workQueue.queue, {
        batchSize: options.batchSize,
        maxBatchingWindow: options.maxBatchingWindow,
        maxConcurrency: options.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    workQueue.grantSendToDeadLetterQueue(this.role);
  }
}
