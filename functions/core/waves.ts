import type { UnsignedPlan } from '../../events/index.ts';
import { markHealthy, maybeResolve, modeOf, openEpisode } from './episodes.ts';
import { deriveId } from './ids.ts';
import { escalate, timeline } from './incidents.ts';
import type { DomainSlice, Episode, HostSlice } from './model.ts';
import { planFor } from './planners.ts';
import { addSeconds, toMs } from './time.ts';
import type { Transaction } from './transaction.ts';

/**
 * Waves of guarded plans (docs/architecture.md §5.5, 5.7): after the stability period a single canary, then
 * at most N plans in flight per failure domain, the next as each host reports healthy; pause,
 * maintenance, approve and dry-run modes, and slots that expire when their host goes silent.
 */

/** How many waiting hosts a loader should hand to a domain's tick. */
export const waitingBatch = (maxPlansInFlight: number): number => maxPlansInFlight + 1;

const expireSlots = (txn: Transaction, domain: DomainSlice, episode: Episode): void => {
  for (const slot of Object.values(episode.slots).sort((a, b) => (a.hostId < b.hostId ? -1 : 1))) {
    if (toMs(slot.expiresAt) > toMs(txn.now)) continue;
    delete episode.slots[slot.hostId];
    txn.followUp({
      type: 'internal.revoke',
      hostId: slot.hostId,
      planId: slot.planId,
      at: txn.now,
      requeue: false,
    });
    timeline(
      txn,
      episode.incident.id,
      `plan ${slot.planId} expired: ${slot.hostId} went silent`,
      slot.hostId,
    );
    if (episode.canaryHost === slot.hostId && !episode.canaryDone) {
      // A silent canary proves nothing: stop here and let a person look.
      episode.halted = { at: txn.now, reason: `canary ${slot.hostId} went silent`, untilResumed: true };
      episode.incident.status = 'halted';
      txn.touch(episode.incident);
    }
    if (!domain.maintenance) {
      escalate(
        txn,
        episode.incident,
        `${slot.hostId} went silent during its plan on ${domain.failureDomain}`,
        {
          host: slot.hostId,
          planId: slot.planId,
        },
      );
    }
  }
};

/** Issues one host's plan, or settles it when it needs none or none is safe. Returns whether a plan went out. */
const issue = (
  txn: Transaction,
  domain: DomainSlice,
  episode: Episode,
  host: HostSlice,
  wave: number,
): boolean => {
  if (host.episodes[episode.incident.id]?.status !== 'waiting') return false;
  const record = txn.own(host.episodes, episode.incident.id);
  if (record === undefined) return false;
  const outcome = planFor({
    host,
    failureDomain: domain.failureDomain,
    config: txn.config,
    isDomainUp: txn.isDomainUp,
    downAt: episode.downAt,
  });
  if (outcome.kind === 'healthy') {
    markHealthy(txn, host, record.incidentId, 'nothing left to do');
    return false;
  }
  if (outcome.kind === 'refuse') {
    record.status = 'skipped';
    record.reason = outcome.reason;
    episode.waiting = Math.max(0, episode.waiting - 1);
    episode.unhealthy = Math.max(0, episode.unhealthy - 1);
    episode.skipped = (episode.skipped ?? 0) + 1;
    timeline(txn, episode.incident.id, `no plan for ${host.hostId}: ${outcome.reason}`, host.hostId);
    const critical = Object.keys(host.doubleFaults).length > 0;
    if (!critical && !domain.maintenance) {
      escalate(txn, episode.incident, `${host.hostId} needs a person: ${outcome.reason}`, {
        host: host.hostId,
      });
    }
    maybeResolve(txn, domain);
    return false;
  }
  const attempt = record.attempt + 1;
  const id = deriveId('pln', episode.incident.id, host.hostId, attempt);
  const mode = modeOf(txn, domain.failureDomain) === 'dry-run' ? 'dry-run' : 'execute';
  const plan: UnsignedPlan = {
    id,
    incidentId: episode.incident.id,
    hostId: host.hostId,
    ...(host.bootId === undefined ? {} : { bootId: host.bootId }),
    attempt,
    wave,
    issuedAt: txn.now,
    ttlSeconds: txn.config.planTtlSeconds,
    mode,
    steps: outcome.planned.steps,
    ...(outcome.planned.fastPath !== undefined && outcome.planned.fastPath.length > 0
      ? { fastPath: outcome.planned.fastPath }
      : {}),
  };
  txn.emit({ type: 'plan.issue', plan });
  record.status = 'planned';
  record.attempt = attempt;
  record.planId = id;
  host.plans[id] = {
    id,
    incidentId: episode.incident.id,
    failureDomain: domain.failureDomain,
    wave,
    mode,
    issuedAt: txn.now,
    status: 'issued',
    stepCount: plan.steps.length,
    fastPathCount: plan.fastPath?.length ?? 0,
    changed: [],
    lastProgressAt: txn.now,
    stallSeconds: txn.config.planStallSeconds,
  };
  episode.slots[host.hostId] = {
    hostId: host.hostId,
    planId: id,
    issuedAt: txn.now,
    expiresAt: addSeconds(txn.now, txn.config.slotTimeoutSeconds),
    started: false,
  };
  episode.waiting = Math.max(0, episode.waiting - 1);
  episode.dispatched += 1;
  if (wave === 0) episode.canaryHost = host.hostId;
  timeline(
    txn,
    episode.incident.id,
    `${wave === 0 ? 'canary' : `wave ${wave}`} plan ${id} (${mode}) for ${host.hostId}: ${plan.steps.length} steps`,
    host.hostId,
    wave === 0 ? 'canary' : 'wave',
  );
  const { attention } = outcome.planned;
  if (attention !== undefined) {
    timeline(
      txn,
      episode.incident.id,
      `${host.hostId} needs a person after plan ${id}: ${attention}`,
      host.hostId,
    );
    if (!domain.maintenance)
      escalate(txn, episode.incident, `${host.hostId} needs a person after its plan: ${attention}`, {
        host: host.hostId,
        planId: id,
      });
  }
  return true;
};

