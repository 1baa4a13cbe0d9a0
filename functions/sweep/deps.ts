import type { Metrics } from '../adapters/observability/metrics-port.ts';
import type { WorkQueue } from '../adapters/queue/port.ts';
import type { PlanSigner } from '../adapters/signer/port.ts';
import type {
  OutboxStore,
  ProjectionReader,
  ProjectionWriter,
  SliceStore,
  Store,
} from '../adapters/store/port.ts';
import type { CoreConfig } from '../core/index.ts';

/** What sweep needs: its settings and its ports (functions/lambda/ builds them on Lambda, local/ on one machine). */
export interface SweepSettings {
  readonly core: CoreConfig;
  /** Decision records younger than this are left to their owner. */
  readonly graceSeconds: number;
  /** At most this many records finished per run. */
  readonly finishLimit: number;
  /** At most this many timers fired per run. */
  readonly tickLimit: number;
}

export interface SweepDeps {
  /** Read once, on the first run. */
  readonly settings: SweepSettings;
  /** With `listIncidents`, each run counts the open incidents by kind (a gauge). */
  readonly store: SliceStore &
    OutboxStore &
    ProjectionWriter &
    Pick<Store, 'purgeExpired'> &
    Partial<Pick<ProjectionReader, 'listIncidents'>>;
  readonly signer: PlanSigner;
  readonly notifyQueue: Pick<WorkQueue, 'send'>;
  /** The wall clock (ms): the core's `now`. */
  readonly clock?: () => number;
  /** One structured entry per line: `level` (debug, info, warn, error), `message` and fields. */
  readonly log?: (entry: Readonly<Record<string, unknown>>) => void;
  /** Counted per run and flushed at its end (../adapters/observability/); none by default. */
  readonly metrics?: Metrics;
}
