import { randomUUID } from 'node:crypto';
import { type AgentConfig, ConfigError, DEFAULT_CONFIG_PATH, loadAgentConfig } from '../config.ts';
import { returnedDiskProbe } from '../detect/returned-disk.ts';
import { readBootId } from '../identity.ts';
import { createPublisher } from '../loop/agent-loop.ts';
import { EventDelivery } from '../publish/delivery.ts';
import { allFailed, type EventPublisher } from '../publish/event-publisher.ts';
import { createTransport } from '../publish/proxy-tunnel.ts';
import {
  AnnouncementTracker,
  type AnnounceRequest,
  type AnnounceResult,
  isFinalOutcome,
  readAnnounceResult,
  removeAnnounceFiles,
  trackedPublisher,
  writeAnnounceRequest,
} from '../serve/announce-requests.ts';
import { spoolGoingDown } from '../serve/going-down.ts';
import { liveServerTools, openServerRole } from '../serve/open-server-role.ts';
import type { ServerTools } from '../serve/server-host.ts';
import { type LockHolder, liveLockHolder } from '../state/agent-lock.ts';
import { type AgentLog, streamLog } from '../state/agent-log.ts';
import { openHostSession } from '../state/host-session.ts';
import { stateDirectoryCandidates } from '../state/state-directory.ts';
import { EXIT } from './exit.ts';

/**
 * `faultline-agent announce going-down [--reason R] [--config F] [--wait S] [--only-at-shutdown]`
 * (docs/architecture.md §6): run by a server's shutdown sequence (the systemd unit's `ExecStop`,
 * AIX `/etc/rc.shutdown`, an IBM i power-down exit), it emits `domain.going-down` for each domain
 * this host's shutdown takes away, so Faultline opens an announced outage (and pages for clients
 * that would lose their last in-sync half) before the storage goes.
 *
 * While the agent runs, the announcement goes through it (one process emits for a host): a
 * request in the state directory and SIGUSR2. Otherwise `announce` takes the agent lock, spools
 * the events itself and delivers them. Either way it waits at most `--wait` seconds
 * (`announce.waitSeconds`, 5 by default) for the control plane to take them, then returns, the
 * events staying spooled if they were not delivered. It exits 0 when the announcement was
 * delivered or spooled (or there is nothing to announce), 1 when it could not even be spooled,
 * 2 on bad arguments or configuration. With `--only-at-shutdown` it announces only while systemd
 * shuts the system down (`systemctl is-system-running` says `stopping`): the unit's `ExecStop`
 * also runs when the agent is merely restarted, and a restart is no outage.
 */

const USAGE =
  'usage: faultline-agent announce going-down [--reason R] [--config /etc/faultline/agent.json] [--wait SECONDS] [--only-at-shutdown]\n';

export type AnnounceArguments = {
  configPath: string;
  reason: string | undefined;
  waitSeconds: number | undefined;
  onlyAtShutdown: boolean;
};

const MAX_REASON_LENGTH = 1024;

/** Reads the arguments, pure: `going-down`, then the options in any order (`--flag value` or `--flag=value`). */
export const parseAnnounceArguments = (args: readonly string[]): AnnounceArguments | string => {
  const [kind, ...rest] = args;
  if (kind !== 'going-down')
    return kind === undefined ? 'what to announce? going-down' : `cannot announce '${kind}'`;
  const parsed: AnnounceArguments = {
    configPath: DEFAULT_CONFIG_PATH,
    reason: undefined,
    waitSeconds: undefined,
    onlyAtShutdown: false,
  };
  for (let index = 0; index < rest.length; index += 1) {
    const arg = rest[index] ?? '';
    if (arg === '--only-at-shutdown') {
      parsed.onlyAtShutdown = true;
      continue;
    }
    const [flag, inline] = arg.includes('=')
      ? (arg.split(/=(.*)/s, 2) as [string, string])
      : [arg, undefined];
    if (flag !== '--reason' && flag !== '--config' && flag !== '--wait')
      return `unexpected argument '${arg}'`;
    const value = inline ?? rest[index + 1];
    if (inline === undefined) index += 1;
    if (value === undefined || value === '') return `${flag} needs a value`;
    if (flag === '--reason') {
      if (value.length > MAX_REASON_LENGTH) return `--reason is longer than ${MAX_REASON_LENGTH} characters`;
      parsed.reason = value;
    } else if (flag === '--config') {
      parsed.configPath = value;
    } else {
      const seconds = Number(value);
      if (!Number.isFinite(seconds) || seconds < 0.5 || seconds > 120)
        return '--wait takes 0.5 to 120 seconds';
      parsed.waitSeconds = seconds;
    }
  }
  return parsed;
};

