import type { Member, PathState } from '../../events/index.ts';
import type { ArrayRecord, HostSlice, PathRecord } from '../../functions/core/index.ts';

/**
 * Builders of host slices with storage, for the topology and impact routes: md mirrors whose
 * members sit on given failure domains, and multipath maps whose paths go through given domains,
 * as correlate leaves them in a host slice after the host's heartbeats.
 */

export const SYSTEM = 'Server-9080-M9S-SN78AB12C';
export const VIOS1 = `vscsi:${SYSTEM}/vios1`;
export const VIOS2 = `vscsi:${SYSTEM}/vios2`;
export const FC_A = 'fc:500507680b2155a1';
export const FC_B = 'fc:500507680b2155b2';

const WATERMARK = { bootid: 'boot-1', seq: 1 };
const CHANGED_AT = '2026-11-22T03:00:00.000Z';

/** One member: its device, and the domain it depends on (`sdb3@vios2`), in sync unless said otherwise. */
export const member = (
  device: string,
  failureDomain: string,
  state: Member['state'] = 'in-sync',
): Member => ({
  device,
  disk: device.replace(/\d+$/, ''),
  state,
  failureDomain,
});

/** An md RAID1 of these members; healthy when all are in sync, else degraded. */
export const mirror = (array: string, members: readonly Member[]): ArrayRecord => ({
  array,
  kind: 'md',
  level: 'raid1',
  members: [...members],
  known: [...members],
  health: members.every((one) => one.state === 'in-sync') ? 'healthy' : 'degraded',
  watermark: WATERMARK,
  changedAt: CHANGED_AT,
});

/** One path of a map through a domain. */
export const path = (
  map: string,
  device: string,
  failureDomain: string,
  state: PathState = 'active',
): PathRecord => ({
  map,
  wwid: `3600507680c80810b${map.padStart(15, '0')}`.slice(0, 33),
  path: device,
  hctl: `${device.charCodeAt(2) - 96}:0:0:1`,
  failureDomain,
  state,
  watermark: WATERMARK,
  changedAt: CHANGED_AT,
});

/** The storage part of a host slice, keyed as correlate keys it. */
export const storage = (
  arrays: readonly ArrayRecord[],
  paths: readonly PathRecord[] = [],
): Partial<HostSlice> => ({
  role: 'client',
  platform: 'linux',
  arrays: Object.fromEntries(arrays.map((array) => [array.array, array])),
  paths: Object.fromEntries(paths.map((one) => [`${one.map}/${one.path}`, one])),
});

/** A client mirrored across vios1 and vios2 (md0 over sda2/sdb2), healthy. */
export const mirroredClient = (): Partial<HostSlice> =>
  storage([mirror('md0', [member('sda2', VIOS1), member('sdb2', VIOS2)])]);
