import { setTimeout as delay } from 'node:timers/promises';
import { type HostObserver, hostObserver } from '../agent/detect/host-observer.ts';
import type { RunProgram } from '../agent/executor/programs.ts';
import type { Clock } from '../agent/executor/step-context.ts';
import type { WriteSysfs } from '../agent/executor/sysfs.ts';
import type { RunningAgent } from '../agent/loop/agent-loop.ts';
import type { Transport } from '../agent/publish/proxy-tunnel.ts';
import type { ToolRunner } from '../agent/scan/tool-runner.ts';
import type { AgentLog, LogFields } from '../agent/state/agent-log.ts';
import type { Platform } from '../events/index.ts';
import type { TopologyOverrides } from '../probes/topology.ts';
import { startSimAgent } from './agent.ts';
import { type ClientPhase, SIM_AGENT_INTERVALS, SIM_EXECUTOR_TIMING } from './client.ts';
import { vdiskDomain } from './control-domain.ts';
import { advance, type FakeModel, loadModel, saveModel, saveModelOnly } from './fake-host/host-model.mjs';
import { createFakeHost, type FakeHost, multipathModel, svmGuestModel } from './fake-host/sim-host.ts';
import { runTool } from './fake-host/tools.mjs';

/**
 * The demo's other simulated hosts, each running the REAL agent and executor over its own
 * simulated host, like the md clients of sim-client.ts:
 *
 * - an LDoms guest: SVM mirror `d10` of `d11` (`c0d0s0`, a virtual disk from the primary service
 *   domain) and `d12` (`c0d1s0`, from the alternate). When the alternate reboots, `c0d1s0` goes to
 *   Maintenance; once it is back the plan's `metareplace -e d10 c0d1s0` resyncs it to Okay.
 * - multipath hosts: map `mpatha` over four FC paths, two per HBA port. The switch port behind
 *   the second HBA (`fc:<wwpn>`, shared by every multipath host) fails: its paths fail on every
 *   host; when it is back multipathd reinstates them by itself, except one path on the last host,
 *   which stays failed until the plan's `multipathd reinstate path`.
 *
 * Neither discovery can see these failure domains (a `c0d1` names no service domain, an FC HBA no
 * switch port): the agent's config gives them, as its topology section would in the field.
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
  /** Percent per second of the simulated SVM resync. */
  resyncPercentPerSecond: 20,
} as const;

export type SimStorageHostOptions = {
  kind: StorageHostKind;
  hostId: string;
  index: number;
  url: string;
  agentToken: string;
  planPublicKeyPem: string;
  /** The control domain whose service domains serve the guest's disks. */
  controlDomain: string;
  /** A multipath host whose stuck path multipathd does not reinstate by itself. */
  stuckPath?: boolean;
  onLog?: (hostId: string, level: 'info' | 'warn' | 'error', message: string) => void;
  onPlanFetched?: (hostId: string, planId: string, wave: number) => void;
};

/** A promise chain: each task runs after the previous one ended. */
const createLock = () => {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => T | Promise<T>): Promise<T> => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
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
  if (model.svm !== null) model.svm.ratePerSecond = SVM_GUEST.resyncPercentPerSecond;
  return model;
};

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

export class SimStorageHost {
  readonly hostId: string;
  readonly kind: StorageHostKind;
  readonly host: FakeHost;
  phase: ClientPhase = 'healthy';
  readonly plansFetched: { id: string; wave: number; at: number }[] = [];
  plansServedAgain = 0;
  readonly plansAdmitted: string[] = [];
  private readonly lock = createLock();
  private agent: RunningAgent | undefined;
  private transport: Transport | undefined;
  private stopping = false;
  private resync: number | null = null;

  constructor(private readonly options: SimStorageHostOptions) {
    this.hostId = options.hostId;
    this.kind = options.kind;
    const model =
      options.kind === 'ldoms-guest'
        ? healthyGuestModel(options.hostId, options.index)
        : healthyMultipathModel(options.hostId, options.index);
    model.btime = Math.floor(Date.now() / 1000) - 86_400;
    this.host = createFakeHost(model, { programs: false });
  }

  /** The failure domain this host's fault is on. */
  get failureDomain(): string {
    return this.kind === 'ldoms-guest'
      ? vdiskDomain(this.options.controlDomain, 'alternate')
      : SIM_FC_PORTS[FC_FAILING.scsiHost];
  }

  get resyncPercent(): number | null {
    return this.resync;
  }

  private get platform(): Platform {
    return this.kind === 'ldoms-guest' ? 'solaris' : 'linux';
  }

  private get topology(): TopologyOverrides {
    if (this.kind === 'ldoms-guest') {
      return {
        disks: {
          [SVM_GUEST.primaryDisk]: vdiskDomain(this.options.controlDomain, 'primary'),
          [SVM_GUEST.alternateDisk]: vdiskDomain(this.options.controlDomain, 'alternate'),
        },
      };
    }
    return { scsiHosts: { ...SIM_FC_PORTS } };
  }

  private readonly runProgram: RunProgram = (program, args) =>
    this.lock(() => {
      const result = runTool(program, args, this.host.root);
      return { exitCode: result.code, stdout: result.stdout, stderr: result.stderr, timedOut: false };
    });

  private readonly writeSysfs: WriteSysfs = (path, text) => this.lock(() => this.host.writeSysfs(path, text));

