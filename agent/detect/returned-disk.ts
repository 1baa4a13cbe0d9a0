import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DeviceName,
  type HostSnapshot,
  type ProbedPartition,
  type SnapshotDisk,
} from '../../events/index.ts';
import type { DraftOf } from '../../probes/event-draft.ts';

/**
 * `disk.probed` for a disk the agent saw come back (§3): the cloud treats a client reporting its
 * disks readable as a sign the server that serves them is up, and a plan's fast path depends on
 * each partition's superblock still naming its array. This reads the device's first block, lists
 * its partitions from sysfs and asks `examine` (mdadm --examine) what each superblock says.
 */

/** Bytes read to call a disk readable: one page, the first block of any sector size. */
const FIRST_BLOCK_BYTES = 4096;

/** What `mdadm --examine` says of a partition; undefined when it cannot tell. */
export type ExaminePartition = (
  device: string,
  snapshot: HostSnapshot,
) => Promise<ProbedPartition | undefined>;

/** Builds the `disk.probed` draft of a returned disk. */
export type ReturnedDiskProbe = (
  disk: SnapshotDisk,
  snapshot: HostSnapshot,
) => Promise<DraftOf<'disk.probed'>>;

const readFirstBlock = async (path: string): Promise<boolean> => {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { bytesRead } = await handle.read(Buffer.alloc(FIRST_BLOCK_BYTES), 0, FIRST_BLOCK_BYTES, 0);
    return bytesRead > 0;
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
};

const sysfsPartitions = async (root: string, disk: string): Promise<string[]> => {
  try {
    const entries = await readdir(join(root, 'sys', 'block', disk));
    return entries
      .filter((entry) => entry.startsWith(disk) && entry !== disk && DeviceName.safeParse(entry).success)
      .sort();
  } catch {
    return [];
  }
};

/**
 * Probes a returned disk under `root`. Partitions come from sysfs and from the arrays the
 * snapshot shows them in; `examine`, when given, adds what each superblock says.
 */
export const returnedDiskProbe =
  (root: string, examine?: ExaminePartition): ReturnedDiskProbe =>
  async (disk, snapshot) => {
    const readable = await readFirstBlock(join(root, 'dev', disk.disk));
    const membership = new Map(
      snapshot.arrays.flatMap((array) =>
        array.members
          .filter((member) => member.disk === disk.disk)
          .map((member) => [member.device, { array: array.array, uuid: array.uuid }] as const),
      ),
    );
    const devices = [...new Set([...(await sysfsPartitions(root, disk.disk)), ...membership.keys()])].sort();
    const partitions: ProbedPartition[] = [];
    for (const device of devices) {
      const examined =
        examine === undefined ? undefined : await examine(device, snapshot).catch(() => undefined);
      const member = membership.get(device);
      partitions.push(
        examined ?? {
          device,
          ...(member === undefined ? {} : { array: member.array }),
          ...(member?.uuid === undefined ? {} : { uuid: member.uuid }),
        },
      );
    }
    return {
      type: 'disk.probed',
      subject: disk.disk,
      data: {
        disk: disk.disk,
        ...(disk.hctl === undefined ? {} : { hctl: disk.hctl }),
        ...(disk.scsiHost === undefined ? {} : { scsiHost: disk.scsiHost }),
        failureDomain: disk.failureDomain,
        deviceState: disk.deviceState ?? 'running',
        readable,
        partitions,
      },
    };
  };
