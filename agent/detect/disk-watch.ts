import type { DeviceState, HostSnapshot, ProbedPartition, SnapshotDisk } from '../../events/index.ts';
import type { DraftOf } from '../../probes/event-draft.ts';
import { disksToWatch, readBackIdentity, type WatchedDisk } from '../../probes/snapshot-diff.ts';
import { sysfsPartitions } from '../executor/host-files.ts';
import type { DirectRead, DirectReader } from '../scan/direct-read.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { ExaminePartition } from './returned-disk.ts';

/**
 * Clients confirm (§3, §5.2-5.3): while an md or SVM array has a faulty, missing or Maintenance
 * member on a remote failure domain, the client probes that member's disk at every scan: its
 * device state from sysfs (`running`, `offline`, `blocked`; `gone` once the node vanished), a
 * direct read of block 0 that bypasses the page cache (`dd` in a child process, scan/direct-read.ts)
 * and, when it reads, `mdadm --examine` of its partitions. The result goes into the snapshot's
 * disks (`deviceState`, `readable`), so heartbeats carry it, and detection (detector.ts) emits
 * `disk.probed` when a disk that did not read reads again.
 *
 * A read of a dead disk can block for minutes in the kernel, so a scan waits for its probes only
 * `waitMs`; a probe still running then finishes in the background and counts at a later scan.
 * The reader kills a read at its own timeout ("not readable, timed out"), and no disk has more
 * than one probe in flight: a read blocked past its kill is not started again until its process
 * is gone. Until a disk's first probe finished it is reported not readable (nothing read it yet).
 */

/** How long a scan waits for the probes it started before it goes on with the last results. */
export const DISK_WATCH_DEFAULTS = { waitMs: 1_000 } as const;

/** One disk's probe, as a scan reports it. */
export type DiskProbeReport = {
  /** The `disk.probed` this probe would send (without `planid`). */
  draft: DraftOf<'disk.probed'>;
  /** The WWID and superblock UUIDs it read, which detection compares between read-backs. */
  identity: string;
  /** What the read said (`dd: failed to open '/dev/sdb': No such device or address`, `timed out after 10 s`). */
  detail: string;
};

export type DiskWatchOptions = {
  root: string;
  read: DirectReader;
  /** `mdadm --examine` of a partition of a disk that read; omitted where there is no mdadm (SVM). */
  examine?: ExaminePartition;
  log: AgentLog;
  waitMs?: number;
};

/** What a finished probe found, before it is merged into the scan it is reported with. */
type ProbeResult = { read: DirectRead; partitions: ProbedPartition[] };

type Remembered = { watch: WatchedDisk; entry: SnapshotDisk };

const MAX_PARTITIONS = 128;

const NOTHING_READ_YET: DirectRead = { readable: false, timedOut: false, detail: 'no read finished yet' };

export class DiskWatch {
  private watched = new Map<string, Remembered>();
  private readonly inFlight = new Set<string>();
  private readonly results = new Map<string, ProbeResult>();
  private readonly waitMs: number;

  constructor(private readonly options: DiskWatchOptions) {
    this.waitMs = options.waitMs ?? DISK_WATCH_DEFAULTS.waitMs;
  }

  /**
   * Probes the disks `snapshot` calls for, waits up to `waitMs` for them, and returns the
   * snapshot with `deviceState` and `readable` on each probed disk (a vanished one added as
   * `gone`) and the `disk.probed` each probe would send.
   */
  async probe(
    snapshot: HostSnapshot,
  ): Promise<{ snapshot: HostSnapshot; probes: Map<string, DiskProbeReport> }> {
    const { log } = this.options;
    const previous = new Map([...this.watched].map(([disk, remembered]) => [disk, remembered.watch]));
    const present = new Map(snapshot.disks.map((disk) => [disk.disk, disk]));
    const watched = new Map<string, Remembered>();
    for (const watch of disksToWatch(snapshot, previous)) {
      const entry = present.get(watch.disk) ??
        this.watched.get(watch.disk)?.entry ?? {
          disk: watch.disk,
          driver: 'unknown',
          failureDomain: watch.failureDomain,
        };
      watched.set(watch.disk, { watch, entry });
      if (!this.watched.has(watch.disk)) {
        log.info(`disk watch: probing ${watch.disk} every scan`, {
          failureDomain: watch.failureDomain,
          arrays: watch.arrays,
        });
      }
    }
    for (const disk of this.watched.keys()) {
      if (watched.has(disk)) continue;
      log.info(`disk watch: ${disk} no longer probed`);
      this.results.delete(disk);
    }
    this.watched = watched;

    const started: Promise<void>[] = [];
    for (const { watch } of watched.values()) {
      if (!present.has(watch.disk) || this.inFlight.has(watch.disk)) continue;
      started.push(this.start(watch, snapshot));
    }
    if (started.length > 0) await this.waitFor(Promise.all(started));

    const disks = snapshot.disks.map((disk) => disk);
    const probes = new Map<string, DiskProbeReport>();
    for (const { watch, entry } of watched.values()) {
      const current = present.get(watch.disk);
      const result: ProbeResult | undefined =
        current === undefined ? undefined : this.results.get(watch.disk);
      const read =
        current === undefined
          ? { readable: false, timedOut: false, detail: 'gone' }
          : (result?.read ?? NOTHING_READ_YET);
      if (read.readable === null) continue;
      const deviceState: DeviceState =
        current === undefined ? 'gone' : (current.deviceState ?? stateWithoutSysfs(read));
      const partitions = result?.partitions ?? membership(snapshot, watch.disk);
      const base = current ?? stripProbe(entry);
      const disk: SnapshotDisk = { ...base, deviceState, readable: read.readable };
      if (current === undefined) disks.push(disk);
      else disks[disks.indexOf(current)] = disk;
      probes.set(watch.disk, {
        draft: probedDraft(disk, deviceState, read.readable, partitions),
        identity: readBackIdentity(disk.wwid, partitions),
        detail: read.detail,
      });
    }
    return { snapshot: { ...snapshot, disks }, probes };
  }

