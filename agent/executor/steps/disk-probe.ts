import { join } from 'node:path';
import type { DeviceState, DiskProbeStep, Plan, ProbedPartition } from '../../../events/index.ts';
import { diskOfDevice } from '../../../probes/block-device.ts';
import type { DraftOf } from '../../../probes/event-draft.ts';
import { toProbedPartition } from '../../../probes/mdadm-examine.ts';
import { readDiskDirectly } from '../disk-read.ts';
import { hasSysBlock, pathExists, sysfsPartitions } from '../host-files.ts';
import {
  examineSuperblock,
  type HostAccess,
  listMdArrays,
  readDisks,
  readMdDetail,
  type SuperblockReading,
} from '../host-view.ts';
import { type StepContext, type StepResult, succeeded } from '../step-context.ts';

/**
 * `disk.probe` (§4): the device's state from sysfs, a direct read of its first block (`dd` in a
 * child process, ../disk-read.ts: a dead disk costs a killed child, never a stuck agent), and
 * `mdadm --examine` of each partition that reads; reported as `disk.probed`. It also decides the
 * branch: the fast path when the disk is running, readable, and each partition the plan names holds a
 * superblock of its array (same UUID, no more events than the array), else the rest of `steps`.
 * It only reads, so a dry-run runs it too.
 */

export type ProbeOutcome = {
  result: StepResult;
  draft: DraftOf<'disk.probed'>;
  /** Why the fast path was not taken; empty when it was. */
  fullPathReasons: string[];
  fastPath: boolean;
};

/** A partition the plan expects on the probed disk, with the array its superblock must name. */
export type ExpectedPartition = { device: string; array: string; uuid: string | undefined };

/** The partitions of the probed disk the plan names: `disk.verify`'s, and the fast path's md members. */
export const expectedPartitions = (plan: Plan, disk: string): ExpectedPartition[] => {
  const expected = new Map<string, ExpectedPartition>();
  const note = (device: string, array: string, uuid: string | undefined) => {
    if (diskOfDevice(device) !== disk) return;
    const key = `${device}/${array}`;
    const known = expected.get(key);
    expected.set(key, { device, array, uuid: known?.uuid ?? uuid });
  };
  for (const step of [...plan.steps, ...(plan.fastPath ?? [])]) {
    if (step.action === 'disk.verify' && step.disk === disk) {
      for (const partition of step.partitions) note(partition.device, partition.array, partition.uuid);
    }
  }
  for (const step of plan.fastPath ?? []) {
    if (step.action === 'md.add') note(step.member, step.array, step.uuid);
    if (step.action === 'md.remove') note(step.member, step.array, undefined);
  }
  return [...expected.values()];
};

/** The node a disk is read through: `dev/<disk>` on Linux, the whole-disk slice on Solaris. */
const diskNode = async (root: string, disk: string, linux: boolean): Promise<string | null> => {
  const candidates = linux
    ? [join(root, 'dev', disk)]
    : [
        join(root, 'dev', 'rdsk', `${disk}s2`),
        join(root, 'dev', 'rdsk', `${disk}p0`),
        join(root, 'dev', 'dsk', `${disk}s2`),
        join(root, 'dev', disk),
      ];
  for (const candidate of candidates) if (await pathExists(candidate)) return candidate;
  return null;
};

/** Each running array's UUID, from `mdadm --detail`. */
const arrayIdentities = async (
  host: HostAccess,
): Promise<Map<string, { uuid: string; events: number | null }>> => {
  const identities = new Map<string, { uuid: string; events: number | null }>();
  for (const array of await listMdArrays(host)) {
    const detail = await readMdDetail(host, array);
    if (detail?.uuid !== null && detail?.uuid !== undefined) {
      identities.set(array, { uuid: detail.uuid, events: detail.events });
    }
  }
  return identities;
};

