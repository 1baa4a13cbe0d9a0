import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type ArrayReport,
  HostId,
  type HostRole,
  HostSnapshot,
  type Platform,
  type SnapshotDisk,
  type SnapshotMap,
} from '../../events/index.ts';
import { UNKNOWN_BOOT_ID } from '../../probes/boot-id.ts';
import { type AixScan, scanAix } from './aix-scan.ts';
import { ProbeError } from './errors.ts';
import { scanMdArrays } from './md-scan.ts';
import { multipathMaps } from './multipath-scan.ts';
import {
  type ArraySync,
  limit,
  type ScanContext,
  type ScanTopology,
  type ScanWarning,
  SNAPSHOT_LIMITS,
} from './scan-context.ts';
import { type SolarisScan, scanSolaris } from './solaris-scan.ts';
import {
  type BlockDiskInfo,
  readBootId,
  readHostTopology,
  readMdUuidLinks,
  readText,
} from './sysfs-reader.ts';
import { createCapturedToolRunner, createLiveToolRunner, type ToolRunner } from './tool-runner.ts';

/**
 * One snapshot of a host's storage (docs/architecture.md §6 `faultline-agent scan`): its md and SVM mirrors
 * with each member's state and failure domain, its multipath maps, its disks, on an SVM host its
 * state database replicas per slice and, on a control domain, its LDoms domains. Detection calls this every few seconds, so a scan reads files
 * (`proc/mdstat`, sysfs) and asks the tool runner only for what those files cannot tell: an array's
 * UUID when udev has no `md-uuid-` link, member states when sysfs has no `md/dev-*` folders,
 * `multipath -ll` when dm has multipath maps; the live runner reruns a tool only when the sysfs
 * fingerprint it depends on changed or its output is older than the refresh interval.
 *
 * The sections are rooms of their own: md-scan.ts (Linux md), multipath-scan.ts (dm-multipath),
 * solaris-scan.ts (SVM and LDoms), aix-scan.ts (AIX LVM mirrors and MPIO paths, observed only),
 * over what scan-context.ts gives them all.
 */

export type ScanOptions = {
  /** `/` on a host; else a tree laid out like one (a sosreport, a fixture), whose captured tool outputs are read. */
  root: string;
  hostId: string;
  /** Defaults to `control` when `ldm` lists domains, else `client`. */
  role?: HostRole;
  /** The config's topology section: failure domains discovery cannot see. */
  topology?: ScanTopology;
  now: Date;
  /** Defaults to a shared live runner for `/` and to the captured outputs of any other tree. */
  runTool?: ToolRunner;
};

export type { ArraySync, ScanWarning };

/** A scan with what the snapshot leaves out: detection needs the progress, operators the warnings. */
export type HostScan = {
  snapshot: HostSnapshot;
  /** For each array with a resync or recovery running or queued. */
  sync: Record<string, ArraySync>;
  warnings: ScanWarning[];
};

/** `/proc/mdstat` of 256 arrays of 64 members stays well under this. */
const MDSTAT_LIMIT = 4 * 1024 * 1024;

let sharedLiveRunner: ToolRunner | undefined;

/** The runner scans of `/` share when none is given, so outputs are reused across scans. */
const liveRunner = (): ToolRunner => {
  sharedLiveRunner ??= createLiveToolRunner();
  return sharedLiveRunner;
};

/** One snapshot of the host (or tree) at `options.root`. */
export const scanHost = async (options: ScanOptions): Promise<HostSnapshot> =>
  (await scanHostInDetail(options)).snapshot;

