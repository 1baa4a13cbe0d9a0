import type { FaultlineEvent, GuestDisk, HostHeartbeat, Member } from '../../events/index.ts';
import { textDigest } from './ids.ts';
import type {
  ArrayRecord,
  GuestClaim,
  GuestDisks,
  GuestListing,
  GuestRun,
  HostSlice,
  InternalInput,
} from './model.ts';
import { addSeconds, toMs, toTime } from './time.ts';

/**
 * LDoms guests placed by their control domain (docs/architecture.md §3 heartbeat `guests`, "Failure
 * domain"). A guest's agent sees its virtual disks (`c0d1`) but not which service domain serves each,
 * so without a topology file its members and disks carry `local:<its host id>` (unknown). Its control
 * domain knows (`ldm list -o disk -p`, and the guest's state from `ldm list -p`) and says so in its
 * heartbeats' `guests`:
 *
 * - **Where it lives.** On the guest's own host slice (`HostSlice.vdisks`): the failure domain of
 *   each of its disks, as the control domain that places it last listed it active. Its domains are
 *   among the domains the slice refers to, so they load with the guest's slices and placing stays
 *   pure.
 * - **How it gets there.** A control domain's heartbeat newer than the last one it applied compares
 *   each guest's listing (its disks, and whether the guest is active there) with a digest it keeps
 *   per guest (`HostSlice.guests`) and tells only a guest whose listing changed, or that it no longer
 *   lists, by a follow-up (`internal.guest-disks`) decided on the guest's slices, with when its
 *   heartbeat before was received (`previousAt`: a guest it stops listing active was listed active
 *   until then). Every `GUEST_CLAIM.renewSeconds` (or heartbeat interval, if longer) it also tells
 *   each guest it lists active, changed or not: its renewal, by which a guest knows its control
 *   domain is still there. A control domain places disks only on its own service domains
 *   (`vdisk:<its host id>/…`); anything else in its report is ignored. One report tells at most
 *   `GUEST_CLAIM.maxGuestsPerReport` guests (those it listed before first), so a control domain naming
 *   ever new guests cannot make guest slices without bound; it keeps how many it left out (`ignored`).
 * - **One control domain places a guest at a time, and keeps it.** Any control domain may name any
 *   guest (its grant covers its own `vdisk:` domains, not the guests), so the guest keeps each control
 *   domain's latest word on it (`HostSlice.vdiskClaims`; by `seq`: an older report changes nothing),
 *   with its active listings before (`runs`), and takes its placement from one, its owner. The first
 *   to list it active owns it (of several at once, the one listing it active the longest, then by
 *   name). The owner keeps it while its word stands, and after: when its report no longer lists the
 *   guest active (gone, bound or inactive: `ldm stop` to resize it, a migration) or its claim lapses
 *   (no word from it for `GUEST_CLAIM.lapseRenewals` renewal periods while another control domain's
 *   word is newer: its silence; a control domain's reboot is shorter), the guest moves only to a
 *   control domain that lists it active and began to do so after the owner last did (a migrated or
 *   failed-over guest is listed active by its new control domain only after it stopped on the old
 *   one), with that control domain's kept word, no new report needed. Until one does, the owner keeps
 *   it, still placed on its disks, and listing it active again simply goes on owning it. A control
 *   domain that listed the guest active all along while another owned it (a rogue, or a DR standby
 *   whose older agent says no `state`) never takes it over by outliving it; its word is kept, not
 *   applied, and while two control domains list the guest active it is contested, said once on each
 *   of the guest's open incidents (`HostSlice.vdiskContested`). A control domain that lists the guest
 *   bound or inactive (a standby's copy) never places it.
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
 *   slice drops an older heartbeat), gone through in the order they were received (`ownerOf`), not
 *   from how different control domains' words interleave in delivery, so every delivery order ends
 *   with the same owner, on its domains. A guest keeps `GUEST_CLAIM.keptRuns` ended listings of each
 *   control domain; older ones are taken together, as one listing, which errs toward a long-standing
 *   owner.
 */

/** How long a control domain's word on a guest stands, and how much of it a guest keeps. */
export const GUEST_CLAIM = {
  /** A control domain renews its word on each guest it lists active at least this often. */
  renewSeconds: 600,
  /** Its claim lapses after this many renewal periods with no newer word from it. */
  lapseRenewals: 6,
  /** The control domains' words a guest keeps at most (its owner's always; those never active go first). */
  maxClaims: 8,
  /** The ended active listings a guest keeps of each control domain (the oldest are taken together). */
  keptRuns: 4,
  /** The guests one heartbeat of a control domain may tell at most (those it already listed first). */
  maxGuestsPerReport: 512,
} as const;

