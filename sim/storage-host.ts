import type { ToolRequest } from '../agent/scan/tool-runner.ts';
import type { TopologyOverrides } from '../probes/topology.ts';
import { SERVICE_DOMAINS, vdiskDomain } from './control-domain.ts';
import { type FakeModel, loadModel, REPLICA_ERROR_FLAGS, saveModel } from './fake-host/host-model.mjs';
import { multipathModel, svmGuestModel } from './fake-host/sim-host.ts';
import { runTool } from './fake-host/tools.mjs';
import { createSimulatedHost, type SimAgentHostOptions, SimulatedAgentHost } from './simulated-agent-host.ts';

/**
 * The demo's other simulated hosts, each running the REAL agent and executor over its own
 * simulated host, like the md clients of client.ts (what they share is in simulated-agent-host.ts):
 *
 * - an LDoms guest: SVM mirror `d10` of `d11` (`c0d0s0`, a virtual disk from the primary service
 *   domain) and `d12` (`c0d1s0`, from the alternate), and three state database replicas on each
 *   disk (`c0d0s7`, `c0d1s7`), as `metadb -a -f -c 3` lays them out on a two-disk system. When the
 *   alternate reboots, `c0d1s0` goes to Maintenance and SVM's next commit gives the replicas on
 *   `c0d1s7` a write error, which they keep once the disk is back (host-model.mjs latches it):
 *   exactly half of the replicas stay active. The plan's `metareplace -e d10 c0d1s0` resyncs the
 *   component to Okay; its `svm.metadb-restore`, when the plan carries one, re-creates the three
 *   replicas (`metadb -d c0d1s7`, `metadb -a -c 3 c0d1s7`). A `c0d1` names no service domain and
 *   the guest's agent is given no topology: its members are local to it, and the control plane
 *   places them from its control domain's `guests` report (control-domain.ts), its host id being
 *   its domain name.
 * - multipath hosts: map `mpatha` over four FC paths, two per HBA port. The switch port behind
 *   the second HBA (`fc:<wwpn>`, shared by every multipath host) fails: its paths fail on every
 *   host; when it is back multipathd reinstates them by itself, except one path on the last host,
 *   which stays failed until the plan's `multipathd reinstate path`. An FC HBA names no switch
 *   port and a switch runs no agent: the agent's config gives the ports, as its topology section
 *   would in the field.
 */

export type StorageHostKind = 'ldoms-guest' | 'multipath';

/** The FC target ports the multipath hosts' HBAs reach; the second is the one that fails. */
export const SIM_FC_PORTS = { host3: 'fc:500507680b21ac1c', host4: 'fc:500507680b22ac1c' } as const;

/** The multipath paths through the failing port, and the one multipathd does not reinstate itself. */
const FC_FAILING = { scsiHost: 'host4', paths: ['sdd', 'sdf'], stuckPath: 'sdd' } as const;

/** The guest's SVM layout: `d10` = `d11` on the primary's disk, `d12` on the alternate's. */
const SVM_GUEST = {
  mirror: 'd10',
  primaryDisk: 'c0d0',
  alternateDisk: 'c0d1',
  alternateSubmirror: 'd12',
  alternateComponent: 'c0d1s0',
  /** The state database slices: one per disk, each holding `replicasPerDisk` replicas. */
  primaryReplicaSlice: 'c0d0s7',
  alternateReplicaSlice: 'c0d1s7',
  replicasPerDisk: 3,
  /** Percent per second of the simulated SVM resync. */
  resyncPercentPerSecond: 20,
} as const;

export type SimStorageHostOptions = SimAgentHostOptions & {
  kind: StorageHostKind;
  index: number;
  /** The control domain whose service domains serve the guest's disks (its `guests` report says so). */
  controlDomain: string;
  /** A multipath host whose stuck path multipathd does not reinstate by itself. */
  stuckPath?: boolean;
};

