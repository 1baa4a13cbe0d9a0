import { constants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DeviceName, DiskName } from '../../events/index.ts';
import { listDirectory, readText } from '../scan/sysfs-reader.ts';

/**
 * What the executor reads from `proc`, `sys` and `dev` under the configured root, beyond what the
 * probes already read: a disk's partitions, what holds it (mounts, swap, and the holders sysfs
 * lists: md arrays, device-mapper for LVM and multipath), the disk behind a SCSI address, and
 * whether the first block of a device can be read. Nothing here writes; every read is fresh.
 */

/** One mounted file system: its source device, the major:minor the kernel shows, where it is mounted. */
export type MountEntry = { source: string; majorMinor: string | null; mountPoint: string };

/** `\040` and friends as the kernel escapes spaces, tabs, newlines and backslashes in mount tables. */
const unescapeMountField = (field: string): string =>
  field.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));

/**
 * `/proc/self/mountinfo` (proc(5): `id parent major:minor root mountpoint options [optional...] -
 * fstype source superoptions`), else `/proc/mounts` (`source mountpoint fstype options 0 0`).
 */
export const parseMountinfo = (text: string): MountEntry[] =>
  text.split('\n').flatMap((line) => {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) return [];
    const fields = left.trim().split(/\s+/);
    const tail = right.trim().split(/\s+/);
    const majorMinor = fields[2];
    const mountPoint = fields[4];
    const source = tail[1];
    if (majorMinor === undefined || mountPoint === undefined || source === undefined) return [];
    return [
      {
        source: unescapeMountField(source),
        majorMinor: /^\d+:\d+$/.test(majorMinor) ? majorMinor : null,
        mountPoint: unescapeMountField(mountPoint),
      },
    ];
  });

export const parseProcMounts = (text: string): MountEntry[] =>
  text.split('\n').flatMap((line) => {
    const [source, mountPoint] = line.trim().split(/\s+/);
    if (source === undefined || mountPoint === undefined || source === '') return [];
    return [
      { source: unescapeMountField(source), majorMinor: null, mountPoint: unescapeMountField(mountPoint) },
    ];
  });

/** `/proc/swaps`: the header, then `Filename Type Size Used Priority` per active swap area. */
export const parseSwaps = (text: string): string[] =>
  text
    .split('\n')
    .slice(1)
    .map((line) => unescapeMountField(line.trim().split(/\s+/)[0] ?? ''))
    .filter((name) => name !== '');

export const readMounts = async (root: string): Promise<MountEntry[]> => {
  const mountinfo = await readText(join(root, 'proc', 'self', 'mountinfo'));
  if (mountinfo !== null) return parseMountinfo(mountinfo);
  const mounts = await readText(join(root, 'proc', 'mounts'));
  return mounts === null ? [] : parseProcMounts(mounts);
};

export const readSwaps = async (root: string): Promise<string[]> => {
  const swaps = await readText(join(root, 'proc', 'swaps'));
  return swaps === null ? [] : parseSwaps(swaps);
};

/**
 * The kernel name a mount or swap source refers to: `/dev/sdb1` → `sdb1`, and a udev link
 * (`/dev/disk/by-uuid/...`, `/dev/mapper/...`) resolved under the root to what it points at.
 */
export const sourceDeviceName = async (root: string, source: string): Promise<string | null> => {
  if (!source.startsWith('/dev/')) return null;
  try {
    return basename(await realpath(join(root, source)));
  } catch {
    return basename(source);
  }
};

/** Whether a disk is listed under `sys/block` (Linux). */
export const diskInSysfs = async (root: string, disk: string): Promise<boolean> =>
  (await pathExists(join(root, 'sys', 'block', disk))) && DiskName.safeParse(disk).success;

/** Whether the tree has a `sys/block` at all: Linux, as opposed to Solaris or AIX. */
export const hasSysBlock = (root: string): Promise<boolean> => pathExists(join(root, 'sys', 'block'));

/** A disk's partitions as sysfs lists them (`sys/block/sdb/sdb1`), in name order. */
export const sysfsPartitions = async (root: string, disk: string): Promise<string[]> =>
  (await listDirectory(join(root, 'sys', 'block', disk)))
    .filter((entry) => entry !== disk && entry.startsWith(disk) && DeviceName.safeParse(entry).success)
    .sort((left, right) => left.localeCompare(right, 'en', { numeric: true }));

/** A partition's size in bytes (`size` counts 512-byte sectors), or null. */
export const partitionSizeBytes = async (
  root: string,
  disk: string,
  partition: string,
): Promise<number | null> => {
  const text = await readText(join(root, 'sys', 'block', disk, partition, 'size'));
  const sectors = text === null ? undefined : /^\d{1,18}$/.exec(text.trim())?.[0];
  if (sectors === undefined) return null;
  const bytes = Number(sectors) * 512;
  return Number.isSafeInteger(bytes) ? bytes : null;
};