export const runDiskProbe = async (step: DiskProbeStep, context: StepContext): Promise<ProbeOutcome> => {
  const { host } = context;
  const linux = await hasSysBlock(host.root);
  const disks = linux ? await readDisks(host) : new Map();
  const info = disks.get(step.disk);
  const node = linux && info === undefined ? null : await diskNode(host.root, step.disk, linux);
  const read = node === null ? null : await readDiskDirectly(host, step.disk, linux ? 'linux' : 'solaris');
  const readable = read?.readable === true;
  let deviceState: DeviceState;
  if (node === null || (linux && info === undefined)) deviceState = 'gone';
  else if (info?.deviceState !== null && info?.deviceState !== undefined) deviceState = info.deviceState;
  else deviceState = readable ? 'running' : 'offline';

  const identities = linux ? await arrayIdentities(host) : new Map();
  const arrayByUuid = new Map([...identities].map(([array, identity]) => [identity.uuid, array] as const));
  const superblocks = new Map<string, SuperblockReading>();
  const partitions: ProbedPartition[] = [];
  const partitionNames = linux && deviceState !== 'gone' ? await sysfsPartitions(host.root, step.disk) : [];
  for (const device of partitionNames) {
    // A partition of a disk that does not read is not read at all: another dd would only hang or fail too.
    const partitionRead = readable ? await readDiskDirectly(host, device, 'linux') : null;
    const superblock: SuperblockReading =
      partitionRead?.readable === true
        ? await examineSuperblock(host, device)
        : {
            kind: 'unknown',
            reason: `${device} is not readable (${partitionRead === null ? `${step.disk} is not` : partitionRead.detail || 'error'})`,
          };
    superblocks.set(device, superblock);
    partitions.push(
      superblock.kind === 'md'
        ? toProbedPartition({ device, superblock: superblock.superblock }, arrayByUuid)
        : { device },
    );
  }

  const reasons: string[] = [];
  if (context.plan.fastPath === undefined) reasons.push('the plan has no fast path');
  if (deviceState !== 'running') reasons.push(`${step.disk} is ${deviceState}`);
  if (!readable)
    reasons.push(
      `${step.disk} is not readable${read === null || read.detail === '' ? '' : ` (${read.detail})`}`,
    );
  const checked: string[] = [];
  for (const expected of expectedPartitions(context.plan, step.disk)) {
    const superblock = superblocks.get(expected.device);
    const array = identities.get(expected.array);
    if (superblock === undefined) {
      reasons.push(`${expected.device} is not there`);
    } else if (superblock.kind !== 'md') {
      reasons.push(
        `${expected.device} holds no superblock of ${expected.array}${superblock.kind === 'unknown' ? ` (${superblock.reason})` : ''}`,
      );
    } else if (array === undefined) {
      reasons.push(`${expected.array} is not running or its UUID cannot be read`);
    } else if (
      superblock.superblock.uuid !== array.uuid ||
      (expected.uuid !== undefined && expected.uuid !== array.uuid)
    ) {
      reasons.push(
        `${expected.device} belongs to ${superblock.superblock.uuid ?? 'no array'}, not ${expected.array}`,
      );
    } else if (superblock.superblock.events === null || array.events === null) {
      reasons.push(`the event counts of ${expected.device} and ${expected.array} cannot be compared`);
    } else if (superblock.superblock.events > array.events) {
      reasons.push(
        `${expected.device} has more events (${superblock.superblock.events}) than ${expected.array} (${array.events})`,
      );
    } else {
      checked.push(
        `${expected.device} in ${expected.array}, events ${superblock.superblock.events} ≤ ${array.events}`,
      );
    }
  }
  const fastPath = reasons.length === 0;
  const hctl = info?.hctl ?? step.hctl;
  const scsiHost = info?.scsiHost ?? step.scsiHost;
  const draft: DraftOf<'disk.probed'> = {
    type: 'disk.probed',
    subject: step.disk,
    data: {
      disk: step.disk,
      ...(hctl === null || hctl === undefined ? {} : { hctl }),
      ...(scsiHost === null || scsiHost === undefined ? {} : { scsiHost }),
      failureDomain: info?.failureDomain ?? step.failureDomain,
      deviceState,
      readable,
      partitions,
    },
  };
  const state = `${step.disk}${hctl === null || hctl === undefined ? '' : ` at ${hctl}`}: ${deviceState}, ${readable ? `readable (direct read: ${read?.detail || 'ok'})` : 'not readable'}`;
  const decision = fastPath
    ? `fast path (${checked.length === 0 ? 'no superblock to check' : checked.join('; ')})`
    : `steps (${reasons.join('; ')})`;
  return { result: succeeded(`${state}; → ${decision}`), draft, fullPathReasons: reasons, fastPath };
};
