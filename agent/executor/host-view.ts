import { join } from 'node:path';
import type { FailureDomain, MemberState } from '../../events/index.ts';
import { diskOfDevice } from '../../probes/block-device.ts';
import { localFailureDomain } from '../../probes/failure-domain.ts';
import { type MdadmDetail, parseMdadmDetail } from '../../probes/mdadm-detail.ts';
import { type MdSuperblock, parseMdadmExamine } from '../../probes/mdadm-examine.ts';
import { type MdstatArrayReading, parseMdstat } from '../../probes/mdstat.ts';
import { type MetadbReading, parseMetadb } from '../../probes/metadb.ts';
import { type MetastatReading, parseMetastat } from '../../probes/metastat.ts';
import { type MultipathReading, parseMultipath } from '../../probes/multipath.ts';
import {
  mdMemberStateFromDetail,
  mdMemberStateFromSysfs,
  mdMemberStatesFromMdstat,
} from '../../probes/report-states.ts';
import { overriddenFailureDomain, type TopologyOverrides } from '../../probes/topology.ts';
import type { DirectReader } from '../scan/direct-read.ts';
import {
  type BlockDiskInfo,
  readHostTopology,
  readMdSysfs,
  readMdUuidLinks,
  readText,
} from '../scan/sysfs-reader.ts';
import { deviceNodeExists, diskInSysfs, hasSysBlock } from './host-files.ts';
import { type ProgramResult, type RunProgram, toolMessage } from './programs.ts';

/**
 * The host as it is now, read for one step: every precondition of §4 is decided on what these
 * functions return at that moment, never on what the plan says or on an earlier step's reading.
 * They reuse the probes' parsers and sysfs readers and ask the tools only what files cannot tell
 * (`mdadm --detail` for an array's UUID, event count and bitmap; `mdadm --examine` for a
 * superblock; `multipathd show topology`; `metastat`; `metadb`).
 */

/** What the executor needs to read the host. */
export type HostAccess = {
  /** `/` on a host; a tree laid out like one in tests. */
  root: string;
  hostId: string;
  topology: TopologyOverrides | undefined;
  runProgram: RunProgram;
  signal?: AbortSignal | undefined;
  /** The direct read of a disk's first block (./disk-read.ts); the tree's nodes are read when absent. */
  directRead?: DirectReader | undefined;
};

/** One member of an md array as the kernel shows it now. */
export type MemberView = {
  device: string;
  disk: string | null;
  /** `unknown` when the kernel's views (sysfs, mdadm, mdstat) disagree: a change is in flight. */
  state: MemberState | 'unknown';
  /** Its node is gone (`/dev/<member>` missing, or its disk left sysfs): mdadm's `detached`. */
  detached: boolean;
};

/** An md array as the kernel shows it now. */
export type MdArrayView = {
  array: string;
  level: string | null;
  running: boolean;
  reading: MdstatArrayReading;
  /** The array's size (mdstat `blocks`, 1 KiB each); for raid1 what each member must hold. */
  sizeBytes: number | null;
  bitmap: boolean;
  uuid: string | null;
  events: number | null;
  members: MemberView[];
};

/** Whether an array is fully in sync: running, no missing slot, no sync running or queued. */
export const isInSync = (view: MdArrayView): boolean =>
  view.running &&
  !view.reading.degraded &&
  view.reading.syncAction === null &&
  view.reading.syncPending === null &&
  view.members.every((member) => member.state === 'in-sync' || member.state === 'spare');

export const inSyncMembers = (view: MdArrayView): MemberView[] =>
  view.members.filter((member) => member.state === 'in-sync');

const combineStates = (states: readonly (MemberState | null | undefined)[]): MemberState | 'unknown' => {
  const known = states.filter((state): state is MemberState => state !== null && state !== undefined);
  const [first] = known;
  if (first === undefined) return 'unknown';
  return known.every((state) => state === first) ? first : 'unknown';
};

/** `mdadm --detail /dev/<array>`, parsed; null when mdadm is missing or printed no such array. */
export const readMdDetail = async (host: HostAccess, array: string): Promise<MdadmDetail | null> => {
  const result = await runQuietly(host, 'mdadm', ['--detail', `/dev/${array}`]);
  if (result === null) return null;
  return parseMdadmDetail(result.stdout).arrays.find((detail) => detail.array === array) ?? null;
};

/**
 * One md array, read afresh: mdstat, the array's sysfs folder, and (when `detail` is asked for)
 * `mdadm --detail`. A member's state is the one every source that can tell agrees on.
 */
