// A control domain's report of an LDoms guest's virtual disks reaches the guest's slices (the follow-up
// `internal.guest-disks`, docs/architecture.md §3 `guests`): the guest keeps it, its known state is
// placed on its disks' failure domains, and what it already reported is filed there (../guests.ts).
import { checkCritical, updateExposure } from '../critical.ts';
import { isNewerReport, placeKnownDisks, unknownDomainOf } from '../guests.ts';
import { implicatedByMembers } from '../host.ts';
import type { GuestDisks, InternalInput } from '../model.ts';
import { updateClientOf } from '../single-client.ts';
import type { Transaction } from '../transaction.ts';
import { onSymptom, reconcileHost } from './agent-events.ts';

type GuestDisksInput = Extract<InternalInput, { type: 'internal.guest-disks' }>;

/** As the hold-down timer bounds a domain's list of hosts with a paged local fault (./timers.ts). */
const LOCAL_HOSTS_CAP = 64;

/**
 * Applies a control domain's report to its guest: newer than the one the guest keeps, it replaces it;
 * the guest's arrays and disks are placed anew, and each local fault of an array whose members moved
 * off `local:<guest>` is filed on the domains it now implicates, at the time it happened, as if its
 * symptom had arrived with the report in place (it joins an open outage or groups with others).
 */
export const applyGuestDisks = (txn: Transaction, input: GuestDisksInput): void => {
  const report: GuestDisks = {
    control: input.control,
    seq: input.seq,
    at: input.at,
    domains: input.domains,
  };
  const kept = txn.readHost(input.hostId).vdisks;
  if (!isNewerReport(kept, report)) return;
  const host = txn.host(input.hostId);
  host.vdisks = report;
  const moved = placeKnownDisks(host, kept);
  if (moved.length === 0) return;
  const unknown = unknownDomainOf(host.hostId);
  for (const [resource, fault] of Object.entries(host.localFaults).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const array = resource.startsWith('array:') ? resource.slice('array:'.length) : undefined;
    if (array === undefined || fault.failureDomain !== unknown || !moved.includes(array)) continue;
    const record = host.arrays[array];
    if (record === undefined) continue;
    // Members out of sync, and remembered members the tool no longer shows, as a symptom reads them.
    const implicated = implicatedByMembers({ ...record, members: [] }, record.members).filter(
      (domain) => domain !== unknown,
    );
    const first = implicated[0];
    if (first === undefined) continue;
    // The fault now sits on the service domain: a paged local incident merges when it joins there.
    host.localFaults[resource] = { ...fault, failureDomain: first };
    if (txn.readDomain(unknown).localHosts.includes(host.hostId)) {
      const domain = txn.domain(unknown);
      domain.localHosts = domain.localHosts.filter((hostId) => hostId !== host.hostId);
    }
    const target = txn.readDomain(first);
    if (
      fault.incident !== undefined &&
      !target.localHosts.includes(host.hostId) &&
      target.localHosts.length < LOCAL_HOSTS_CAP
    ) {
      const domain = txn.domain(first);
      domain.localHosts = [...domain.localHosts, host.hostId].sort();
    }
    for (const failureDomain of implicated) onSymptom(txn, host, resource, failureDomain, fault.since);
  }
  checkCritical(txn, host);
  updateExposure(txn, host);
  updateClientOf(txn, host);
  reconcileHost(txn, host, `its control domain ${input.control} placed its disks`);
};
