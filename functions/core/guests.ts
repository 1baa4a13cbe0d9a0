import { createHash } from 'node:crypto';
import type { FaultlineEvent, GuestDisk, HostHeartbeat, Member } from '../../events/index.ts';
import type { ArrayRecord, GuestClaim, GuestDisks, GuestListing, HostSlice, InternalInput } from './model.ts';
import { addSeconds, toMs } from './time.ts';

/**
 * LDoms guests placed by their control domain (docs/architecture.md §3 heartbeat `guests`, "Failure
 * domain"). A guest's agent sees its virtual disks (`c0d1`) but not which service domain serves each,
 * so without a topology file its members and disks carry `local:<its host id>` (unknown). Its control
 * domain knows (`ldm list -o disk -p`, and the guest's state from `ldm list -p`) and says so in its
 * heartbeats' `guests`:
 *
 * - **Where it lives.** On the guest's own host slice (`HostSlice.vdisks`): the failure domain of
 *   each of its disks, from the latest report of the control domain that places it. Its domains are
 *   among the domains the slice refers to, so they load with the guest's slices and placing stays
 *   pure.
 * - **How it gets there.** A control domain's heartbeat newer than the last one it applied compares
 *   each guest's listing (its disks, and whether the guest is active there) with a digest it keeps
 *   per guest (`HostSlice.guests`) and tells only a guest whose listing changed, or that it no longer
 *   lists, by a follow-up (`internal.guest-disks`) decided on the guest's slices. Every
 *   `GUEST_CLAIM.renewSeconds` (or heartbeat interval, if longer) it also tells each guest it lists
 *   active, changed or not: its renewal, by which a guest knows its control domain is still there. A
 *   control domain places disks only on its own service domains (`vdisk:<its host id>/…`); anything
 *   else in its report is ignored.
 * - **One control domain places a guest at a time.** Any control domain may name any guest (its
 *   grant covers its own `vdisk:` domains, not the guests), so the guest keeps each control domain's
 *   latest word on it (`HostSlice.vdiskClaims`; by `seq`: an older report changes nothing) and takes
 *   its placement from one, its owner: of the words that list it active and have not lapsed, the one
 *   that has listed it active the longest without a break (by ingest time, then by name). Another
 *   control domain listing an owned guest active is not applied: its word is kept, and said on the
 *   guest's open incidents' timelines. A control domain that lists the guest bound or inactive (a
 *   standby's copy) never places it. The owner lets the guest go when its report no longer lists it
 *   (or no longer as active), or when its claim lapses: no word from it for
 *   `GUEST_CLAIM.lapseRenewals` renewal periods while another control domain's word is newer (its
 *   silence; a control domain's reboot is shorter). The next owner's kept word is placed then, with
 *   no new report needed. A guest no control domain lists active keeps the placement it had.
 * - **Placing.** A member or disk of the guest's events and heartbeats on `local:<guest>` whose disk
 *   the control domain placed is read on that failure domain. A domain the agent placed itself (its
 *   topology file) wins: only the unknown one is replaced.
 * - **Order.** A guest's symptom that arrives before its control domain's first report (after a
 *   restart of either) implicates `local:<guest>`: a local fault, waiting out its hold-down (or paged
 *   after it). When the report arrives, the guest's known state is placed anew (its arrays' members,
 *   remembered members and disks) and each local fault of an array that now sits on a control
 *   domain's service domain is filed there as the symptom it was, at the time it happened: it joins
 *   that domain's outage (merging a paged local fault), reopens one resolved since, or groups with
 *   the other guests' symptoms. Both orders end in the same incident. Which control domain owns a
 *   guest follows from each control domain's own words (they reach the guest in `seq` order: its
 *   slice drops an older heartbeat), not from how different control domains' words interleave, so
 *   every such delivery order ends with the same owner, on its domains (the kept placement of a guest
 *   that no control domain lists active any more is the one exception: the last placed).
 */

/** How long a control domain's word on a guest stands, and how many words a guest keeps. */
export const GUEST_CLAIM = {
  /** A control domain renews its word on each guest it lists active at least this often. */
  renewSeconds: 600,
  /** Its claim lapses after this many renewal periods with no newer word from it. */
  lapseRenewals: 6,
  /** The control domains' words a guest keeps at most (those no longer listing it go first). */
  maxClaims: 8,
} as const;

/** The unknown failure domain of a host's own storage (§3). */
export const unknownDomainOf = (hostId: string): string => `local:${hostId}`;

/** One guest as a control domain's report lists it: its disks there, and whether it is active there. */
type Listed = { domains: Record<string, string>; active: boolean };

/** A digest of one guest's listing, identical however the control domain ordered its disks. */
const digestOf = ({ domains, active }: Listed): string =>
  createHash('sha1')
    .update(JSON.stringify([active, Object.entries(domains).sort(([a], [b]) => (a < b ? -1 : 1))]))
    .digest('base64')
    .slice(0, 16);

