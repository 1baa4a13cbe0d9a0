import { setTimeout as delay } from 'node:timers/promises';
import { type HostObserver, hostObserver } from '../agent/detect/host-observer.ts';
import type { ExaminePartition } from '../agent/detect/returned-disk.ts';
import type { RunProgram } from '../agent/executor/programs.ts';
import type { Clock, ExecutorTiming } from '../agent/executor/step-context.ts';
import type { WriteSysfs } from '../agent/executor/sysfs.ts';
import type { RunningAgent } from '../agent/loop/agent-loop.ts';
import type { Transport } from '../agent/publish/proxy-tunnel.ts';
import type { ToolRunner } from '../agent/scan/tool-runner.ts';
import type { AgentLog, LogFields } from '../agent/state/agent-log.ts';
import { startSimAgent } from './agent.ts';
import {
  advance,
  bumpEvents,
  type FakeModel,
  loadModel,
  saveModel,
  saveModelOnly,
} from './fake-host/host-model.mjs';
import {
  createFakeHost,
  type FakeHost,
  type MdClientLayout,
  mdClientModel,
  seedMdClientSuperblocks,
} from './fake-host/sim-host.ts';
import { runTool } from './fake-host/tools.mjs';

/**
 * One simulated Linux client partition of the demo: a root (`md0`) and a swap (`md1`) RAID1, each
 * with one half on a disk from vios1 and one on a disk from vios2 (ibmvscsi), rendered as a root
 * tree by the simulated host layer, and the REAL agent (`startAgent` with the real guarded executor
 * of `createPlanRunner`) observing and healing it over HTTP with its own agent token.
 *
 * Only the host is simulated: the storage programs run in process (`runTool`: the same fakes the
 * executor's tests put on a search path, recording every argument vector), the SCSI midlayer is
 * the fake kernel's sysfs writer, and time passes on the host in real time (a resync progresses
 * while the executor waits for it). Every change of the host and every scan hold a per-host lock,
 * so the agent never reads a tree half re-rendered.
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

/** The executor's waits, shortened to the simulated host's pace. */
export const SIM_EXECUTOR_TIMING: ExecutorTiming = {
  syncPollMs: 250,
  progressReportMs: 1_000,
  settleTimeoutMs: 10_000,
  settlePollMs: 100,
  deleteTimeoutMs: 5_000,
  deletePollMs: 50,
};

/** How the simulated agents pace their loops. */
export const SIM_AGENT_INTERVALS = { scanSeconds: 1, heartbeatSeconds: 5, longPollSeconds: 5 } as const;

export type ClientPhase = 'healthy' | 'degraded' | 'healing' | 'resyncing' | 'healed' | 'failed';

export type SimClientOptions = {
  hostId: string;
  index: number;
  url: string;
  agentToken: string;
  planPublicKeyPem: string;
  /** Told of the client's agent log lines worth showing (plans admitted, refused, failed). */
  onLog?: (hostId: string, level: 'info' | 'warn' | 'error', message: string) => void;
  /** Told of each plan the agent fetched (a plan served again is told again). */
  onPlanFetched?: (hostId: string, planId: string, wave: number) => void;
};

