import type { MirrorRecovering } from '../../events/index.ts';
import { escalate } from './incidents.ts';
import type { HostPlan, HostSlice } from './model.ts';
import { sortedKeys, sortWith } from './order.ts';
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

/**
 * When the host's agent counts as silent during an open incident that waits on it (§5.9: "an agent
 * silent past three heartbeats during its incident"): its plan is out (issued or running) and nothing
 * came from it for `silentHeartbeats` of its heartbeat interval since it was last heard or since the
 * plan went out, whichever is later; by incident, for those whose silence has not escalated yet. This
 * is well before its plan slot expires (`slotTimeoutSeconds`). Only an agent whose interval is known
 * (it heartbeated) can miss a heartbeat.
 */
const silences = (txn: Transaction, host: HostSlice): { incidentId: string; at: number }[] => {
  const interval = host.intervalSeconds;
  const lastSeenAt = host.lastSeenAt;
  if (interval === undefined || lastSeenAt === undefined) return [];
  const found: { incidentId: string; at: number }[] = [];
  for (const record of Object.values(host.episodes)) {
    if (record.status !== 'planned' || record.silentSince === lastSeenAt) continue;
    const plan = record.planId === undefined ? undefined : host.plans[record.planId];
    if (plan === undefined || (plan.status !== 'issued' && plan.status !== 'started')) continue;
    const episode = txn.readDomain(record.failureDomain).episode;
    if (episode?.incident.id !== record.incidentId || episode.incident.status === 'resolved') continue;
    if (episode.incident.escalated) continue;
    const since = Math.max(toMs(lastSeenAt), toMs(plan.issuedAt));
    found.push({ incidentId: record.incidentId, at: since + txn.config.silentHeartbeats * interval * 1000 });
  }
  return sortWith(found, (a, b) => (a.incidentId < b.incidentId ? -1 : 1));
};

/** When the host's timer must wake for its agent's silence during its incidents. */
export const silenceTimes = (txn: Transaction, host: HostSlice): number[] =>
  silences(txn, host).map((silence) => silence.at);

/** Escalates, once per incident, an agent silent past `silentHeartbeats` heartbeats during it (§5.9). */
const escalateSilentAgent = (txn: Transaction, host: HostSlice): void => {
  for (const silence of silences(txn, host)) {
    if (silence.at > toMs(txn.now)) continue;
    const record = txn.own(host.episodes, silence.incidentId);
    if (record === undefined || host.lastSeenAt === undefined) continue;
    record.silentSince = host.lastSeenAt;
    const domain = txn.readDomain(record.failureDomain);
    if (domain.maintenance || host.maintenance) continue;
    const writable = txn.domain(record.failureDomain).episode;
    if (writable === undefined) continue;
    const minutes = Math.round((toMs(txn.now) - toMs(host.lastSeenAt)) / 60_000);
    escalate(
      txn,
      writable.incident,
      `${host.hostId} has been silent for ${minutes} minutes (past ${txn.config.silentHeartbeats} heartbeats) while its plan ${record.planId} is out`,
      { host: host.hostId },
    );
  }
};

/**
 * Escalates, once per incident, each watched plan of the host that reached its stall limit, and the
 * host's agent silent past three heartbeats during an incident it is still unhealthy in (§5.9).
 */
export const escalateStalledPlans = (txn: Transaction, host: HostSlice): void => {
  escalateSilentAgent(txn, host);
  for (const id of sortedKeys(host.plans)) {
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
  for (const id of sortedKeys(host.plans)) {
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
