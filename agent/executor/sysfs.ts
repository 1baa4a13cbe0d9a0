import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The sysfs files the executor writes (§4 `scsi.delete`, `scsi.rescan`, `scsi.online`), written directly
 * under the configured root (`/` on a host, a fake tree in tests). The names come from a parsed
 * plan (`Hctl`, `ScsiHost`), which admit no `/` or `..`, so a path can only land where it should.
 * A file is opened write-only without `O_CREAT`: a missing attribute (the device is gone) is an
 * error, never a new file, and sysfs refuses `O_RDWR` on write-only attributes.
 */

/** Writes a sysfs attribute; rejects with the kernel's errno (`EBUSY`, `ENOENT`, ...). */
export type WriteSysfs = (path: string, text: string) => Promise<void>;

export const writeSysfsFile: WriteSysfs = async (path, text) => {
  const handle = await open(path, constants.O_WRONLY);
  try {
    await handle.write(text);
  } finally {
    await handle.close();
  }
};

/** `/sys/class/scsi_device/<hctl>/device/delete` under `root`. */
export const scsiDeletePath = (root: string, hctl: string): string =>
  join(root, 'sys', 'class', 'scsi_device', hctl, 'device', 'delete');

/** `/sys/class/scsi_device/<hctl>/device/state` under `root`. */
export const scsiStatePath = (root: string, hctl: string): string =>
  join(root, 'sys', 'class', 'scsi_device', hctl, 'device', 'state');

/**
 * What `scsi.online` writes to `state`: the kernel's `store_state_field` takes a state name only
 * when a newline follows it (what `echo running` writes); a bare `running` is EINVAL.
 */
export const SCSI_RUNNING_STATE = 'running\n';

/** `/sys/class/scsi_host/<host>/scan` under `root`. */
export const scsiScanPath = (root: string, scsiHost: string): string =>
  join(root, 'sys', 'class', 'scsi_host', scsiHost, 'scan');

/** A path under `root` as it is on the host, for `detail` texts: `/sys/class/...`. */
export const hostPath = (root: string, path: string): string => {
  const prefix = root.endsWith('/') ? root.slice(0, -1) : root;
  return prefix !== '' && path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
};