/** The snapshot with the sync progress and the warnings of every probe. */
export const scanHostInDetail = async (options: ScanOptions): Promise<HostScan> => {
  const hostId = HostId.safeParse(options.hostId);
  if (!hostId.success) {
    throw new ProbeError('invalid-scan-options', `'${options.hostId}' is not a host id`, {
      cause: hostId.error,
    });
  }
  const live = resolve(options.root) === '/';
  const context: ScanContext = {
    root: options.root,
    hostId: hostId.data,
    live,
    now: options.now,
    topology: options.topology,
    runTool: options.runTool ?? (live ? liveRunner() : createCapturedToolRunner(options.root)),
    warnings: [],
    sync: {},
  };
  const platform = await detectPlatform(context);
  const boot = await readBootId(options.root);
  if (boot.source === null) {
    context.warnings.push({
      source: 'sysfs',
      line: 0,
      text: 'proc/sys/kernel/random/boot_id',
      reason: `no boot id or boot time; reported as '${UNKNOWN_BOOT_ID}'`,
    });
  }

  const linux = platform === 'linux' ? await scanLinux(context) : { arrays: [], maps: [], disks: [] };
  const solaris: SolarisScan =
    platform === 'solaris' ? await scanSolaris(context) : { arrays: [], disks: [], domains: [] };
  const aix: AixScan = platform === 'aix' ? await scanAix(context) : { arrays: [], maps: [], disks: [] };

  const snapshot: HostSnapshot = {
    hostId: hostId.data,
    bootId: boot.bootId,
    platform,
    role: options.role ?? (solaris.domains.length > 0 ? 'control' : 'client'),
    takenAt: options.now.toISOString(),
    arrays: limit(
      [...linux.arrays, ...solaris.arrays, ...aix.arrays].sort(byArrayName),
      SNAPSHOT_LIMITS.arrays,
      'arrays',
      context,
    ),
    maps: limit([...linux.maps, ...aix.maps], SNAPSHOT_LIMITS.maps, 'multipath maps', context),
    disks: limit([...linux.disks, ...solaris.disks, ...aix.disks], SNAPSHOT_LIMITS.disks, 'disks', context),
    domains: limit(solaris.domains, SNAPSHOT_LIMITS.domains, 'domains', context),
    ...(solaris.replicas === undefined ? {} : { replicas: solaris.replicas }),
  };
  const parsed = HostSnapshot.safeParse(snapshot);
  if (!parsed.success) {
    throw new ProbeError('invalid-snapshot', 'the scan built a snapshot that does not validate', {
      cause: parsed.error,
    });
  }
  return { snapshot: parsed.data, sync: context.sync, warnings: context.warnings };
};

const PLATFORM_BY_NODE: Readonly<Record<string, Platform>> = {
  linux: 'linux',
  sunos: 'solaris',
  aix: 'aix',
  os400: 'ibmi',
};

/**
 * This host's platform, or a tree's: Linux when it has `proc/mdstat` or `sys/block`, Solaris when
 * it holds a captured `metastat` or `ldm list`, AIX when it holds captured AIX tools
 * (`sos_commands/aix/`), Linux otherwise.
 */
const detectPlatform = async (context: ScanContext): Promise<Platform> => {
  if (context.live) return PLATFORM_BY_NODE[process.platform] ?? 'linux';
  if (
    (await exists(join(context.root, 'proc', 'mdstat'))) ||
    (await exists(join(context.root, 'sys', 'block')))
  ) {
    return 'linux';
  }
  const solaris = await Promise.all([
    exists(join(context.root, 'sos_commands', 'svm')),
    exists(join(context.root, 'sos_commands', 'ldoms')),
  ]);
  if (solaris.includes(true)) return 'solaris';
  return (await exists(join(context.root, 'sos_commands', 'aix'))) ? 'aix' : 'linux';
};

const scanLinux = async (
  context: ScanContext,
): Promise<{ arrays: ArrayReport[]; maps: SnapshotMap[]; disks: SnapshotDisk[] }> => {
  const [mdstatText, topology, uuidLinks] = await Promise.all([
    readText(join(context.root, 'proc', 'mdstat'), MDSTAT_LIMIT),
    readHostTopology({ root: context.root, hostId: context.hostId, topology: context.topology }),
    readMdUuidLinks(context.root),
  ]);
  for (const warning of topology.warnings) context.warnings.push({ ...warning, source: 'sysfs' });

  const arrays = await scanMdArrays(context, mdstatText, topology, uuidLinks);
  const maps = await multipathMaps(context, topology);
  const disks = [...topology.disks.values()].filter((disk) => !disk.disk.startsWith('dm-')).map(snapshotDisk);
  return { arrays, maps, disks };
};

const snapshotDisk = (disk: BlockDiskInfo): SnapshotDisk => ({
  disk: disk.disk,
  ...(disk.hctl === null ? {} : { hctl: disk.hctl }),
  ...(disk.scsiHost === null ? {} : { scsiHost: disk.scsiHost }),
  driver: disk.driver,
  ...(disk.sizeBytes === null ? {} : { sizeBytes: disk.sizeBytes }),
  ...(disk.wwid === null ? {} : { wwid: disk.wwid }),
  failureDomain: disk.failureDomain,
  ...(disk.deviceState === null ? {} : { deviceState: disk.deviceState }),
});

/** Arrays in name order (`md2` before `md10`), each with its members in device order. */
const byArrayName = (left: ArrayReport, right: ArrayReport): number => {
  left.members.sort((a, b) => naturalOrder(a.device, b.device));
  right.members.sort((a, b) => naturalOrder(a.device, b.device));
  return naturalOrder(left.array, right.array);
};

const naturalOrder = (left: string, right: string): number =>
  left.localeCompare(right, 'en', { numeric: true });

const exists = async (path: string): Promise<boolean> => {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
};
