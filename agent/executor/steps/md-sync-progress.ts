import { join } from 'node:path';
import { diskOfDevice } from '../../../probes/block-device.ts';
import { type MdSyncCompleted, parseSyncCompleted } from '../../../probes/md-sync-completed.ts';
import { type MdstatArrayReading, parseMdstat } from '../../../probes/mdstat.ts';
import { readText } from '../../scan/sysfs-reader.ts';
import type { HostAccess } from '../host-view.ts';

/**
 * How far each array's resync or recovery has come, in sectors, for `md.wait-sync` (§4): the
 * kernel's checkpoint from `md/sync_completed` and the live position from mdstat's `(a/b)` (1 KiB
 * blocks), whichever is further. A sync at the kernel's minimum speed (`speed_limit_min`, 1,000
 * KiB/s per device) moves a 1 TB mirror 0.1 % in about 1,000 s, so the percentage alone would
 * call it stalled; its sectors move every few seconds in mdstat, and at least every five minutes in
 * `sync_completed`. A sync the kernel has queued (`sync_completed` `delayed`, mdstat
 * `resync=DELAYED` behind another array on the same disks, `resync=PENDING` of an auto-read-only
 * array) has not started: its progress is that of the syncs ahead of it.
 */

/** One array's sync, read now. */
export type SyncReading = {
  array: string;
  /** The sync waits: for another array on the same disks (`DELAYED`), or for a first write (`PENDING`). */
  queued: 'DELAYED' | 'PENDING' | null;
  /** A resync, recovery, check or reshape runs (not queued). */
  running: boolean;
  /** mdstat's percentage while it runs. */
  percent: number | null;
  /** `sync_completed` while it runs: the checkpoint and the end, in 512-byte sectors. */
  syncedSectors: number | null;
  totalSectors: number | null;
  /** The further of the checkpoint and mdstat's live position, in sectors; null when neither is known. */
  positionSectors: number | null;
  finishMinutes: number | null;
  /** The disks its members are on. */
  disks: ReadonlySet<string>;
};

const queuedState = (
  reading: MdstatArrayReading,
  completed: MdSyncCompleted | null,
): SyncReading['queued'] => {
  if (completed?.state === 'delayed' || reading.syncPending === 'DELAYED') return 'DELAYED';
  if (reading.syncPending === 'PENDING') return 'PENDING';
  return null;
};

const syncReading = (reading: MdstatArrayReading, completed: MdSyncCompleted | null): SyncReading => {
  const queued = queuedState(reading, completed);
  const fromSysfs = completed?.state === 'running' ? completed : null;
  const live = reading.syncedBlocks === null ? null : reading.syncedBlocks * 2;
  const positions = [fromSysfs?.syncedSectors ?? null, live].filter(
    (value): value is number => value !== null,
  );
  return {
    array: reading.name,
    queued,
    running: queued === null && (fromSysfs !== null || reading.syncAction !== null),
    percent: queued === null ? reading.progress : null,
    syncedSectors: fromSysfs?.syncedSectors ?? null,
    totalSectors: fromSysfs?.totalSectors ?? null,
    positionSectors: queued === null && positions.length > 0 ? Math.max(...positions) : null,
    finishMinutes: reading.finishMinutes,
    disks: new Set(
      reading.members.flatMap((member) => {
        const disk = diskOfDevice(member.device);
        return disk === null ? [] : [disk];
      }),
    ),
  };
};

/** Every array's sync as mdstat and sysfs show it now. */
export const readSyncs = async (host: HostAccess): Promise<Map<string, SyncReading>> => {
  const mdstat = parseMdstat((await readText(join(host.root, 'proc', 'mdstat'))) ?? '');
  const syncs = new Map<string, SyncReading>();
  for (const reading of mdstat.arrays) {
    if (reading.state === 'inactive') continue;
    const text = await readText(join(host.root, 'sys', 'block', reading.name, 'md', 'sync_completed'));
    syncs.set(reading.name, syncReading(reading, text === null ? null : parseSyncCompleted(text)));
  }
  return syncs;
};

/** The syncs a queued one waits behind: those running on a disk it shares, else any running one. */
export const syncsAhead = (syncs: ReadonlyMap<string, SyncReading>, array: string): SyncReading[] => {
  const ours = syncs.get(array);
  const running = [...syncs.values()].filter((sync) => sync.array !== array && sync.running);
  if (ours === undefined) return running;
  const sharing = running.filter((sync) => [...sync.disks].some((disk) => ours.disks.has(disk)));
  return sharing.length > 0 ? sharing : running;
};

/**
 * The best position seen per array, in sectors and in percent: a sync has moved when either got
 * further than ever before in this wait (a restart from an earlier checkpoint is not progress).
 */
export class SyncHighWater {
  private readonly sectors = new Map<string, number>();
  private readonly percents = new Map<string, number>();

  /** Records the reading; true when it got further. */
  advance(sync: SyncReading): boolean {
    let moved = false;
    if (sync.positionSectors !== null && sync.positionSectors > (this.sectors.get(sync.array) ?? -1)) {
      this.sectors.set(sync.array, sync.positionSectors);
      moved = true;
    }
    if (sync.percent !== null && sync.percent > (this.percents.get(sync.array) ?? -1)) {
      this.percents.set(sync.array, sync.percent);
      moved = true;
    }
    return moved;
  }
}

/** How a sync stands, for a step's detail: `1048576 / 2097152 sectors (50%)`. */
export const describeSync = (sync: SyncReading | undefined): string => {
  if (sync === undefined) return 'no such array in mdstat';
  if (sync.queued !== null) return `resync=${sync.queued}`;
  if (!sync.running) return 'no sync running';
  const sectors =
    sync.syncedSectors !== null && sync.totalSectors !== null
      ? `${sync.syncedSectors} / ${sync.totalSectors} sectors`
      : sync.positionSectors !== null
        ? `${sync.positionSectors} sectors`
        : 'position unknown';
  return `${sectors}${sync.percent === null ? '' : ` (${sync.percent}%)`}`;
};
