import type { Metrics } from '../adapters/observability/metrics-port.ts';
import type { WorkQueue } from '../adapters/queue/port.ts';
import type { ProjectionWriter } from '../adapters/store/port.ts';
import type { NotifyConfig } from './config.ts';
import type { DeliveryLog } from './delivery-log.ts';

/** What notify needs (functions/lambda/ builds it on Lambda, local/ on one machine). */
export interface NotifyDeps {
  /**
   * The destinations; called before every batch, and caching on its own side (on Lambda the secret
   * for a few minutes, so a rotation takes effect): the same object back means nothing changed.
   */
  readonly loadConfig: () => Promise<NotifyConfig>;
  readonly deliveryLog: DeliveryLog;
  /** Where records that are not notifications, or that a destination refused for good, go. */
  readonly deadLetterQueue: Pick<WorkQueue, 'send'>;
  /** The notify queue's name, recorded on dead-lettered records; by default from the records' ARN. */
  readonly sourceQueue?: string;
  /**
   * The notify queue's visibility timeout, in ms: how long after a batch is received the queue may
   * hand its records to another consumer. A delivery's lease ends a margin before that (and its
   * tries with it), so a consumer that crashed or stalled never holds a claim the record's next
   * receive has to wait out, or races it (notify.ts). Default: 30 s, SQS's own default and no
   * longer than any queue Faultline makes; pass the real one (Lambda: the notify queue's
   * `VisibilityTimeout`; local: `queues.visibilityTimeoutSeconds`).
   */
  readonly visibilityTimeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** One structured entry per line: `level` (debug, info, warn, error), `message` and fields. */
  readonly log?: (entry: Readonly<Record<string, unknown>>) => void;
  /**
   * Where a page is kept when no destination is configured: a timeline entry of its incident
   * (notify.ts). Without it such a page is only logged and acknowledged. Read when a page needs
   * it, not when the handler is made (on Lambda it is made from the environment then).
   */
  readonly timeline?: Pick<ProjectionWriter, 'putTimeline'> | undefined;
  /** Deliveries counted per destination and outcome, flushed at the end of each batch; none by default. */
  readonly metrics?: Metrics;
}
