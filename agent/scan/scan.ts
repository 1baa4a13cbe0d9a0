import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type ArrayReport,
  type FailureDomain,
  HostId,
  type HostRole,
  HostSnapshot,
  type LdomsDomain,
  type Member,
  type MemberState,
  type Platform,
  RaidLevel,
  type SnapshotDisk,
  type SnapshotMap,
  type SnapshotPath,
} from '../../events/index.ts';
import { diskOfDevice } from '../../probes/block-device.ts';
import { UNKNOWN_BOOT_ID } from '../../probes/boot-id.ts';
import { localFailureDomain } from '../../probes/failure-domain.ts';
import { parseLdmList } from '../../probes/ldm.ts';
import { type MdadmDetail, parseMdadmDetail } from '../../probes/mdadm-detail.ts';
import { type MdstatArrayReading, parseMdstat } from '../../probes/mdstat.ts';
import { parseMetastat } from '../../probes/metastat.ts';
import { parseMultipath } from '../../probes/multipath.ts';
import {
  mdMemberStateFromDetail,
  mdMemberStateFromSysfs,
  mdMemberStatesFromMdstat,
  pathStateOf,
  svmArrayState,
  svmMemberState,
} from '../../probes/report-states.ts';
import type { ProbeWarning } from '../../probes/tool-text.ts';
import { overriddenFailureDomain, type TopologyOverrides } from '../../probes/topology.ts';
import { ProbeError } from './errors.ts';
import {
  type BlockDiskInfo,
  type HostTopology,
  readBootId,
  readHostTopology,
  readMdSysfs,
  readMdUuidLinks,
  readText,
} from './sysfs-reader.ts';
import {
  createCapturedToolRunner,
  createLiveToolRunner,
  type ToolRequest,
  type ToolRunner,
} from './tool-runner.ts';

/**
 * One snapshot of a host's storage (DESIGN.md §6 `faultline-agent scan`): its md and SVM mirrors
 * with each member's state and failure domain, its multipath maps, its disks and, on a control
 * domain, its LDoms domains. Detection calls this every few seconds, so a scan reads files
 * (`proc/mdstat`, sysfs) and asks the tool runner only for what those files cannot tell: an array's
 * UUID when udev has no `md-uuid-` link, member states when sysfs has no `md/dev-*` folders,
 * `multipath -ll` when dm has multipath maps; the live runner reruns a tool only when the sysfs
 * fingerprint it depends on changed or its output is older than the refresh interval.
 */

export type ScanOptions = {
  /** `/` on a host; else a tree laid out like one (a sosreport, a fixture), whose captured tool outputs are read. */
  root: string;
  hostId: string;
  /** Defaults to `control` when `ldm` lists domains, else `client`. */
  role?: HostRole;
  /** The config's topology section: failure domains discovery cannot see. */
  topology?: TopologyOverrides;
  now: Date;
  /** Defaults to a shared live runner for `/` and to the captured outputs of any other tree. */
  runTool?: ToolRunner;
};

/** Sync progress of an array, which the snapshot does not carry but `mirror.recovering` does. */
export type ArraySync = { progress: number | null; finishMinutes: number | null };

/** What a probe could not read, tagged with the probe. */
export type ScanWarning = ProbeWarning & {
  source: 'mdstat' | 'mdadm' | 'multipath' | 'metastat' | 'ldm' | 'sysfs' | 'scan';
};

/** A scan with what the snapshot leaves out: detection needs the progress, operators the warnings. */
export type HostScan = {
  snapshot: HostSnapshot;
  /** For each array with a resync or recovery running or queued. */
  sync: Record<string, ArraySync>;
  warnings: ScanWarning[];
};

/** `/proc/mdstat` of 256 arrays of 64 members stays well under this. */
const MDSTAT_LIMIT = 4 * 1024 * 1024;

