import type { ToolRequest } from '../agent/scan/tool-runner.ts';
import { type FakeModel, loadModel, saveModel } from './fake-host/host-model.mjs';
import { npivClientModel } from './fake-host/sim-host.ts';
import { runTool } from './fake-host/tools.mjs';
import { DEMO_SYSTEM, locationPrefix, type ManagedSystem } from './managed-system.ts';
import { createSimulatedHost, type SimAgentHostOptions, SimulatedAgentHost } from './simulated-agent-host.ts';

/**
 * A simulated Linux client whose SAN LUN comes by NPIV through the two VIOS of its managed system
 * (sim/fake-host/sim-host.ts `npivClientModel`): dm-multipath map `mpatha` over four paths, `sdb`
 * and `sdc` through vios1's virtual FC adapter (`host1`, ibmvfc), `sdd` and `sde` through vios2's
 * (`host2`). The agent names each path's failure domain from its ibmvfc host (`partition_name` and
 * `drc_name`): the VIOS's own `vscsi:<system>/<vios>`, with no topology written by hand, so one VIOS
 * IPL is one incident for its vSCSI and its NPIV clients alike (docs/architecture.md §3).
 *
 * When vios2 goes down its two paths fail on this host; when it is back multipathd reinstates them
 * by itself, unless the client is made with a stuck path, which stays failed (its device answers
 * again) until the plan's `multipathd reinstate path`.
 */

/** The paths through vios2's virtual FC adapter, and the one multipathd leaves failed when stuck. */
const VIOS2_PATHS = { devices: ['sdd', 'sde'], stuck: 'sdd' } as const;

export type SimNpivClientOptions = SimAgentHostOptions & {
  index: number;
  system?: ManagedSystem;
  /** A path multipathd does not reinstate by itself once vios2 is back. */
  stuckPath?: boolean;
};

const healthyNpivModel = (options: SimNpivClientOptions): FakeModel => {
  const model = npivClientModel(options.hostId);
  model.system = locationPrefix(options.system ?? DEMO_SYSTEM);
  model.bootId = `4e1f0000-1c2d-4e5f-8a9b-${String(options.index).padStart(12, '0')}`;
  return model;
};

const isVios2Path = (device: string): boolean => (VIOS2_PATHS.devices as readonly string[]).includes(device);

export class SimNpivClient extends SimulatedAgentHost {
  readonly #stuckPath: boolean;

  constructor(options: SimNpivClientOptions) {
    super(options, createSimulatedHost(healthyNpivModel(options)), {
      platform: 'linux',
      topology: undefined,
      examinesReturnedDisks: false,
    });
    this.#stuckPath = options.stuckPath === true;
  }

  /** Nothing resyncs on a multipath host. */
  protected resyncOf(): number | null {
    return null;
  }

  /** `multipath -ll` as multipathd prints its topology. */
  protected async scanTool(request: ToolRequest): Promise<string | null> {
    if (request.tool !== 'multipath') return null;
    const result = runTool('multipathd', ['show', 'topology'], this.host.root);
    return result.code === 0 && result.stdout !== '' ? result.stdout : null;
  }

  /** vios2 goes down: its virtual FC adapter's paths fail on this host. */
  remoteDown(): Promise<void> {
    return this.lock(() => {
      const model = loadModel(this.host.root);
      for (const path of model.multipath.flatMap((map) => map.paths)) {
        if (!isVios2Path(path.device)) continue;
        path.dmState = 'failed';
        path.checker = 'faulty';
      }
      saveModel(this.host.root, model);
      this.phase = 'degraded';
    });
  }

  /** vios2 is back: multipathd reinstates its paths, all but the stuck one. */
  remoteBack(): Promise<void> {
    return this.lock(() => {
      const model = loadModel(this.host.root);
      for (const path of model.multipath.flatMap((map) => map.paths)) {
        if (!isVios2Path(path.device)) continue;
        if (this.#stuckPath && path.device === VIOS2_PATHS.stuck) {
          path.checker = 'ready';
          continue;
        }
        path.dmState = 'active';
        path.checker = path.group === 0 ? 'ready' : 'ghost';
      }
      saveModel(this.host.root, model);
      if (this.isHealthy()) this.phase = 'healed';
    });
  }

  /** Every path active (or a ghost of the standby group). */
  isHealthy(): boolean {
    const model = loadModel(this.host.root);
    return model.multipath.every((map) => map.paths.every((path) => path.dmState === 'active'));
  }

  /** The reinstate of the stuck path, when there is one. */
  expectedActions(): string[][] {
    return this.#stuckPath ? [['multipathd', 'reinstate', 'path', VIOS2_PATHS.stuck]] : [];
  }
}
