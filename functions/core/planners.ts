import type { Member, PlanStep } from '../../events/index.ts';
import type { CoreConfig } from './config.ts';
import { criticalReason, isPathHealthy } from './host.ts';
import type { ArrayRecord, HostSlice } from './model.ts';

/**
 * The runbooks of docs/architecture.md §1 as plan builders. A planner reads one host's slice as the core
 * last saw it and returns the steps for the storage one failure domain serves, or why it will not
 * plan. It never includes a step the §4/§5 rules forbid; the agent re-checks each one on the host.
 */

export type PlannedSteps = { steps: PlanStep[]; fastPath?: PlanStep[]; touches: string[] };
export type PlanOutcome =
  | { kind: 'plan'; planned: PlannedSteps }
  | { kind: 'healthy' }
  | { kind: 'refuse'; reason: string };

type Context = {
  host: HostSlice;
  failureDomain: string;
  config: CoreConfig;
  isDomainUp: (failureDomain: string) => boolean;
};

const byName =
  <T>(key: (item: T) => string) =>
  (a: T, b: T) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };

const parseHctl = (hctl: string) => {
  const [host, channel, target, lun] = hctl.split(':').map(Number);
  return { host, channel: channel ?? 0, target: target ?? 0, lun: lun ?? 0 };
};

/** An in-sync member of the array on another failure domain that is up: what makes failing this one safe. */
const hasSafePartner = (
  record: ArrayRecord,
  member: Member,
  isDomainUp: (domain: string) => boolean,
): boolean =>
  record.members.some(
    (other) =>
      other.device !== member.device &&
      other.state === 'in-sync' &&
      other.failureDomain !== member.failureDomain &&
      isDomainUp(other.failureDomain),
  );

const unhealthyArraysOn = (
  host: HostSlice,
  failureDomain: string,
  kind: ArrayRecord['kind'],
): ArrayRecord[] =>
  Object.values(host.arrays)
    .filter(
      (record) =>
        record.kind === kind &&
        record.health !== 'healthy' &&
        [...record.members, ...record.known].some((member) => member.failureDomain === failureDomain),
    )
    .sort(byName((record) => record.array));

/**
 * Linux md over vSCSI, in the field order of §1: probe; fail every member of the returned disk that
 * is still in sync; remove all of that disk's members; delete and rescan that LUN; verify the disk
 * came back under its name with its identity; add each member back; watch each resync. The fast path,
 * for a disk that came back by itself, only adds back the faulty members (removing a faulty member
 * md still lists first, as `--re-add` requires) and waits; nothing healthy is failed.
 */
const planMdOverVscsi = ({ host, failureDomain, config, isDomainUp }: Context): PlanOutcome | undefined => {
  const degraded = unhealthyArraysOn(host, failureDomain, 'md');
  if (degraded.length === 0) return undefined;
  const diskNames = new Set(
    degraded.flatMap((record) =>
      [...record.members, ...record.known]
        .filter((member) => member.failureDomain === failureDomain && member.state !== 'in-sync')
        .map((member) => member.disk),
    ),
  );
  // A member that vanished from the array (removed) still counts: it is in `known` but not `members`.
  for (const record of degraded) {
    const present = new Set(record.members.map((member) => member.device));
    for (const member of record.known) {
      if (member.failureDomain === failureDomain && !present.has(member.device)) diskNames.add(member.disk);
    }
  }
  const [diskName, ...others] = [...diskNames].sort();
  if (diskName === undefined) return { kind: 'healthy' };
  if (others.length > 0)
    return { kind: 'refuse', reason: `more than one disk on ${failureDomain} is degraded` };
  const disk = host.disks[diskName];
  if (disk?.hctl === undefined || disk.scsiHost === undefined) {
    return { kind: 'refuse', reason: `${diskName} has no known SCSI address to delete and rescan` };
  }
  for (const record of Object.values(host.arrays)) {
    const reason = criticalReason(record, (domain) => !isDomainUp(domain));
    const onDisk = [...record.members, ...record.known].some((member) => member.disk === diskName);
    if (reason !== undefined && onDisk) return { kind: 'refuse', reason };
  }

  // Every array with a member on that disk, the swap mirror that still shows in sync included.
  const arraysOnDisk = Object.values(host.arrays)
    .filter((record) => [...record.members, ...record.known].some((member) => member.disk === diskName))
    .sort(byName((record) => record.array));
  const fail: PlanStep[] = [];
  const remove: PlanStep[] = [];
  const add: PlanStep[] = [];
  const wait: PlanStep[] = [];
  const fastRemove: PlanStep[] = [];
  const fastAdd: PlanStep[] = [];
  const fastWait: PlanStep[] = [];
  const partitions: { device: string; array: string; uuid?: string }[] = [];
  for (const record of arraysOnDisk) {
    const present = new Map(record.members.map((member) => [member.device, member]));
    const onDisk = mergeByDevice(record, diskName);
    for (const member of onDisk) {
      const current = present.get(member.device);
      if (current?.state === 'in-sync') {
        if (!hasSafePartner(record, current, isDomainUp)) {
          return {
            kind: 'refuse',
            reason: `${current.device} is the last in-sync member of ${record.array} on an up domain`,
          };
        }
        fail.push({ action: 'md.fail', array: record.array, member: member.device });
      }
      if (current !== undefined)
        remove.push({ action: 'md.remove', array: record.array, member: member.device });
      const uuid = record.uuid;
      add.push({ action: 'md.add', array: record.array, member: member.device, ...(uuid ? { uuid } : {}) });
      partitions.push({ device: member.device, array: record.array, ...(uuid ? { uuid } : {}) });
      if (current !== undefined && current.state !== 'in-sync') {
        fastRemove.push({ action: 'md.remove', array: record.array, member: member.device });
      }
      if (current?.state !== 'in-sync') {
        fastAdd.push({
          action: 'md.add',
          array: record.array,
          member: member.device,
          ...(uuid ? { uuid } : {}),
        });
      }
    }
    wait.push({ action: 'md.wait-sync', array: record.array, stallSeconds: config.stallSeconds });
    if (onDisk.some((member) => present.get(member.device)?.state !== 'in-sync')) {
      fastWait.push({ action: 'md.wait-sync', array: record.array, stallSeconds: config.stallSeconds });
    }
  }
  const { channel, target, lun } = parseHctl(disk.hctl);
  const steps: PlanStep[] = [
    {
      action: 'disk.probe',
      disk: diskName,
      hctl: disk.hctl,
      scsiHost: disk.scsiHost,
      failureDomain,
    },
    ...fail,
    ...remove,
    { action: 'scsi.delete', hctl: disk.hctl },
    { action: 'scsi.rescan', scsiHost: disk.scsiHost, channel, target, lun },
    {
      action: 'disk.verify',
      disk: diskName,
      hctl: disk.hctl,
      ...(disk.sizeBytes === undefined ? {} : { sizeBytes: disk.sizeBytes }),
      ...(disk.wwid === undefined ? {} : { wwid: disk.wwid }),
      partitions,
    },
    ...add,
    ...wait,
  ];
  return {
    kind: 'plan',
    planned: {
      steps,
      fastPath: [...fastRemove, ...fastAdd, ...fastWait],
      touches: arraysOnDisk.map((record) => record.array),
    },
  };
};

