import type { MirrorRecovering } from '../../events/index.ts';
import { escalate } from './incidents.ts';
import type { HostPlan, HostSlice } from './model.ts';
import { toMs } from './time.ts';
import type { Transaction } from './transaction.ts';

/**
 * Plans that stall (docs/architecture.md §5.9): a plan with no progress for its stall limit (no
 * step started or finished, no rise in a resync's synced sectors; a queued resync counts as
 * progress), and a plan whose steps all succeeded while its host stays unhealthy past that limit
 * (a reinstate that "succeeded" while the path stays failed), escalate their incident once.
 */

const stallMs = (txn: Transaction, plan: HostPlan): number =>
  (plan.stallSeconds ?? txn.config.planStallSeconds) * 1000;

/** Whether the plan is still expected to move its host: running, or done with its host not yet healthy. */
const isWatched = (host: HostSlice, plan: HostPlan): boolean => {
  if (plan.escalated === true || plan.mode !== 'execute') return false;
  if (plan.status === 'issued' || plan.status === 'started') return true;
  if (plan.status !== 'succeeded') return false;
  const status = host.episodes[plan.incidentId]?.status;
  return status === 'planned' || status === 'failed';
};

/** When each watched plan of the host stalls: what the host's timer must wake for. */
export const stallTimes = (txn: Transaction, host: HostSlice): number[] =>
  Object.values(host.plans)
    .filter((plan) => isWatched(host, plan))
    .map((plan) => toMs(plan.lastProgressAt) + stallMs(txn, plan));

/** Escalates, once per incident, each watched plan of the host that reached its stall limit. */
export const escalateStalledPlans = (txn: Transaction, host: HostSlice): void => {
  for (const id of Object.keys(host.plans).sort()) {
    const plan = host.plans[id];
    if (plan === undefined || !isWatched(host, plan)) continue;
    if (toMs(plan.lastProgressAt) + stallMs(txn, plan) > toMs(txn.now)) continue;
    const owned = txn.own(host.plans, id);
    if (owned === undefined) continue;
    owned.escalated = true;
    const domain = txn.readDomain(plan.failureDomain);
    const episode = domain.episode;
    if (
      episode === undefined ||
      episode.incident.id !== plan.incidentId ||
      episode.incident.status === 'resolved'
    )
      continue;
    if (domain.maintenance || host.maintenance) continue;
    const minutes = Math.round((toMs(txn.now) - toMs(plan.lastProgressAt)) / 60_000);
    const what =
      plan.status === 'succeeded'
        ? `its steps succeeded ${minutes} minutes ago but ${host.hostId} is still not healthy`
        : `no progress for ${minutes} minutes`;
    const writable = txn.domain(plan.failureDomain).episode;
    if (writable === undefined) continue;
    escalate(txn, writable.incident, `plan ${plan.id} on ${host.hostId}: ${what}`, {
      host: host.hostId,
      planId: plan.id,
      changed: plan.changed,
    });
  }
};

/**
 * How far a resync got: its synced sectors (DESIGN §3: `md/sync_completed`) when the event carries
 * them, else its percentage.
 */
const resyncMeasure = (data: MirrorRecovering['data']): number => data.syncedSectors ?? data.progress;

/**
 * A resync's report is progress for the host's running plans when it got further than the last
 * report, or when it has not started (queued behind another resync): a slow resync is not a stall,
 * a resync stuck at the same sector is.
 */
export const recordResyncProgress = (txn: Transaction, host: HostSlice, event: MirrorRecovering): void => {
  const measure = resyncMeasure(event.data);
  for (const id of Object.keys(host.plans).sort()) {
    const plan = host.plans[id];
    if (plan === undefined || !isWatched(host, plan)) continue;
    const before = plan.syncedSectors?.[event.data.array];
    if (measure > 0 && before !== undefined && measure <= before) continue;
    const owned = txn.own(host.plans, id);
    if (owned === undefined) continue;
    owned.lastProgressAt = txn.now;
    owned.syncedSectors = { ...(owned.syncedSectors ?? {}), [event.data.array]: measure };
  }
};