/** The unknown failure domain of a host's own storage (§3). */
export const unknownDomainOf = (hostId: string): string => `local:${hostId}`;

/** One guest as a control domain's report lists it: its disks there, and whether it is active there. */
type Listed = { domains: Record<string, string>; active: boolean };

/** A digest of one guest's listing, identical however the control domain ordered its disks. */
const digestOf = ({ domains, active }: Listed): string =>
  textDigest(
    'sha1',
    JSON.stringify([active, Object.entries(domains).sort(([a], [b]) => (a < b ? -1 : 1))]),
    'base64',
  ).slice(0, 16);

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

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

/**
 * The guests a report may tell, by name: at most `GUEST_CLAIM.maxGuestsPerReport`, those the control
 * domain listed before first (a report naming ever new guests never pushes them out), then by name.
 */
const withinBound = (
  listings: Map<string, Listed>,
  before: Record<string, string>,
): { told: [string, Listed][]; ignored: number } => {
  const all = [...listings].sort(([a], [b]) => byName(a, b));
  if (all.length <= GUEST_CLAIM.maxGuestsPerReport) return { told: all, ignored: 0 };
  const known = all.filter(([guest]) => Object.hasOwn(before, guest));
  const fresh = all.filter(([guest]) => !Object.hasOwn(before, guest));
  const told = [...known, ...fresh].slice(0, GUEST_CLAIM.maxGuestsPerReport);
  return { told: told.sort(([a], [b]) => byName(a, b)), ignored: all.length - told.length };
};

/** How often a control domain heartbeating every `intervalSeconds` renews its word. */
const renewalSeconds = (intervalSeconds: number): number =>
  Math.max(GUEST_CLAIM.renewSeconds, intervalSeconds);

/**
 * A control domain's heartbeat with `guests`, newer than the last it applied: keeps a digest of each
 * guest's listing and returns the follow-ups that tell each guest whose listing changed, that it no
 * longer lists, or, when its renewal is due, that it lists active. `seen` is when it was received.
 * Guests beyond `GUEST_CLAIM.maxGuestsPerReport` are not told, and their count is kept (`ignored`).
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
      ...(kept?.at === undefined ? {} : { previousAt: kept.at }),
    });
  };
  const { told, ignored } = withinBound(listingsByGuest(host.hostId, guests), before);
  for (const [guest, listed] of told) {
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
  host.guests = {
    seq: event.seq,
    at: seen,
    digests,
    ...(renewedAt === undefined ? {} : { renewedAt }),
    ...(ignored === 0 ? {} : { ignored }),
  };
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

/** The moment just after `time`: a word stands through its lapse time and no longer. */
const justAfter = (time: string): string => toTime(toMs(time) + 1);

/**
 * The active listing a control domain's report ends (its word before listed the guest active): it
 * lasted until the control domain's heartbeat before the report (`previousAt`; its last word to the
 * guest if unknown), or until its last word lapsed, if it did before the report.
 */
const endedRun = (previous: GuestClaim, report: GuestReport): GuestRun => {
  const lapsed = toMs(report.at) > toMs(previous.lapsesAt);
  const bound = lapsed ? toMs(previous.lapsesAt) : toMs(report.at);
  const heard = report.previousAt === undefined ? toMs(previous.at) : toMs(report.previousAt);
  return {
    since: previous.since,
    until: toTime(Math.max(toMs(previous.at), Math.min(heard, bound))),
    endedAt: lapsed ? justAfter(previous.lapsesAt) : report.at,
  };
};

/** At most `GUEST_CLAIM.keptRuns` runs: the oldest two are taken as one while there are more. */
const keptRuns = (runs: GuestRun[]): GuestRun[] => {
  let kept = runs;
  while (kept.length > GUEST_CLAIM.keptRuns) {
    const [first, second, ...rest] = kept;
    if (first === undefined || second === undefined) break;
    kept = [{ since: first.since, until: second.until, endedAt: second.endedAt }, ...rest];
  }
  return kept;
};

/**
 * A control domain's word after its newer report: an active listing keeps its age while it goes on
 * without a break (each word before the previous one lapsed), and starts anew otherwise; one that
 * ends joins its runs. Its domains are those it last listed active.
 */
