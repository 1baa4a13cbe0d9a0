import type { ExpectedPartition, Member, PlanStep } from '../../../events/index.ts';
import { criticalReason } from '../host.ts';
import type { ArrayRecord, HostSlice } from '../model.ts';
import {
  byName,
  hasSafePartner,
  type PlanContext,
  type PlanOutcome,
  unhealthyArraysOn,
} from './plan-context.ts';

/**
 * Linux md over vSCSI, in the field order of docs/architecture.md §1, for every disk of the host the
 * failure domain serves (a client often has its root and its data disks from one VIOS, §4). The plan
 * probes each disk first (`steps` opens with one `disk.probe` per disk), then, disk after disk by
 * name: fail every member of that disk still in sync, remove all its members, delete and rescan
 * that LUN, verify it came back under its name with its identity, add each member back. The resyncs
 * are watched last, one `md.wait-sync` per array: a second disk's arrays are not left degraded while
 * the first disk's resync runs, and each array is watched once.
 *
 * The fast path, for disks that came back by themselves, only adds back the members that are not in
 * sync (removing first a faulty member md still lists, as `--re-add` requires), then waits; nothing
 * healthy is failed. The agent takes it only when every leading probe finds its disk intact; a plan
 * over several disks still has each disk's part of the fast path open with its `disk.verify` (which
 * `md.zero-superblock` requires too), so no disk is touched before its identity is checked again.
 *
 * An array without a write-intent bitmap (`bitmap: false`): mdadm 4.x refuses both `--re-add` and
 * `--add` of a stale member ("reports being an active member … not performing --add"), so each of
 * its members gets `md.zero-superblock` right before its `md.add`, which then rebuilds it in full.
 * The fast path too: its members are just as stale (md failed them during the outage), and without
 * the zeroing its `md.add` would fail and halt the domain. The agent zeroes only a partition this
 * plan's `md.remove` took out or found out (udev's `mdadm -If` removes a member whose disk went
 * away, often before the plan is made), on a disk that passed `disk.verify`, while an in-sync
 * member on another failure domain remains (§4): so every zeroed member gets its `md.remove`, the
 * fast path verifies such a disk before it, and a member whose array has no in-sync member on
 * another up domain is not planned: the host is paged. An array whose bitmap is unknown is not planned either: zeroing a member of an array
 * with a bitmap is refused by the agent, not zeroing one without makes `md.add` fail, and either
 * halts the domain's waves, while a skipped host only pages.
 */

const parseHctl = (hctl: string) => {
  const [, channel, target, lun] = hctl.split(':').map(Number);
  return { channel: channel ?? 0, target: target ?? 0, lun: lun ?? 0 };
};

/** The disks on the domain that hold a member of an unhealthy array out of sync, or one it no longer lists. */
const disksToHeal = (host: HostSlice, failureDomain: string): string[] => {
  const disks = new Set<string>();
  for (const record of unhealthyArraysOn(host, failureDomain, 'md')) {
    const present = new Set(record.members.map((member) => member.device));
    for (const member of [...record.members, ...record.known]) {
      if (member.failureDomain !== failureDomain) continue;
      if (member.state !== 'in-sync' || !present.has(member.device)) disks.add(member.disk);
    }
  }
  return [...disks].sort();
};

/** The array's members on a disk, present or remembered (a removed member is still known), by device. */
const membersOnDisk = (record: ArrayRecord, disk: string): Member[] => {
  const byDevice = new Map<string, Member>();
  for (const member of [...record.known, ...record.members]) {
    if (member.disk === disk) byDevice.set(member.device, member);
  }
  return [...byDevice.values()].sort(byName((member) => member.device));
};

/** One disk's part of the plan. */
type DiskPart = {
  probe: PlanStep;
  /** Its part of `steps` after the probes: fail, remove, delete, rescan, verify, add back. */
  steps: PlanStep[];
  verify: PlanStep;
  /** Its part of the fast path: remove and add back the members not in sync. */
  fastPath: PlanStep[];
  zeroesOnFastPath: boolean;
  /** The arrays with a member on it, and those its fast path adds to. */
  arrays: string[];
  fastArrays: string[];
};

