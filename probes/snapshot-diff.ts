import type {
  ArrayReport,
  DeviceState,
  HostSnapshot,
  Member,
  PathState,
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

/** How far a resync or recovery has come, from the mdstat parse (`progress`) where the snapshot has none. */
export type RecoveryProgress = { progress: number; finishMinutes?: number };

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
