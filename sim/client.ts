import type { ToolRequest } from '../agent/scan/tool-runner.ts';
import {
  bumpEvents,
  DATA_OFFSET_BYTES,
  type FakeModel,
  loadModel,
  saveModel,
  superblockFor,
  updateModel,
  writeSuperblock,
} from './fake-host/host-model.mjs';
import {
  DISK_BYTES,
  type MdClientLayout,
  mdClientModel,
  partitionBytes,
  seedMdClientSuperblocks,
} from './fake-host/sim-host.ts';
import { runTool } from './fake-host/tools.mjs';
import { DEMO_SYSTEM, locationPrefix, type ManagedSystem } from './managed-system.ts';
import { createSimulatedHost, type SimAgentHostOptions, SimulatedAgentHost } from './simulated-agent-host.ts';

/**
 * One simulated Linux client partition of the demo: a root (`md0`) and a swap (`md1`) RAID1, each
 * with one half on a disk from one hosting partition (vios1) and one on a disk from another (vios2)
 * of its managed system (ibmvscsi), rendered as a root tree by the simulated host layer, and the
 * REAL agent (`startAgent` with the real guarded executor of `createPlanRunner`) observing and
 * healing it over HTTP with its own agent token. What every simulated agent host shares (the
 * agent, the lock, time passing, what the demo watches) is in simulated-agent-host.ts; here are the
 * md client's layout, its scan tools and the fault of the partition serving its second half.
 *
 * Two field layouts the plain client does not have (#14): arrays with no write-intent bitmap on an
 * mdadm that refuses the `--add` of a stale member (`bitmap: false`, `mdadmVersion`: each member
 * goes back only after `mdadm --zero-superblock`, then rebuilds in full), and a data disk from each
 * hosting partition beside the root disk (`dataDisk`: `md2` over `sdd1` and `sdc1`), so that the
 * outage of the second takes two disks of the client at once.
 */

/** The disks and arrays of every simulated client: sda from vios1, sdb from vios2. */
export const CLIENT_LAYOUT = {
  localDisk: 'sda',
  remoteDisk: 'sdb',
  hctl: '1:0:1:0',
  scsiHost: 'host1',
  rootArray: 'md0',
  swapArray: 'md1',
} as const;

/**
 * The data disks of a client with `dataDisk`: `sdd` from the first hosting partition, `sdc` from the
 * second (the kernel named the data disks after the root disks), one partition each, mirrored as
 * `md2`.
 */
export const DATA_DISK_LAYOUT = {
  localDisk: 'sdd',
  localHctl: '0:0:2:0',
  remoteDisk: 'sdc',
  hctl: '1:0:2:0',
  array: 'md2',
  partition: 1,
} as const;

/**
 * Resync speeds of the simulated arrays: a re-add in percent per second (it copies only what the
 * bitmap marks), a full rebuild at one speed in KiB/s, so a small array (swap) finishes sooner than
 * the root one: about 10 s for a 40 GiB root, 2 s for an 8 GiB swap.
 */
export const SIM_RESYNC = { reAddPercentPerSecond: 25, fullKiBPerSecond: 4 * 1024 * 1024 } as const;

/** Percent per second of an array's full rebuild at `SIM_RESYNC.fullKiBPerSecond`. */
const fullRebuildRate = (sizeKiB: number): number => (SIM_RESYNC.fullKiBPerSecond / sizeKiB) * 100;

export type SimClientOptions = SimAgentHostOptions & {
  index: number;
  /** The managed system it and its hosting partitions live in (default the demo's). */
  system?: ManagedSystem;
  /** The hosting partition that serves the first half (default vios1). */
  localPartition?: string;
  /**
   * The hosting partition that serves the second half (default vios2, as in the field case):
   * `vios1` makes a client whose two halves share a failure domain, mirrored on paper only, which
   * `faultline topology --spof` must list and vios2's outage must leave alone.
   */
  remotePartition?: string;
  /**
   * Whether its disks report a WWID (the page 0x83 id of the backing device a VIOS passes through):
   * what a client's read-back compares, beside the superblocks, when no server says it is back.
   */
  wwids?: boolean;
  /**
   * Whether its arrays keep a write-intent bitmap (default true). Without one, a member that
   * missed writes cannot be re-added: the plan zeroes its superblock first and the add rebuilds it
   * in full.
   */
  bitmap?: boolean;
  /**
   * The mdadm it runs (fake-mdadm.mjs; 4.2 when absent): `3.2.3` refuses the `--add` of a stale
   * active member ("reports being an active member ... not performing --add").
   */
  mdadmVersion?: string;
  /** A data disk from each hosting partition beside the root disk (`DATA_DISK_LAYOUT`). */
  dataDisk?: boolean;
};