const mergeByDevice = (record: ArrayRecord, diskName: string): Member[] => {
  const byDevice = new Map<string, Member>();
  for (const member of [...record.known, ...record.members]) {
    if (member.disk === diskName) byDevice.set(member.device, member);
  }
  return [...byDevice.values()].sort(byName((member) => member.device));
};

/**
 * SVM in an LDoms guest: `metareplace -e` for each component in Maintenance on the returned domain
 * whose other submirror is Okay, then wait for each mirror. A mirror with a Last Erred component or
 * no in-sync member is never planned; it pages.
 */
const planSvm = ({ host, failureDomain, config, isDomainUp }: Context): PlanOutcome | undefined => {
  const mirrors = unhealthyArraysOn(host, failureDomain, 'svm');
  if (mirrors.length === 0) return undefined;
  const replace: PlanStep[] = [];
  const wait: PlanStep[] = [];
  const disks = new Set<string>();
  for (const record of mirrors) {
    if (criticalReason(record, (domain) => !isDomainUp(domain)) !== undefined) continue;
    const components = record.members.filter(
      (member) => member.failureDomain === failureDomain && member.state === 'maintenance',
    );
    const partnerOkay = record.members.some(
      (member) =>
        member.failureDomain !== failureDomain &&
        member.state === 'in-sync' &&
        isDomainUp(member.failureDomain),
    );
    if (components.length === 0 || !partnerOkay) continue;
    for (const component of components) {
      replace.push({ action: 'svm.metareplace', mirror: record.array, component: component.device });
      disks.add(component.disk);
    }
    wait.push({ action: 'svm.wait-sync', mirror: record.array, stallSeconds: config.stallSeconds });
  }
  const [disk, ...others] = [...disks].sort();
  if (disk === undefined)
    return { kind: 'refuse', reason: 'no SVM component in Maintenance can be replaced safely' };
  if (others.length > 0)
    return { kind: 'refuse', reason: `more than one disk on ${failureDomain} needs maintenance` };
  return {
    kind: 'plan',
    planned: {
      steps: [{ action: 'disk.probe', disk, failureDomain }, ...replace, ...wait],
      touches: mirrors.map((record) => record.array),
    },
  };
};

/** Multipath: each path through the domain still failed gets `multipathd reinstate path`; ghosts are healthy. */
const planMultipath = ({ host, failureDomain }: Context): PlanOutcome | undefined => {
  const failed = Object.values(host.paths)
    .filter((record) => record.failureDomain === failureDomain && !isPathHealthy(record.state))
    .sort(byName((record) => `${record.map}/${record.path}`));
  if (failed.length === 0) return undefined;
  const [first] = failed;
  if (first === undefined) return undefined;
  return {
    kind: 'plan',
    planned: {
      steps: [
        { action: 'disk.probe', disk: first.path, hctl: first.hctl, failureDomain },
        ...failed.map(
          (record): PlanStep => ({ action: 'multipath.reinstate', map: record.map, path: record.path }),
        ),
      ],
      touches: [...new Set(failed.map((record) => record.map))],
    },
  };
};

/**
 * Why no plan may go to the host at all (§5.4): it holds an array that lost its last good copy, or
 * whose remaining in-sync members all depend on down domains. Plans act on whole disks, so even a
 * plan for another array could touch that one's disk.
 */
const doubleFaultOf = ({ host, isDomainUp }: Context): PlanOutcome | undefined => {
  for (const record of Object.values(host.arrays).sort(byName((item) => item.array))) {
    const reason = criticalReason(record, (domain) => !isDomainUp(domain));
    if (reason !== undefined) return { kind: 'refuse', reason: `double fault: ${reason}` };
  }
  return undefined;
};

/** The plan for one host and one failure domain, by the runbook its storage needs. */
export const planFor = (context: Context): PlanOutcome => {
  const planned = planMdOverVscsi(context) ?? planSvm(context) ?? planMultipath(context);
  if (planned === undefined) return { kind: 'healthy' };
  return planned.kind === 'plan' ? (doubleFaultOf(context) ?? planned) : planned;
};