const SNAPSHOT_LIMITS = {
  arrays: 256,
  members: 64,
  maps: 1024,
  paths: 64,
  disks: 1024,
  domains: 256,
} as const;

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
  const solaris =
    platform === 'solaris' ? await scanSolaris(context) : { arrays: [], disks: [], domains: [] };

  const snapshot: HostSnapshot = {
    hostId: hostId.data,
    bootId: boot.bootId,
    platform,
    role: options.role ?? (solaris.domains.length > 0 ? 'control' : 'client'),
    takenAt: options.now.toISOString(),
    arrays: limit(
      [...linux.arrays, ...solaris.arrays].sort(byArrayName),
      SNAPSHOT_LIMITS.arrays,
      'arrays',
      context,
    ),
    maps: limit(linux.maps, SNAPSHOT_LIMITS.maps, 'multipath maps', context),
    disks: limit([...linux.disks, ...solaris.disks], SNAPSHOT_LIMITS.disks, 'disks', context),
    domains: limit(solaris.domains, SNAPSHOT_LIMITS.domains, 'domains', context),
  };
  const parsed = HostSnapshot.safeParse(snapshot);
  if (!parsed.success) {
    throw new ProbeError('invalid-snapshot', 'the scan built a snapshot that does not validate', {
      cause: parsed.error,
    });
  }
  return { snapshot: parsed.data, sync: context.sync, warnings: context.warnings };
};

type ScanContext = {
  root: string;
  hostId: HostId;
  live: boolean;
  now: Date;
  topology: TopologyOverrides | undefined;
  runTool: ToolRunner;
  warnings: ScanWarning[];
  sync: Record<string, ArraySync>;
};

const PLATFORM_BY_NODE: Readonly<Record<string, Platform>> = {
  linux: 'linux',
  sunos: 'solaris',
  aix: 'aix',
  os400: 'ibmi',
};

/**
 * This host's platform, or a tree's: Linux when it has `proc/mdstat` or `sys/block`, Solaris when
 * it holds a captured `metastat` or `ldm list`, Linux otherwise.
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
  return solaris.includes(true) ? 'solaris' : 'linux';
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

  const mdstat = parseMdstat(mdstatText ?? '');
  for (const warning of mdstat.warnings) context.warnings.push({ ...warning, source: 'mdstat' });
  const reports = await Promise.all(
    mdstat.arrays.map(async (array) => {
      const arrayContext: ScanContext = { ...context, warnings: [] };
      const report = await mdArrayReport(arrayContext, array, topology, uuidLinks.get(array.name));
      return { report, warnings: arrayContext.warnings };
    }),
  );
  const arrays: ArrayReport[] = [];
  for (const { report, warnings } of reports) {
    context.warnings.push(...warnings);
    if (report !== null) arrays.push(report);
  }
  for (const array of mdstat.arrays) {
    if (array.syncAction !== null || array.syncPending !== null) {
      context.sync[array.name] = { progress: array.progress, finishMinutes: array.finishMinutes };
    }
  }

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

/** What `mdadm --detail` of an array depends on: its membership and state, not its progress. */
const mdFingerprint = (array: MdstatArrayReading): string =>
  [
    array.name,
    array.state,
    `${array.total}/${array.active}`,
    ...array.members.map((member) => `${member.device}[${member.index}]${member.flags.join(',')}`),
  ].join(' ');