  private readonly clock: Clock = {
    now: () => Date.now(),
    sleep: async (ms, signal) => {
      try {
        await delay(ms, undefined, signal === undefined ? {} : { signal });
      } catch {
        return;
      }
      await this.lock(() => this.passTime(ms));
    },
  };

  private passTime(ms: number): void {
    const model = loadModel(this.host.root);
    if (advance(this.host.root, model, ms)) saveModel(this.host.root, model);
    else saveModelOnly(this.host.root, model);
    const mirror = model.svm?.mirrors[0];
    this.resync = mirror?.resync ?? null;
    if (this.resync !== null && this.phase === 'healing') this.phase = 'resyncing';
  }

  /**
   * The scan's tools, answered by the simulated host: `metastat` on the guest (no `ldm`: it is
   * not a control domain), and `multipath -ll` as multipathd prints its topology on a SAN host.
   */
  private readonly scanTools: ToolRunner = async (request) => {
    const [program, args] =
      request.tool === 'multipath' ? ['multipathd', ['show', 'topology']] : [request.tool, request.args];
    if (this.kind === 'ldoms-guest' ? program !== 'metastat' : program !== 'multipathd') return null;
    const result = runTool(program, args, this.host.root);
    return result.code === 0 && result.stdout !== '' ? result.stdout : null;
  };

  /** The agent's own scan of this simulated host, read under the host's lock. */
  #observer: HostObserver | undefined;
  private get observer(): HostObserver {
    this.#observer ??= hostObserver(
      { root: this.host.root, hostId: this.hostId, role: 'client', topology: this.topology },
      this.log,
      this.scanTools,
    );
    return this.#observer;
  }

  private readonly observe = (now: Date) => this.lock(() => this.observer.observe(now));

  private readonly log: AgentLog = {
    info: (message) => this.noteLog('info', message),
    warn: (message) => this.noteLog('warn', message),
    error: (message, fields?: LogFields) => {
      const error = fields?.error;
      this.noteLog('error', error instanceof Error ? `${message}: ${error.message}` : message);
    },
  };

  private noteLog(level: 'info' | 'warn' | 'error', message: string): void {
    if (this.stopping) return;
    const admitted = /^plan (\S+) admitted/.exec(message);
    if (admitted?.[1] !== undefined) {
      this.plansAdmitted.push(admitted[1]);
      this.phase = 'healing';
      this.options.onLog?.(this.hostId, level, message);
      return;
    }
    if (/^plan \S+ succeeded/.test(message)) {
      this.phase = this.isHealthy() ? 'healed' : this.phase;
      this.options.onLog?.(this.hostId, level, message);
      return;
    }
    if (/^plan \S+ (failed|refused)/.test(message) || level === 'error') {
      if (message.startsWith('plan ')) this.phase = 'failed';
      this.options.onLog?.(this.hostId, level, message);
    }
  }

  /** Starts the real agent over this simulated host. */
  async start(): Promise<void> {
    const started = await startSimAgent({
      hostId: this.hostId,
      platform: this.platform,
      host: this.host,
      ...(this.topology === undefined ? {} : { topology: this.topology }),
      url: this.options.url,
      agentToken: this.options.agentToken,
      planPublicKeyPem: this.options.planPublicKeyPem,
      timings: { ...SIM_AGENT_INTERVALS, executor: SIM_EXECUTOR_TIMING },
      runProgram: this.runProgram,
      writeSysfs: this.writeSysfs,
      clock: this.clock,
      dependencies: { observe: this.observe, log: this.log },
      alreadyRan: (planId) => this.plansAdmitted.includes(planId),
      onServedAgain: () => {
        this.plansServedAgain += 1;
      },
      onFetched: (planId, wave) => {
        this.plansFetched.push({ id: planId, wave, at: Date.now() });
        this.options.onPlanFetched?.(this.hostId, planId, wave);
      },
    });
    this.transport = started.transport;
    this.agent = started.agent;
  }

  async scanNow(reason: string): Promise<void> {
    await this.agent?.scanNow(reason);
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
          if (this.options.stuckPath === true && path.device === FC_FAILING.stuckPath) {
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

  /** Every SVM component Okay with no resync, or every path active (or a ghost). */
  isHealthy(): boolean {
    const model = loadModel(this.host.root);
    if (this.kind === 'ldoms-guest') {
      return (model.svm?.mirrors ?? []).every(
        (mirror) =>
          mirror.resync === null &&
          mirror.submirrors.every(
            (submirror) =>
              submirror.state === 'Okay' &&
              submirror.components.every((component) => component.state === 'Okay'),
          ),
      );
    }
    return model.multipath.every((map) => map.paths.every((path) => path.dmState === 'active'));
  }

  /** The argument vectors of every command that changed the host, in order. */
  actions(): string[][] {
    return this.host.actions();
  }

  /** What this host's tools must have recorded, once: the guest's alternate component, the stuck path. */
  expectedActions(): string[][] {
    if (this.kind === 'ldoms-guest')
      return [['metareplace', '-e', SVM_GUEST.mirror, SVM_GUEST.alternateComponent]];
    return this.options.stuckPath === true ? [['multipathd', 'reinstate', 'path', FC_FAILING.stuckPath]] : [];
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.agent?.stop();
    this.agent = undefined;
    this.transport?.close();
    this.transport = undefined;
  }

  remove(): void {
    this.host.remove();
  }
}