export const nextClaim = (previous: GuestClaim | undefined, report: GuestReport): GuestClaim => {
  const listing = report.listing ?? 'active';
  const wasActive = previous?.listing === 'active';
  const goesOn = listing === 'active' && wasActive && toMs(report.at) <= toMs(previous.lapsesAt);
  const runs =
    wasActive && !goesOn ? keptRuns([...(previous.runs ?? []), endedRun(previous, report)]) : previous?.runs;
  return {
    seq: report.seq,
    at: report.at,
    listing,
    since: goesOn ? previous.since : report.at,
    domains: listing === 'active' ? report.domains : (previous?.domains ?? {}),
    lapsesAt: report.lapsesAt ?? addSeconds(report.at, DEFAULT_LAPSE_SECONDS),
    ...(runs === undefined || runs.length === 0 ? {} : { runs }),
  };
};

/** One active listing of a control domain, in epoch milliseconds; `end`: the first moment it no longer stands. */
type Span = { control: string; since: number; until: number; end: number };

/** A control domain's active listings: those that ended, and the one its word still makes, if any. */
const spansOf = (control: string, claim: GuestClaim, newest: number): Span[] => {
  const spans = (claim.runs ?? []).map((run) => ({
    control,
    since: toMs(run.since),
    until: toMs(run.until),
    end: toMs(run.endedAt),
  }));
  if (claim.listing === 'active') {
    const lapses = toMs(claim.lapsesAt);
    const end = lapses < newest ? lapses + 1 : Number.POSITIVE_INFINITY;
    spans.push({ control, since: toMs(claim.since), until: toMs(claim.at), end });
  }
  return spans;
};

/** The listing that began first (then by name): the first placement's pick, and a successor's. */
const senior = (spans: readonly Span[]): Span | undefined => {
  let best: Span | undefined;
  for (const span of spans) {
    if (
      best === undefined ||
      span.since < best.since ||
      (span.since === best.since && span.control < best.control)
    )
      best = span;
  }
  return best;
};

const newestOf = (claims: Record<string, GuestClaim>): number =>
  Math.max(...Object.values(claims).map((claim) => toMs(claim.at)));

/**
 * The control domain that places the guest, its owner, found by going through the active listings
 * the guest keeps in time order: the first to list it active owns it (the longest listing, then by
 * name, at once), and keeps it for as long as its word stands and then, no longer listing it active
 * or lapsed, until another control domain that began listing it active after it last did (the
 * longest such listing, then by name) lists it active while it does not: the new owner, which keeps
 * it the same way. A control domain listing the guest active all along while another owned it never
 * owns it by outliving it. None while no control domain ever listed it active. The words are each
 * control domain's own, so the owner is the same whatever order different control domains' words came in.
 */
export const ownerOf = (claims: Record<string, GuestClaim>): string | undefined => {
  const entries = Object.entries(claims);
  if (entries.length === 0) return undefined;
  const newest = newestOf(claims);
  const spans = entries.flatMap(([control, claim]) => spansOf(control, claim, newest));
  const moments = [...new Set(spans.flatMap((span) => [span.since, span.end]))]
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  let owner: string | undefined;
  for (const moment of moments) {
    const standing = spans.filter((span) => span.since <= moment && moment < span.end);
    if (owner === undefined) {
      owner = senior(standing)?.control;
      continue;
    }
    const current = owner;
    if (standing.some((span) => span.control === current)) continue;
    const lastActive = Math.max(
      ...spans.filter((span) => span.control === current && span.since <= moment).map((span) => span.until),
    );
    owner = senior(standing.filter((span) => span.since > lastActive))?.control ?? current;
  }
  return owner;
};

/** The control domains whose word lists the guest active and has not lapsed by the newest word, by name. */
export const listingActive = (claims: Record<string, GuestClaim>): string[] => {
  const newest = newestOf(claims);
  return Object.entries(claims)
    .filter(([, claim]) => claim.listing === 'active' && toMs(claim.lapsesAt) >= newest)
    .map(([control]) => control)
    .sort();
};

/**
 * At most `GUEST_CLAIM.maxClaims` words: the owner's stays; those that never listed the guest active
 * go first (a standby's copy, say), then the oldest.
 */
export const boundClaims = (claims: Record<string, GuestClaim>): Record<string, GuestClaim> => {
  const entries = Object.entries(claims);
  if (entries.length <= GUEST_CLAIM.maxClaims) return claims;
  const owner = ownerOf(claims);
  const weight = ([control, claim]: [string, GuestClaim]): number =>
    control === owner ? 2 : claim.listing === 'active' || (claim.runs?.length ?? 0) > 0 ? 1 : 0;
  entries.sort((a, b) => weight(a) - weight(b) || toMs(a[1].at) - toMs(b[1].at) || byName(a[0], b[0]));
  return Object.fromEntries(entries.slice(entries.length - GUEST_CLAIM.maxClaims));
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