/** One RAID1 of a client: its partition, the disk of its remote half, and whether the outage's writes reach it. */
type ClientMirror = {
  array: string;
  partition: number;
  remoteDisk: string;
  remoteHctl: string;
  /** Written to while its remote half is away (root, data), so md fails that half; swap is not. */
  written: boolean;
};

/**
 * How the remote half fails when its hosting partition goes: `offline`, the SCSI error handler
 * took the device offline (it stays offline once the server is back, until the plan deletes and
 * rescans it); `io-errors`, the device still runs but every read fails while the server is away,
 * and reads again once it is back (ibmvscsi's connection comes back by itself).
 */
export type RemoteFault = 'offline' | 'io-errors';

const uuidOf = (index: number, array: number): string => {
  const hex = (index * 16 + array + 0x1000).toString(16).padStart(8, '0');
  return `a1b2c3d4:${hex}:5e6f7081:92a3b4c5`;
};

/** An NAA 6 WWID per client disk, as a VIOS passes through its backing LUN's. */
const wwidOf = (index: number, disk: number): string =>
  `36005076801810523f8${(0xc0000 + index * 2 + disk).toString(16).padStart(14, '0')}`;

/** The client's mirrors: root and swap on the root disks, and the data mirror on the data disks. */
const clientMirrors = (options: SimClientOptions): ClientMirror[] => {
  const root = { remoteDisk: CLIENT_LAYOUT.remoteDisk, remoteHctl: CLIENT_LAYOUT.hctl };
  return [
    { ...root, array: CLIENT_LAYOUT.rootArray, partition: 1, written: true },
    { ...root, array: CLIENT_LAYOUT.swapArray, partition: 2, written: false },
    ...(options.dataDisk === true
      ? [
          {
            array: DATA_DISK_LAYOUT.array,
            partition: DATA_DISK_LAYOUT.partition,
            remoteDisk: DATA_DISK_LAYOUT.remoteDisk,
            remoteHctl: DATA_DISK_LAYOUT.hctl,
            written: true,
          },
        ]
      : []),
  ];
};

const clientLayout = (options: SimClientOptions): MdClientLayout => ({
  hostId: options.hostId,
  localDisk: CLIENT_LAYOUT.localDisk,
  remoteDisk: CLIENT_LAYOUT.remoteDisk,
  hctl: CLIENT_LAYOUT.hctl,
  scsiHost: CLIENT_LAYOUT.scsiHost,
  mirrors: [
    { array: CLIENT_LAYOUT.rootArray, uuid: uuidOf(options.index, 0), partition: 1 },
    { array: CLIENT_LAYOUT.swapArray, uuid: uuidOf(options.index, 1), partition: 2 },
  ],
  ...(options.localPartition === undefined ? {} : { localPartition: options.localPartition }),
  ...(options.remotePartition === undefined ? {} : { remotePartition: options.remotePartition }),
});

/** The writes md sees while the remote half is away: its event count moves on that far. */
const WRITES_WHILE_AWAY = 42;

