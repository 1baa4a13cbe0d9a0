import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/**
 * The figures the stack is built from, in one place, each with why it is what it is. Constructs
 * take them as props; nothing below infra/ hard-codes a number of its own.
 */

/** How long each function may run, and how much memory (hence CPU) it gets. */
export const FUNCTION_SIZING = {
  /**
   * correlate applies a batch: loads the slices its events touch, decides, writes each slice and
   * its outbox conditionally (retrying on conflict), then performs the outbox (KMS signatures,
   * notify messages). 30 s is ample for a batch of 50 and keeps the events queue's visibility
   * timeout (6× this) at a few minutes, so a crashed batch comes back soon.
   */
  correlate: { timeoutSeconds: 30, memoryMiB: 1024 },
  /** Behind API Gateway, whose integration timeout is 30 s; no request holds a connection open. */
  api: { timeoutSeconds: 10, memoryMiB: 512 },
  /**
   * notify retries a destination in place (backoff, `Retry-After` up to 30 s, 10 s per request):
   * one record's worst case under the default retry policy, a 135 s lease
   * (functions/notify/notify.ts `leaseMsFor`), plus the 5 s it keeps to record the delivery and
   * answer, and a few seconds waiting in place for a lane in flight, must fit in one invocation,
   * so that its last try is not cut off. A batch of several slow records need not: notify ends
   * every lease before the timeout and hands back the records it has no time left for.
   */
  notify: { timeoutSeconds: 150, memoryMiB: 256 },
  /** Runs every minute; it must end before the next tick is due. */
  sweep: { timeoutSeconds: 55, memoryMiB: 512 },
} as const;

/** How the event source mappings batch and how far they fan out. */
export const QUEUE_CONSUMERS = {
  correlate: {
    /**
     * Large enough that a storm is applied in few batches (slices touched by many events of one
     * batch are loaded and written once), small enough to fill in well under a second at the
     * §7 steady rate of 1,000 events/s.
     */
    batchSize: 50,
    /** The most an event waits for its batch to fill when the fleet is quiet. */
    maxBatchingWindowSeconds: 1,
    /**
     * Pollers invoking correlate at once. Equal to its reserved concurrency, so the mapping never
     * invokes more copies than may run (no throttles, no messages bounced back to the queue).
     */
    maxConcurrency: 10,
  },
  notify: {
    batchSize: 10,
    /** A page should not wait: the batch goes as soon as it has anything. */
    maxBatchingWindowSeconds: 0,
    /** The smallest SQS allows: paging services rate-limit, and order within a batch is kept. */
    maxConcurrency: 2,
  },
} as const;

/**
 * correlate's reserved concurrency (docs/architecture.md §2): a ceiling on the writers contending for one
 * domain slice, and a floor no other function in the account can take away. An account must have
 * at least this much above its 100 unreserved executions (new accounts with a limit of 10 must ask
 * for more before deploying).
 */
export const CORRELATE_RESERVED_CONCURRENCY = QUEUE_CONSUMERS.correlate.maxConcurrency;

export const QUEUE_SETTINGS = {
  /**
   * The visibility timeout is at least this many times the consumer's timeout (AWS's advice for
   * Lambda consumers: a batch that is retried while its first try still runs is not hidden).
   */
  visibilityTimeoutFactor: 6,
  /** Receives before SQS moves a message to the DLQ: enough to ride out a throttled store. */
  maxReceiveCount: 5,
  /** Agents spool on disk as well, so four days in the queue is plenty. */
  retentionDays: 4,
  /** The most SQS keeps anything: time for an operator to read why and redrive. */
  deadLetterRetentionDays: 14,
} as const;

/**
 * How old an unfinished decision record must be before sweep finishes it instead of the correlate
 * writing it: twice correlate's timeout, so that correlate has certainly stopped (finishing it
 * early is harmless but enqueues its notifications twice; functions/sweep/handler.ts).
 */
export const SWEEP_GRACE_SECONDS = 2 * FUNCTION_SIZING.correlate.timeoutSeconds;

/**
 * How long notify uses the configuration it read from its secret before reading it again
 * (functions/lambda/notify-config-secret.ts): a rotation (`put-secret-value`) reaches every warm
 * notify within this time, and a busy notify reads the secret about once per instance per 5 minutes,
 * a few cents a month.
 */
export const NOTIFY_CONFIG_CACHE_SECONDS = 300;

/** Schedules (docs/architecture.md §2: sweep fires the core's timers and drains the outbox every minute). */
export const SWEEP_SCHEDULE_MINUTES = 1;

/** How long logs are kept: one month of function logs and API access logs. */
export const LOG_RETENTION = RetentionDays.ONE_MONTH;

export const API_SETTINGS = {
  /**
   * Stage-wide throttling: a fleet of thousands posting every minute plus polling plans is far
   * below this; a runaway client is not.
   */
  rateLimitPerSecond: 1_000,
  burstLimit: 2_000,
} as const;

/** Agents' sessions through IAM Roles Anywhere. */
export const AGENT_ACCESS = {
  /** One hour: the credential helper renews before expiry (agent/publish/credential-process.ts). */
  sessionDurationSeconds: 3_600,
} as const;

/**
 * How the functions log (docs/architecture.md §6 "Observability"): Lambda's JSON log format, so
 * Powertools Logger's lines are kept as the JSON objects they are and Lambda's own lines are JSON
 * too; the application's level is `INFO` (one line per incident change and per delivery, warnings,
 * errors), `DEBUG` on request (`-c logLevel=DEBUG`: one line per decision as well), and Lambda's
 * own lines from `WARN` (no START/END/REPORT line per invocation: CloudWatch has those figures as
 * metrics, and they would cost more than the function's own logs at a storm's rate).
 */
export const LOGGING = {
  applicationLogLevel: 'INFO',
  systemLogLevel: 'WARN',
} as const;

/**
 * The metrics the functions write as CloudWatch embedded metrics (functions/adapters/observability/
 * metric-catalogue.ts names them; a test holds these names to it): their namespace is the stack's
 * name, so two Faultlines in one account keep theirs apart.
 */
export const METRIC_NAMES = {
  eventsRejected: 'faultline_events_rejected_total',
  ingestToVisible: 'faultline_ingest_to_visible_seconds',
} as const;

/** When the alarms fire. */
export const ALARM_THRESHOLDS = {
  /** Any message in a DLQ needs a person: it is a reject with its reason, or a poison message. */
  deadLetterMessages: 1,
  /** Oldest message in a work queue, in seconds: five minutes behind means correlate is stuck. */
  oldestMessageAgeSeconds: 300,
  /** Errors (invocations that failed as a whole) in one five-minute period. */
  functionErrors: 1,
  /** Throttled invocations in one five-minute period. */
  functionThrottles: 1,
  /**
   * Events refused in one five-minute period, by ingest (answered 400 or listed rejected) or by
   * correlate (dead-lettered): a few happen while an agent is upgraded ahead of the control plane;
   * ten is a producer, a grant or an agent version to fix.
   */
  rejectedEvents: 10,
  /**
   * The 99th percentile of ingest → visible over five minutes, in seconds. The cloud's path holds
   * SQS's batching window (1 s) and a batch of 50; thirty seconds means correlate is falling behind
   * (throttled, contended, a slow store) long before the oldest-message alarm (five minutes).
   */
  timeToVisibleP99Seconds: 30,
  periodMinutes: 5,
} as const;