/** What `announce` did. */
export type AnnounceSummary = {
  result: AnnounceResult;
  via: 'agent' | 'itself' | 'none';
  exitCode: number;
  message: string;
};

export type AnnounceDependencies = {
  log: AgentLog;
  serverTools?: ServerTools;
  /** Instead of the configured publisher (tests). */
  publisher?: EventPublisher;
  /** Sends a signal (process.kill). */
  signal?: (pid: number, signal: NodeJS.Signals) => void;
  /** Whether systemd is shutting the system down, for `--only-at-shutdown`. */
  shuttingDown?: () => Promise<{ stopping: boolean; state: string }>;
};

const POLL_MS = 50;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** `systemctl is-system-running`: `stopping` while the system shuts down or reboots. */
export const systemdShuttingDown = async (
  tools: ServerTools,
): Promise<{ stopping: boolean; state: string }> => {
  const result = await tools.run(['systemctl', 'is-system-running'], { timeoutMs: 5000 });
  if (result.missing) return { stopping: false, state: 'no systemctl' };
  const state = result.stdout.trim().split('\n')[0] ?? '';
  return { stopping: state === 'stopping', state: state === '' ? 'unknown' : state };
};

/** The tools with every command's timeout cut to what is left of the wait. */
const boundedTools = (tools: ServerTools, deadline: number): ServerTools => ({
  ...tools,
  run: (argv, options = {}) =>
    tools.run(argv, {
      timeoutMs: Math.max(100, Math.min(options.timeoutMs ?? 30_000, deadline - Date.now())),
    }),
});

/** A publisher that fails at once past the deadline: the spool keeps what was not sent. */
const boundedPublisher = (inner: EventPublisher, deadline: number): EventPublisher => ({
  get target() {
    return inner.target;
  },
  get limits() {
    return inner.limits;
  },
  publish: (events) =>
    Date.now() >= deadline
      ? Promise.resolve(allFailed(events, 'the announce wait is over'))
      : inner.publish(events),
  close: () => inner.close(),
});

const withDeadline = async <Value>(
  promise: Promise<Value>,
  deadline: number,
  onTimeout: () => Value,
): Promise<Value> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Value>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
};

const failed = (id: string, detail: string): AnnounceResult => ({
  id,
  outcome: 'failed',
  events: [],
  detail,
  updatedAt: new Date().toISOString(),
});

/** Hands the request to the running agent and waits for its answer. */
const throughAgent = async (
  directory: string,
  holder: LockHolder,
  request: AnnounceRequest,
  deadline: number,
  dependencies: AnnounceDependencies,
): Promise<AnnounceResult> => {
  writeAnnounceRequest(directory, request);
  try {
    (dependencies.signal ?? ((pid, signal) => process.kill(pid, signal)))(holder.pid, 'SIGUSR2');
  } catch (error) {
    removeAnnounceFiles(directory, request.id);
    return failed(request.id, `cannot signal the agent (pid ${holder.pid}): ${(error as Error).message}`);
  }
  let result: AnnounceResult | undefined;
  while (Date.now() < deadline) {
    result = readAnnounceResult(directory, request.id) ?? result;
    if (result !== undefined && isFinalOutcome(result.outcome)) break;
    await sleep(Math.min(POLL_MS, deadline - Date.now()));
  }
  result = readAnnounceResult(directory, request.id) ?? result;
  removeAnnounceFiles(directory, request.id);
  return (
    result ??
    failed(
      request.id,
      `the running agent (pid ${holder.pid}) did not take the announcement within the wait; nothing was spooled`,
    )
  );
};