/** The data disks and `md2` of a client with `dataDisk`, healthy. */
const addDataDisks = (model: FakeModel, uuid: string): void => {
  const { partition } = DATA_DISK_LAYOUT;
  const lun = (name: string) => ({
    name,
    attached: name,
    exported: true,
    state: 'running',
    readable: true,
    sizeBytes: DISK_BYTES,
    partitions: [{ number: partition, sizeBytes: partitionBytes(partition) }],
    partitionsAt: 0,
    heldOpen: false,
  });
  model.luns[DATA_DISK_LAYOUT.localHctl] = lun(DATA_DISK_LAYOUT.localDisk);
  model.luns[DATA_DISK_LAYOUT.hctl] = lun(DATA_DISK_LAYOUT.remoteDisk);
  const sizeKiB = (partitionBytes(partition) - DATA_OFFSET_BYTES) / 1024;
  model.arrays[DATA_DISK_LAYOUT.array] = {
    uuid,
    name: `${model.ownPartition}:${DATA_DISK_LAYOUT.array.slice(2)}`,
    level: 'raid1',
    metadata: '1.2',
    raidDevices: 2,
    sizeKiB,
    bitmap: true,
    events: 977,
    nextDescriptor: 2,
    members: [
      { device: `${DATA_DISK_LAYOUT.localDisk}${partition}`, descriptor: 0, slot: 0, state: 'in_sync' },
      { device: `${DATA_DISK_LAYOUT.remoteDisk}${partition}`, descriptor: 1, slot: 1, state: 'in_sync' },
    ],
    recovery: null,
    ratePerSecond: fullRebuildRate(sizeKiB),
    reAddRatePerSecond: SIM_RESYNC.reAddPercentPerSecond,
    stalled: false,
  };
};

const healthyClientModel = (layout: MdClientLayout, options: SimClientOptions): FakeModel => {
  const { index } = options;
  const model = mdClientModel(layout, 'healthy');
  model.system = locationPrefix(options.system ?? DEMO_SYSTEM);
  model.bootId = `b00710${String(index).padStart(6, '0')}-1c2d-4e5f-8a9b-0c1d2e3f4a5b`.slice(0, 36);
  if (options.dataDisk === true) addDataDisks(model, uuidOf(index, 2));
  if (options.mdadmVersion !== undefined) model.mdadmVersion = options.mdadmVersion;
  if (options.wwids === true) {
    Object.values(model.luns).forEach((lun, disk) => {
      lun.wwid = wwidOf(index, disk);
    });
  }
  for (const array of Object.values(model.arrays)) {
    array.bitmap = options.bitmap ?? true;
    array.reAddRatePerSecond = SIM_RESYNC.reAddPercentPerSecond;
    array.ratePerSecond = fullRebuildRate(array.sizeKiB);
  }
  return model;
};

export class SimClient extends SimulatedAgentHost {
  readonly layout: MdClientLayout;
  /** Whether its arrays keep a write-intent bitmap. */
  readonly bitmap: boolean;
  /** The mdadm it runs. */
  readonly mdadmVersion: string | undefined;
  readonly #mirrors: readonly ClientMirror[];
  /** How its remote half failed last; the plan it needs depends on it. */
  #fault: RemoteFault = 'offline';

  constructor(options: SimClientOptions) {
    const layout = clientLayout(options);
    super(options, createSimulatedHost(healthyClientModel(layout, options)), {
      platform: 'linux',
      topology: undefined,
      examinesReturnedDisks: true,
    });
    this.layout = layout;
    this.bitmap = options.bitmap ?? true;
    this.mdadmVersion = options.mdadmVersion;
    this.#mirrors = clientMirrors(options);
    seedMdClientSuperblocks(this.host, this.layout, 'healthy');
    if (options.dataDisk === true) {
      // Each half of the data mirror holds its superblock, as seedMdClientSuperblocks writes the root disks'.
      updateModel(this.host.root, (model) => {
        const array = model.arrays[DATA_DISK_LAYOUT.array];
        if (array === undefined) return;
        for (const member of array.members)
          writeSuperblock(this.host.root, model, member.device, superblockFor(array, member));
      });
    }
  }

