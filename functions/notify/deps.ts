import type { Metrics } from '../adapters/observability/metrics-port.ts';
import type { WorkQueue } from '../adapters/queue/port.ts';
import type { ProjectionWriter } from '../adapters/store/port.ts';
import type { NotifyConfig } from './config.ts';
import type { DeliveryLog } from './delivery-log.ts';

/** What notify needs (functions/lambda/ builds it on Lambda, local/ on one machine). */
export interface NotifyDeps {
  /** The destinations; read once, on the first batch (the cloud's seam for Secrets Manager). */
  readonly loadConfig: () => Promise<NotifyConfig>;
  readonly deliveryLog: DeliveryLog;
  /** Where records that are not notifications, or that a destination refused for good, go. */
  readonly deadLetterQueue: Pick<WorkQueue, 'send'>;
  /** The notify queue's name, recorded on dead-lettered records; by default from the records' ARN. */
  readonly sourceQueue?: string;
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
