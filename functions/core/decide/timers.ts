// The timers of `tick` (docs/architecture.md §5.2, 5.3, 5.5, 5.9, 5.10): a host's local-fault hold-down
// (or the outage of one host it turns into), its silence as a server of each domain it serves, a
// domain's escalation, wave dispatch and resolution.
import {
  belongsToEpisode,
  join,
  maybeResolve,
  openEpisode,
  pageOutage,
  reopenIfDuring,
} from '../episodes.ts';
import { isResourceHealthy } from '../host.ts';
import { escalate, openLocalIncident } from '../incidents.ts';
import { checkServerSilence, migrateServes } from '../servers.ts';
import { openSingleClientOutage, singleClientDisks } from '../single-client.ts';
import { escalateStalledPlans } from '../stall.ts';
import { toMs } from '../time.ts';
import type { Transaction } from '../transaction.ts';
import { dispatch } from '../waves.ts';

/** How many hosts with a pending local fault a domain slice lists, so the slice stays small. */
const LOCAL_HOSTS_CAP = 64;

/**
 * A host's due timer: pages the local faults that outlived their hold-down (or opens the outage of
 * one host, §5.3), escalates its stalled plans, and notices a server silent for a domain it serves.
 */
export const onHostWake = (txn: Transaction, hostId: string): void => {
  const host = txn.host(hostId);
  migrateServes(host);
  escalateStalledPlans(txn, host);
  for (const [resource, fault] of Object.entries(host.localFaults).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (fault.incident !== undefined) continue;
    if (toMs(fault.since) + txn.config.holdDownSeconds * 1000 > toMs(txn.now)) continue;
    const domain = txn.domain(fault.failureDomain);
    reopenIfDuring(txn, domain, fault.since);
    const episode = openEpisode(domain);
    if (episode !== undefined && belongsToEpisode(episode, fault.since)) {
      join(txn, host, domain, fault.since);
      delete host.localFaults[resource];
      continue;
    }
    const critical =
      resource.startsWith('array:') && host.doubleFaults[resource.slice('array:'.length)] !== undefined;
    if (isResourceHealthy(host, resource) || critical) {
      // Healthy again, or already paged as a double fault: no second page for the same array.
      delete host.localFaults[resource];
      continue;
    }
    const disks = singleClientDisks(txn, host, resource, fault.failureDomain);
    if (disks !== undefined) {
      // The domain's one known client cannot read its disk, and no agent of its server says a
      // word: an outage of one host (§5.3), healed with a plan once the domain is back.
      openSingleClientOutage(txn, host, fault.failureDomain, fault.since, disks);
      continue;
    }
    const owned = txn.own(host.localFaults, resource);
    if (owned !== undefined)
      owned.incident = openLocalIncident(txn, host, resource, fault.failureDomain, fault.since);
    if (!domain.localHosts.includes(host.hostId) && domain.localHosts.length < LOCAL_HOSTS_CAP) {
      domain.localHosts = [...domain.localHosts, host.hostId].sort();
    }
  }
  checkServerSilence(txn, host);
};

/** A domain's due timer: escalates a long outage, or dispatches the next wave and resolves when done. */
export const onDomainWake = (txn: Transaction, failureDomain: string): void => {
  const domain = txn.domain(failureDomain);
  const episode = openEpisode(domain);
  if (episode === undefined) return;
  pageOutage(txn, domain);
  if (domain.state === 'down') {
    if (
      toMs(episode.lastDownAt) + txn.config.escalateDownSeconds * 1000 <= toMs(txn.now) &&
      !domain.maintenance
    ) {
      const minutes = Math.round((toMs(txn.now) - toMs(episode.lastDownAt)) / 60_000);
      escalate(txn, episode.incident, `${failureDomain} has been down for ${minutes} minutes`);
    }
    return;
  }
  dispatch(txn, domain);
  maybeResolve(txn, domain);
};
