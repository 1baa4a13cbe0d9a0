// A control domain's word on an LDoms guest's virtual disks reaches the guest's slices (the follow-up
// `internal.guest-disks`, docs/architecture.md §3 `guests`): the guest keeps it, and when it comes from
// the control domain that owns the guest, its known state is placed on its disks' failure domains and
// what it already reported is filed there (../guests.ts).
import { checkCritical, updateExposure } from '../critical.ts';
import {
  boundClaims,
  claimsOf,
  type GuestReport,
  nextClaim,
  ownerOf,
  placeKnownDisks,
  unknownDomainOf,
} from '../guests.ts';
import { implicatedByMembers } from '../host.ts';
import { timeline } from '../incidents.ts';
import type { GuestClaim, GuestDisks, HostSlice } from '../model.ts';
import { updateClientOf } from '../single-client.ts';
import { toMs } from '../time.ts';
import type { Transaction } from '../transaction.ts';
import { onSymptom, reconcileHost } from './agent-events.ts';

/** As the hold-down timer bounds a domain's list of hosts with a paged local fault (./timers.ts). */
const LOCAL_HOSTS_CAP = 64;

/** The guest's incidents still open: where an operator reads what happened to its placement. */
const openIncidentsOf = (txn: Transaction, host: HostSlice): string[] => {
  const ids = new Set<string>();
  for (const record of Object.values(host.episodes)) {
    const incident = txn.readDomain(record.failureDomain).episode?.incident;
    if (incident?.id === record.incidentId && incident.status !== 'resolved') ids.add(incident.id);
  }
  for (const incident of [
    ...Object.values(host.localFaults).flatMap((fault) =>
      fault.incident === undefined ? [] : [fault.incident],
    ),
    ...Object.values(host.doubleFaults),
  ]) {
    if (incident.status !== 'resolved') ids.add(incident.id);
  }
  return [...ids].sort();
};

const domainsText = (domains: Record<string, string>): string =>
  Object.entries(domains)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([disk, failureDomain]) => `${disk} on ${failureDomain}`)
    .join(', ');

/** Whether a word says what the one before it said (a renewal): an ignored claim is told once. */
const saysAgain = (previous: GuestClaim | undefined, claim: GuestClaim): boolean =>
  previous !== undefined &&
  previous.listing === claim.listing &&
  domainsText(previous.domains) === domainsText(claim.domains);

/** Why the control domain that placed a guest no longer does, in words. */
const letGo = (word: GuestClaim | undefined, words: Record<string, GuestClaim>): string => {
  if (word === undefined || word.listing === 'gone') return 'no longer lists it';
  if (word.listing === 'inactive') return 'lists it bound or inactive';
  const newest = Math.max(...Object.values(words).map((other) => toMs(other.at)));
  if (toMs(word.lapsesAt) < newest) return `said nothing of it since ${word.at}`;
  return `lists it active only since ${word.since}`;
};

/**
 * Applies a control domain's word to its guest. Newer than the one the guest keeps from that control
 * domain, it replaces it; an older one changes nothing. Then the guest's owner (`ownerOf`) places it:
 * the word just come, when it is the owner's (the guest's arrays and disks are placed anew, and each
 * local fault of an array whose members moved off `local:<guest>` is filed on the domains it now
 * implicates, at the time it happened, as if its symptom had arrived with the report in place); the
 * owner's kept word, by a follow-up that loads its domains, when the owner changed to another
 * control domain (the one before let the guest go); nothing, when the owner's word is placed already:
 * another control domain's active listing of an owned guest is kept, not applied, and said on the
 * guest's open incidents.
 */
export const applyGuestDisks = (txn: Transaction, input: GuestReport): void => {
  const read = txn.readHost(input.hostId);
  const claims = claimsOf(read);
  const previous = claims[input.control];
  if (previous !== undefined && input.seq < previous.seq) return;
  const newer = previous === undefined || input.seq > previous.seq;
  const words = newer ? boundClaims({ ...claims, [input.control]: nextClaim(previous, input) }) : claims;
  if (newer) txn.host(input.hostId).vdiskClaims = words;
  const owner = ownerOf(words);
  const claim = owner === undefined ? undefined : words[owner];
  if (owner === undefined || claim === undefined) return;
  const kept = read.vdisks;
  const placedAlready = kept?.control === owner && kept.seq === claim.seq;
  if (owner !== input.control) {
    if (!placedAlready) {
      txn.followUp({
        type: 'internal.guest-disks',
        hostId: input.hostId,
        control: owner,
        seq: claim.seq,
        at: claim.at,
        domains: claim.domains,
        listing: claim.listing,
        lapsesAt: claim.lapsesAt,
      });
    }
    const word = words[input.control];
    if (newer && word?.listing === 'active' && !saysAgain(previous, word)) {
      const text = `control domain ${input.control} lists ${input.hostId} active (${domainsText(word.domains)}): not applied, its disks are placed by ${owner}, which lists it active since ${claim.since}`;
      for (const incidentId of openIncidentsOf(txn, read)) timeline(txn, incidentId, text, input.hostId);
    }
    return;
  }
  if (placedAlready) return;
  if (kept !== undefined && kept.control !== owner) {
    const text = `control domain ${owner} places ${input.hostId}'s disks now (${domainsText(claim.domains)}), in place of ${kept.control}, which ${letGo(words[kept.control], words)}`;
    for (const incidentId of openIncidentsOf(txn, read)) timeline(txn, incidentId, text, input.hostId);
  }
  const report: GuestDisks = { control: owner, seq: claim.seq, at: claim.at, domains: claim.domains };
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