/**
 * Each guest's listing, of the disks a control domain may place: on its own service domains
 * (`vdisk:<its host id>/…`). A report placing a disk anywhere else is not its to make and is ignored.
 * A guest is active there unless its disks say it is bound or inactive (`state`); an agent that does
 * not say counts as active, as before `state` was reported.
 */
const listingsByGuest = (controlId: string, guests: readonly GuestDisk[]): Map<string, Listed> => {
  const byGuest = new Map<string, Listed>();
  for (const { guest, disk, failureDomain, state } of guests) {
    if (!failureDomain.startsWith(`vdisk:${controlId}/`)) continue;
    const listed = byGuest.get(guest) ?? { domains: {}, active: false };
    byGuest.set(guest, {
      domains: { ...listed.domains, [disk]: failureDomain },
      active: listed.active || state === undefined || state === 'active',
    });
  }
  return byGuest;
};

/** How often a control domain heartbeating every `intervalSeconds` renews its word. */
const renewalSeconds = (intervalSeconds: number): number =>
  Math.max(GUEST_CLAIM.renewSeconds, intervalSeconds);

/**
 * A control domain's heartbeat with `guests`, newer than the last it applied: keeps a digest of each
 * guest's listing and returns the follow-ups that tell each guest whose listing changed, that it no
 * longer lists, or, when its renewal is due, that it lists active. `seen` is when it was received.
 */
export const guestDiskReports = (host: HostSlice, event: HostHeartbeat, seen: string): InternalInput[] => {
  const guests = event.data.guests;
  if (guests === undefined || event.data.role !== 'control') return [];
  const kept = host.guests;
  if (kept !== undefined && event.seq <= kept.seq) return [];
  const period = renewalSeconds(event.data.intervalSeconds);
  const renew = kept?.renewedAt === undefined || toMs(seen) - toMs(kept.renewedAt) >= period * 1000;
  const lapsesAt = addSeconds(seen, GUEST_CLAIM.lapseRenewals * period);
  const before = kept?.digests ?? {};
  const digests: Record<string, string> = {};
  const reports: InternalInput[] = [];
  const tell = (guest: string, listing: GuestListing, domains: Record<string, string>): void => {
    reports.push({
      type: 'internal.guest-disks',
      hostId: guest,
      control: host.hostId,
      seq: event.seq,
      at: seen,
      domains,
      listing,
      lapsesAt,
    });
  };
  for (const [guest, listed] of [...listingsByGuest(host.hostId, guests)].sort(([a], [b]) =>
    a < b ? -1 : 1,
  )) {
    const digest = digestOf(listed);
    digests[guest] = digest;
    if (before[guest] === digest && !(renew && listed.active)) continue;
    tell(guest, listed.active ? 'active' : 'inactive', listed.domains);
  }
  // A guest it no longer lists: it lets the guest go (another control domain's word may place it).
  for (const guest of Object.keys(before).sort()) {
    if (!Object.hasOwn(digests, guest)) tell(guest, 'gone', {});
  }
  const renewedAt = renew ? seen : kept?.renewedAt;
  host.guests = { seq: event.seq, digests, ...(renewedAt === undefined ? {} : { renewedAt }) };
  return reports;
};

/** A control domain's report to one guest, as its follow-up carries it. */
export type GuestReport = Extract<InternalInput, { type: 'internal.guest-disks' }>;

const DEFAULT_LAPSE_SECONDS = GUEST_CLAIM.lapseRenewals * GUEST_CLAIM.renewSeconds;

/**
 * The control domains' words a guest keeps (`HostSlice.vdiskClaims`); on a slice saved before them,
 * its placement stands for its control domain's active word.
 */
export const claimsOf = (host: HostSlice): Record<string, GuestClaim> => {
  if (host.vdiskClaims !== undefined) return host.vdiskClaims;
  const vdisks = host.vdisks;
  if (vdisks === undefined) return {};
  return {
    [vdisks.control]: {
      seq: vdisks.seq,
      at: vdisks.at,
      listing: 'active',
      since: vdisks.at,
      domains: vdisks.domains,
      lapsesAt: addSeconds(vdisks.at, DEFAULT_LAPSE_SECONDS),
    },
  };
};

/**
 * A control domain's word after its newer report: an active listing keeps its age while it goes on
 * without a break (each word before the previous one lapsed), and starts anew otherwise.
 */
