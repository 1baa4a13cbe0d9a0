import {
  type CounterKey,
  type GaugeKey,
  type HistogramKey,
  type LabelsOf,
  METRICS,
} from './metric-catalogue.ts';
import type { MetricSample, Metrics } from './metrics-port.ts';

/**
 * A `Metrics` that holds what it is told until `flush`, added up by metric and labels: a counter
 * told 40 times in a batch is one sample of 40, a gauge keeps its last value, a histogram its
 * observations. `flush` hands the samples to `publish` (EMF lines in Lambda; a message to the
 * thread that serves `/metrics` locally) and starts again empty; `drain` takes them without
 * publishing (tests).
 */
export class MetricsBuffer implements Metrics {
  readonly #publish: (samples: readonly MetricSample[]) => void;
  #counts = new Map<
    string,
    { metric: CounterKey; labels: Readonly<Record<string, string>>; value: number }
  >();
  #gauges = new Map<string, { metric: GaugeKey; labels: Readonly<Record<string, string>>; value: number }>();
  #observations = new Map<HistogramKey, number[]>();

  constructor(publish: (samples: readonly MetricSample[]) => void = () => undefined) {
    this.#publish = publish;
  }

  count<K extends CounterKey>(metric: K, labels: LabelsOf<K>, by = 1): void {
    if (by === 0) return;
    const key = keyOf(metric, labels);
    const held = this.#counts.get(key);
    if (held === undefined) this.#counts.set(key, { metric, labels, value: by });
    else held.value += by;
  }

  set<K extends GaugeKey>(metric: K, labels: LabelsOf<K>, value: number): void {
    this.#gauges.set(keyOf(metric, labels), { metric, labels, value });
  }

  observe<K extends HistogramKey>(metric: K, value: number): void {
    const held = this.#observations.get(metric);
    if (held === undefined) this.#observations.set(metric, [value]);
    else held.push(value);
  }

  /** What was recorded since the last flush or drain, emptied. */
  drain(): MetricSample[] {
    const samples: MetricSample[] = [];
    for (const { metric, labels, value } of this.#counts.values())
      samples.push({ kind: 'count', metric, labels, value });
    for (const { metric, labels, value } of this.#gauges.values())
      samples.push({ kind: 'set', metric, labels, value });
    for (const [metric, values] of this.#observations) samples.push({ kind: 'observe', metric, values });
    this.#counts = new Map();
    this.#gauges = new Map();
    this.#observations = new Map();
    return samples;
  }

  flush(): void {
    const samples = this.drain();
    if (samples.length === 0) return;
    try {
      this.#publish(samples);
    } catch {
      // Metrics never fail the work they describe.
    }
  }
}

/** Applies samples to another `Metrics` (the thread that serves `/metrics` applies its decider's). */
export const applySamples = (metrics: Metrics, samples: readonly MetricSample[]): void => {
  for (const sample of samples) {
    if (sample.kind === 'count') metrics.count(sample.metric, sample.labels as never, sample.value);
    else if (sample.kind === 'set') metrics.set(sample.metric, sample.labels as never, sample.value);
    else for (const value of sample.values) metrics.observe(sample.metric, value);
  }
};

const keyOf = (metric: CounterKey | GaugeKey, labels: Readonly<Record<string, string>>): string => {
  let key: string = metric;
  for (const label of METRICS[metric].labels as readonly string[]) key += `\u0000${labels[label] ?? ''}`;
  return key;
};