/** Announces with no agent running: under the agent lock, spooled by this process, delivered bounded. */
const itself = async (
  config: AgentConfig,
  request: AnnounceRequest,
  deadline: number,
  dependencies: AnnounceDependencies,
): Promise<AnnounceResult | { busy: LockHolder }> => {
  const { log } = dependencies;
  const session = await openHostSession(config, {
    role: 'announce',
    log,
    lockWaitMs: Math.max(0, Math.min(3000, deadline - Date.now())),
    probeReturnedDisk: returnedDiskProbe(config.root),
  });
  if ('busy' in session) return { busy: session.busy };
  const transport = createTransport({
    ...(config.proxy === undefined ? {} : { proxy: config.proxy }),
    ...(config.caCertificates === undefined ? {} : { caCertificates: config.caCertificates }),
    connectTimeoutMs: Math.max(100, deadline - Date.now()),
  });
  const tracker = new AnnouncementTracker(log);
  let publisher: EventPublisher | undefined;
  try {
    const remainingSeconds = Math.max(0.1, (deadline - Date.now()) / 1000);
    const base =
      dependencies.publisher ??
      createPublisher(
        { ...config, requestTimeoutSeconds: Math.min(config.requestTimeoutSeconds, remainingSeconds) },
        transport,
        log,
      );
    publisher = boundedPublisher(trackedPublisher(base, tracker), deadline);
    const server = openServerRole({
      config,
      bootId: session.identity.bootId,
      directory: session.directory,
      log,
      tools: boundedTools(dependencies.serverTools ?? liveServerTools(), deadline),
    });
    const spooled = await withDeadline(
      spoolGoingDown({
        id: request.id,
        role: config.role,
        hostId: config.hostId,
        server,
        sink: session.sink,
        reason: request.reason,
        now: new Date(),
        tracker,
        where: { directory: undefined, spool: session.spool.location, target: publisher.target },
      }),
      deadline,
      () => failed(request.id, 'could not tell which failure domains this host serves within the wait'),
    );
    if (spooled.outcome !== 'spooled') return spooled;
    const delivery = new EventDelivery({
      spool: session.spool,
      publisher,
      schedule: { initialMs: 100, maxMs: 1000 },
      log,
    });
    while (Date.now() < deadline) {
      const pass = await delivery.deliverPending();
      if (isFinalOutcome(tracker.result(request.id)?.outcome ?? 'spooled') || pass.outcome === 'drained')
        break;
      await sleep(Math.min(250, deadline - Date.now()));
    }
    const result = tracker.result(request.id) ?? spooled;
    if (result.outcome === 'spooled' && session.directory.storage === 'memory') {
      return failed(
        request.id,
        `no writable state directory (${session.directory.degradedReason ?? 'memory only'}): not delivered within the wait, and nothing could be spooled`,
      );
    }
    return result;
  } finally {
    publisher?.close();
    transport.close();
    session.close();
  }
};

const describeSummary = (result: AnnounceResult, waitSeconds: number, agentRuns: boolean): string => {
  const domains = result.events.map((event) => event.failureDomain).join(', ');
  switch (result.outcome) {
    case 'delivered':
      return `domain.going-down ${domains}: delivered to ${result.target ?? 'the control plane'}`;
    case 'spooled':
      return `domain.going-down ${domains}: spooled in ${result.spool ?? 'the spool'}, not delivered within ${waitSeconds} s; ${
        agentRuns ? 'the agent keeps sending it' : 'the agent sends it when it next runs'
      }`;
    case 'rejected':
      return `domain.going-down ${domains}: rejected by ${result.target ?? 'the control plane'}: ${result.detail ?? 'no reason given'}`;
    case 'nothing':
      return `nothing to announce: ${result.detail ?? 'this host serves no failure domain'}`;
    default:
      return `could not announce going-down: ${result.detail ?? 'unknown failure'}`;
  }
};