export const nextClaim = (previous: GuestClaim | undefined, report: GuestReport): GuestClaim => {
  const listing = report.listing ?? 'active';
  const goesOn =
    listing === 'active' && previous?.listing === 'active' && toMs(report.at) <= toMs(previous.lapsesAt);
  return {
    seq: report.seq,
    at: report.at,
    listing,
    since: goesOn && previous !== undefined ? previous.since : report.at,
    domains: listing === 'gone' ? {} : report.domains,
    lapsesAt: report.lapsesAt ?? addSeconds(report.at, DEFAULT_LAPSE_SECONDS),
  };
};

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** At most `GUEST_CLAIM.maxClaims` words: those no longer listing the guest go first, then the oldest. */
export const boundClaims = (claims: Record<string, GuestClaim>): Record<string, GuestClaim> => {
  const entries = Object.entries(claims);
  if (entries.length <= GUEST_CLAIM.maxClaims) return claims;
  const gone = (claim: GuestClaim): number => (claim.listing === 'gone' ? 0 : 1);
  entries.sort(([a, x], [b, y]) => gone(x) - gone(y) || toMs(x.at) - toMs(y.at) || byName(a, b));
  return Object.fromEntries(entries.slice(entries.length - GUEST_CLAIM.maxClaims));
};

/**
 * The control domain that places the guest, its owner: of the words that list it active and have not
 * lapsed by the newest word the guest holds, the one listing it active the longest (then by name).
 * None while no control domain lists it active.
 */
export const ownerOf = (claims: Record<string, GuestClaim>): string | undefined => {
  const entries = Object.entries(claims);
  const newest = Math.max(...entries.map(([, claim]) => toMs(claim.at)));
  const standing = entries
    .filter(([, claim]) => claim.listing === 'active' && toMs(claim.lapsesAt) >= newest)
    .sort(([a, x], [b, y]) => toMs(x.since) - toMs(y.since) || byName(a, b));
  return standing[0]?.[0];
};

/**
 * The failure domain of a guest's disk: the control domain's, when the guest's agent could not
 * place it (`local:<guest>`), or when it carries the domain an older report placed it on.
 */
const placed = (
  hostId: string,
  vdisks: GuestDisks | undefined,
  disk: string,
  failureDomain: string,
  before?: GuestDisks,
): string => {
  const known = vdisks?.domains[disk];
  if (known === undefined) return failureDomain;
  if (failureDomain === unknownDomainOf(hostId)) return known;
  if (before !== undefined && before.domains[disk] === failureDomain) return known;
  return failureDomain;
};

const placeMembers = <T extends Member>(
  hostId: string,
  vdisks: GuestDisks | undefined,
  members: readonly T[],
  before?: GuestDisks,
): T[] => {
  let changed = false;
  const next = members.map((member) => {
    const failureDomain = placed(hostId, vdisks, member.disk, member.failureDomain, before);
    if (failureDomain === member.failureDomain) return member;
    changed = true;
    return { ...member, failureDomain };
  });
  return changed ? next : (members as T[]);
};

/** An agent event of a guest, its members and disks placed on its control domain's failure domains. */
export const placeGuestDisks = (host: HostSlice, event: FaultlineEvent): FaultlineEvent => {
  const vdisks = host.vdisks;
  if (vdisks === undefined) return event;
  const hostId = host.hostId;
  switch (event.type) {
    case 'mirror.degraded':
    case 'mirror.recovering':
    case 'mirror.healthy': {
      const members = placeMembers(hostId, vdisks, event.data.members);
      return members === event.data.members
        ? event
        : ({ ...event, data: { ...event.data, members } } as typeof event);
    }
    case 'disk.probed': {
      const failureDomain = placed(hostId, vdisks, event.data.disk, event.data.failureDomain);
      return failureDomain === event.data.failureDomain
        ? event
        : { ...event, data: { ...event.data, failureDomain } };
    }
    case 'host.heartbeat':
      return {
        ...event,
        data: {
          ...event.data,
          arrays: event.data.arrays.map((array) => {
            const members = placeMembers(hostId, vdisks, array.members);
            return members === array.members ? array : { ...array, members };
          }),
          disks: event.data.disks.map((disk) => {
            const failureDomain = placed(hostId, vdisks, disk.disk, disk.failureDomain);
            return failureDomain === disk.failureDomain ? disk : { ...disk, failureDomain };
          }),
        },
      };
    default:
      return event;
  }
};

/**
 * Places what the guest's slice already holds on the disks' failure domains, after a new report
 * (`before`: the report it replaces): its arrays' members and remembered members, and its disks.
 * Returns the arrays whose members moved.
 */
export const placeKnownDisks = (host: HostSlice, before: GuestDisks | undefined): string[] => {
  const vdisks = host.vdisks;
  const moved: string[] = [];
  for (const name of Object.keys(host.arrays).sort()) {
    const record = host.arrays[name] as ArrayRecord;
    const members = placeMembers(host.hostId, vdisks, record.members, before);
    const known = placeMembers(host.hostId, vdisks, record.known, before);
    if (members === record.members && known === record.known) continue;
    host.arrays[name] = { ...record, members, known };
    moved.push(name);
  }
  for (const [name, disk] of Object.entries(host.disks)) {
    const failureDomain = placed(host.hostId, vdisks, disk.disk, disk.failureDomain, before);
    if (failureDomain !== disk.failureDomain) host.disks[name] = { ...disk, failureDomain };
  }
  return moved;
};
