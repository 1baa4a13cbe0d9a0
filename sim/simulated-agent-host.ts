import { setTimeout as delay } from 'node:timers/promises';
import { type HostObserver, hostObserver } from '../agent/detect/host-observer.ts';
import type { ExaminePartition } from '../agent/detect/returned-disk.ts';
import type { RunProgram } from '../agent/executor/programs.ts';
import type { Clock, ExecutorTiming } from '../agent/executor/step-context.ts';
import type { WriteSysfs } from '../agent/executor/sysfs.ts';
import type { RunningAgent } from '../agent/loop/agent-loop.ts';
import type { Transport } from '../agent/publish/proxy-tunnel.ts';
import {
  type DirectRead,
  type DirectReader,
  ddRead,
  directReadArguments,
} from '../agent/scan/direct-read.ts';
import type { ToolRequest } from '../agent/scan/tool-runner.ts';
import type { AgentLog, LogFields } from '../agent/state/agent-log.ts';
import type { PlanAction, Platform } from '../events/index.ts';
import type { TopologyOverrides } from '../probes/topology.ts';
import { startSimAgent } from './agent.ts';
import { advance, type FakeModel, loadModel, saveModel, saveModelOnly } from './fake-host/host-model.mjs';
import { createFakeHost, type FakeHost } from './fake-host/sim-host.ts';
import { runTool } from './fake-host/tools.mjs';

/**
 * What every simulated client host of the demo that runs the REAL agent shares, whatever its
 * storage (the md clients of client.ts, the LDoms guests and multipath hosts of storage-host.ts, the
 * NPIV clients of npiv-client.ts; the servers are simulated-server.ts): its simulated
 * host with the storage programs run in process (`runTool`: the same fakes the executor's tests
 * put on a search path, recording every argument vector), the fake kernel's sysfs writer, real
 * time passing on the host (a resync progresses while the executor waits for it), the agent's own
 * scan of the host (`hostObserver`, its disk watch reading through the fake `dd`), the agent with
 * its guarded executor (`startSimAgent`), and
 * what the demo watches: the host's phase, its resync, the plans fetched and admitted. Every
 * change of the host and every scan hold a per-host lock, so the agent never reads a tree half
 * re-rendered. A kind of host adds its model, its scan tools and its faults.
 */

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

/** A simulated host booted this long before the demo. */
const SIM_UPTIME_SECONDS = 86_400;

/**
 * How long a read the fake `dd` says would never return (a blocked device) is left before it is
 * killed, as the agent kills a real one at its timeout (10 s on a host; shortened here).
 */
const SIM_DIRECT_READ_TIMEOUT_MS = 2_000;

export type ClientPhase = 'healthy' | 'degraded' | 'healing' | 'resyncing' | 'healed' | 'failed';

/** What every simulated agent host is given: who it is and how its agent reaches the control plane. */
export type SimAgentHostOptions = {
  hostId: string;
  url: string;
  agentToken: string;
  planPublicKeyPem: string;
  /** Told of the host's agent log lines worth showing (plans admitted, refused, failed). */
  onLog?: (hostId: string, level: 'info' | 'warn' | 'error', message: string) => void;
  /** Told of each plan the agent fetched (a plan served again is told again). */
  onPlanFetched?: (hostId: string, planId: string, wave: number) => void;
};

