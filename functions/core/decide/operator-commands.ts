// The operator commands of `decide` (docs/architecture.md §5.6, 5.7, 5.10): pause and resume, approve a wave,
// resolve an incident by hand, and put a host or domain in maintenance.
import { openEpisode, resolveDomainEpisode } from '../episodes.ts';
import { resolveIncident, timeline } from '../incidents.ts';
import type { OperatorCommand } from '../model.ts';
import type { Transaction } from '../transaction.ts';

/**
 * Who acted and by which command, as the timeline names them: the label of the operator token
 * that sent it, then the token's id, which tells apart two tokens given the same label (a label is
 * free text, so anyone minting a token may call it "alice"): `alice (tok-…, cmd-…)`. The id comes
 * after the label so that "resumed by alice" still reads as a phrase. A token whose label failed
 * the check is "an operator (tok-…, cmd-…)"; a command queued before ids were stamped reads
 * `alice (cmd-…)`, and one queued before labels, `an operator (cmd-…)`.
 */
const actor = (command: OperatorCommand): string => {
  const { by } = command;
  if (by === undefined) return `an operator (${command.id})`;
  if (typeof by === 'string') return `${by} (${command.id})`;
  return `${by.label ?? 'an operator'} (${by.tokenId}, ${command.id})`;
};

/** An operator's action in the timeline of every open incident of a failure domain (`openDomains` loaded them). */
const noteOnOpenIncidents = (txn: Transaction, text: string): void => {
  for (const domain of txn.availableDomains()) {
    const episode = openEpisode(domain);
    if (episode !== undefined) timeline(txn, episode.incident.id, text, undefined, 'operator');
  }
};

/** Applies an operator's command: the brakes and overrides people keep over the core. */
export const applyOperator = (txn: Transaction, command: OperatorCommand): void => {
  switch (command.type) {
    case 'operator.pause': {
      const control = txn.writeControl();
      const wasPaused = control.paused;
      control.paused = true;
      control.pausedAt = command.at;
      // Each open incident's timeline says its plans stopped, and who stopped them.
      if (!wasPaused) noteOnOpenIncidents(txn, `dispatch paused by ${actor(command)}`);
      return;
    }
    case 'operator.resume': {
      if (command.failureDomain === undefined) {
        const control = txn.writeControl();
        const wasPaused = control.paused;
        control.paused = false;
        delete control.pausedAt;
        for (const domain of txn.availableDomains()) {
          if (openEpisode(domain) !== undefined) txn.requestWake(domain.failureDomain);
        }
        if (wasPaused) noteOnOpenIncidents(txn, `dispatch resumed by ${actor(command)}`);
        return;
      }
      const domain = txn.domain(command.failureDomain);
      const episode = openEpisode(domain);
      if (episode?.halted === undefined) return;
      delete episode.halted;
      episode.flaps = [];
      episode.incident.status = domain.state === 'up' ? 'remediating' : 'awaiting-recovery';
      txn.touch(episode.incident);
      timeline(txn, episode.incident.id, `resumed by ${actor(command)}`, undefined, 'operator');
      txn.requestWake(domain.failureDomain);
      return;
    }
    case 'operator.approve': {
      const domain = txn.domain(command.failureDomain);
      const episode = openEpisode(domain);
      if (episode === undefined || episode.incident.id !== command.incidentId) return;
      episode.approvedWave = Math.max(episode.approvedWave, episode.canaryDone ? episode.wave : 0);
      if (command.canaryHost !== undefined && episode.dispatched === 0)
        episode.canaryHost = command.canaryHost;
      timeline(
        txn,
        episode.incident.id,
        `wave ${episode.approvedWave} approved by ${actor(command)}`,
        undefined,
        'operator',
      );
      txn.requestWake(domain.failureDomain);
      return;
    }
    case 'operator.resolve': {
      if (command.failureDomain !== undefined) {
        const domain = txn.domain(command.failureDomain);
        if (domain.episode?.incident.id === command.incidentId) {
          resolveDomainEpisode(txn, domain, `resolved by ${actor(command)}`);
        }
      }
      if (command.hostId !== undefined) {
        const host = txn.host(command.hostId);
        for (const [resource, fault] of Object.entries(host.localFaults)) {
          if (fault.incident?.id !== command.incidentId) continue;
          resolveIncident(txn, { ...fault.incident }, `resolved by ${actor(command)}`);
          delete host.localFaults[resource];
        }
        for (const [resource, incident] of Object.entries(host.doubleFaults)) {
          if (incident.id !== command.incidentId) continue;
          resolveIncident(txn, { ...incident }, `resolved by ${actor(command)}`);
          delete host.doubleFaults[resource];
        }
      }
      return;
    }
    case 'operator.maintenance': {
      if (command.target === 'host') txn.host(command.name).maintenance = command.on;
      else {
        txn.domain(command.name).maintenance = command.on;
        if (!command.on) txn.requestWake(command.name);
      }
      return;
    }
  }
};
