// The agent's reports on a plan it runs (`command.progress`, docs/architecture.md §4, §5.5): a plan's steps
// move its status, free or keep its wave slot, and a failure or refusal halts the episode.
import type { CommandProgress } from '../../../events/index.ts';
import { halt, openEpisode } from '../episodes.ts';
import { timeline } from '../incidents.ts';
import type { HostSlice } from '../model.ts';
import type { Transaction } from '../transaction.ts';

/** The agent's refusal code for a plan id it already ran (agent/executor/codes.ts). */
const ALREADY_RUN = 'already-run';

/** Applies a plan's progress to the host's plan and episode row, and to its domain's wave. */
export const applyProgress = (txn: Transaction, host: HostSlice, event: CommandProgress): void => {
  const { data } = event;
  const plan = txn.own(host.plans, data.planId);
  if (plan === undefined) return;
  const domain = txn.domain(plan.failureDomain);
  const episode = openEpisode(domain);
  const slot = episode?.slots[host.hostId];
  plan.lastProgressAt = txn.now;
  const record = txn.own(host.episodes, plan.incidentId);
  if (data.outcome === 'started') {
    if (plan.status === 'issued') plan.status = 'started';
    if (slot !== undefined && slot.planId === plan.id) slot.started = true;
    return;
  }
  if (data.outcome === 'succeeded') {
    const summary = `${data.branch ?? 'steps'}[${data.step}] ${data.action}${data.detail ? `: ${data.detail}` : ''}`;
    if (data.action !== 'disk.probe' && !plan.changed.includes(summary) && plan.mode === 'execute') {
      plan.changed = [...plan.changed, summary];
    }
    const last = data.branch === 'fastPath' ? plan.fastPathCount - 1 : plan.stepCount - 1;
    if (data.step === last && (plan.status === 'issued' || plan.status === 'started')) {
      plan.status = 'succeeded';
      if (episode !== undefined) timeline(txn, episode.incident.id, `plan ${plan.id} succeeded`, host.hostId);
      if (plan.mode === 'dry-run' && record !== undefined && record.status === 'planned') {
        record.status = 'proposed';
        if (slot !== undefined && slot.planId === plan.id && episode !== undefined) {
          delete episode.slots[host.hostId];
          if (episode.canaryHost === host.hostId) {
            episode.canaryDone = true;
            episode.wave = Math.max(episode.wave, 1);
          }
          txn.requestWake(domain.failureDomain);
        }
      }
    }
    return;
  }
  if (
    data.outcome === 'refused' &&
    data.code === ALREADY_RUN &&
    (plan.status === 'started' || plan.status === 'succeeded')
  ) {
    // The agent refused a second delivery of a plan it already ran (§4: a plan id runs at most
    // once): a duplicate, not a failure. The plan's own steps say how it went.
    if (episode !== undefined)
      timeline(
        txn,
        episode.incident.id,
        `${host.hostId} refused plan ${plan.id} again: it already ran`,
        host.hostId,
      );
    return;
  }
  if (data.outcome === 'failed' || data.outcome === 'refused') {
    if (plan.status === 'failed' || plan.status === 'refused' || plan.status === 'revoked') return;
    plan.status = data.outcome;
    if (record !== undefined && record.status === 'planned') record.status = 'failed';
    if (episode === undefined || episode.incident.id !== plan.incidentId) return;
    if (slot !== undefined && slot.planId === plan.id) delete episode.slots[host.hostId];
    const what = `${data.action} at step ${data.step}${data.code ? ` (${data.code})` : ''}${data.detail ? `: ${data.detail}` : ''}`;
    const changed = plan.changed.length === 0 ? 'nothing' : plan.changed.join('; ');
    halt(
      txn,
      domain,
      episode,
      `plan ${plan.id} on ${host.hostId} ${data.outcome}: ${what}. Faultline changed: ${changed}`,
      true,
      { host: host.hostId, planId: plan.id, changed: plan.changed },
    );
  }
};
