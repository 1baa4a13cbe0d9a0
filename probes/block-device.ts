import { DeviceName, DiskName } from '../events/index.ts';

/**
 * Block device names (docs/architecture.md §3: devices without `/dev/`). An md member or an SVM component is
 * a partition or slice of a whole disk; the disk is what a SCSI address, a failure domain and a
 * `scsi.delete` belong to, and every partition of a failed disk must be failed in every array.
 */

const PARTITION_OF_DISK: readonly RegExp[] = [
  /^((?:sd|vd|xvd|hd)[a-z]{1,4})\d{1,3}$/,
  /^(nvme\d{1,3}n\d{1,4}|mmcblk\d{1,3}|loop\d{1,5})p\d{1,3}$/,
  /^(c\d{1,4}(?:t[0-9A-Fa-f]{1,32})?d\d{1,4})[sp]\d{1,2}$/,
];

/**
 * The whole disk a device belongs to: `sdb3` → `sdb`, `nvme0n1p2` → `nvme0n1`, `c0d1s0` → `c0d1`;
 * a whole disk is its own. Null for a name that is not canonical or has no disk (`md0p1`).
 */
export const diskOfDevice = (device: string): DiskName | null => {
  if (DiskName.safeParse(device).success) return device;
  if (!DeviceName.safeParse(device).success) return null;
  for (const pattern of PARTITION_OF_DISK) {
    const disk = pattern.exec(device)?.[1];
    if (disk !== undefined && DiskName.safeParse(disk).success) return disk;
  }
  return null;
};

/** True for a partition or slice (`sdb3`, `c0d1s0`), false for a whole disk or a name of neither kind. */
export const isPartition = (device: string): boolean =>
  !DiskName.safeParse(device).success && diskOfDevice(device) !== null;
