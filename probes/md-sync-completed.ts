import { toCount } from './tool-text.ts';

/**
 * `/sys/block/<md>/md/sync_completed` as the kernel prints it (`sync_completed_show` in
 * drivers/md/md.c): `none` when no resync, recovery or reshape runs; `delayed` while the sync
 * waits for another array on the same devices to finish its own (`curr_resync` 1 or 2, the state
 * mdstat prints as `resync=DELAYED`); else `<done> / <total>` in 512-byte sectors. `total` is the
 * array's resync size for a resync or reshape, a member's size for a recovery. `done` is the
 * kernel's checkpoint (`curr_resync_completed`): it moves every 1/16 of the way, at least every
 * five minutes (`UPDATE_FREQUENCY`), and at the end; mdstat's `(a/b)` counts follow the live
 * position. A `resync=PENDING` of an auto-read-only array has no sync running, so it reads `none`.
 */
export type MdSyncCompleted =
  | { state: 'none' }
  | { state: 'delayed' }
  | { state: 'running'; syncedSectors: number; totalSectors: number };

const SECTORS = /^(\d{1,15}) \/ (\d{1,15})$/;

/** The file's text read; null when it says something the kernel does not print. */
export const parseSyncCompleted = (text: string): MdSyncCompleted | null => {
  const line = text.replace(/\0/g, '').trim();
  if (line === 'none') return { state: 'none' };
  if (line === 'delayed') return { state: 'delayed' };
  const match = SECTORS.exec(line);
  if (match === null) return null;
  const syncedSectors = toCount(match[1]);
  const totalSectors = toCount(match[2]);
  if (syncedSectors === null || totalSectors === null) return null;
  return { state: 'running', syncedSectors, totalSectors };
};
