import { randomUUID } from 'node:crypto';
import { type AnnounceSummary, announceGoingDown } from '../agent/commands/announce.ts';
import { type AgentConfig, resolveAgentConfig } from '../agent/config.ts';
import { hostObserver } from '../agent/detect/host-observer.ts';
import { createPublisher, type RunningAgent, startAgent } from '../agent/loop/agent-loop.ts';
import type { EventPublisher } from '../agent/publish/event-publisher.ts';
import type { OutboundEvent } from '../agent/publish/outbound-event.ts';
import { createTransport, type Transport } from '../agent/publish/proxy-tunnel.ts';
import type { CommandResult } from '../agent/serve/server-commands.ts';
import type { ServerTools } from '../agent/serve/server-host.ts';
import type { ServerReport } from '../agent/serve/server-role.ts';
import type { AgentLog, LogFields, LogLevel } from '../agent/state/agent-log.ts';
import type { EventType, Platform } from '../events/index.ts';
import { loadModel, saveModel } from './fake-host/host-model.mjs';
import type { FakeServerModel } from './fake-host/server-model.d.mts';
import { saveServerModel, updateServerModel } from './fake-host/server-model.mjs';
import { runServerTool, SERVER_TOOL_NAMES } from './fake-host/server-tools.mjs';
import { emptyModel, type FakeHost } from './fake-host/sim-host.ts';
import { createSimulatedHost, SIM_AGENT_INTERVALS } from './simulated-agent-host.ts';

/**
 * A simulated server running the REAL agent in its server role (agent/serve/): a VIOS hosting
 * partition (vios.ts, role `hosting`) or an LDoms control domain (control-domain.ts, role
 * `control`). Its host is a simulated host (the boot id and boot time the agent reads) with the
 * servers' side of the fakes beside it (sim/fake-host/server-model.mjs: the VIOS's adapters and
 * boot record, or the LDoms domains and their disks), and the agent runs its real server tools
 * against those fakes in process (`ioscli`, `uname`, `who`, `ldm`: the same ones
 * test/agent/serve/ runs). So the server says itself, with its own agent token, what it serves
 * (`serves`, `guests` in its heartbeats), when it serves again (`ipl.completed`,
 * `domain.rebooted`, once its serving check passes) and, when its shutdown sequence runs
 * `faultline-agent announce going-down`, that it goes.
 *
 * A stop (`stop`) is `systemctl stop` of the agent: no shutdown, nothing announced. A new boot is a
 * new boot id (the host's `boot_id`) and a boot time now. The network between the server and the
 * control plane may lose events of given types (`loses`): the agent is told they were delivered,
 * the control plane never sees them (an announcement lost on its way).
 */

/** How the simulated servers pace their loops: a look at their serving side every second. */
export const SIM_SERVER_INTERVALS = {
  /** Nothing to scan on a server but its (empty) storage. */
  scanSeconds: 5,
  heartbeatSeconds: SIM_AGENT_INTERVALS.heartbeatSeconds,
  serverCheckSeconds: 1,
  /** How long `announce going-down` waits for delivery (the agent's default). */
  announceWaitSeconds: 5,
} as const;

/** The most log lines a simulated server keeps. */
const LOG_LINES_KEPT = 500;

export type SimServerOptions = {
  hostId: string;
  url: string;
  /** Its own agent token, minted with its grant (§3 "Sender binding"). */
  agentToken: string;
  /** Told of the agent's log lines worth showing (its serving check, its announcements, failures). */
  onLog?: (hostId: string, level: LogLevel, message: string) => void;
  /** Event types the network loses on their way from this server. */
  loses?: readonly EventType[];
};

/** What a kind of server is: its role, platform, server fakes and config section. */
export type SimServerKind = {
  role: 'hosting' | 'control';
  platform: Platform;
  server: FakeServerModel;
  /** The config's `hosting` or `control` section. */
  section: Record<string, unknown>;
};

/** The lines of a server's agent log worth telling the demo about. */
const WORTH_SHOWING = /^(announce going-down|serving |not serving |agent started|agent stopped)/;

/** A publisher over `inner` that loses events of the given types: reported delivered, never sent. */
const lossyPublisher = (
  inner: EventPublisher,
  loses: readonly EventType[],
  lost: OutboundEvent[],
): EventPublisher => ({
  get target() {
    return inner.target;
  },
  get limits() {
    return inner.limits;
  },
  publish: async (events) => {
    const dropped = events.filter((event) => loses.includes(event.type));
    if (dropped.length === 0) return inner.publish(events);
    lost.push(...dropped);
    const rest = events.filter((event) => !loses.includes(event.type));
    const report =
      rest.length === 0 ? { delivered: [], rejected: [], failed: [] } : await inner.publish(rest);
    return { ...report, delivered: [...report.delivered, ...dropped.map((event) => event.id)] };
  },
  close: () => inner.close(),
});

const commandResult = (code: number, stdout: string, stderr: string): CommandResult => ({
  exitCode: code,
  stdout,
  stderr,
  timedOut: false,
  missing: code === 127,
});

export abstract class SimulatedServer {
  readonly hostId: string;
  readonly host: FakeHost;
  readonly config: AgentConfig;
  /** The events the network lost (`loses`), in order. */
  readonly lost: OutboundEvent[] = [];
  /** The agent's log, latest lines last. */
  readonly logLines: { level: LogLevel; message: string }[] = [];
  readonly #options: SimServerOptions;
  readonly #kind: SimServerKind;
  #agent: RunningAgent | undefined;
  #transport: Transport | undefined;