/** What a kind of simulated host tells its agent about itself. */
export type SimAgentHostKind = {
  platform: Platform;
  /** The config's topology section: failure domains discovery cannot see. */
  topology: TopologyOverrides | undefined;
  /** Whether the agent reads a returned disk's md superblocks (`disk.probed`): md clients do. */
  examinesReturnedDisks: boolean;
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

/** The simulated host of `model`, booted a day ago, its programs run in process (no search path). */
export const createSimulatedHost = (model: FakeModel): FakeHost => {
  model.btime = Math.floor(Date.now() / 1000) - SIM_UPTIME_SECONDS;
  return createFakeHost(model, { programs: false });
};

/** A simulated host running the real agent; a kind of host adds its storage and its faults. */
export abstract class SimulatedAgentHost {
  readonly hostId: string;
  readonly host: FakeHost;
  phase: ClientPhase = 'healthy';
  /** Every plan the agent fetched (a plan served again is listed again), with its wave and the actions it carries. */
  readonly plansFetched: { id: string; wave: number; at: number; actions: readonly PlanAction[] }[] = [];
  /** Polls that served again a plan this agent had already run (kept from the executor). */
  plansServedAgain = 0;
  /** Plans the executor admitted, in order. */
  readonly plansAdmitted: string[] = [];
  /** When each plan was admitted (ms since the epoch). */
  readonly admittedAt: number[] = [];
  /** Held by every change of the host and every scan. */
  protected readonly lock = createLock();
  readonly #options: SimAgentHostOptions;
  readonly #kind: SimAgentHostKind;
  #agent: RunningAgent | undefined;
  #transport: Transport | undefined;
  /** Once stopping, the agent's lines about its aborted polls are not news. */
  #stopping = false;
  #resync: number | null = null;
  #hostObserver: HostObserver | undefined;

  protected constructor(options: SimAgentHostOptions, host: FakeHost, kind: SimAgentHostKind) {
    this.hostId = options.hostId;
    this.host = host;
    this.#options = options;
    this.#kind = kind;
  }

  /** The host is healthy: what the demo waits for once its fault is over. */
  abstract isHealthy(): boolean;

  /** What this host's tools must have recorded, once, by the end of the demo. */
  abstract expectedActions(): string[][];

  /** Whether a plan this agent fetched carries `action` (in its steps or its fast path). */
  planned(action: PlanAction): boolean {
    return this.plansFetched.some((plan) => plan.actions.includes(action));
  }

  /** The output of a tool the scan asks for, from the simulated host; null when it has none. */
  protected abstract scanTool(request: ToolRequest): Promise<string | null>;

  /** The resync progress to show once time passed on the host, or null when nothing syncs. */
  protected abstract resyncOf(model: FakeModel): number | null;

  /** The resync progress of the host, or null when nothing syncs. */
  get resyncPercent(): number | null {
    return this.#resync;
  }

  readonly #runProgram: RunProgram = (program, args) =>
    this.lock(() => {
      const result = runTool(program, args, this.host.root);
      return { exitCode: result.code, stdout: result.stdout, stderr: result.stderr, timedOut: false };
    });

  readonly #writeSysfs: WriteSysfs = (path, text) => this.lock(() => this.host.writeSysfs(path, text));

  /** Real time, during which the host's resyncs progress. */
  readonly #clock: Clock = {
    now: () => Date.now(),
    sleep: async (ms, signal) => {
      try {
        await delay(ms, undefined, signal === undefined ? {} : { signal });
      } catch {
        return;
      }
      await this.lock(() => this.#passTime(ms));
    },
  };

  #passTime(ms: number): void {
    const model = loadModel(this.host.root);
    if (advance(this.host.root, model, ms)) saveModel(this.host.root, model);
    else saveModelOnly(this.host.root, model);
    this.#resync = this.resyncOf(model);
    if (this.#resync !== null && this.phase === 'healing') this.phase = 'resyncing';
  }

  /**
   * The disk watch's direct read (agent/scan/direct-read.ts), answered by the fake `dd` of the
   * simulated host with the argument vector the agent gives the real one, and read as the agent
   * reads dd's exit and stderr. It runs in process, inside the scan that asks for it (the scan holds
   * the host's lock); a read that would hang is reported timed out once its timeout passed.
   */
  readonly #readDisk: DirectReader = (disk) => {
    const args = directReadArguments(this.#kind.platform, disk);
    const answer = args === null ? null : runTool('dd', args, this.host.root);
    const result = (async (): Promise<DirectRead> => {
      if (answer === null) {
        return { readable: null, timedOut: false, detail: `no direct read on ${this.#kind.platform}` };
      }
      if (answer.hangs === true) {
        await delay(SIM_DIRECT_READ_TIMEOUT_MS);
        return {
          readable: false,
          timedOut: true,
          detail: `timed out after ${SIM_DIRECT_READ_TIMEOUT_MS / 1000} s`,
        };
      }
      const lines = answer.stderr.split('\n').filter((line) => line.trim() !== '');
      const detail = lines.find((line) => /^(dd: |read: )/.test(line)) ?? lines[0] ?? '';
      return { readable: ddRead(answer.code, answer.stderr), timedOut: false, detail };
    })();
    return { result, exited: result.then(() => undefined) };
  };

  /** The agent's own scan of this simulated host, read under the host's lock. */
  get #observer(): HostObserver {
    this.#hostObserver ??= hostObserver(
      { root: this.host.root, hostId: this.hostId, role: 'client', topology: this.#kind.topology },
      this.#log,
      (request) => this.scanTool(request),
      { reader: this.#readDisk },
    );
    return this.#hostObserver;
  }

  readonly #examine: ExaminePartition = (device, snapshot) =>
    this.lock(() => this.#observer.examine(device, snapshot));

  readonly #observe = (now: Date) => this.lock(() => this.#observer.observe(now));

  readonly #log: AgentLog = {
    info: (message) => this.#noteLog('info', message),
    warn: (message) => this.#noteLog('warn', message),
    error: (message, fields?: LogFields) => {
      const error = fields?.error;
      this.#noteLog('error', error instanceof Error ? `${message}: ${error.message}` : message);
    },
  };

  #noteLog(level: 'info' | 'warn' | 'error', message: string): void {
    if (this.#stopping) return;
    const admitted = /^plan (\S+) admitted/.exec(message);
    if (admitted?.[1] !== undefined) {
      this.plansAdmitted.push(admitted[1]);
      this.admittedAt.push(Date.now());
      this.phase = 'healing';
      this.#options.onLog?.(this.hostId, level, message);
      return;
    }
    if (/^plan \S+ succeeded/.test(message)) {
      this.phase = this.isHealthy() ? 'healed' : this.phase;
      this.#options.onLog?.(this.hostId, level, message);
      return;
    }
    if (/^plan \S+ (failed|refused)/.test(message) || level === 'error') {
      if (message.startsWith('plan ')) this.phase = 'failed';
      this.#options.onLog?.(this.hostId, level, message);
    }
  }

  /** Starts the real agent over this simulated host. */
  async start(): Promise<void> {
    const { platform, topology, examinesReturnedDisks } = this.#kind;
    const started = await startSimAgent({
      hostId: this.hostId,
      platform,
      host: this.host,
      ...(topology === undefined ? {} : { topology }),
      url: this.#options.url,
      agentToken: this.#options.agentToken,
      planPublicKeyPem: this.#options.planPublicKeyPem,
      timings: { ...SIM_AGENT_INTERVALS, executor: SIM_EXECUTOR_TIMING },
      runProgram: this.#runProgram,
      writeSysfs: this.#writeSysfs,
      clock: this.#clock,
      dependencies: examinesReturnedDisks
        ? { observe: this.#observe, examine: this.#examine, log: this.#log }
        : { observe: this.#observe, log: this.#log },
      alreadyRan: (planId) => this.plansAdmitted.includes(planId),
      onServedAgain: () => {
        this.plansServedAgain += 1;
      },
      onFetched: (planId, wave, actions) => {
        this.plansFetched.push({ id: planId, wave, at: Date.now(), actions });
        this.#options.onPlanFetched?.(this.hostId, planId, wave);
      },
    });
    this.#transport = started.transport;
    this.#agent = started.agent;
  }

  /** Scans now (the demo waits for every agent's first report). */
  async scanNow(reason: string): Promise<void> {
    await this.#agent?.scanNow(reason);
  }

  /** The argument vectors of every command that changed the host, in order. */
  actions(): string[][] {
    return this.host.actions();
  }

  /** The read-only commands, in order. */
  reads(): string[][] {
    return this.host.reads();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#agent?.stop();
    this.#agent = undefined;
    this.#transport?.close();
    this.#transport = undefined;
  }

  remove(): void {
    this.host.remove();
  }
}
