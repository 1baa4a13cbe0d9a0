import { type Metrics, noMetrics } from '../adapters/observability/metrics-port.ts';
import { observedProjections } from '../adapters/observability/observed-projections.ts';
import type { ProjectionReader } from '../adapters/store/port.ts';
import type { IncidentKind, IncidentStatus } from '../core/index.ts';
import { engineOnFirstUse } from '../outbox/engine.ts';
import type { SweepDeps } from './deps.ts';

export type { SweepDeps, SweepSettings } from './deps.ts';

/**
 * sweep: runs every minute (an EventBridge schedule; the local runtime's interval). Wiring only,
 * on the decision engine of functions/outbox/:
 *
 * 1. Finishes what crashes left: decision records older than the grace period that are still
 *    pending (settled: committed if their slices can all be locked, else aborted, and decided
 *    again when their input comes back) or committed (rolled forward, effects performed).
 * 2. Fires the core's timers that are due (`keysForWake` + `tick`): dispatch after the stability
 *    period, hold-downs, escalations, expired plan slots, silent servers.
 * 3. Purges rows past their retention where the store has no TTL (SQLite).
 *
 * Young records are left to the correlate that is writing them (the grace period): finishing
 * them too would be harmless, every step being idempotent, but would enqueue their
 * notifications twice (notify delivers each once anyway).
 *
 * Observability (docs/architecture.md §6): the timers fired count as decisions, incident changes
 * are told as correlate tells them (../adapters/observability/observed-projections.ts), and, when the
 * store can list incidents, each run sets `faultline_open_incidents` by kind, counted from the
 * store's status index (at most {@link OPEN_INCIDENTS_COUNTED} of them). Metrics are flushed at
 * the end of each run.
 */

/** The statuses of an incident not yet resolved. */
const OPEN_STATUSES: readonly IncidentStatus[] = ['open', 'awaiting-recovery', 'remediating', 'halted'];
const KINDS: readonly IncidentKind[] = ['outage', 'local', 'double-fault'];
/** The most open incidents one run counts, so a run's cost stays bounded whatever is open. */
export const OPEN_INCIDENTS_COUNTED = 10_000;
const PAGE = 500;

/** Sets `faultline_open_incidents` by kind from the store's listing by status. */
const countOpenIncidents = async (
  store: Pick<ProjectionReader, 'listIncidents'>,
  metrics: Metrics,
): Promise<void> => {
  const byKind = new Map<IncidentKind, number>(KINDS.map((kind) => [kind, 0]));
  let counted = 0;
  for (const status of OPEN_STATUSES) {
    let cursor: string | undefined;
    do {
      const page = await store.listIncidents({
        status,
        limit: PAGE,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const incident of page.items) byKind.set(incident.kind, (byKind.get(incident.kind) ?? 0) + 1);
      counted += page.items.length;
      cursor = page.cursor;
    } while (cursor !== undefined && counted < OPEN_INCIDENTS_COUNTED);
  }
  for (const [kind, count] of byKind) metrics.set('openIncidents', { kind }, count);
};
export interface SweepReport {
  readonly finished: number;
  readonly aborted: number;
  readonly timersFired: number;
  readonly purged: number;
}

const jsonLog = (entry: Readonly<Record<string, unknown>>): void => {
  console.log(JSON.stringify({ service: 'sweep', ...entry }));
};

export const createHandler = (deps: SweepDeps): ((event?: unknown) => Promise<SweepReport>) => {
  const log = deps.log ?? jsonLog;
  const metrics = deps.metrics ?? noMetrics;
  const clock = deps.clock ?? Date.now;
  // `deps.settings` and `deps.store` are read on the first invocation, not now: on Lambda that
  // validates the environment. The engine writes through a store told of each incident change.
  const runtime = engineOnFirstUse(deps, clock, log, (store) => observedProjections(store, { metrics, log }));

  return async () => {
    try {
      const { engine, settings } = runtime();
      const started = clock();
      const { finished, aborted } = await engine.finishUnfinished(
        started - settings.graceSeconds * 1000,
        settings.finishLimit,
      );
      const timersFired = await engine.tickDue(new Date(clock()).toISOString(), settings.tickLimit);
      metrics.count('decisions', { trigger: 'timer', outcome: 'applied' }, timersFired);
      const purged = deps.store.purgeExpired === undefined ? 0 : await deps.store.purgeExpired(clock());
      const report = { finished, aborted, timersFired, purged };
      if (finished + aborted + timersFired + purged > 0) log({ level: 'debug', ...report });
      if (deps.metrics !== undefined && deps.store.listIncidents !== undefined) {
        await countOpenIncidents({ listIncidents: deps.store.listIncidents.bind(deps.store) }, metrics).catch(
          (error: Error) =>
            log({ level: 'warn', message: `counting the open incidents failed: ${error.message}` }),
        );
      }
      return report;
    } finally {
      metrics.flush();
    }
  };
};