/** The waiting hosts of the episode this decision has at hand, by host id. */
const waitingHosts = (txn: Transaction, episode: Episode): string[] =>
  txn
    .availableHosts()
    .filter((host) => host.episodes[episode.incident.id]?.status === 'waiting' && !host.maintenance)
    .map((host) => host.hostId);

/** Dispatches what the domain may dispatch now. */
export const dispatch = (txn: Transaction, domain: DomainSlice): void => {
  const episode = openEpisode(domain);
  if (episode === undefined || domain.state !== 'up') return;
  expireSlots(txn, domain, episode);
  maybeResolve(txn, domain);
  if (domain.episode === undefined || episode.halted !== undefined) return;
  if (episode.dispatchAt === undefined || toMs(txn.now) < toMs(episode.dispatchAt)) return;
  if (txn.control.paused || domain.maintenance) return;
  const mode = modeOf(txn, domain.failureDomain);
  const max = txn.config.maxPlansInFlight;
  let candidates = waitingHosts(txn, episode);
  if (!episode.canaryDone) {
    if (Object.keys(episode.slots).length > 0) return;
    if (mode === 'approve' && episode.approvedWave < 0) {
      awaitApproval(txn, episode, 0);
      return;
    }
    const named = episode.canaryHost;
    if (named !== undefined && candidates.includes(named))
      candidates = [named, ...candidates.filter((id) => id !== named)];
    for (const hostId of candidates) {
      if (issue(txn, domain, episode, txn.host(hostId), 0)) return;
    }
    if (episode.waiting > 0) txn.requestWake(domain.failureDomain);
    return;
  }
  let free = max - Object.keys(episode.slots).length;
  for (const hostId of candidates) {
    if (free <= 0) return;
    const wave = 1 + Math.floor((episode.dispatched - 1) / max);
    if (mode === 'approve' && episode.approvedWave < wave) {
      awaitApproval(txn, episode, wave);
      return;
    }
    episode.wave = wave;
    if (issue(txn, domain, episode, txn.host(hostId), wave)) free -= 1;
  }
  if (free > 0 && episode.waiting > 0 && candidates.length > 0) txn.requestWake(domain.failureDomain);
};

const awaitApproval = (txn: Transaction, episode: Episode, wave: number): void => {
  timeline(txn, episode.incident.id, `wave ${wave} awaits approval`);
  episode.wave = wave;
};