const uuidOf = (index: number, array: number): string => {
  const hex = (index * 16 + array + 0x1000).toString(16).padStart(8, '0');
  return `a1b2c3d4:${hex}:5e6f7081:92a3b4c5`;
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

export class SimClient {
  readonly hostId: string;
  readonly layout: MdClientLayout;
  readonly host: FakeHost;
  phase: ClientPhase = 'healthy';
  /** Every plan the agent fetched (a plan served again is listed again), with its wave. */
  readonly plansFetched: { id: string; wave: number; at: number }[] = [];
  /** Polls that served again a plan this agent had already run (kept from the executor). */
  plansServedAgain = 0;
  /** Plans the executor admitted, in order. */
  readonly plansAdmitted: string[] = [];
  /** When each plan was admitted (ms since the epoch). */
  readonly admittedAt: number[] = [];
  private readonly lock = createLock();
  private agent: RunningAgent | undefined;
  private transport: Transport | undefined;
  /** Once stopping, the agent's lines about its aborted polls are not news. */
  private stopping = false;
  private resync: number | null = null;

  constructor(private readonly options: SimClientOptions) {
    this.hostId = options.hostId;
    this.layout = {
      hostId: options.hostId,
      localDisk: CLIENT_LAYOUT.localDisk,
      remoteDisk: CLIENT_LAYOUT.remoteDisk,
      hctl: CLIENT_LAYOUT.hctl,
      scsiHost: CLIENT_LAYOUT.scsiHost,
      mirrors: [
        { array: CLIENT_LAYOUT.rootArray, uuid: uuidOf(options.index, 0), partition: 1 },
        { array: CLIENT_LAYOUT.swapArray, uuid: uuidOf(options.index, 1), partition: 2 },
      ],
    };
    const model = mdClientModel(this.layout, 'healthy');
    model.bootId = `b00710${String(options.index).padStart(6, '0')}-1c2d-4e5f-8a9b-0c1d2e3f4a5b`.slice(0, 36);
    model.btime = Math.floor(Date.now() / 1000) - 86_400;
    for (const array of Object.values(model.arrays)) {
      array.reAddRatePerSecond = SIM_RESYNC.reAddPercentPerSecond;
      array.ratePerSecond = SIM_RESYNC.fullPercentPerSecond;
    }
    this.host = createFakeHost(model, { programs: false });
    seedMdClientSuperblocks(this.host, this.layout, 'healthy');
  }

  /** The syncing arrays' mean progress, or null when none syncs. */
  get resyncPercent(): number | null {
    return this.resync;
  }

  private readonly runProgram: RunProgram = (program, args) =>
    this.lock(() => {
      const result = runTool(program, args, this.host.root);
      return { exitCode: result.code, stdout: result.stdout, stderr: result.stderr, timedOut: false };
    });

  private readonly writeSysfs: WriteSysfs = (path, text) => this.lock(() => this.host.writeSysfs(path, text));

  /** Real time, during which the host's resyncs progress. */
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
    this.noteResync(model);
  }

  private noteResync(model: FakeModel): void {
    const syncing = Object.values(model.arrays).flatMap((array) =>
      array.recovery === null ? [] : [array.recovery.progress],
    );
    this.resync =
      syncing.length === 0 ? null : syncing.reduce((sum, progress) => sum + progress, 0) / syncing.length;
    if (this.resync !== null && this.phase === 'healing') this.phase = 'resyncing';
  }

  /** The scan tools answer from the simulated host (only `mdadm` exists on an md client). */
  private readonly scanTools: ToolRunner = async (request) => {
    if (request.tool !== 'mdadm') return null;
    const result = runTool('mdadm', request.args, this.host.root);
    const output = `${result.stdout}${result.stderr}`;
    return output === '' ? null : output;
  };

  /** The agent's own scan of this simulated host, read under the host's lock. */
  #observer: HostObserver | undefined;
  private get observer(): HostObserver {
    this.#observer ??= hostObserver(
      { root: this.host.root, hostId: this.hostId, role: 'client', topology: undefined },
      this.log,
      this.scanTools,
    );
    return this.#observer;
  }

  private readonly examine: ExaminePartition = (device, snapshot) =>
    this.lock(() => this.observer.examine(device, snapshot));

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
      this.admittedAt.push(Date.now());
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
      platform: 'linux',
      host: this.host,

      url: this.options.url,
      agentToken: this.options.agentToken,
      planPublicKeyPem: this.options.planPublicKeyPem,
      timings: { ...SIM_AGENT_INTERVALS, executor: SIM_EXECUTOR_TIMING },
      runProgram: this.runProgram,
      writeSysfs: this.writeSysfs,
      clock: this.clock,
      dependencies: { observe: this.observe, examine: this.examine, log: this.log },
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

  /** Scans now (the demo waits for every agent's first report). */
  async scanNow(reason: string): Promise<void> {
    await this.agent?.scanNow(reason);
  }

  /**
   * vios2 goes down: its disk goes offline, the root mirror (written to meanwhile) marks its vios2
   * half faulty and moves on, while the swap mirror (nothing written) still shows its half in sync.
   */
  vios2Down(): Promise<void> {
    return this.lock(() => {
      const model = loadModel(this.host.root);
      const lun = model.luns[CLIENT_LAYOUT.hctl];
      if (lun !== undefined) {
        lun.state = 'offline';
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

  /** vios2 exports its disks again; the client's device stays offline until deleted and rescanned. */
  vios2Back(): Promise<void> {
    return this.lock(() => {
      const model = loadModel(this.host.root);
      const lun = model.luns[CLIENT_LAYOUT.hctl];
      if (lun !== undefined) lun.exported = true;
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

  /** The argument vectors of every command that changed the host, in order. */
  actions(): string[][] {
    return this.host.actions();
  }

  /** The read-only commands, in order. */
  reads(): string[][] {
    return this.host.reads();
  }

  /** The field order this client's tools must have recorded, once. */
  expectedActions(): string[][] {
    const [, channel, target, lun] = CLIENT_LAYOUT.hctl.split(':');
    const member = (partition: number) => `/dev/${CLIENT_LAYOUT.remoteDisk}${partition}`;
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
