import type {
  ArrayReport,
  DeviceState,
  FailureDomain,
  HostSnapshot,
  Member,
  PathState,
  ProbedPartition,
  SnapshotDisk,
  SnapshotMap,
  SnapshotPath,
} from '../events/index.ts';
import type { DetectionState } from './detection-state.ts';
import type { DraftOf, EventDraft } from './event-draft.ts';

/**
 * Change detection (docs/architecture.md §3): the pure diff of the previous and the current snapshot into
 * event drafts. No clock, no I/O: the same inputs give the same drafts, so it is tested with
 * snapshot pairs alone. Like a reducer, it returns the next detection state with the drafts.
 */

/** A recovering array reports progress when it enters recovery and then every this many percent. */
export const PROGRESS_REPORT_STEP_PERCENT = 10;

/**
 * How far a resync or recovery has come, where the snapshot has none: the mdstat parse's
 * `progress`, and the sectors of `md/sync_completed` while a sync runs (finer than the
 * percentage, so the control plane sees a slow resync move).
 */
export type RecoveryProgress = {
  progress: number;
  finishMinutes?: number;
  syncedSectors?: number;
  totalSectors?: number;
};

/** Bounds what detection remembers of lost paths and absent disks, whatever happens to the host. */
const MAX_REMEMBERED = 4096;

/**
 * Where an array stands: `degraded` when a member is faulty or missing, `recovering` while a
 * resync or rebuild runs, `inactive` when the kernel holds it unassembled, else `healthy` (a
 * `check` scrub is healthy).
 */
export type MirrorPhase = 'healthy' | 'degraded' | 'recovering' | 'inactive';

const UNHEALTHY_MEMBER_STATES: ReadonlySet<Member['state']> = new Set([
  'faulty',
  'last-erred',
  'maintenance',
]);
const HEALTHY_PATH_STATES: ReadonlySet<PathState> = new Set(['active', 'ghost']);

export const mirrorPhase = (array: ArrayReport): MirrorPhase => {
  if (array.state === 'inactive') return 'inactive';
  if (
    array.state === 'recovering' ||
    array.state === 'resyncing' ||
    array.members.some((member) => member.state === 'rebuilding')
  ) {
    return 'recovering';
  }
  if (
    array.state === 'degraded' ||
    array.members.some((member) => UNHEALTHY_MEMBER_STATES.has(member.state))
  ) {
    return 'degraded';
  }
  return 'healthy';
};

export const inSyncMembers = (array: ArrayReport): number =>
  array.members.filter((member) => member.state === 'in-sync').length;

/** Paths are matched across scans by WWID and SCSI address: a rescan may rename `sdb`, not its H:C:T:L. */
export const pathKey = (wwid: string, hctl: string): string => `${wwid} ${hctl}`;

/** What a diff found: the drafts in the order to emit them, and the disks that came back. */
export type DetectedChanges = {
  state: DetectionState;
  drafts: EventDraft[];
  /**
   * Disks seen coming back (running again after going away or offline). Reporting them takes a
   * read of the device and `mdadm --examine`, which is I/O: the caller probes each one and emits
   * `disk.probed`.
   */
  returnedDisks: SnapshotDisk[];
};

/** The detection state before any scan: nothing known, so the first scan reports only faults. */
export const initialDetectionState = (
  snapshot: HostSnapshot,
  bootId: string = snapshot.bootId,
): DetectionState => ({
  version: 1,
  bootId,
  snapshot,
  reportedProgress: {},
  lostPaths: {},
  absentDisks: {},
});

/**
 * Diffs a snapshot against what detection last saw. With no previous state (the first scan of a
 * boot) every array, path and disk is new: faults present are reported, healthy ones are not.
 */
export const detectChanges = (
  previous: DetectionState | undefined,
  current: HostSnapshot,
  progress: ReadonlyMap<string, RecoveryProgress> = new Map(),
): DetectedChanges => {
  const mirrors = diffArrays(previous, current, progress);
  const paths = diffPaths(previous, current);
  const disks = diffDisks(previous, current);
  return {
    state: {
      version: 1,
      bootId: previous?.bootId ?? current.bootId,
      snapshot: current,
      reportedProgress: mirrors.reportedProgress,
      lostPaths: paths.lostPaths,
      absentDisks: disks.absentDisks,
    },
    drafts: [...mirrors.drafts, ...paths.drafts],
    returnedDisks: disks.returned,
  };
};

