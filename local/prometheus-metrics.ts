import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  type CounterKey,
  type GaugeKey,
  type HistogramKey,
  type LabelsOf,
  METRICS,
  type MetricKey,
} from '../functions/adapters/observability/metric-catalogue.ts';
import { applySamples } from '../functions/adapters/observability/metrics-buffer.ts';
import type { MetricSample, Metrics } from '../functions/adapters/observability/metrics-port.ts';

/**
 * The metrics port on the local runtime: prom-client counters, gauges and a histogram, one per
 * metric of the catalogue (functions/adapters/observability/metric-catalogue.ts), in a registry
 * of this control plane's own (never prom-client's global one), read as Prometheus text at
 * `GET /metrics` (control-plane.ts).
 *
 * The API and notify record here directly, on the thread that serves `/metrics`; correlate and
 * sweep, in the decider thread, record into a buffer that is shipped here after each batch and
 * applied with {@link PrometheusMetrics.apply}. The queues' depth and age are read when scraped
 * (`collectQueues`), not recorded.
 */

/** One queue as `/metrics` shows it, read at each scrape. */
export interface QueueReading {
  readonly queue: string;
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
  /** Seconds the oldest message has waited; 0 when the queue is empty. */
  readonly oldestAgeSeconds: number;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type AnyCounter = Counter<string>;
type AnyGauge = Gauge<string>;
type AnyHistogram = Histogram<string>;

export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  readonly #counters = new Map<MetricKey, AnyCounter>();
  readonly #gauges = new Map<MetricKey, AnyGauge>();
  readonly #histograms = new Map<MetricKey, AnyHistogram>();

  constructor(options: { readonly collectQueues?: () => Promise<readonly QueueReading[]> } = {}) {
    const registers = [this.registry];
    const { collectQueues } = options;
    const readQueues = (): Promise<readonly QueueReading[]> => collectQueues?.() ?? Promise.resolve([]);
    for (const [key, metric] of Object.entries(METRICS) as [MetricKey, (typeof METRICS)[MetricKey]][]) {
      const base = { name: metric.name, help: metric.help, labelNames: [...metric.labels], registers };
      if (metric.type === 'counter') this.#counters.set(key, new Counter(base));
      else if (metric.type === 'histogram')
        this.#histograms.set(key, new Histogram({ ...base, buckets: [...metric.buckets] }));
      else if (key === 'queueMessages' && collectQueues !== undefined)
        this.#gauges.set(
          key,
          new Gauge({
            ...base,
            async collect() {
              for (const queue of await readQueues()) {
                this.set({ queue: queue.queue, state: 'visible' }, queue.visible);
                this.set({ queue: queue.queue, state: 'in_flight' }, queue.inFlight);
                this.set({ queue: queue.queue, state: 'delayed' }, queue.delayed);
              }
            },
          }),
        );
      else if (key === 'queueOldestAge' && collectQueues !== undefined)
        this.#gauges.set(
          key,
          new Gauge({
            ...base,
            async collect() {
              for (const queue of await readQueues())
                this.set({ queue: queue.queue }, queue.oldestAgeSeconds);
            },
          }),
        );
      else this.#gauges.set(key, new Gauge(base));
    }
  }

  count<K extends CounterKey>(metric: K, labels: LabelsOf<K>, by = 1): void {
    if (by > 0) this.#counters.get(metric)?.inc(labels as Record<string, string>, by);
  }

  set<K extends GaugeKey>(metric: K, labels: LabelsOf<K>, value: number): void {
    this.#gauges.get(metric)?.set(labels as Record<string, string>, value);
  }

  observe<K extends HistogramKey>(metric: K, value: number): void {
    this.#histograms.get(metric)?.observe(value);
  }

  /** Nothing is buffered here. */
  flush(): void {}

  /** Applies what another thread recorded (the decider's buffer, shipped after each batch). */
  apply(samples: readonly MetricSample[]): void {
    applySamples(this, samples);
  }

  /** The registry as Prometheus text (version 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
