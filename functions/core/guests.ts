import { createHash } from 'node:crypto';
import type { FaultlineEvent, GuestDisk, HostHeartbeat, Member } from '../../events/index.ts';
import type { ArrayRecord, GuestDisks, HostSlice, InternalInput } from './model.ts';
import { toMs } from './time.ts';

/**
 * LDoms guests placed by their control domain (docs/architecture.md §3 heartbeat `guests`, "Failure
 * domain"). A guest's agent sees its virtual disks (`c0d1`) but not which service domain serves each,
 * so without a topology file its members and disks carry `local:<its host id>` (unknown). Its control
 * domain knows (`ldm list -o disk -p`) and says so in its heartbeats' `guests`:
 *
 * - **Where it lives.** On the guest's own host slice (`HostSlice.vdisks`): the failure domain of
 *   each of its disks, from its control domain's latest report. Its domains are among the domains
 *   the slice refers to, so they load with the guest's slices and placing stays pure.
 * - **How it gets there.** A control domain's heartbeat newer than the last one it applied compares
 *   each guest's disks with a digest it keeps per guest (`HostSlice.guests`) and tells only a guest
 *   whose disks changed, by a follow-up (`internal.guest-disks`) decided on the guest's slices. A
 *   guest the report no longer lists keeps what it had (it moved to another control domain, whose
 *   report then replaces it, or it is gone). A control domain places disks only on its own service
 *   domains (`vdisk:<its host id>/…`); anything else in its report is ignored.
 * - **Placing.** A member or disk of the guest's events and heartbeats on `local:<guest>` whose disk
 *   the control domain placed is read on that failure domain. A domain the agent placed itself (its
 *   topology file) wins: only the unknown one is replaced.
 * - **Order.** A guest's symptom that arrives before its control domain's first report (after a
 *   restart of either) implicates `local:<guest>`: a local fault, waiting out its hold-down (or paged
 *   after it). When the report arrives, the guest's known state is placed anew (its arrays' members,
 *   remembered members and disks) and each local fault of an array that now sits on a control
 *   domain's service domain is filed there as the symptom it was, at the time it happened: it joins
 *   that domain's outage (merging a paged local fault), reopens one resolved since, or groups with
 *   the other guests' symptoms. Both orders end in the same incident.
 */

/** The unknown failure domain of a host's own storage (§3). */
export const unknownDomainOf = (hostId: string): string => `local:${hostId}`;

/** A digest of one guest's disks, identical however the control domain listed them. */
const digestOf = (domains: Record<string, string>): string =>
  createHash('sha1')
    .update(JSON.stringify(Object.entries(domains).sort(([a], [b]) => (a < b ? -1 : 1))))
    .digest('base64')
    .slice(0, 16);

/**
 * Each guest's disks, of those a control domain may place: on its own service domains
 * (`vdisk:<its host id>/…`). A report placing a disk anywhere else is not its to make and is ignored.
 */
const disksByGuest = (
  controlId: string,
  guests: readonly GuestDisk[],
): Map<string, Record<string, string>> => {
  const byGuest = new Map<string, Record<string, string>>();
  for (const { guest, disk, failureDomain } of guests) {
    if (!failureDomain.startsWith(`vdisk:${controlId}/`)) continue;
    byGuest.set(guest, { ...(byGuest.get(guest) ?? {}), [disk]: failureDomain });
  }
  return byGuest;
};

/**
 * A control domain's heartbeat with `guests`, newer than the last it applied: keeps a digest of each
 * guest's disks and returns the follow-ups that tell each guest whose disks changed. `seen` is when
 * it was received.
 */
export const guestDiskReports = (host: HostSlice, event: HostHeartbeat, seen: string): InternalInput[] => {
  const guests = event.data.guests;
  if (guests === undefined || event.data.role !== 'control') return [];
  if (host.guests !== undefined && event.seq <= host.guests.seq) return [];
  const before = host.guests?.digests ?? {};
  const digests: Record<string, string> = {};
  const reports: InternalInput[] = [];
  for (const [guest, domains] of [...disksByGuest(host.hostId, guests)].sort(([a], [b]) =>
    a < b ? -1 : 1,
  )) {
    const digest = digestOf(domains);
    digests[guest] = digest;
    if (before[guest] === digest) continue;
    reports.push({
      type: 'internal.guest-disks',
      hostId: guest,
      control: host.hostId,
      seq: event.seq,
      at: seen,
      domains,
    });
  }
  host.guests = { seq: event.seq, digests };
  return reports;
};

/** Whether a control domain's report is newer than the one the guest keeps. */
export const isNewerReport = (kept: GuestDisks | undefined, report: GuestDisks): boolean => {
  if (kept === undefined) return true;
  if (kept.control === report.control) return report.seq > kept.seq;
  return toMs(report.at) > toMs(kept.at);
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