/** Announces `going-down` for this host; the exit code follows `EXIT`. */
export const announceGoingDown = async (
  config: AgentConfig,
  options: { reason: string | undefined; waitSeconds: number | undefined; onlyAtShutdown: boolean },
  dependencies: AnnounceDependencies,
): Promise<AnnounceSummary> => {
  const id = `${process.pid}-${randomUUID().slice(0, 8)}`;
  const waitSeconds = options.waitSeconds ?? config.announce.waitSeconds;
  const summary = (result: AnnounceResult, via: AnnounceSummary['via']): AnnounceSummary => ({
    result,
    via,
    exitCode: result.outcome === 'failed' ? EXIT.failure : EXIT.ok,
    message: describeSummary(result, waitSeconds, via === 'agent'),
  });
  const nothing = (detail: string): AnnounceSummary =>
    summary({ id, outcome: 'nothing', events: [], detail, updatedAt: new Date().toISOString() }, 'none');
  if (config.role === 'client') return nothing('this host (role client) serves no failure domain');
  if (options.onlyAtShutdown) {
    const tools = dependencies.serverTools ?? liveServerTools();
    const system = await (dependencies.shuttingDown ?? (() => systemdShuttingDown(tools)))();
    if (!system.stopping) {
      return nothing(
        `the system is not shutting down (systemctl is-system-running: ${system.state}): a restart of the agent is no outage`,
      );
    }
  }
  const deadline = Date.now() + waitSeconds * 1000;
  const bootId = readBootId(config.root);
  const request: AnnounceRequest = {
    id,
    kind: 'going-down',
    ...(options.reason === undefined ? {} : { reason: options.reason }),
    bootId,
    requestedAt: new Date().toISOString(),
    pid: process.pid,
  };
  for (let attempt = 0; attempt < 2; attempt += 1) {
    for (const directory of stateDirectoryCandidates(config)) {
      const holder = liveLockHolder(directory, bootId);
      if (holder?.role === 'agent')
        return summary(await throughAgent(directory, holder, request, deadline, dependencies), 'agent');
    }
    const done = await itself(config, request, deadline, dependencies);
    if (!('busy' in done)) return summary(done, 'itself');
    // The agent started meanwhile (then the loop hands it the request), or a hook or another
    // announce held the lock for the whole wait.
    if (done.busy.role !== 'agent' || Date.now() >= deadline) {
      return summary(
        failed(
          id,
          `another ${done.busy.role} (pid ${done.busy.pid}) held the agent lock for the whole wait; nothing was spooled`,
        ),
        'none',
      );
    }
  }
  return summary(failed(id, 'the agent lock changed hands during the wait; nothing was spooled'), 'none');
};

export const run = async (args: readonly string[]): Promise<number> => {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  const parsed = parseAnnounceArguments(args);
  if (typeof parsed === 'string') {
    process.stderr.write(`faultline-agent announce: ${parsed}\n${USAGE}`);
    return EXIT.usage;
  }
  let config: AgentConfig;
  try {
    config = loadAgentConfig(parsed.configPath);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `faultline-agent announce: invalid configuration\n${error.issues.map((issue) => `  ${error.source}: ${issue}\n`).join('')}`,
      );
      return EXIT.usage;
    }
    throw error;
  }
  const log = streamLog((line) => process.stderr.write(`faultline-agent announce: ${line}`));
  const summary = await announceGoingDown(config, parsed, { log });
  const stream =
    summary.result.outcome === 'failed' || summary.result.outcome === 'rejected'
      ? process.stderr
      : process.stdout;
  stream.write(`faultline-agent announce: ${summary.message}\n`);
  return summary.exitCode;
};
