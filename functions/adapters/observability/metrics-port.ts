import type { CounterKey, GaugeKey, HistogramKey, LabelsOf } from './metric-catalogue.ts';

/**
 * The metrics port (docs/architecture.md §6 "Observability"): what the handlers count, set and
 * observe, by the names of ./metric-catalogue.ts, with one adapter per runtime: Prometheus locally
 * (local/prometheus-metrics.ts), CloudWatch embedded metrics in Lambda (./emf-metrics.ts), a
 * buffer for a thread that ships its figures elsewhere or a test that reads them (./metrics-buffer.ts).
 *
 * Why so small: a handler says what happened (`count('eventsAccepted', { stage: 'ingest' }, 40)`)
 * and nothing about how a backend aggregates it. Callers count once per request or per batch with
 * the count, not once per event: ingest is the hot path the benchmarks measure.
 */
export interface Metrics {
  /** Adds `by` (default 1) to a counter. */
  count<K extends CounterKey>(metric: K, labels: LabelsOf<K>, by?: number): void;
  /** Sets a gauge to `value`. */
  set<K extends GaugeKey>(metric: K, labels: LabelsOf<K>, value: number): void;
  /** Records one observation of a distribution (seconds). */
  observe<K extends HistogramKey>(metric: K, value: number): void;
  /**
   * The end of a unit of work (a Lambda invocation, a local batch): an adapter that buffers
   * publishes what it holds (EMF lines, a message to the thread that serves `/metrics`). Never throws.
   */
  flush(): void;
}

/** What a buffering adapter holds between flushes, by metric and labels (./metrics-buffer.ts). */
export type MetricSample =
  | {
      readonly kind: 'count';
      readonly metric: CounterKey;
      readonly labels: Readonly<Record<string, string>>;
      readonly value: number;
    }
  | {
      readonly kind: 'set';
      readonly metric: GaugeKey;
      readonly labels: Readonly<Record<string, string>>;
      readonly value: number;
    }
  | { readonly kind: 'observe'; readonly metric: HistogramKey; readonly values: readonly number[] };

/** Records nothing: the default where a runtime wires no metrics (tests, scripts). */
export const noMetrics: Metrics = {
  count: () => undefined,
  set: () => undefined,
  observe: () => undefined,
  flush: () => undefined,
};