export const readMdArray = async (
  host: HostAccess,
  array: string,
  options: { detail: boolean },
): Promise<MdArrayView | null> => {
  const mdstat = parseMdstat((await readText(join(host.root, 'proc', 'mdstat'))) ?? '');
  const reading = mdstat.arrays.find((candidate) => candidate.name === array);
  if (reading === undefined) return null;
  const running = reading.state !== 'inactive';
  const [sysfs, detail, links, linux] = await Promise.all([
    running ? readMdSysfs(host.root, array) : Promise.resolve(null),
    options.detail ? readMdDetail(host, array) : Promise.resolve(null),
    readMdUuidLinks(host.root),
    hasSysBlock(host.root),
  ]);
  const fromMdstat = mdMemberStatesFromMdstat(reading);
  const members: MemberView[] = [];
  for (const member of reading.members) {
    const fromSysfs = sysfs?.members.get(member.device);
    const row = detail?.devices.find((candidate) => candidate.device === member.device);
    const state = combineStates([
      fromSysfs === undefined ? undefined : mdMemberStateFromSysfs(fromSysfs.state, fromSysfs.slot),
      row === undefined ? undefined : mdMemberStateFromDetail(row),
      fromMdstat.get(member.device),
    ]);
    const disk = diskOfDevice(member.device);
    const nodeGone = !(await deviceNodeExists(host.root, member.device));
    const diskGone = linux && disk !== null && !(await diskInSysfs(host.root, disk));
    members.push({ device: member.device, disk, state, detached: nodeGone || diskGone });
  }
  return {
    array,
    level: reading.level ?? detail?.level ?? null,
    running,
    reading,
    sizeBytes: reading.blocks === null ? null : reading.blocks * 1024,
    bitmap: reading.bitmap || (detail !== null && detail.bitmap !== 'none'),
    uuid: detail?.uuid ?? links.get(array) ?? null,
    events: detail?.events ?? null,
    members,
  };
};

/** Every array mdstat lists, by name. */
export const listMdArrays = async (host: HostAccess): Promise<string[]> =>
  parseMdstat((await readText(join(host.root, 'proc', 'mdstat'))) ?? '').arrays.map((array) => array.name);

/** The disks under `sys/block` with their SCSI address, state, size, WWID and failure domain. */
export const readDisks = async (host: HostAccess): Promise<Map<string, BlockDiskInfo>> =>
  (await readHostTopology({ root: host.root, hostId: host.hostId, topology: host.topology })).disks;

/** A disk's failure domain: sysfs's (overrides applied), else an override of its name, else local. */
export const failureDomainOf = (
  host: HostAccess,
  disks: ReadonlyMap<string, BlockDiskInfo>,
  disk: string | null,
): FailureDomain => {
  if (disk === null) return localFailureDomain(host.hostId);
  return (
    disks.get(disk)?.failureDomain ??
    overriddenFailureDomain(host.topology, disk, null) ??
    localFailureDomain(host.hostId)
  );
};

/** What a partition's md superblock says, as far as `mdadm --examine` can tell. */
export type SuperblockReading =
  | { kind: 'md'; superblock: MdSuperblock }
  | { kind: 'blank' }
  | { kind: 'unknown'; reason: string };

/**
 * `mdadm --examine /dev/<device>`. mdadm says "No md superblock detected" both for a blank
 * partition and for one it could not read, so callers decide "blank" only for a device whose first
 * block they could read.
 */
export const examineSuperblock = async (host: HostAccess, device: string): Promise<SuperblockReading> => {
  let result: ProgramResult | null;
  try {
    result = await host.runProgram('mdadm', ['--examine', `/dev/${device}`], signalOption(host));
  } catch (error) {
    return { kind: 'unknown', reason: (error as Error).message };
  }
  if (result.timedOut) return { kind: 'unknown', reason: 'mdadm --examine timed out' };
  const reading = parseMdadmExamine(`${result.stdout}\n${result.stderr}`);
  const examined = reading.devices.find((entry) => entry.device === device);
  if (examined === undefined) {
    return { kind: 'unknown', reason: toolMessage(result) || `mdadm printed nothing about ${device}` };
  }
  if (examined.superblock === null) return { kind: 'blank' };
  if (examined.superblock.uuid === null)
    return { kind: 'unknown', reason: 'the superblock names no array UUID' };
  return { kind: 'md', superblock: examined.superblock };
};

/** `multipathd show topology` (the daemon's view, printed as `multipath -ll` prints it). */
export const readMultipath = async (host: HostAccess): Promise<MultipathReading | null> => {
  const result = await runQuietly(host, 'multipathd', ['show', 'topology']);
  return result === null ? null : parseMultipath(result.stdout);
};

export const readMetastat = async (host: HostAccess): Promise<MetastatReading | null> => {
  const result = await runQuietly(host, 'metastat', []);
  return result === null || result.exitCode !== 0 ? null : parseMetastat(result.stdout);
};

export const readMetadb = async (host: HostAccess): Promise<MetadbReading | null> => {
  const result = await runQuietly(host, 'metadb', []);
  return result === null || result.exitCode !== 0 ? null : parseMetadb(result.stdout);
};

const signalOption = (host: HostAccess) => (host.signal === undefined ? {} : { signal: host.signal });

/** Runs a read-only tool; null when it is missing or timed out. */
const runQuietly = async (
  host: HostAccess,
  program: 'mdadm' | 'multipathd' | 'metastat' | 'metadb',
  args: readonly string[],
): Promise<ProgramResult | null> => {
  try {
    const result = await host.runProgram(program, args, signalOption(host));
    return result.timedOut ? null : result;
  } catch {
    return null;
  }
};
