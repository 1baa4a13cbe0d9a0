// A control domain's word on an LDoms guest's virtual disks reaches the guest's slices (the follow-up
// `internal.guest-disks`, docs/architecture.md §3 `guests`): the guest keeps it, and when it comes from
// the control domain that owns the guest, its known state is placed on its disks' failure domains and
// what it already reported is filed there (../guests.ts).
import { checkCritical, updateExposure } from '../critical.ts';
import {
  boundClaims,
  claimsOf,
  type GuestReport,
  listingActive,
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

/** Why a control domain's word does not place the guest (any more), in words. */
const whatItSays = (word: GuestClaim | undefined, words: Record<string, GuestClaim>): string => {
  if (word === undefined || word.listing === 'gone') return 'no longer lists it';
  if (word.listing === 'inactive') return 'lists it bound or inactive';
  const newest = Math.max(...Object.values(words).map((other) => toMs(other.at)));
  if (toMs(word.lapsesAt) < newest) return `said nothing of it since ${word.at}`;
  return `lists it active only since ${word.since}`;
};

/**
 * While more than one control domain lists the guest active, says so on each of its open incidents,
 * once per incident and contender (`HostSlice.vdiskContested`): the owner's placement stands, the
 * others' words are kept and not applied.
 */
const sayContested = (
  txn: Transaction,
  read: HostSlice,
  words: Record<string, GuestClaim>,
  owner: string,
): void => {
  const active = listingActive(words);
  if (active.length < 2) return;
  const contenders = active.filter((control) => control !== owner);
  const told = read.vdiskContested ?? {};
  const open = openIncidentsOf(txn, read);
  const next: Record<string, string[]> = {};
  let changed = Object.keys(told).some((incidentId) => !open.includes(incidentId));
  const claim = words[owner];
  const ownerText =
    claim !== undefined && active.includes(owner)
      ? `which lists it active since ${claim.since}`
      : `which keeps it (it ${whatItSays(claim, words)}): they began listing it active before it last did`;
  for (const incidentId of open) {
    const before = told[incidentId] ?? [];
    const fresh = contenders.filter((control) => !before.includes(control));
    next[incidentId] = [...before, ...fresh].sort();
    if (fresh.length === 0) continue;
    changed = true;
    const [only] = fresh;
    const who =
      fresh.length === 1 && only !== undefined
        ? `control domain ${only} lists it active too (${domainsText(words[only]?.domains ?? {})})`
        : `control domains ${fresh.map((control) => `${control} (${domainsText(words[control]?.domains ?? {})})`).join(', ')} list it active too`;
    timeline(
      txn,
      incidentId,
      `${read.hostId} is contested: ${who}: not applied, its disks are placed by ${owner}, ${ownerText}`,
      read.hostId,
    );
  }
  if (!changed) return;
  const host = txn.host(read.hostId);
  if (Object.keys(next).length === 0) delete host.vdiskContested;
  else host.vdiskContested = next;
};

const sameDisks = (a: Record<string, string>, b: Record<string, string>): boolean =>
  domainsText(a) === domainsText(b);

/**
 * Applies a control domain's word to its guest. Newer than the one the guest keeps from that control
 * domain, it replaces it; an older one changes nothing. Then the guest's owner (`ownerOf`) places it:
 * directly, when its disks are the ones the word just come carries or the ones placed already (the
 * guest's arrays and disks are placed anew, and each local fault of an array whose members moved off
 * `local:<guest>` is filed on the domains it now implicates, at the time it happened, as if its
 * symptom had arrived with the report in place); by a follow-up that loads its domains, when the
 * owner changed to another control domain; nothing, when the owner's word is placed already. Another
 * control domain's active listing of an owned guest is kept, not applied, and said on the guest's
 * open incidents once (`sayContested`).
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
  if (newer) sayContested(txn, read, words, owner);
  const kept = read.vdisks;
  if (kept?.control === owner && kept.seq === claim.seq) return;
  const loaded =
    (kept?.control === owner && sameDisks(kept.domains, claim.domains)) ||
    (owner === input.control && input.seq === claim.seq && sameDisks(input.domains, claim.domains));
  if (!loaded) {
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
    return;
  }
  if (kept !== undefined && kept.control !== owner) {
    const text = `control domain ${owner} places ${input.hostId}'s disks now (${domainsText(claim.domains)}), in place of ${kept.control}, which ${whatItSays(words[kept.control], words)}`;
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
  reconcileHost(txn, host, `its control domain ${owner} placed its disks`);
};
