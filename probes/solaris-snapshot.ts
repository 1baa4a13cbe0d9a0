import {
  type ArrayReport,
  type HostId,
  type HostRole,
  HostSnapshot,
  type LdomsDomain,
  type Member,
  type Platform,
  type ReplicaReport,
  ReplicaReports,
  type SnapshotDisk,
} from '../events/index.ts';
import { diskOfDevice } from './block-device.ts';
import { localFailureDomain } from './failure-domain.ts';
import { parseLdmList } from './ldm.ts';
import { parseMetadb, replicasBySlice } from './metadb.ts';
import { type MetastatReading, parseMetastat } from './metastat.ts';
import { parseMetastatCompact } from './metastat-compact.ts';
import { svmArrayState, svmMemberState } from './report-states.ts';
import type { RecoveryProgress } from './snapshot-diff.ts';
import { type ProbeWarning, WARNING_TEXT_LIMIT } from './tool-text.ts';
import { overriddenFailureDomain, type TopologyOverrides } from './topology.ts';

/**
 * A Solaris host's storage from the text of its tools (docs/architecture.md §3): the SVM mirrors
 * of `metastat` (or `metastat -c`) with their submirrors' components as members (and their disks), the state
 * database replicas of `metadb -i` counted per slice, and on a control domain the LDoms domains of
 * `ldm list -p`. Pure: text in, the snapshot's parts out. The Node agent's scan
 * (agent/scan/solaris-scan.ts) runs the tools and reads their output with these; the control
 * plane reads the same outputs from the sh agent's collect (`POST /v1/agents/:hostId/collect`,
 * where Node does not run) and builds the whole snapshot with {@link solarisSnapshot}, so both
 * report the same arrays, disks and replicas for the same host.
 *
 * Solaris has no sysfs: a disk's failure domain comes from the topology overrides, else it is
 * local (`local:<host>`); an LDoms guest's members get their service domain's from the control
 * domain's `guests` in the core.
 */

/** What a reading could not take in, tagged with the tool (or `scan`, for what a limit left out). */
export type SolarisWarning = ProbeWarning & { source: 'metastat' | 'metadb' | 'ldm' | 'scan' };

/** The most of each kind a snapshot carries (the contract's maxima, events/snapshot.ts). */
export const SOLARIS_SNAPSHOT_LIMITS = { arrays: 256, members: 64, disks: 1024, domains: 256 } as const;

/** At most `max` items, with a warning when some were left out. */
const limited = <T>(items: T[], max: number, what: string, warnings: SolarisWarning[]): T[] => {
  if (items.length <= max) return items;
  warnings.push({
    source: 'scan',
    line: 0,
    text: '',
    reason: `${items.length} ${what}; only the first ${max} reported`,
  });
  return items.slice(0, max);
};

/** The SVM mirrors of one `metastat`, their disks, and each resyncing mirror's percentage. */
export type SvmMirrors = {
  arrays: ArrayReport[];
  disks: SnapshotDisk[];
  /** Percent done, per mirror whose resync runs (`Resync in progress: 37 % done`). */
  resync: Record<string, number>;
  warnings: SolarisWarning[];
};

export type SvmMirrorOptions = {
  hostId: HostId;
  topology?: TopologyOverrides | undefined;
  maxMembers?: number;
};

/** The SVM mirrors of `metastat` as arrays of kind `svm`, each component a member on its disk. */
export const svmMirrors = (metastat: string, options: SvmMirrorOptions): SvmMirrors =>
  svmMirrorsOf(parseMetastat(metastat), options);

/**
 * The same from a reading of either listing: `metastat` (probes/metastat.ts) or `metastat -c`
 * (probes/metastat-compact.ts), which give the same reading.
 */
export const svmMirrorsOf = (reading: MetastatReading, options: SvmMirrorOptions): SvmMirrors => {
  const warnings: SolarisWarning[] = [];
  for (const warning of reading.warnings) warnings.push({ ...warning, source: 'metastat' });
  const arrays: ArrayReport[] = [];
  const disks = new Map<string, SnapshotDisk>();
  const resync: Record<string, number> = {};
  for (const mirror of reading.mirrors) {
    const members: Member[] = [];
    for (const submirror of mirror.submirrors) {
      const disk = diskOfDevice(submirror.component);
      if (disk === null) continue;
      const failureDomain =
        overriddenFailureDomain(options.topology, disk, null) ?? localFailureDomain(options.hostId);
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
      members: limited(
        members,
        options.maxMembers ?? SOLARIS_SNAPSHOT_LIMITS.members,
        `members of ${mirror.name}`,
        warnings,
      ),
    });
    if (mirror.resyncProgress !== null) resync[mirror.name] = mirror.resyncProgress;
  }
  return { arrays, disks: [...disks.values()], resync, warnings };
};

/**
 * The replicas of `metadb -i` per slice, or undefined when it says nothing sure: no replica listed
 * (no state database, or `metadb` failed: "there are no existing databases"), a line it could not
 * read, or counts a heartbeat cannot carry. Never a partial list, which would read as a majority
 * that is not there: the rules of §4 weigh every replica.
 */