const mirrorData = (array: ArrayReport) => ({
  array: array.array,
  kind: array.kind,
  level: array.level,
  members: array.members,
});

const degradedDraft = (array: ArrayReport): DraftOf<'mirror.degraded'> => ({
  type: 'mirror.degraded',
  subject: array.array,
  data: {
    ...mirrorData(array),
    ...(array.bitmap === undefined ? {} : { bitmap: array.bitmap }),
    ...(array.uuid === undefined ? {} : { uuid: array.uuid }),
  },
});

const recoveringDraft = (array: ArrayReport, recovery: RecoveryProgress): DraftOf<'mirror.recovering'> => ({
  type: 'mirror.recovering',
  subject: array.array,
  data: {
    ...mirrorData(array),
    progress: recovery.progress,
    ...(recovery.finishMinutes === undefined ? {} : { finishMinutes: recovery.finishMinutes }),
    ...(recovery.syncedSectors === undefined || recovery.totalSectors === undefined
      ? {}
      : { syncedSectors: recovery.syncedSectors, totalSectors: recovery.totalSectors }),
  },
});

const healthyDraft = (array: ArrayReport): DraftOf<'mirror.healthy'> => ({
  type: 'mirror.healthy',
  subject: array.array,
  data: mirrorData(array),
});

const clampPercent = (value: number): number => Math.min(100, Math.max(0, value));

const diffArrays = (
  previous: DetectionState | undefined,
  current: HostSnapshot,
  progress: ReadonlyMap<string, RecoveryProgress>,
): { drafts: EventDraft[]; reportedProgress: Record<string, number> } => {
  const before = new Map((previous?.snapshot.arrays ?? []).map((array) => [array.array, array]));
  const reportedProgress: Record<string, number> = {};
  const drafts: EventDraft[] = [];
  for (const array of current.arrays) {
    const earlier = before.get(array.array);
    const phase = mirrorPhase(array);
    const earlierPhase = earlier === undefined ? undefined : mirrorPhase(earlier);
    const lostInSyncMember = earlier !== undefined && inSyncMembers(array) < inSyncMembers(earlier);
    const becameDegraded =
      phase === 'degraded' &&
      (earlierPhase === undefined || earlierPhase === 'healthy' || earlierPhase === 'recovering');
    if (lostInSyncMember || becameDegraded) drafts.push(degradedDraft(array));

    if (phase === 'recovering') {
      const known = progress.get(array.array);
      const recovery: RecoveryProgress = {
        ...known,
        progress: clampPercent(known?.progress ?? 0),
      };
      const lastReported =
        earlierPhase === 'recovering' ? previous?.reportedProgress[array.array] : undefined;
      if (lastReported === undefined || recovery.progress >= lastReported + PROGRESS_REPORT_STEP_PERCENT) {
        drafts.push(recoveringDraft(array, recovery));
        reportedProgress[array.array] = recovery.progress;
      } else {
        reportedProgress[array.array] = lastReported;
      }
    }

    if (phase === 'healthy' && earlierPhase !== undefined && earlierPhase !== 'healthy') {
      drafts.push(healthyDraft(array));
    }
  }
  return { drafts, reportedProgress };
};

type FlatPath = SnapshotPath & { map: string; wwid: string };

const flattenPaths = (maps: readonly SnapshotMap[]): Map<string, FlatPath> =>
  new Map(
    maps.flatMap((map) =>
      map.paths.map(
        (path) => [pathKey(map.wwid, path.hctl), { ...path, map: map.map, wwid: map.wwid }] as const,
      ),
    ),
  );

const activePathsOf = (maps: readonly SnapshotMap[], wwid: string): number =>
  maps
    .filter((map) => map.wwid === wwid)
    .flatMap((map) => map.paths)
    .filter((path) => path.state === 'active').length;

