import type { WorkQueue } from '../adapters/queue/port.ts';
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
  readonly log?: (entry: Readonly<Record<string, unknown>>) => void;
}
