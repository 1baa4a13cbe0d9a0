import { join } from 'node:path';
import { diskOfDevice } from '../../probes/block-device.ts';
import { parseMdstat } from '../../probes/mdstat.ts';
import { readText } from '../scan/sysfs-reader.ts';
import {
  deviceNumber,
  dmUuid,
  readHolders,
  readMounts,
  readSwaps,
  sourceDeviceName,
  sysfsPartitions,
} from './host-files.ts';
import type { Projection } from './projection.ts';

/**
 * Who uses a disk or its partitions (§4 `scsi.delete`, and before an `md.add`): a mounted file
 * system (matched by name, by udev link and by major:minor), active swap, the holders sysfs lists
 * (md arrays, LVM and other device-mapper targets), and membership in an array as mdstat shows it,
 * for kernels whose sysfs has no holders. A disk's own multipath maps are returned apart: for a
 * multipath leg they are expected, and the question is whether another path stays active.
 */

const MD_ARRAY = /^md(?:_d)?\d+$/;

export type Usage = {
  /** What uses the devices, one line each (`sdb1 is mounted on /data`). */
  problems: string[];
  /** The multipath maps the disk itself is a path of (`dm-3`, with the WWID of its uuid). */
  multipathMaps: { dm: string; wwid: string | null }[];
};

/**
 * The users of `disk` and its partitions, or of the given partitions only. Members a dry-run's
 * earlier steps removed from their arrays are not counted.
 */
export const usageOf = async (
  root: string,
  disk: string,
  projection: Projection,
  only?: readonly string[],
): Promise<Usage> => {
  const partitions = await sysfsPartitions(root, disk);
  const names = new Set(only ?? [disk, ...partitions]);
  const numbers = new Map<string, string>();
  for (const name of names) {
    const number = await deviceNumber(root, disk, name === disk ? undefined : name);
    if (number !== null) numbers.set(number, name);
  }
  const problems: string[] = [];
  for (const mount of await readMounts(root)) {
    const byNumber = mount.majorMinor === null ? undefined : numbers.get(mount.majorMinor);
    const byName = await sourceDeviceName(root, mount.source);
    const device = byNumber ?? (byName !== null && names.has(byName) ? byName : undefined);
    if (device !== undefined) problems.push(`${device} is mounted on ${mount.mountPoint}`);
  }
  for (const swap of await readSwaps(root)) {
    const device = await sourceDeviceName(root, swap);
    if (device !== null && names.has(device)) problems.push(`${device} is in use as swap`);
  }
  const multipathMaps: Usage['multipathMaps'] = [];
  const heldBy = new Set<string>();
  for (const { device, holder } of await readHolders(root, disk)) {
    if (!names.has(device)) continue;
    if (MD_ARRAY.test(holder) && projection.memberRemoved(holder, device)) continue;
    const uuid = holder.startsWith('dm-') ? await dmUuid(root, holder) : null;
    if (uuid?.startsWith('mpath-') === true && device === disk) {
      multipathMaps.push({ dm: holder, wwid: uuid.slice('mpath-'.length) || null });
      continue;
    }
    heldBy.add(`${holder}/${device}`);
    const what = MD_ARRAY.test(holder)
      ? `md array ${holder}`
      : uuid?.startsWith('LVM-') === true
        ? `LVM volume ${holder}`
        : uuid === null
          ? holder
          : `${holder} (${uuid.split('-')[0]})`;
    problems.push(`${device} is held by ${what}`);
  }
  const mdstat = parseMdstat((await readText(join(root, 'proc', 'mdstat'))) ?? '');
  for (const array of mdstat.arrays) {
    for (const member of array.members) {
      if (diskOfDevice(member.device) !== disk || !names.has(member.device)) continue;
      if (heldBy.has(`${array.name}/${member.device}`) || projection.memberRemoved(array.name, member.device))
        continue;
      problems.push(`${member.device} is a member of ${array.name}`);
    }
  }
  return { problems, multipathMaps };
};