const mdArrayReport = async (
  context: ScanContext,
  array: MdstatArrayReading,
  topology: HostTopology,
  linkedUuid: string | undefined,
): Promise<ArrayReport | null> => {
  const sysfs = array.state === 'inactive' ? null : await readMdSysfs(context.root, array.name);
  const fromMdstat = mdMemberStatesFromMdstat(array);
  const states = new Map<string, MemberState | null>();
  for (const member of array.members) {
    const fromSysfs = sysfs?.members.get(member.device);
    states.set(
      member.device,
      fromSysfs === undefined
        ? (fromMdstat.get(member.device) ?? null)
        : mdMemberStateFromSysfs(fromSysfs.state, fromSysfs.slot),
    );
  }
  const sysfsLevel = sysfs?.level ?? null;
  const level = array.level ?? (RaidLevel.safeParse(sysfsLevel).success ? sysfsLevel : null);
  const needsDetail = linkedUuid === undefined || level === null || [...states.values()].includes(null);
  const detail = needsDetail ? await mdadmDetail(context, array) : null;
  if (detail !== null) {
    for (const row of detail.devices) {
      if (row.device !== null && states.get(row.device) === null) {
        states.set(row.device, mdMemberStateFromDetail(row));
      }
    }
  }
  const arrayLevel = level ?? detail?.level ?? null;
  if (arrayLevel === null) {
    context.warnings.push({
      source: 'mdstat',
      line: 0,
      text: array.name,
      reason: `${array.name}: RAID level unknown (inactive, no sysfs level, no mdadm --detail); not reported`,
    });
    return null;
  }
  const members: Member[] = [];
  for (const member of array.members) {
    const disk = diskOfDevice(member.device);
    if (disk === null) {
      context.warnings.push({
        source: 'mdstat',
        line: 0,
        text: member.device,
        reason: `${array.name}: member ${member.device} is on no disk this agent reports; left out`,
      });
      continue;
    }
    let state = states.get(member.device) ?? null;
    if (state === null) {
      context.warnings.push({
        source: 'mdstat',
        line: 0,
        text: member.device,
        reason: `${array.name}: cannot tell whether ${member.device} is in sync or rebuilding; reported as rebuilding`,
      });
      state = 'rebuilding';
    }
    members.push({
      device: member.device,
      disk,
      state,
      failureDomain: diskFailureDomain(context, topology, disk),
    });
  }
  const uuid = linkedUuid ?? detail?.uuid ?? null;
  const bitmap =
    array.state === 'inactive'
      ? detail === null
        ? null
        : detail.bitmap !== 'none'
      : array.bitmap || (detail !== null && detail.bitmap !== 'none');
  return {
    array: array.name,
    kind: 'md',
    level: arrayLevel,
    state: array.state,
    members: limit(members, SNAPSHOT_LIMITS.members, `members of ${array.name}`, context),
    ...(bitmap === null ? {} : { bitmap }),
    ...(uuid === null ? {} : { uuid }),
  };
};

const mdadmDetail = async (context: ScanContext, array: MdstatArrayReading): Promise<MdadmDetail | null> => {
  const output = await context.runTool(
    toolRequest(context, 'mdadm', ['--detail', `/dev/${array.name}`], mdFingerprint(array)),
  );
  if (output === null) return null;
  const reading = parseMdadmDetail(output);
  const detail = reading.arrays.find((candidate) => candidate.array === array.name) ?? null;
  if (detail !== null) {
    for (const warning of reading.warnings) context.warnings.push({ ...warning, source: 'mdadm' });
  }
  return detail;
};

const toolRequest = (
  context: ScanContext,
  tool: ToolRequest['tool'],
  args: readonly string[],
  fingerprint: string,
): ToolRequest => ({ tool, args, fingerprint, now: context.now });

/** A disk's failure domain: sysfs's (overrides applied), else an override of the bare name, else local. */
const diskFailureDomain = (context: ScanContext, topology: HostTopology, disk: string): FailureDomain =>
  topology.disks.get(disk)?.failureDomain ??
  overriddenFailureDomain(context.topology, disk, null) ??
  localFailureDomain(context.hostId);

/**
 * Whether a tree may have multipath maps its sysfs does not show: a capture without `sys/block`,
 * or with dm devices whose `dm/uuid` it did not keep. A live host's sysfs always shows them.
 */
const mayHoldUnseenMaps = (context: ScanContext, topology: HostTopology): boolean => {
  if (context.live) return false;
  if (topology.disks.size === 0) return true;
  return [...topology.disks.values()].some((disk) => disk.disk.startsWith('dm-') && disk.dmUuid === null);
};

/**
 * `multipath -ll` when dm has a multipath map (a `dm/uuid` starting `mpath-`). The
 * fingerprint is each map's slaves with their SCSI device state and I/O error count, which change
 * when a path fails. Nothing is asked of a host without multipath maps.
 */
