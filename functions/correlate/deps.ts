import type { Metrics } from '../adapters/observability/metrics-port.ts';
import type { WorkQueue } from '../adapters/queue/port.ts';
import type { PlanSigner } from '../adapters/signer/port.ts';
import type { HostRegistry, OutboxStore, ProjectionWriter, SliceStore } from '../adapters/store/port.ts';
import type { CoreConfig } from '../core/index.ts';

/** What correlate needs: its settings and its ports (functions/lambda/ builds them on Lambda, local/ on one machine). */
export interface CorrelateSettings {
  readonly core: CoreConfig;
  /** SenderIds whose `FaultlineSender` stamp is believed: the API (see messages.ts). */
  readonly trustedSenders: readonly string[];
  /** The events queue's `maxReceiveCount`: a refused record goes to the DLQ on that receive. */
  readonly maxReceiveCount: number;
  /** How many due timers to fire after each batch. */
  readonly tickLimit: number;
}

export interface CorrelateDeps {
  /** Read once, on the first batch. */
  readonly settings: CorrelateSettings;
  /** The slices, the outbox and its projections; and the registry, to judge what agents send straight to SQS. */
  readonly store: SliceStore & OutboxStore & ProjectionWriter & Pick<HostRegistry, 'getHostRecord'>;
  readonly signer: PlanSigner;
  readonly notifyQueue: Pick<WorkQueue, 'send'>;
  readonly deadLetterQueue: Pick<WorkQueue, 'send'>;
  /** The events queue's name, recorded on dead-lettered records; by default from the records' ARN. */
  readonly sourceQueue?: string;
  /** The wall clock (ms): the core's `now`. */
  readonly clock?: () => number;
  /** One structured entry per line: `level` (debug, info, warn, error), `message` and fields. */
  readonly log?: (entry: Readonly<Record<string, unknown>>) => void;
  /** Counted per batch and flushed at its end (../adapters/observability/); none by default. */
  readonly metrics?: Metrics;
}