export const stateDatabaseReplicas = (
  metadb: string,
): { replicas: ReplicaReport[] | undefined; warnings: SolarisWarning[] } => {
  const reading = parseMetadb(metadb);
  if (reading.replicas.length === 0) return { replicas: undefined, warnings: [] };
  const [unread] = reading.messages;
  if (unread !== undefined) {
    return {
      replicas: undefined,
      warnings: [
        {
          source: 'metadb',
          line: 0,
          text: unread.slice(0, WARNING_TEXT_LIMIT),
          reason: `${reading.messages.length === 1 ? 'a line' : `${reading.messages.length} lines`} of metadb -i not read: replicas not reported`,
        },
      ],
    };
  }
  const reports = ReplicaReports.safeParse(replicasBySlice(reading));
  if (!reports.success) {
    return {
      replicas: undefined,
      warnings: [
        {
          source: 'metadb',
          line: 0,
          text: '',
          reason: `replicas not reported: ${reports.error.issues.map((issue) => issue.message).join('; ')}`,
        },
      ],
    };
  }
  return { replicas: reports.data, warnings: [] };
};

/** The LDoms domains of `ldm list -p` (or `ldm list`), on a control domain. */
export const ldomsDomains = (ldmList: string): { domains: LdomsDomain[]; warnings: SolarisWarning[] } => {
  const reading = parseLdmList(ldmList);
  return {
    domains: reading.domains,
    warnings: reading.warnings.map((warning) => ({ ...warning, source: 'ldm' as const })),
  };
};

/** The tools' output a Solaris snapshot is read from; a tool absent (or that failed) is null. */
export type SolarisToolOutput = {
  metastat: string | null;
  /** `metastat -c`, read only when the long listing is absent (it says less: no relocation table). */
  metastatCompact?: string | null;
  metadb: string | null;
  ldmList: string | null;
};

export type SolarisSnapshotInput = SolarisToolOutput & {
  hostId: HostId;
  bootId: string;
  platform: Platform;
  role: HostRole;
  takenAt: string;
  topology?: TopologyOverrides | undefined;
};

/** A whole snapshot, with each resyncing mirror's progress for `mirror.recovering`, and the warnings. */
export type SolarisSnapshot = {
  snapshot: HostSnapshot;
  progress: Map<string, RecoveryProgress>;
  warnings: SolarisWarning[];
};

const naturalOrder = (left: string, right: string): number =>
  left.localeCompare(right, 'en', { numeric: true });

/**
 * The snapshot of a Solaris host as the Node agent's scan lays it out (agent/scan/scan.ts): arrays
 * by name (`d2` before `d10`) with their members in device order, the disks, the domains, the
 * replicas when `metadb` was read, each list within the contract's maxima. Throws a `ZodError`
 * only if the parts break the snapshot's schema, which the readings above never produce.
 */
export const solarisSnapshot = (input: SolarisSnapshotInput): SolarisSnapshot => {
  const warnings: SolarisWarning[] = [];
  const options = { hostId: input.hostId, topology: input.topology };
  const compact = input.metastatCompact ?? null;
  const mirrors =
    input.metastat !== null
      ? svmMirrors(input.metastat, options)
      : compact !== null
        ? svmMirrorsOf(parseMetastatCompact(compact), options)
        : { arrays: [], disks: [], resync: {}, warnings: [] };
  warnings.push(...mirrors.warnings);
  const replicas = input.metadb === null ? undefined : stateDatabaseReplicas(input.metadb);
  warnings.push(...(replicas?.warnings ?? []));
  const domains = input.ldmList === null ? undefined : ldomsDomains(input.ldmList);
  warnings.push(...(domains?.warnings ?? []));
  const arrays = mirrors.arrays
    .map((array) => ({
      ...array,
      members: [...array.members].sort((a, b) => naturalOrder(a.device, b.device)),
    }))
    .sort((left, right) => naturalOrder(left.array, right.array));
  const snapshot = HostSnapshot.parse({
    hostId: input.hostId,
    bootId: input.bootId,
    platform: input.platform,
    role: input.role,
    takenAt: input.takenAt,
    arrays: limited(arrays, SOLARIS_SNAPSHOT_LIMITS.arrays, 'arrays', warnings),
    maps: [],
    disks: limited(mirrors.disks, SOLARIS_SNAPSHOT_LIMITS.disks, 'disks', warnings),
    domains: limited(domains?.domains ?? [], SOLARIS_SNAPSHOT_LIMITS.domains, 'domains', warnings),
    ...(replicas?.replicas === undefined ? {} : { replicas: replicas.replicas }),
  });
  const progress = new Map<string, RecoveryProgress>(
    Object.entries(mirrors.resync).map(([mirror, percent]) => [mirror, { progress: percent }]),
  );
  return { snapshot, progress, warnings };
};
