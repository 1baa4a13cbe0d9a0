import type { ToolRequest } from '../agent/scan/tool-runner.ts';
import { bumpEvents, type FakeModel, loadModel, saveModel } from './fake-host/host-model.mjs';
import { type MdClientLayout, mdClientModel, seedMdClientSuperblocks } from './fake-host/sim-host.ts';
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

/** Resync speeds of the simulated arrays, in percent per second (a re-add copies only what the bitmap marks). */
export const SIM_RESYNC = { reAddPercentPerSecond: 25, fullPercentPerSecond: 10 } as const;

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

const healthyClientModel = (layout: MdClientLayout, options: SimClientOptions): FakeModel => {
  const { index } = options;
  const model = mdClientModel(layout, 'healthy');
  model.system = locationPrefix(options.system ?? DEMO_SYSTEM);
  model.bootId = `b00710${String(index).padStart(6, '0')}-1c2d-4e5f-8a9b-0c1d2e3f4a5b`.slice(0, 36);
  if (options.wwids === true) {
    Object.values(model.luns).forEach((lun, disk) => {
      lun.wwid = wwidOf(index, disk);
    });
  }
  for (const array of Object.values(model.arrays)) {
    array.reAddRatePerSecond = SIM_RESYNC.reAddPercentPerSecond;
    array.ratePerSecond = SIM_RESYNC.fullPercentPerSecond;
  }
  return model;
};

export class SimClient extends SimulatedAgentHost {
  readonly layout: MdClientLayout;
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
    seedMdClientSuperblocks(this.host, this.layout, 'healthy');
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
   * The remote half's hosting partition goes down: its disk goes offline (or fails every read), the
   * root mirror (written to meanwhile) marks that half faulty and moves on, while the swap mirror
   * (nothing written) still shows its half in sync.
   */
  remoteDown(fault: RemoteFault = 'offline'): Promise<void> {
    return this.lock(() => {
      this.#fault = fault;
      const model = loadModel(this.host.root);
      const lun = model.luns[CLIENT_LAYOUT.hctl];
      if (lun !== undefined) {
        if (fault === 'offline') lun.state = 'offline';
        lun.readable = false;
        lun.exported = false;
      }
      const root = model.arrays[CLIENT_LAYOUT.rootArray];
      const member = root?.members.find((candidate) => candidate.device.startsWith(CLIENT_LAYOUT.remoteDisk));
      if (root !== undefined && member !== undefined) {
        member.state = 'faulty';
        for (let write = 0; write < 42; write += 1)
          bumpEvents(this.host.root, model, CLIENT_LAYOUT.rootArray);
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
      const lun = model.luns[CLIENT_LAYOUT.hctl];
      if (lun !== undefined) {
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
   * What this client's tools must have recorded, once: the field order when its device went
   * offline; when it read again by itself, only the faulty root member removed and re-added.
   */
  expectedActions(): string[][] {
    const [, channel, target, lun] = CLIENT_LAYOUT.hctl.split(':');
    const member = (partition: number) => `/dev/${CLIENT_LAYOUT.remoteDisk}${partition}`;
    if (this.#fault === 'io-errors') {
      return [
        ['mdadm', `/dev/${CLIENT_LAYOUT.rootArray}`, '--remove', member(1)],
        ['mdadm', `/dev/${CLIENT_LAYOUT.rootArray}`, '--re-add', member(1)],
      ];
    }
    return [
      ['mdadm', `/dev/${CLIENT_LAYOUT.swapArray}`, '--fail', member(2)],
      ['mdadm', `/dev/${CLIENT_LAYOUT.rootArray}`, '--remove', member(1)],
      ['mdadm', `/dev/${CLIENT_LAYOUT.swapArray}`, '--remove', member(2)],
      ['write', `/sys/class/scsi_device/${CLIENT_LAYOUT.hctl}/device/delete`, '1'],
      ['write', `/sys/class/scsi_host/${CLIENT_LAYOUT.scsiHost}/scan`, `${channel} ${target} ${lun}`],
      ['mdadm', `/dev/${CLIENT_LAYOUT.rootArray}`, '--re-add', member(1)],
      ['mdadm', `/dev/${CLIENT_LAYOUT.swapArray}`, '--re-add', member(2)],
    ];
  }
}
