import { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import { METRICS } from './metric-catalogue.ts';
import { MetricsBuffer } from './metrics-buffer.ts';
import type { MetricSample, Metrics } from './metrics-port.ts';

/**
 * The metrics port on Lambda: CloudWatch embedded metric format (EMF) lines, written to stdout by
 * Powertools Metrics, which CloudWatch Logs turns into metrics of `namespace` without an API call.
 * What a handler records is added up over the invocation (./metrics-buffer.ts) and written when the handler
 * flushes, at its end: one line per label set, so a batch of 50 events costs a few lines, not 50.
 *
 * Dimensions: `service` (the function: api, correlate, notify, sweep) on every metric, and the
 * metric's labels (./metric-catalogue.ts). A labelled metric is also published under `service` alone, so
 * an alarm can watch its total (a CloudWatch alarm cannot add up the values of a dimension).
 * A histogram's observations go as a list of values, from which CloudWatch computes percentiles.
 */

export interface EmfOptions {
  /** The CloudWatch namespace (infra sets it per stack). */
  readonly namespace: string;
  /** The `service` dimension: the function's name. */
  readonly service: string;
}

type Unit = 'Count' | 'Seconds';

const unitOf = (name: string): Unit => (name.endsWith('_seconds') ? 'Seconds' : 'Count');

interface Group {
  readonly labels: Readonly<Record<string, string>>;
  readonly values: { readonly name: string; readonly value: number }[];
}

/** Writes `samples` as EMF lines, one per label set. */
export const publishEmf = (samples: readonly MetricSample[], options: EmfOptions): void => {
  const groups = new Map<string, Group>();
  const groupOf = (labels: Readonly<Record<string, string>>): Group => {
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
    let group = groups.get(key);
    if (group === undefined) {
      group = { labels, values: [] };
      groups.set(key, group);
    }
    return group;
  };
  for (const sample of samples) {
    const { name } = METRICS[sample.metric];
    if (sample.kind === 'observe') {
      const group = groupOf({});
      for (const value of sample.values) group.values.push({ name, value });
    } else {
      groupOf(sample.labels).values.push({ name, value: sample.value });
    }
  }
  for (const group of groups.values()) {
    const emf = new PowertoolsMetrics({ namespace: options.namespace, serviceName: options.service });
    if (Object.keys(group.labels).length > 0) {
      emf.addDimensions({});
      emf.addDimensions({ ...group.labels });
    }
    for (const { name, value } of group.values) emf.addMetric(name, unitOf(name), value);
    emf.publishStoredMetrics();
  }
};

/** EMF metrics for one function: recorded over an invocation, written at its `flush`. */
export const emfMetrics = (options: EmfOptions): Metrics =>
  new MetricsBuffer((samples) => publishEmf(samples, options));
