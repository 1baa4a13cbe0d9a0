/**
 * Every metric Faultline records (docs/architecture.md §6 "Observability"), by one name in both
 * runtimes: Prometheus text at `GET /metrics` locally (local/prometheus-metrics.ts) and CloudWatch
 * embedded metrics in Lambda (./emf-metrics.ts), where the labels become dimensions and the
 * function's name is the `service` dimension. Names follow Prometheus' conventions (a unit suffix,
 * `_total` on counters), so a dashboard or an alarm reads the same name wherever it runs; infra/
 * names them in its alarms (a test holds the two lists together).
 *
 * Labels are a closed, small set of values each (a reason code, an outcome, a queue's name), never
 * an id: a label that took a host or an incident id would grow with the fleet.
 */

/** Prometheus' default buckets, stretched to minutes: the cloud's ingest → visible includes SQS batching. */
const LATENCY_BUCKETS_SECONDS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
] as const;

export const METRICS = {
  eventsAccepted: {
    name: 'faultline_events_accepted_total',
    type: 'counter',
    help: 'Events accepted: by ingest (queued for correlate) and by correlate (decided, or found already decided)',
    labels: ['stage'],
  },
  eventsRejected: {
    name: 'faultline_events_rejected_total',
    type: 'counter',
    help: 'Events refused, by stage and reason code: at ingest (answered 400 or listed as rejected), by correlate (dead-lettered with the reason)',
    labels: ['stage', 'reason'],
  },
  deadLettered: {
    name: 'faultline_dead_lettered_total',
    type: 'counter',
    help: 'Records a consumer sent to its dead-letter queue with a reason (not those the queue moved after maxReceiveCount receives)',
    labels: ['queue'],
  },
  decisions: {
    name: 'faultline_decisions_total',
    type: 'counter',
    help: 'Decisions of the core, by what asked for one (an event, an operator command, a timer) and what came of it',
    labels: ['trigger', 'outcome'],
  },
  incidentChanges: {
    name: 'faultline_incident_changes_total',
    type: 'counter',
    help: 'Incidents opened and the moments of their timeline (down, up, canary, wave, healthy, halted, escalated, operator, resolved)',
    labels: ['change'],
  },
  openIncidents: {
    name: 'faultline_open_incidents',
    type: 'gauge',
    help: 'Incidents not resolved, by kind (counted by sweep)',
    labels: ['kind'],
  },
  plans: {
    name: 'faultline_plans_total',
    type: 'counter',
    help: 'Remediation plans by outcome: issued, revoked, healed (its host healthy again) or failed',
    labels: ['outcome'],
  },
  deliveries: {
    name: 'faultline_deliveries_total',
    type: 'counter',
    help: 'Notifications by destination and outcome; destination "none" when no destination is configured (the page is kept in its incident\'s timeline)',
    labels: ['destination', 'outcome'],
  },
  queueMessages: {
    name: 'faultline_queue_messages',
    type: 'gauge',
    help: "Messages in each queue, by state (visible, in_flight, delayed); the cloud has SQS's own metrics for this",
    labels: ['queue', 'state'],
  },
  queueOldestAge: {
    name: 'faultline_queue_oldest_message_age_seconds',
    type: 'gauge',
    help: "How long the oldest message of each queue has waited (0 when empty); the cloud has SQS's own metric for this",
    labels: ['queue'],
  },
  ingestToVisible: {
    name: 'faultline_ingest_to_visible_seconds',
    type: 'histogram',
    help: "From an event's receivedat (stamped by ingest) to correlate having applied it (its incident readable through the API)",
    labels: [],
    buckets: LATENCY_BUCKETS_SECONDS,
  },
} as const;

export type MetricKey = keyof typeof METRICS;
export type MetricDefinition = (typeof METRICS)[MetricKey];

/** The metrics of one type. */
export type CounterKey = {
  [K in MetricKey]: (typeof METRICS)[K]['type'] extends 'counter' ? K : never;
}[MetricKey];
export type GaugeKey = {
  [K in MetricKey]: (typeof METRICS)[K]['type'] extends 'gauge' ? K : never;
}[MetricKey];
export type HistogramKey = {
  [K in MetricKey]: (typeof METRICS)[K]['type'] extends 'histogram' ? K : never;
}[MetricKey];

/** The labels a metric takes, each a string (an empty object for a metric without labels). */
export type LabelsOf<K extends MetricKey> = { readonly [L in (typeof METRICS)[K]['labels'][number]]: string };

/** Every metric name, as both runtimes publish it. */
export const METRIC_NAMES: readonly string[] = Object.values(METRICS).map((metric) => metric.name);