/** The major:minor of a disk or partition (`sys/block/sdb/dev`, `sys/block/sdb/sdb1/dev`). */
export const deviceNumber = async (
  root: string,
  disk: string,
  partition?: string,
): Promise<string | null> => {
  const path =
    partition === undefined
      ? join(root, 'sys', 'block', disk, 'dev')
      : join(root, 'sys', 'block', disk, partition, 'dev');
  const text = (await readText(path))?.trim();
  return text !== undefined && /^\d+:\d+$/.test(text) ? text : null;
};

/** One holder of a disk or of one of its partitions, as `holders/` lists it. */
export type Holder = { device: string; holder: string };

/** The holders of a disk and of each of its partitions: md arrays, dm devices (LVM, multipath, crypt). */
export const readHolders = async (root: string, disk: string): Promise<Holder[]> => {
  const holders: Holder[] = [];
  for (const holder of await listDirectory(join(root, 'sys', 'block', disk, 'holders'))) {
    holders.push({ device: disk, holder });
  }
  for (const partition of await sysfsPartitions(root, disk)) {
    for (const holder of await listDirectory(join(root, 'sys', 'block', disk, partition, 'holders'))) {
      holders.push({ device: partition, holder });
    }
  }
  return holders;
};

/** A dm device's uuid (`mpath-<wwid>` for a multipath map, `LVM-...` for a logical volume). */
export const dmUuid = async (root: string, dm: string): Promise<string | null> =>
  (await readText(join(root, 'sys', 'block', dm, 'dm', 'uuid')))?.replace(/\0+$/, '').trim() || null;

/**
 * The disk a SCSI address resolves to: `sys/class/scsi_device/<hctl>/device/block/<disk>`.
 * `present` is false when there is no SCSI device at that address at all.
 */
export const diskAtAddress = async (
  root: string,
  hctl: string,
): Promise<{ present: boolean; disks: string[] }> => {
  const base = join(root, 'sys', 'class', 'scsi_device', hctl);
  if (!(await pathExists(base))) return { present: false, disks: [] };
  const disks = (await listDirectory(join(base, 'device', 'block'))).filter(
    (name) => DiskName.safeParse(name).success,
  );
  return { present: true, disks };
};

/** Whether a SCSI host exists (`sys/class/scsi_host/<host>`). */
export const scsiHostExists = (root: string, scsiHost: string): Promise<boolean> =>
  pathExists(join(root, 'sys', 'class', 'scsi_host', scsiHost));

/** Whether a device node exists (`dev/<device>`; any file type: a node, or a fake tree's file). */
export const deviceNodeExists = (root: string, device: string): Promise<boolean> =>
  pathExists(join(root, 'dev', device));

export const pathExists = async (path: string): Promise<boolean> => {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
};

/** Bytes read to call a device readable: one page, the first block of any sector size. */
const FIRST_BLOCK_BYTES = 4096;

export type BlockRead = {
  readable: boolean;
  /** `direct` when O_DIRECT worked; `buffered` when the file system or the buffer alignment refused it. */
  how: 'direct' | 'buffered' | 'none';
  error?: string;
};

const readAt = async (path: string, flags: number): Promise<number> => {
  const handle = await open(path, flags);
  try {
    const { bytesRead } = await handle.read(Buffer.alloc(FIRST_BLOCK_BYTES), 0, FIRST_BLOCK_BYTES, 0);
    return bytesRead;
  } finally {
    await handle.close();
  }
};

/**
 * Reads the first block of a device. O_DIRECT first, so the page cache cannot answer for a dead
 * device; where O_DIRECT is refused with EINVAL (a file system without it, or a buffer Node does
 * not align) a buffered read is the fallback. Any other error (EIO, ENXIO, ENOENT) means not
 * readable, never a retry that the cache could satisfy.
 */
export const readFirstBlock = async (path: string): Promise<BlockRead> => {
  const direct = constants.O_DIRECT;
  if (direct !== undefined) {
    try {
      const bytes = await readAt(path, constants.O_RDONLY | direct);
      return bytes > 0
        ? { readable: true, how: 'direct' }
        : { readable: false, how: 'direct', error: 'empty' };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL') return { readable: false, how: 'direct', error: code ?? 'error' };
    }
  }
  try {
    const bytes = await readAt(path, constants.O_RDONLY);
    return bytes > 0
      ? { readable: true, how: 'buffered' }
      : { readable: false, how: 'buffered', error: 'empty' };
  } catch (error) {
    return { readable: false, how: 'buffered', error: (error as NodeJS.ErrnoException).code ?? 'error' };
  }
};

/** The boot time from `proc/stat` (`btime`), or null where the tree has none. */
export const readBootTime = async (root: string): Promise<Date | null> => {
  const text = await readText(join(root, 'proc', 'stat'));
  const seconds = text === null ? undefined : /^btime\s+(\d{1,15})\s*$/m.exec(text)?.[1];
  return seconds === undefined ? null : new Date(Number(seconds) * 1000);
};
