import { Logger } from '@aws-lambda-powertools/logger';
import { z } from 'zod';
import { publishEmf } from '../adapters/observability/emf-metrics.ts';
import { type Log, splitEntry } from '../adapters/observability/log-entry.ts';
import { MetricsBuffer } from '../adapters/observability/metrics-buffer.ts';
import type { Metrics } from '../adapters/observability/metrics-port.ts';
import { type Env, once } from './environment.ts';

/**
 * The logger and the metrics of each function on Lambda (docs/architecture.md §6 "Observability"):
 * - logs through Powertools Logger, one JSON object per line, under Lambda's JSON log format; the
 *   level is Lambda's (its advanced logging controls set `AWS_LAMBDA_LOG_LEVEL`, which Powertools
 *   obeys; `info` when unset), so a `debug` line costs nothing at `info`;
 * - metrics as CloudWatch embedded metric format lines (Powertools Metrics), in the namespace
 *   `FAULTLINE_METRICS_NAMESPACE` (default `Faultline`; infra sets the stack's), with the
 *   function's name as the `service` dimension, written at the end of each invocation.
 *
 * Nothing here opens anything: the logger is made when the handler module loads, the namespace is
 * read on the first flush.
 */

export const DEFAULT_METRICS_NAMESPACE = 'Faultline';

const ObservabilityEnv = z.object({
  FAULTLINE_METRICS_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9 ._/#:-]{1,255}$/, 'a CloudWatch namespace')
    .default(DEFAULT_METRICS_NAMESPACE),
});

/** A log that writes each entry through Powertools Logger, at the entry's level. */
export const powertoolsLog =
  (logger: Logger): Log =>
  (entry) => {
    const { level, message, fields } = splitEntry(entry);
    logger[level](message, { ...fields });
  };

export interface Observability {
  readonly log: Log;
  readonly metrics: Metrics;
}

/** One function's log and metrics, `service` being its name (api, correlate, notify, sweep). */
export const lambdaObservability = (service: string, env: Env): Observability => {
  const namespace = once(() => {
    const parsed = ObservabilityEnv.safeParse(env);
    return parsed.success ? parsed.data.FAULTLINE_METRICS_NAMESPACE : DEFAULT_METRICS_NAMESPACE;
  });
  return {
    log: powertoolsLog(new Logger({ serviceName: service })),
    metrics: new MetricsBuffer((samples) => publishEmf(samples, { namespace: namespace(), service })),
  };
};
