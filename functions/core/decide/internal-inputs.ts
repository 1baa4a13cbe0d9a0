// The internal inputs of `decide`: follow-ups the core asked for in an earlier decision, applied in
// their own transaction because they touch a slice that decision had not loaded.
import { confirmsOnJoin } from '../confirm.ts';
import { checkCritical } from '../critical.ts';
import { join, openEpisode } from '../episodes.ts';
import type { InternalInput } from '../model.ts';
import { silenceWhileClientsHeard } from '../servers.ts';
import type { Transaction } from '../transaction.ts';
import { applyGuestDisks } from './guest-disks.ts';

/**
 * Applies a follow-up: a host joins a domain's incident, a host exposed on a domain that went down
 * is checked for a double fault, a revoked or expired plan is let go, an LDoms guest is told its
 * disks' failure domains, or a server's due silence is checked against its domain's clients.
 */
export const applyInternal = (txn: Transaction, input: InternalInput): void => {
  if (input.type === 'internal.guest-disks') {
    applyGuestDisks(txn, input);
    return;
  }
  if (input.type === 'internal.silence') {
    silenceWhileClientsHeard(txn, input.hostId, input.failureDomain, input.clients);
    return;
  }
  const host = txn.host(input.hostId);
  if (input.type === 'internal.join') {
    const domain = txn.domain(input.failureDomain);
    if (domain.episode?.incident.id !== input.incidentId) return;
    join(txn, host, domain, input.at);
    confirmsOnJoin(txn, host, input.failureDomain);
    return;
  }
  if (input.type === 'internal.critical') {
    checkCritical(txn, host, { failureDomain: input.failureDomain, hosts: input.exposed });
    return;
  }
  const plan = txn.own(host.plans, input.planId);
  if (
    plan === undefined ||
    plan.status === 'succeeded' ||
    plan.status === 'failed' ||
    plan.status === 'refused'
  )
    return;
  plan.status = 'revoked';
  const record = txn.own(host.episodes, plan.incidentId);
  if (record?.status !== 'planned' || record.planId !== plan.id) return;
  const episode = openEpisode(txn.domain(plan.failureDomain));
  if (input.requeue) {
    record.status = 'waiting';
    if (episode?.incident.id === plan.incidentId) episode.waiting += 1;
  } else {
    record.status = 'failed';
    record.reason = 'its plan slot expired';
  }
};