  protected constructor(options: SimServerOptions, kind: SimServerKind) {
    this.hostId = options.hostId;
    this.#options = options;
    this.#kind = kind;
    this.host = createSimulatedHost(emptyModel(options.hostId, randomUUID()));
    saveServerModel(this.host.root, kind.server);
    this.config = resolveAgentConfig(
      {
        hostId: options.hostId,
        role: kind.role,
        platform: kind.platform,
        root: this.host.root,
        targets: { api: { url: options.url, agentToken: options.agentToken } },
        stateDir: this.host.stateDir,
        fallbackStateDir: this.host.fallbackStateDir,
        stopFile: this.host.stopFile,
        intervals: {
          scanSeconds: SIM_SERVER_INTERVALS.scanSeconds,
          heartbeatSeconds: SIM_SERVER_INTERVALS.heartbeatSeconds,
          serverCheckSeconds: SIM_SERVER_INTERVALS.serverCheckSeconds,
        },
        retry: { initialSeconds: 0.25, maxSeconds: 2 },
        requestTimeoutSeconds: 30,
        announce: { waitSeconds: SIM_SERVER_INTERVALS.announceWaitSeconds },
        ...kind.section,
      },
      `demo:${options.hostId}`,
    );
  }

  /** Whether its agent runs. */
  get running(): boolean {
    return this.#agent !== undefined;
  }

  /** The server's programs, answered by its fakes in process; its uptime counted from its boot. */
  readonly tools: ServerTools = {
    run: async (argv) => {
      const [program = '', ...args] = argv;
      if (!SERVER_TOOL_NAMES.includes(program)) return commandResult(127, '', `${program}: not found`);
      const answer = runServerTool(program, args, this.host.root);
      return commandResult(answer.code, answer.stdout, answer.stderr);
    },
    uptimeSeconds: () => Date.now() / 1000 - loadModel(this.host.root).btime,
  };

  readonly #log: AgentLog = {
    info: (message) => this.#note('info', message),
    warn: (message) => this.#note('warn', message),
    error: (message, fields?: LogFields) => {
      const error = fields?.error;
      this.#note('error', error instanceof Error ? `${message}: ${error.message}` : message);
    },
  };

  #note(level: LogLevel, message: string): void {
    this.logLines.push({ level, message });
    if (this.logLines.length > LOG_LINES_KEPT) this.logLines.shift();
    if (level !== 'info' || WORTH_SHOWING.test(message)) this.#options.onLog?.(this.hostId, level, message);
  }

  /** Starts the real agent in its server role (at the host's boot, or `systemctl start`). */
  async start(): Promise<void> {
    if (this.#agent !== undefined) return;
    const transport = createTransport({ connectTimeoutMs: this.config.requestTimeoutSeconds * 1000 });
    const publisher = createPublisher(this.config, transport, this.#log);
    const observer = hostObserver(
      { root: this.host.root, hostId: this.hostId, role: this.#kind.role, topology: undefined },
      this.#log,
      // A server's own storage is not simulated: no tool answers.
      async () => null,
    );
    try {
      this.#agent = await startAgent(this.config, {
        observe: observer.observe,
        log: this.#log,
        serverTools: this.tools,
        publisher:
          (this.#options.loses ?? []).length === 0
            ? publisher
            : lossyPublisher(publisher, this.#options.loses ?? [], this.lost),
      });
    } catch (error) {
      transport.close();
      throw error;
    }
    this.#transport = transport;
  }

  /**
   * Stops the agent cleanly, as `systemctl stop` (or `stopsrc`) does: no shutdown, so nothing is
   * announced; its undelivered events stay in its spool.
   */
  async stop(): Promise<void> {
    const agent = this.#agent;
    this.#agent = undefined;
    await agent?.stop();
    this.#transport?.close();
    this.#transport = undefined;
  }

  /** Runs the agent's server check now (its loop runs one every second anyway). */
  async checkNow(): Promise<ServerReport | undefined> {
    return this.#agent?.checkServerNow();
  }

  /**
   * `faultline-agent announce going-down`, as the host's shutdown sequence runs it (`rc.shutdown`,
   * the unit's `ExecStop`): through the running agent, whose SIGUSR2 is a call here (one process
   * runs every simulated host), bounded by `announce.waitSeconds`.
   */
  protected announceGoingDown(reason: string): Promise<AnnounceSummary> {
    return announceGoingDown(
      this.config,
      { reason, waitSeconds: undefined, onlyAtShutdown: false },
      {
        log: this.#log,
        serverTools: this.tools,
        signal: () => {
          if (this.#agent === undefined) throw new Error('the agent does not run');
          this.#agent.requestsPending();
        },
      },
    );
  }

  /** The host boots anew: a new boot id, booted now (the agent must not run across it). */
  protected newBoot(): void {
    const model = loadModel(this.host.root);
    model.bootId = randomUUID();
    model.btime = Math.floor(Date.now() / 1000);
    saveModel(this.host.root, model);
  }

  /** Changes the servers' side of the host (the VIOS's adapters, the LDoms domains). */
  protected updateServer<Result>(change: (model: FakeServerModel) => Result): Result {
    return updateServerModel(this.host.root, change);
  }

  /** Removes the simulated host (after `stop`). */
  remove(): void {
    this.host.remove();
  }
}