const healthyGuestModel = (hostId: string, index: number): FakeModel => {
  const model = svmGuestModel(hostId);
  model.platform = 'solaris';
  model.bootId = `501a0000-1c2d-4e5f-8a9b-${String(index).padStart(12, '0')}`;
  for (const mirror of model.svm?.mirrors ?? []) {
    for (const submirror of mirror.submirrors) {
      submirror.state = 'Okay';
      for (const component of submirror.components) component.state = 'Okay';
    }
  }
  if (model.svm !== null) {
    model.svm.ratePerSecond = SVM_GUEST.resyncPercentPerSecond;
    // `metadb -i` of a guest booted with three replicas per disk: the first is the master.
    model.svm.metadb = [SVM_GUEST.primaryReplicaSlice, SVM_GUEST.alternateReplicaSlice].flatMap((device) =>
      Array.from({ length: SVM_GUEST.replicasPerDisk }, () => ({ device, flags: 'a    p  luo' })),
    );
    const [master] = model.svm.metadb;
    if (master !== undefined) master.flags = 'a m  p  luo';
  }
  return model;
};

/** The programs the guest's scan may read: `metastat`, and `metadb` without `-a`, `-d` or `-f`. */
const guestReads = (program: string, args: readonly string[]): boolean =>
  program === 'metastat' || (program === 'metadb' && !args.some((arg) => /^-[a-z]*[adf]/.test(arg)));

const healthyMultipathModel = (hostId: string, index: number): FakeModel => {
  const model = multipathModel(hostId);
  model.bootId = `3a7b0000-1c2d-4e5f-8a9b-${String(index).padStart(12, '0')}`;
  for (const map of model.multipath) {
    for (const path of map.paths) {
      path.dmState = 'active';
      path.checker = path.group === 0 ? 'ready' : 'ghost';
    }
  }
  return model;
};

/** The FC ports the multipath agents' config gives, as its topology section would in the field; none for a guest. */
const storageTopology = (options: SimStorageHostOptions): TopologyOverrides | undefined =>
  options.kind === 'ldoms-guest' ? undefined : { scsiHosts: { ...SIM_FC_PORTS } };

export class SimStorageHost extends SimulatedAgentHost {
  readonly kind: StorageHostKind;
  readonly #options: SimStorageHostOptions;

  constructor(options: SimStorageHostOptions) {
    const model =
      options.kind === 'ldoms-guest'
        ? healthyGuestModel(options.hostId, options.index)
        : healthyMultipathModel(options.hostId, options.index);
    super(options, createSimulatedHost(model), {
      platform: options.kind === 'ldoms-guest' ? 'solaris' : 'linux',
      topology: storageTopology(options),
      examinesReturnedDisks: false,
    });
    this.kind = options.kind;
    this.#options = options;
  }

