import { z } from 'zod';
import { BootId, DiskName, FailureDomain, Hctl, HostId, MapName, Rfc3339, Wwid } from './names.ts';
import {
  ArrayReport,
  DiskReport,
  HostRole,
  LdomsDomain,
  PathState,
  Platform,
  ReplicaReports,
} from './storage.ts';

/**
 * One snapshot of a host's storage (`faultline-agent scan`): what the agent diffs to detect
 * changes, and what a sosreport or a fixture tree reads as.
 */

export const SnapshotPath = z.object({
  path: DiskName,
  hctl: Hctl,
  failureDomain: FailureDomain,
  state: PathState,
});
export type SnapshotPath = z.infer<typeof SnapshotPath>;

export const SnapshotMap = z.object({ map: MapName, wwid: Wwid, paths: z.array(SnapshotPath).max(64) });
export type SnapshotMap = z.infer<typeof SnapshotMap>;

/** A disk as heartbeats report it, with the device state sysfs shows where there is one. */
export const SnapshotDisk = DiskReport;
export type SnapshotDisk = z.infer<typeof SnapshotDisk>;

export const HostSnapshot = z.object({
  hostId: HostId,
  bootId: BootId,
  platform: Platform,
  role: HostRole,
  takenAt: Rfc3339,
  arrays: z.array(ArrayReport).max(256),
  maps: z.array(SnapshotMap).max(1024),
  disks: z.array(SnapshotDisk).max(1024),
  domains: z.array(LdomsDomain).max(256),
  /** The state database replicas per slice (`metadb -i`) on an SVM host; absent when unread. */
  replicas: ReplicaReports.optional(),
});
export type HostSnapshot = z.infer<typeof HostSnapshot>;