  /** The disks its remote hosting partition serves it, by name. */
  remoteDisks(): string[] {
    return [...new Set(this.#mirrors.map((mirror) => mirror.remoteDisk))].sort();
  }

  /** The syncing arrays' mean progress. */
  protected resyncOf(model: FakeModel): number | null {
    const syncing = Object.values(model.arrays).flatMap((array) =>
      array.recovery === null ? [] : [array.recovery.progress],
    );
    return syncing.length === 0
      ? null
      : syncing.reduce((sum, progress) => sum + progress, 0) / syncing.length;
  }

  /** The scan tools answer from the simulated host (only `mdadm` exists on an md client). */
  protected async scanTool(request: ToolRequest): Promise<string | null> {
    if (request.tool !== 'mdadm') return null;
    const result = runTool('mdadm', request.args, this.host.root);
    const output = `${result.stdout}${result.stderr}`;
    return output === '' ? null : output;
  }

  /**
   * The remote half's hosting partition goes down: its disks go offline (or fail every read), the
   * root and data mirrors (written to meanwhile) mark their half faulty and move on, while the swap
   * mirror (nothing written) still shows its half in sync.
   */
  remoteDown(fault: RemoteFault = 'offline'): Promise<void> {
    return this.lock(() => {
      this.#fault = fault;
      const model = loadModel(this.host.root);
      for (const hctl of new Set(this.#mirrors.map((mirror) => mirror.remoteHctl))) {
        const lun = model.luns[hctl];
        if (lun === undefined) continue;
        if (fault === 'offline') lun.state = 'offline';
        lun.readable = false;
        lun.exported = false;
      }
      for (const mirror of this.#mirrors) {
        if (!mirror.written) continue;
        const array = model.arrays[mirror.array];
        const member = array?.members.find(
          (candidate) => candidate.device === `${mirror.remoteDisk}${mirror.partition}`,
        );
        if (array === undefined || member === undefined) continue;
        member.state = 'faulty';
        for (let write = 0; write < WRITES_WHILE_AWAY; write += 1)
          bumpEvents(this.host.root, model, mirror.array);
      }
      saveModel(this.host.root, model);
      this.phase = 'degraded';
    });
  }

  /**
   * The remote half's hosting partition exports its disks again: a device that still runs reads
   * again; one the kernel took offline stays offline until deleted and rescanned.
   */
  remoteBack(): Promise<void> {
    return this.lock(() => {
      const model = loadModel(this.host.root);
      for (const hctl of new Set(this.#mirrors.map((mirror) => mirror.remoteHctl))) {
        const lun = model.luns[hctl];
        if (lun === undefined) continue;
        lun.exported = true;
        if (lun.state === 'running') lun.readable = true;
      }
      saveModel(this.host.root, model);
    });
  }

  /** Every array has both members in sync and nothing syncing. */
  isHealthy(): boolean {
    const model = loadModel(this.host.root);
    return Object.values(model.arrays).every(
      (array) =>
        array.recovery === null &&
        array.members.length === array.raidDevices &&
        array.members.every((member) => member.state === 'in_sync'),
    );
  }

  /**
   * What this client's tools must have recorded, once: the field order when its devices went
   * offline, disk after disk by name; when they read again by themselves, only the faulty members
   * removed and added back. A member of an array without a bitmap has its superblock zeroed right
   * before its `--add` (a full rebuild); with a bitmap it is re-added.
   */
  expectedActions(): string[][] {
    const member = (mirror: ClientMirror) => `/dev/${mirror.remoteDisk}${mirror.partition}`;
    const mdadm = (mirror: ClientMirror, op: string) => ['mdadm', `/dev/${mirror.array}`, op, member(mirror)];
    const addBack = (mirror: ClientMirror): string[][] =>
      this.bitmap
        ? [mdadm(mirror, '--re-add')]
        : [['mdadm', '--zero-superblock', member(mirror)], mdadm(mirror, '--add')];
    return this.remoteDisks().flatMap((disk) => {
      const mirrors = this.#mirrors
        .filter((mirror) => mirror.remoteDisk === disk)
        .sort((a, b) => (a.array < b.array ? -1 : 1));
      const stale = mirrors.filter((mirror) => mirror.written);
      if (this.#fault === 'io-errors') {
        return [...stale.map((mirror) => mdadm(mirror, '--remove')), ...stale.flatMap(addBack)];
      }
      const hctl = mirrors[0]?.remoteHctl ?? CLIENT_LAYOUT.hctl;
      const [, channel, target, lun] = hctl.split(':');
      return [
        ...mirrors.filter((mirror) => !mirror.written).map((mirror) => mdadm(mirror, '--fail')),
        ...mirrors.map((mirror) => mdadm(mirror, '--remove')),
        ['write', `/sys/class/scsi_device/${hctl}/device/delete`, '1'],
        ['write', `/sys/class/scsi_host/${CLIENT_LAYOUT.scsiHost}/scan`, `${channel} ${target} ${lun}`],
        ...mirrors.flatMap(addBack),
      ];
    });
  }
}