const planDisk = (
  { host, failureDomain, isDomainUp }: PlanContext,
  diskName: string,
): { part: DiskPart } | { refuse: string } => {
  const disk = host.disks[diskName];
  if (disk?.hctl === undefined || disk.scsiHost === undefined) {
    return { refuse: `${diskName} has no known SCSI address to delete and rescan` };
  }
  // Every array with a member on that disk, the swap mirror that still shows in sync included.
  const arraysOnDisk = Object.values(host.arrays)
    .filter((record) => [...record.members, ...record.known].some((member) => member.disk === diskName))
    .sort(byName((record) => record.array));
  for (const record of arraysOnDisk) {
    const reason = criticalReason(record, (domain) => !isDomainUp(domain));
    if (reason !== undefined) return { refuse: reason };
  }
  const fail: PlanStep[] = [];
  const remove: PlanStep[] = [];
  const add: PlanStep[] = [];
  const fastRemove: PlanStep[] = [];
  const fastAdd: PlanStep[] = [];
  const fastArrays: string[] = [];
  const partitions: ExpectedPartition[] = [];
  let zeroesOnFastPath = false;
  for (const record of arraysOnDisk) {
    if (record.bitmap === undefined) {
      return {
        refuse: `whether ${record.array} has a write-intent bitmap is unknown: without one its members on ${diskName} go back only after md.zero-superblock, which an array with one must not get`,
      };
    }
    const { uuid } = record;
    const zeroFirst = record.bitmap === false;
    if (zeroFirst && uuid === undefined) {
      return {
        refuse: `${record.array} has no write-intent bitmap and its UUID is unknown: md.zero-superblock of its members needs it`,
      };
    }
    const present = new Map(record.members.map((member) => [member.device, member]));
    for (const member of membersOnDisk(record, diskName)) {
      const current = present.get(member.device);
      if (current?.state === 'in-sync') {
        if (!hasSafePartner(record, current, isDomainUp)) {
          return {
            refuse: `${current.device} is the last in-sync member of ${record.array} on an up domain`,
          };
        }
        fail.push({ action: 'md.fail', array: record.array, member: member.device });
      }
      if (zeroFirst && !hasSafePartner(record, member, isDomainUp)) {
        return {
          refuse: `${member.device} would be zeroed with no in-sync member of ${record.array} on another up domain`,
        };
      }
      // A member md no longer lists (udev's `mdadm -If` took it out when its disk went away) still
      // gets its md.remove when it is to be zeroed: the agent finds it out and records it so, and
      // md.zero-superblock zeroes only a member the plan's md.remove took or found out.
      if (current !== undefined || zeroFirst)
        remove.push({ action: 'md.remove', array: record.array, member: member.device });
      partitions.push({ device: member.device, array: record.array, ...(uuid ? { uuid } : {}) });
      const addBack: PlanStep[] = [
        ...(zeroFirst && uuid !== undefined
          ? [{ action: 'md.zero-superblock' as const, array: record.array, member: member.device, uuid }]
          : []),
        { action: 'md.add', array: record.array, member: member.device, ...(uuid ? { uuid } : {}) },
      ];
      add.push(...addBack);
      if (current?.state !== 'in-sync') {
        if (current !== undefined || zeroFirst)
          fastRemove.push({ action: 'md.remove', array: record.array, member: member.device });
        fastAdd.push(...addBack);
        zeroesOnFastPath ||= zeroFirst;
        if (!fastArrays.includes(record.array)) fastArrays.push(record.array);
      }
    }
  }
  const { channel, target, lun } = parseHctl(disk.hctl);
  const verify: PlanStep = {
    action: 'disk.verify',
    disk: diskName,
    hctl: disk.hctl,
    ...(disk.sizeBytes === undefined ? {} : { sizeBytes: disk.sizeBytes }),
    ...(disk.wwid === undefined ? {} : { wwid: disk.wwid }),
    partitions,
  };
  return {
    part: {
      probe: {
        action: 'disk.probe',
        disk: diskName,
        hctl: disk.hctl,
        scsiHost: disk.scsiHost,
        failureDomain,
      },
      steps: [
        ...fail,
        ...remove,
        { action: 'scsi.delete', hctl: disk.hctl },
        { action: 'scsi.rescan', scsiHost: disk.scsiHost, channel, target, lun },
        verify,
        ...add,
      ],
      verify,
      fastPath: [...fastRemove, ...fastAdd],
      zeroesOnFastPath,
      arrays: arraysOnDisk.map((record) => record.array),
      fastArrays,
    },
  };
};

const waitSync = (arrays: Iterable<string>, stallSeconds: number): PlanStep[] =>
  [...new Set(arrays)].sort().map((array) => ({ action: 'md.wait-sync', array, stallSeconds }));

export const planMdOverVscsi = (context: PlanContext): PlanOutcome | undefined => {
  const { host, failureDomain, config } = context;
  if (unhealthyArraysOn(host, failureDomain, 'md').length === 0) return undefined;
  const disks = disksToHeal(host, failureDomain);
  if (disks.length === 0) return { kind: 'healthy' };
  const parts: DiskPart[] = [];
  for (const disk of disks) {
    const planned = planDisk(context, disk);
    if ('refuse' in planned) return { kind: 'refuse', reason: planned.refuse };
    parts.push(planned.part);
  }
  const verifyFirst = (part: DiskPart): boolean =>
    part.fastPath.length > 0 && (parts.length > 1 || part.zeroesOnFastPath);
  return {
    kind: 'plan',
    planned: {
      steps: [
        ...parts.map((part) => part.probe),
        ...parts.flatMap((part) => part.steps),
        ...waitSync(
          parts.flatMap((part) => part.arrays),
          config.stallSeconds,
        ),
      ],
      fastPath: [
        ...parts.flatMap((part) => [...(verifyFirst(part) ? [part.verify] : []), ...part.fastPath]),
        ...waitSync(
          parts.flatMap((part) => part.fastArrays),
          config.stallSeconds,
        ),
      ],
      touches: [...new Set(parts.flatMap((part) => part.arrays))].sort(),
    },
  };
};