const pathDraft = <Type extends 'path.lost' | 'path.restored'>(
  type: Type,
  path: FlatPath,
  state: PathState,
  activePaths: number,
): DraftOf<Type> =>
  ({
    type,
    subject: path.map,
    data: {
      map: path.map,
      wwid: path.wwid,
      path: path.path,
      hctl: path.hctl,
      failureDomain: path.failureDomain,
      state,
      activePaths,
    },
  }) as DraftOf<Type>;

/**
 * `path.lost` when a path leaves the active/ghost states (or disappears: reported as `offline`),
 * `path.restored` when a lost path is back in a healthy state. It is normally the state it had
 * before; a path back as `ghost` that was `active` (an ALUA or RDAC failover moved the active
 * group meanwhile) is still restored, with its real state, and the cloud compares the two.
 * `activePaths` counts the map's paths now `active`.
 */
const diffPaths = (
  previous: DetectionState | undefined,
  current: HostSnapshot,
): { drafts: EventDraft[]; lostPaths: Record<string, PathState> } => {
  const before = flattenPaths(previous?.snapshot.maps ?? []);
  const now = flattenPaths(current.maps);
  const lostPaths: Record<string, PathState> = { ...previous?.lostPaths };
  const drafts: EventDraft[] = [];

  for (const [key, path] of now) {
    const earlier = before.get(key);
    const healthy = HEALTHY_PATH_STATES.has(path.state);
    const activePaths = activePathsOf(current.maps, path.wwid);
    if (healthy) {
      if (Object.hasOwn(lostPaths, key)) {
        delete lostPaths[key];
        drafts.push(pathDraft('path.restored', path, path.state, activePaths));
      }
      continue;
    }
    const wasHealthy = earlier !== undefined && HEALTHY_PATH_STATES.has(earlier.state);
    if (wasHealthy) {
      lostPaths[key] = earlier.state;
      drafts.push(pathDraft('path.lost', path, path.state, activePaths));
    } else if (earlier === undefined && !Object.hasOwn(lostPaths, key)) {
      lostPaths[key] = 'active';
      drafts.push(pathDraft('path.lost', path, path.state, activePaths));
    }
  }

  for (const [key, earlier] of before) {
    if (now.has(key) || !HEALTHY_PATH_STATES.has(earlier.state)) continue;
    lostPaths[key] = earlier.state;
    drafts.push(pathDraft('path.lost', earlier, 'offline', activePathsOf(current.maps, earlier.wwid)));
  }
  return { drafts, lostPaths: boundRecord(lostPaths) };
};

const isRunning = (disk: SnapshotDisk): boolean =>
  disk.deviceState === undefined || disk.deviceState === 'running';

/**
 * A disk comes back when it is running again after it went away (absent from the scan, or
 * `gone`) or offline. Disks first seen already running are not news; disks first seen offline
 * are remembered, so their return is.
 */
const diffDisks = (
  previous: DetectionState | undefined,
  current: HostSnapshot,
): { returned: SnapshotDisk[]; absentDisks: Record<string, DeviceState> } => {
  const absentDisks: Record<string, DeviceState> = { ...previous?.absentDisks };
  const now = new Map(current.disks.map((disk) => [disk.disk, disk]));
  const returned: SnapshotDisk[] = [];
  for (const disk of current.disks) {
    if (isRunning(disk)) {
      if (Object.hasOwn(absentDisks, disk.disk)) {
        delete absentDisks[disk.disk];
        returned.push(disk);
      }
    } else {
      absentDisks[disk.disk] = disk.deviceState ?? 'gone';
    }
  }
  for (const earlier of previous?.snapshot.disks ?? []) {
    if (!now.has(earlier.disk)) absentDisks[earlier.disk] = 'gone';
  }
  return { returned, absentDisks: boundRecord(absentDisks) };
};

/** Keeps the most recently added entries of a record when it outgrows `MAX_REMEMBERED`. */
const boundRecord = <Value>(record: Record<string, Value>): Record<string, Value> => {
  const entries = Object.entries(record);
  return entries.length <= MAX_REMEMBERED ? record : Object.fromEntries(entries.slice(-MAX_REMEMBERED));
};

// ---------------------------------------------------------------------------------------------
// The disk watch: clients confirm (§3 `disk.probed` without `planid`, §5.2-5.3)