const multipathMaps = async (context: ScanContext, topology: HostTopology): Promise<SnapshotMap[]> => {
  const multipathDevices = [...topology.disks.values()].filter((disk) => disk.dmUuid?.startsWith('mpath-'));
  if (multipathDevices.length === 0 && !mayHoldUnseenMaps(context, topology)) return [];
  const fingerprint = multipathDevices
    .map((map) =>
      [
        map.disk,
        ...map.slaves.map((slave) => {
          const path = topology.disks.get(slave);
          return `${slave}=${path?.sysfsState ?? '?'}/${path?.ioErrorCount ?? '?'}`;
        }),
      ].join(' '),
    )
    .join('; ');
  const output = await context.runTool(toolRequest(context, 'multipath', ['-ll'], fingerprint));
  if (output === null) return [];
  const reading = parseMultipath(output);
  for (const warning of reading.warnings) context.warnings.push({ ...warning, source: 'multipath' });
  return reading.maps.map((map) => {
    const paths: SnapshotPath[] = [];
    for (const path of map.paths) {
      if (path.device === null || path.hctl === null) {
        context.warnings.push({
          source: 'multipath',
          line: 0,
          text: map.name,
          reason: `${map.name}: an orphan path (#:#:#:#) has no device or address; left out`,
        });
        continue;
      }
      const scsiHost = `host${path.hctl.split(':')[0]}`;
      paths.push({
        path: path.device,
        hctl: path.hctl,
        failureDomain:
          topology.disks.get(path.device)?.failureDomain ??
          overriddenFailureDomain(context.topology, path.device, scsiHost) ??
          localFailureDomain(context.hostId),
        state: pathStateOf(path),
      });
    }
    return {
      map: map.name,
      wwid: map.wwid,
      paths: limit(paths, SNAPSHOT_LIMITS.paths, `paths of ${map.name}`, context),
    };
  });
};

/** SVM mirrors from `metastat` and LDoms domains from `ldm list -p`. */
const scanSolaris = async (
  context: ScanContext,
): Promise<{ arrays: ArrayReport[]; disks: SnapshotDisk[]; domains: LdomsDomain[] }> => {
  const [metastatOutput, ldmOutput] = await Promise.all([
    context.runTool(toolRequest(context, 'metastat', [], '')),
    context.runTool(toolRequest(context, 'ldm', ['list', '-p'], '')),
  ]);
  const arrays: ArrayReport[] = [];
  const disks = new Map<string, SnapshotDisk>();
  if (metastatOutput !== null) {
    const reading = parseMetastat(metastatOutput);
    for (const warning of reading.warnings) context.warnings.push({ ...warning, source: 'metastat' });
    for (const mirror of reading.mirrors) {
      const members: Member[] = [];
      for (const submirror of mirror.submirrors) {
        const disk = diskOfDevice(submirror.component);
        if (disk === null) continue;
        const failureDomain =
          overriddenFailureDomain(context.topology, disk, null) ?? localFailureDomain(context.hostId);
        members.push({
          device: submirror.component,
          disk,
          state: svmMemberState(submirror.componentState),
          failureDomain,
          submirror: submirror.name,
        });
        if (!disks.has(disk)) {
          disks.set(disk, { disk, driver: /^c\d+d\d+$/.test(disk) ? 'vdc' : 'unknown', failureDomain });
        }
      }
      arrays.push({
        array: mirror.name,
        kind: 'svm',
        level: 'raid1',
        state: svmArrayState(mirror),
        members: limit(members, SNAPSHOT_LIMITS.members, `members of ${mirror.name}`, context),
      });
      if (mirror.resyncProgress !== null) {
        context.sync[mirror.name] = { progress: mirror.resyncProgress, finishMinutes: null };
      }
    }
  }
  let domains: LdomsDomain[] = [];
  if (ldmOutput !== null) {
    const reading = parseLdmList(ldmOutput);
    for (const warning of reading.warnings) context.warnings.push({ ...warning, source: 'ldm' });
    domains = reading.domains;
  }
  return { arrays, disks: [...disks.values()], domains };
};

/** Arrays in name order (`md2` before `md10`), each with its members in device order. */
const byArrayName = (left: ArrayReport, right: ArrayReport): number => {
  left.members.sort((a, b) => naturalOrder(a.device, b.device));
  right.members.sort((a, b) => naturalOrder(a.device, b.device));
  return naturalOrder(left.array, right.array);
};

const naturalOrder = (left: string, right: string): number =>
  left.localeCompare(right, 'en', { numeric: true });

const limit = <T>(items: T[], max: number, what: string, context: ScanContext): T[] => {
  if (items.length <= max) return items;
  context.warnings.push({
    source: 'scan',
    line: 0,
    text: '',
    reason: `${items.length} ${what}; only the first ${max} reported`,
  });
  return items.slice(0, max);
};

const exists = async (path: string): Promise<boolean> => {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
};
