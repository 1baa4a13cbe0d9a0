import { readFileSync } from 'node:fs';
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { TableDefinition } from './constructs/store-tables.ts';
import {
  APPLICATION_LOG_LEVELS,
  type ApplicationLogLevelName,
  FaultlineStack,
  STORE_TABLE_NAME,
} from './faultline-stack.ts';
import { applyNagSuppressions } from './nag-suppressions.ts';
import { STORE_TABLE_FILE } from './paths.ts';

export interface FaultlineAppOptions {
  /** Where the cloud assembly goes; by default the CLI's `cdk.out` (or a temporary folder). */
  readonly outdir?: string;
  /** The store's tables; by default the DynamoDB adapter's own definition. */
  readonly tables?: Readonly<Record<string, TableDefinition>>;
  /** Context values, as `cdk synth -c key=value` would set them. */
  readonly context?: Readonly<Record<string, string>>;
}

/** The store's tables as the DynamoDB adapter defines them (read from its layout file): one table, `store`. */
export const STORE_TABLES: Readonly<Record<string, TableDefinition>> = {
  [STORE_TABLE_NAME]: JSON.parse(readFileSync(STORE_TABLE_FILE, 'utf8')) as TableDefinition,
};

/** The stack's name when the `stackName` context does not set one. */
export const DEFAULT_STACK_NAME = 'Faultline';

/**
 * The one CDK app: the Faultline stack, checked by cdk-nag's AwsSolutions rules (an unsuppressed
 * error fails `cdk synth`). Context:
 * - `stackName`: deploy several Faultlines to one account (default `Faultline`);
 * - `alarmTopicArn`: an SNS topic the alarms notify;
 * - `logLevel`: the functions' application log level (`DEBUG` adds one line per decision; default `INFO`).
 */
export const createFaultlineApp = (
  options: FaultlineAppOptions = {},
): { app: App; stack: FaultlineStack } => {
  const app = new App({
    ...(options.outdir === undefined ? {} : { outdir: options.outdir }),
    ...(options.context === undefined ? {} : { context: { ...options.context } }),
  });
  const stackName = contextString(app, 'stackName') ?? DEFAULT_STACK_NAME;
  const alarmTopicArn = contextString(app, 'alarmTopicArn');
  const logLevel = contextString(app, 'logLevel')?.toUpperCase();
  if (logLevel !== undefined && !(APPLICATION_LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new Error(`-c logLevel=${logLevel}: one of ${APPLICATION_LOG_LEVELS.join(', ')}`);
  }
  const stack = new FaultlineStack(app, stackName, {
    description: 'Faultline: fault responder for virtualized storage fleets',
    tables: options.tables ?? STORE_TABLES,
    ...(alarmTopicArn === undefined ? {} : { alarmTopicArn }),
    ...(logLevel === undefined ? {} : { applicationLogLevel: logLevel as ApplicationLogLevelName }),
  });
  applyNagSuppressions(stack);
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, stack };
};

const contextString = (app: App, key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
};