  /** Starts one probe; resolves when its result is known, its process may run on. */
  private start(watch: WatchedDisk, snapshot: HostSnapshot): Promise<void> {
    const { read, log } = this.options;
    const disk = watch.disk;
    this.inFlight.add(disk);
    const reading = read(disk);
    const probed = reading.result.then(async (result) => {
      const partitions =
        result.readable === true ? await this.examined(disk, snapshot) : membership(snapshot, disk);
      const before = this.results.get(disk)?.read;
      if (before?.readable !== result.readable || before.timedOut !== result.timedOut) {
        if (result.readable) log.info(`disk watch: ${disk} reads`);
        else log.warn(`disk watch: ${disk} does not read (${result.detail})`);
      }
      if (this.watched.has(disk)) this.results.set(disk, { read: result, partitions });
    });
    // In flight until both the read's process is gone and the probe finished (examine included).
    Promise.all([reading.exited, probed.catch(() => undefined)]).then(() => this.inFlight.delete(disk));
    return probed.catch((error: unknown) => {
      log.warn(`disk watch: cannot probe ${disk}`, { error });
    });
  }

  /** The partitions of a disk that read: sysfs's and the arrays', each with its superblock. */
  private async examined(disk: string, snapshot: HostSnapshot): Promise<ProbedPartition[]> {
    const { examine, root } = this.options;
    const known = membership(snapshot, disk);
    const devices = [
      ...new Set([...(await sysfsPartitions(root, disk)), ...known.map((partition) => partition.device)]),
    ]
      .sort((left, right) => left.localeCompare(right, 'en', { numeric: true }))
      .slice(0, MAX_PARTITIONS);
    const partitions: ProbedPartition[] = [];
    for (const device of devices) {
      const fromSuperblock =
        examine === undefined ? undefined : await examine(device, snapshot).catch(() => undefined);
      partitions.push(fromSuperblock ?? known.find((partition) => partition.device === device) ?? { device });
    }
    return partitions;
  }

  private async waitFor(probes: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.waitMs);
    });
    await Promise.race([probes, waited]);
    clearTimeout(timer);
  }
}

/**
 * A device state where sysfs tells none (Solaris): running when it read, gone when its node is
 * missing (dd: `open: No such file or directory`), else offline.
 */
const stateWithoutSysfs = (read: DirectRead): DeviceState => {
  if (read.readable === true) return 'running';
  return /No such file or directory/.test(read.detail) ? 'gone' : 'offline';
};

/** The members a snapshot shows on a disk, as partitions: no superblock read, so no UUID. */
const membership = (snapshot: HostSnapshot, disk: string): ProbedPartition[] =>
  snapshot.arrays
    .flatMap((array) =>
      array.members
        .filter((member) => member.disk === disk)
        .map((member) => ({ device: member.device, array: array.array })),
    )
    .sort((left, right) => left.device.localeCompare(right.device, 'en', { numeric: true }))
    .slice(0, MAX_PARTITIONS);

const stripProbe = ({ deviceState: _state, readable: _readable, ...disk }: SnapshotDisk): SnapshotDisk =>
  disk;

const probedDraft = (
  disk: SnapshotDisk,
  deviceState: DeviceState,
  readable: boolean,
  partitions: ProbedPartition[],
): DraftOf<'disk.probed'> => ({
  type: 'disk.probed',
  subject: disk.disk,
  data: {
    disk: disk.disk,
    ...(disk.hctl === undefined ? {} : { hctl: disk.hctl }),
    ...(disk.scsiHost === undefined ? {} : { scsiHost: disk.scsiHost }),
    failureDomain: disk.failureDomain,
    deviceState,
    readable,
    partitions,
  },
});