  /** The failure domain this host's fault is on. */
  get failureDomain(): string {
    return this.kind === 'ldoms-guest'
      ? vdiskDomain(this.#options.controlDomain, SERVICE_DOMAINS.alternate)
      : SIM_FC_PORTS[FC_FAILING.scsiHost];
  }

  /** The SVM mirror's resync. */
  protected resyncOf(model: FakeModel): number | null {
    return model.svm?.mirrors[0]?.resync ?? null;
  }

  /**
   * The scan's tools, answered by the simulated host: `metastat` and `metadb -i` on the guest (no
   * `ldm`: it is not a control domain), and `multipath -ll` as multipathd prints its topology on a
   * SAN host.
   */
  protected async scanTool(request: ToolRequest): Promise<string | null> {
    const [program, args]: [string, readonly string[]] =
      request.tool === 'multipath' ? ['multipathd', ['show', 'topology']] : [request.tool, request.args];
    if (this.kind === 'ldoms-guest' ? !guestReads(program, args) : program !== 'multipathd') return null;
    const result = runTool(program, args, this.host.root);
    return result.code === 0 && result.stdout !== '' ? result.stdout : null;
  }

  /**
   * The fault: the alternate service domain reboots (the guest's `c0d1` stops answering and SVM
   * puts `c0d1s0` in Maintenance), or the FC port fails (its paths fail on this host).
   */
  faultDown(): Promise<void> {
    return this.lock(() => {
      const model = loadModel(this.host.root);
      if (this.kind === 'ldoms-guest') {
        const disk = model.solarisDisks?.[SVM_GUEST.alternateDisk];
        if (disk !== undefined) disk.readable = false;
        const submirror = model.svm?.mirrors
          .find((mirror) => mirror.name === SVM_GUEST.mirror)
          ?.submirrors.find((candidate) => candidate.name === SVM_GUEST.alternateSubmirror);
        if (submirror !== undefined) {
          submirror.state = 'Needs maintenance';
          for (const component of submirror.components) component.state = 'Maintenance';
        }
      } else {
        for (const path of model.multipath.flatMap((map) => map.paths)) {
          if (!(FC_FAILING.paths as readonly string[]).includes(path.device)) continue;
          path.dmState = 'failed';
          path.checker = 'faulty';
        }
      }
      saveModel(this.host.root, model);
      this.phase = 'degraded';
    });
  }

  /**
   * The server is back: the guest's `c0d1` answers again (its component stays in Maintenance until
   * `metareplace -e`); multipathd reinstates the port's paths by itself, except the stuck path.
   */
  faultBack(): Promise<void> {
    return this.lock(() => {
      const model = loadModel(this.host.root);
      if (this.kind === 'ldoms-guest') {
        const disk = model.solarisDisks?.[SVM_GUEST.alternateDisk];
        if (disk !== undefined) disk.readable = true;
      } else {
        for (const path of model.multipath.flatMap((map) => map.paths)) {
          if (!(FC_FAILING.paths as readonly string[]).includes(path.device)) continue;
          if (this.#options.stuckPath === true && path.device === FC_FAILING.stuckPath) {
            // The device answers again, but multipathd has not reinstated the path.
            path.checker = 'ready';
            continue;
          }
          path.dmState = 'active';
          path.checker = path.group === 0 ? 'ready' : 'ghost';
        }
      }
      saveModel(this.host.root, model);
      if (this.isHealthy()) this.phase = 'healed';
    });
  }

  /** The slices holding a state database replica in error (`metadb -i` flags `W`, `R`, ...), by name. */
  replicasInError(): string[] {
    const replicas = loadModel(this.host.root).svm?.metadb ?? [];
    return [
      ...new Set(
        replicas
          .filter((replica) => REPLICA_ERROR_FLAGS.test(replica.flags))
          .map((replica) => replica.device),
      ),
    ].sort();
  }

  /** Whether a plan this guest fetched re-creates its replicas in error (`svm.metadb-restore`). */
  get restorePlanned(): boolean {
    return this.planned('svm.metadb-restore');
  }

  /**
   * The guest: every SVM component Okay with no resync, and no state database replica in error
   * (the metareplace alone leaves those of the repaired disk in error). A multipath host: every
   * path active (or a ghost).
   */
  isHealthy(): boolean {
    const model = loadModel(this.host.root);
    if (this.kind === 'ldoms-guest') {
      const mirrorsOkay = (model.svm?.mirrors ?? []).every(
        (mirror) =>
          mirror.resync === null &&
          mirror.submirrors.every(
            (submirror) =>
              submirror.state === 'Okay' &&
              submirror.components.every((component) => component.state === 'Okay'),
          ),
      );
      return mirrorsOkay && this.replicasInError().length === 0;
    }
    return model.multipath.every((map) => map.paths.every((path) => path.dmState === 'active'));
  }

  /**
   * What this host's tools must have recorded, once: the guest's alternate component, and its
   * replicas re-created when its plan carried `svm.metadb-restore`; the stuck path.
   */
  expectedActions(): string[][] {
    if (this.kind === 'ldoms-guest') {
      const slice = SVM_GUEST.alternateReplicaSlice;
      return [
        ['metareplace', '-e', SVM_GUEST.mirror, SVM_GUEST.alternateComponent],
        ...(this.restorePlanned
          ? [
              ['metadb', '-d', slice],
              ['metadb', '-a', '-c', String(SVM_GUEST.replicasPerDisk), slice],
            ]
          : []),
      ];
    }
    return this.#options.stuckPath === true
      ? [['multipathd', 'reinstate', 'path', FC_FAILING.stuckPath]]
      : [];
  }
}