/** Member states whose disk a client probes every interval; a missing member's disk is remembered. */
const PROBED_MEMBER_STATES: ReadonlySet<Member['state']> = new Set(['faulty', 'maintenance']);

/** The most disks a client probes at once, whatever happens to the host. */
export const MAX_WATCHED_DISKS = 64;

/** A disk the client probes every interval, with what serves it and the arrays it is watched for. */
export type WatchedDisk = { disk: string; failureDomain: FailureDomain; arrays: string[] };

/** Served by another partition or array, not by this host itself or an unknown server (`local:`). */
export const isRemoteFailureDomain = (domain: FailureDomain): boolean => !domain.startsWith('local:');

/**
 * The disks a client probes (device state, a direct read of block 0, the superblocks) while an md
 * or SVM array has a faulty, missing or Maintenance member on a remote failure domain: the disk of
 * each faulty or Maintenance member, and a disk watched before whose member went missing (an array
 * it was watched for is still degraded and shows no member on it any more). A disk's
 * domain is sysfs's, else what was known of it while it was there (a vanished disk's member reads
 * as local), else its member's. Last Erred is never touched automatically, so not watched.
 */
export const disksToWatch = (
  snapshot: HostSnapshot,
  previous: ReadonlyMap<string, WatchedDisk> = new Map(),
): WatchedDisk[] => {
  const diskDomains = new Map(snapshot.disks.map((disk) => [disk.disk, disk.failureDomain]));
  const watched = new Map<string, WatchedDisk>();
  for (const array of snapshot.arrays) {
    if (array.kind !== 'md' && array.kind !== 'svm') continue;
    for (const member of array.members) {
      if (!PROBED_MEMBER_STATES.has(member.state)) continue;
      const failureDomain =
        diskDomains.get(member.disk) ?? previous.get(member.disk)?.failureDomain ?? member.failureDomain;
      if (!isRemoteFailureDomain(failureDomain)) continue;
      const known = watched.get(member.disk);
      if (known === undefined)
        watched.set(member.disk, { disk: member.disk, failureDomain, arrays: [array.array] });
      else if (!known.arrays.includes(array.array)) known.arrays.push(array.array);
    }
  }
  const degraded = new Map(
    snapshot.arrays
      .filter((array) => mirrorPhase(array) === 'degraded')
      .map((array) => [array.array, new Set(array.members.map((member) => member.disk))] as const),
  );
  for (const earlier of previous.values()) {
    if (watched.has(earlier.disk)) continue;
    // Its member is missing from an array still degraded: removed, or detached when the node went.
    const arrays = earlier.arrays.filter((array) => degraded.get(array)?.has(earlier.disk) === false);
    if (arrays.length > 0) watched.set(earlier.disk, { ...earlier, arrays });
  }
  return [...watched.values()].slice(0, MAX_WATCHED_DISKS);
};

/**
 * What a probe read of a disk, as the cloud compares two read-backs (§5.3): its WWID and the
 * superblock UUID of each partition. A change means another disk answers under this name.
 */
export const readBackIdentity = (wwid: string | undefined, partitions: readonly ProbedPartition[]): string =>
  [wwid ?? '', ...partitions.map((partition) => `${partition.device}=${partition.uuid ?? ''}`)].join(' ');

/**
 * The watched disks whose probe reads again (§3 `disk.probed` without `planid`): those readable
 * now that did not read at the previous scan (the detection state keeps it across a restart), and
 * those still readable whose identity changed since it was last reported. `readBack` is the
 * identity of each disk read now; `reported`, the identity last reported (or first seen) per disk.
 */
export const disksReadAgain = (
  previous: HostSnapshot | undefined,
  current: HostSnapshot,
  readBack: ReadonlyMap<string, string>,
  reported: ReadonlyMap<string, string>,
): string[] => {
  const before = new Map((previous?.disks ?? []).map((disk) => [disk.disk, disk]));
  return current.disks
    .filter((disk) => disk.readable === true && readBack.has(disk.disk))
    .filter((disk) => {
      if (before.get(disk.disk)?.readable === false) return true;
      const last = reported.get(disk.disk);
      return last !== undefined && last !== readBack.get(disk.disk);
    })
    .map((disk) => disk.disk);
};
