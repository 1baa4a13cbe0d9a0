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
 */
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
  const clock = deps.clock ?? Date.now;
  // `deps.settings` is read on the first invocation, not now: on Lambda that validates the environment.
  const runtime = engineOnFirstUse(deps, clock, log);

  return async () => {
    const { engine, settings } = runtime();
    const started = clock();
    const { finished, aborted } = await engine.finishUnfinished(
      started - settings.graceSeconds * 1000,
      settings.finishLimit,
    );
    const timersFired = await engine.tickDue(new Date(clock()).toISOString(), settings.tickLimit);
    const purged = deps.store.purgeExpired === undefined ? 0 : await deps.store.purgeExpired(clock());
    const report = { finished, aborted, timersFired, purged };
    if (finished + aborted + timersFired + purged > 0) log({ level: 'info', ...report });
    return report;
  };
};
