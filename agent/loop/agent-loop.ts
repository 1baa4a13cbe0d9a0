import { FaultlineError } from '../../events/faultline-error.ts';
import type { HostSnapshot } from '../../events/index.ts';
import type { EventDraft } from '../../probes/event-draft.ts';
import { type AgentConfig, ConfigError } from '../config.ts';
import type { HostObservation } from '../detect/detector.ts';
import type { EventSink } from '../detect/event-sink.ts';
import { type ExaminePartition, returnedDiskProbe } from '../detect/returned-disk.ts';
import type { AgentIdentity } from '../identity.ts';
import { EventDelivery } from '../publish/delivery.ts';
import type { EventPublisher } from '../publish/event-publisher.ts';
import { HttpEventPublisher } from '../publish/http-publisher.ts';
import type { OutboundEvent } from '../publish/outbound-event.ts';
import { createTransport, type Transport } from '../publish/proxy-tunnel.ts';
import { SqsEventPublisher } from '../publish/sqs-publisher.ts';
import {
  AnnouncementTracker,
  takeAnnounceRequests,
  trackedPublisher,
  writeAnnounceResult,
} from '../serve/announce-requests.ts';
import { spoolGoingDown } from '../serve/going-down.ts';
import { openServerRole } from '../serve/open-server-role.ts';
import type { ServerTools } from '../serve/server-host.ts';
import type { ServerReport, ServerRole } from '../serve/server-role.ts';
import { type AgentLog, streamLog } from '../state/agent-log.ts';
import { type HostSession, openHostSession } from '../state/host-session.ts';
import { STATE_FILES } from '../state/state-directory.ts';

import type { PlanRunner, PlanRunnerContext } from './plan-runner.ts';

/**
 * The agent's loop, run by `faultline-agent run --config agent.json` (§6). Scan every `scanSeconds`
 * (and at once when `hook` asks), diff, spool, deliver; a heartbeat at start and every
 * `heartbeatSeconds`; SIGINT and SIGTERM stop it cleanly, with every undelivered event left in
 * the spool for the next start. The executor plugs in through `PlanRunner`. A server (role
 * `hosting` or `control`) also runs its server side (agent/serve/) every `serverCheckSeconds`:
 * its announcements go through the same sink, its report into the heartbeats, and it answers
 * `announce going-down` requests (SIGUSR2) with the announcement spooled and followed to delivery.
 */

/** What the loop needs besides the configuration; tests replace the scan and the publisher. */
export type AgentDependencies = {
  /** One scan of the host: its snapshot and the progress of each syncing array. */
  observe: (now: Date) => Promise<HostObservation>;
  log?: AgentLog;
  clock?: () => Date;
  planRunner?: PlanRunner;
  /** Instead of the publisher the configuration names. */
  publisher?: EventPublisher;
  /** `mdadm --examine` for the `disk.probed` of a returned disk. */
  examine?: ExaminePartition;
  /** How a server reaches its tools (`ldm`, `ioscli`, `uname`, its serving check); live ones by default. */
  serverTools?: ServerTools;
};

/** A running agent. */
export type RunningAgent = {
  identity: AgentIdentity;
  /** Scans and diffs now, or right after the scan in progress. */
  scanNow: (reason: string) => Promise<HostSnapshot | undefined>;
  /** Sends a heartbeat now (tests; the loop sends its own). */
  heartbeatNow: () => OutboundEvent | undefined;
  /** Runs the server's check now (role `hosting` or `control`): its announcements, then its report. */
  checkServerNow: () => Promise<ServerReport | undefined>;
  /**
   * A hook or `announce` left a request in the state directory (SIGUSR2): announcements are
   * answered at once, then the host is scanned.
   */
  requestsPending: () => void;
  /** Stops the loop, leaving undelivered events in the spool. */
  stop: () => Promise<void>;
  /** Resolves once stopped. */
  stopped: Promise<void>;
};

/** Another agent already runs for this host. */
export class AgentAlreadyRunningError extends FaultlineError<'agent-already-running'> {
  readonly code = 'agent-already-running' as const;
  readonly retryable = false;
  constructor(
    readonly pid: number,
    readonly stateDir: string,
  ) {
    super(`another agent (pid ${pid}) already runs with the state directory ${stateDir}`);
  }
}

/** How long a starting agent waits for a running hook to finish with the lock. */
const HOOK_LOCK_WAIT_MS = 15_000;
/** How long a failed scan is logged in full: the first, then every power of two. */
const isPowerOfTwo = (value: number): boolean => value > 0 && (value & (value - 1)) === 0;

/** A sleep that `wake` or `cancel` cut short. */
class Alarm {
  private timer: NodeJS.Timeout | undefined;
  private resolve: (() => void) | undefined;
  private woken = false;

  sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(() => this.ring(), ms);
    });
  }

  /** Ends the current sleep, or the next one before it starts. */
  wake(): void {
    if (this.resolve === undefined) this.woken = true;
    else this.ring();
  }

  cancel(): void {
    this.ring();
  }

  /** Forgets a wake that came before the sleep it was meant to cut short. */
  discardWake(): void {
    this.woken = false;
  }

  private ring(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const resolve = this.resolve;
    this.resolve = undefined;
    resolve?.();
  }
}

/** The publisher the configuration names: SQS when configured, else the API. */
export const createPublisher = (config: AgentConfig, transport: Transport, log: AgentLog): EventPublisher => {
  const requestTimeoutMs = config.requestTimeoutSeconds * 1000;
  if (config.targets.sqs !== undefined) {
    return new SqsEventPublisher({
      target: config.targets.sqs,
      credentials: config.credentials,
      transport,
      requestTimeoutMs,
      log,
    });
  }
  if (config.targets.api !== undefined) {
    return new HttpEventPublisher({ target: config.targets.api, transport, requestTimeoutMs, log });
  }
  throw new ConfigError(config.source, ['targets: configure targets.sqs, targets.api or both']);
};

/** Marks detection's drafts with the running plan's id. */
const attributedSink = (sink: EventSink, planId: () => string | undefined): EventSink => ({
  emit: (drafts: readonly EventDraft[]) => {
    const current = planId();
    return sink.emit(
      current === undefined
        ? drafts
        : drafts.map((draft) => (draft.planid === undefined ? { ...draft, planid: current } : draft)),
    );
  },
});

/**
 * Starts the agent: opens its state (under the agent lock), then runs the scan, heartbeat,
 * delivery and plan loops until `stop`. Throws `AgentAlreadyRunningError` when another agent
 * holds the host.
 */
export const startAgent = async (
  config: AgentConfig,
  dependencies: AgentDependencies,
): Promise<RunningAgent> => {
  const log = dependencies.log ?? streamLog();
  const clock = dependencies.clock ?? (() => new Date());
  let delivery: EventDelivery | undefined;
  const opened = await openHostSession(config, {
    role: 'agent',
    log,
    clock,
    lockWaitMs: HOOK_LOCK_WAIT_MS,
    probeReturnedDisk: returnedDiskProbe(config.root, dependencies.examine),
    onSpooled: () => delivery?.wake(),
  });
  if ('busy' in opened) throw new AgentAlreadyRunningError(opened.busy.pid, config.stateDir);
  const session: HostSession = opened;
  const transport = createTransport({
    ...(config.proxy === undefined ? {} : { proxy: config.proxy }),
    ...(config.caCertificates === undefined ? {} : { caCertificates: config.caCertificates }),
    connectTimeoutMs: config.requestTimeoutSeconds * 1000,
  });
  let publisher: EventPublisher;
  let server: ServerRole | undefined;
  const announcements = new AnnouncementTracker(log, clock);
  try {
    publisher = trackedPublisher(
      dependencies.publisher ?? createPublisher(config, transport, log),
      announcements,
    );
    server = openServerRole({
      config,
      bootId: session.identity.bootId,
      directory: session.directory,
      log,
      ...(dependencies.serverTools === undefined ? {} : { tools: dependencies.serverTools }),
    });
  } catch (error) {
    transport.close();
    session.close();
    throw error;
  }

  const planRunner = dependencies.planRunner;
  const scanAlarm = new Alarm();
  const heartbeatAlarm = new Alarm();
  const planAlarm = new Alarm();
  const abort = new AbortController();
  let running = true;
  let activePlan: string | undefined;
  let scanFailures = 0;
  let firstHeartbeatSent = false;
  let scanInFlight: Promise<HostSnapshot | undefined> | undefined;
  let rescanRequested: string | undefined;
  const detectionSink = attributedSink(session.sink, () => activePlan);

  delivery = new EventDelivery({
    spool: session.spool,
    publisher,
    schedule: { initialMs: config.retry.initialSeconds * 1000, maxMs: config.retry.maxSeconds * 1000 },
    log,
    onPlansPending: () => planAlarm.wake(),
  });

  const consumeScanRequest = (): void => {
    let request: string | undefined;
    try {
      request = session.directory.read(STATE_FILES.scanRequest);
      if (request !== undefined) session.directory.remove(STATE_FILES.scanRequest);
    } catch {
      return;
    }
    if (request === undefined) return;
    try {
      log.info('mdadm reported an array event', JSON.parse(request) as Record<string, unknown>);
    } catch {
      log.info('mdadm reported an array event');
    }
  };

  const scanOnce = async (reason: string): Promise<HostSnapshot | undefined> => {
    consumeScanRequest();
    let observation: HostObservation;
    try {
      observation = await dependencies.observe(clock());
    } catch (error) {
      scanFailures += 1;
      if (isPowerOfTwo(scanFailures)) log.error('scan failed', { reason, failures: scanFailures, error });
      return undefined;
    }
    if (scanFailures > 0) log.info('scan works again', { failures: scanFailures });
    scanFailures = 0;
    await session.detector.observe(observation, detectionSink);
    if (!firstHeartbeatSent) heartbeatAlarm.wake();
    return observation.snapshot;
  };

  const scanNow = (reason: string): Promise<HostSnapshot | undefined> => {
    if (!running) return Promise.resolve(session.detector.latest);
    if (scanInFlight !== undefined) {
      rescanRequested = reason;
      return scanInFlight.then(() => scanNow(reason));
    }
    scanInFlight = scanOnce(reason).finally(() => {
      scanInFlight = undefined;
    });
    return scanInFlight;
  };

  let serverReport: ServerReport | undefined;
  let serverCheckInFlight: Promise<ServerReport | undefined> | undefined;
  let serverFailures = 0;
  const serverAlarm = new Alarm();

  /** One server check: spool its announcements, then record them as announced. */
  const checkServerOnce = async (): Promise<ServerReport | undefined> => {
    if (server === undefined) return undefined;
    try {
      const check = await server.check(clock());
      if (check.drafts.length > 0) {
        const spooled = session.sink.emit(check.drafts);
        if (spooled.length === check.drafts.length) check.commit();
      } else {
        check.commit();
      }
      serverReport = check.report;
      serverFailures = 0;
    } catch (error) {
      serverFailures += 1;
      if (isPowerOfTwo(serverFailures)) log.error('server check failed', { failures: serverFailures, error });
    }
    return serverReport;
  };

  const checkServerNow = (): Promise<ServerReport | undefined> => {
    serverCheckInFlight ??= checkServerOnce().finally(() => {
      serverCheckInFlight = undefined;
    });
    return serverCheckInFlight;
  };

  const serverLoop = async (): Promise<void> => {
    const periodSeconds = config.intervals.serverCheckSeconds ?? config.intervals.scanSeconds;
    while (running && server !== undefined) {
      await checkServerNow();
      if (!running) break;
      await serverAlarm.sleep(periodSeconds * 1000);
    }
  };

  /** Answers the `announce` requests waiting in the state directory. */
  const answerAnnouncements = async (): Promise<void> => {
    const directory = session.directory.path;
    if (directory === undefined) return;
    for (const request of takeAnnounceRequests(directory, session.identity.bootId, clock(), log)) {
      let result: Awaited<ReturnType<typeof spoolGoingDown>>;
      try {
        result = await spoolGoingDown({
          id: request.id,
          role: config.role,
          hostId: config.hostId,
          server,
          sink: session.sink,
          reason: request.reason,
          now: clock(),
          tracker: announcements,
          where: { directory, spool: session.spool.location, target: publisher.target },
        });
      } catch (error) {
        result = {
          id: request.id,
          outcome: 'failed',
          events: [],
          detail: `cannot announce: ${(error as Error).message}`,
          updatedAt: clock().toISOString(),
        };
      }
      log.info(`announce going-down: ${result.outcome}`, {
        requestedBy: request.pid,
        ...(result.detail === undefined ? {} : { detail: result.detail }),
        domains: result.events.map((event) => event.failureDomain),
      });
      if (result.outcome !== 'spooled') writeAnnounceResult(directory, result);
    }
  };

  let requestsInFlight: Promise<void> | undefined;
  const requestsPending = (): void => {
    requestsInFlight = (requestsInFlight ?? Promise.resolve())
      .then(answerAnnouncements)
      .catch((error: unknown) => log.error('cannot answer an announce request', { error }));
    scanAlarm.wake();
    void scanNow('hook');
  };

  const heartbeatContext = () => ({
    platform: config.platform,
    role: config.role,
    intervalSeconds: config.intervals.heartbeatSeconds,
    capabilities: planRunner?.capabilities ?? [],
    ...(server === undefined ? {} : { server: serverReport ?? { serves: [] } }),
  });

  const heartbeatNow = (): OutboundEvent | undefined => {
    const { event, changed } = session.detector.heartbeat(heartbeatContext(), session.sink, session.state);
    if (event !== undefined && changed)
      log.info('heartbeat: storage changed since the last one', { seq: event.seq });
    return event;
  };

  const scanLoop = async (): Promise<void> => {
    while (running) {
      await scanNow(rescanRequested ?? 'interval');
      rescanRequested = undefined;
      if (!running) break;
      await scanAlarm.sleep(config.intervals.scanSeconds * 1000);
    }
  };

  // The first heartbeat goes out after the first scan that works; then one every interval.
  const heartbeatLoop = async (): Promise<void> => {
    while (running) {
      if (heartbeatNow() !== undefined) {
        firstHeartbeatSent = true;
        heartbeatAlarm.discardWake();
      }
      await heartbeatAlarm.sleep(config.intervals.heartbeatSeconds * 1000);
    }
  };

  const planLoop = async (runner: PlanRunner): Promise<void> => {
    const context: PlanRunnerContext = {
      config,
      identity: session.identity,
      sink: session.sink,
      log,
      latestSnapshot: () => session.detector.latest,
      scanNow,
      attributeTo: (planId) => {
        activePlan = planId;
      },
      signal: abort.signal,
    };
    while (running) {
      let delaySeconds = config.intervals.heartbeatSeconds;
      try {
        delaySeconds = (await runner.poll(context)).nextPollSeconds;
      } catch (error) {
        log.error('the plan runner failed; polling again later', { error });
      }
      if (!running) break;
      await planAlarm.sleep(Math.max(delaySeconds, 0.05) * 1000);
    }
  };

  log.info('agent started', {
    hostId: config.hostId,
    bootId: session.identity.bootId,
    instanceId: session.identity.instanceId,
    target: publisher.target,
    stateStorage: session.state.storage,
    stateDir: session.directory.path ?? 'memory',
    spooled: session.spool.stats().pendingEvents,
  });
  delivery.start();
  const firstScan = scanNow('start');
  // A server's first heartbeat already says what it serves.
  const firstServerCheck = checkServerNow();
  // Requests left before this start (a restart during a shutdown) are still answered, if valid.
  requestsInFlight = answerAnnouncements().catch((error: unknown) =>
    log.error('cannot answer an announce request', { error }),
  );
  const loops = Promise.all([
    scanLoop(),
    serverLoop(),
    Promise.all([firstScan, firstServerCheck]).then(() => heartbeatLoop()),
    planRunner === undefined ? Promise.resolve() : planLoop(planRunner),
  ]);

  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      running = false;
      abort.abort();
      scanAlarm.cancel();
      heartbeatAlarm.cancel();
      planAlarm.cancel();
      serverAlarm.cancel();
      await loops.catch((error: unknown) => log.error('agent loop failed', { error }));
      await requestsInFlight;
      await delivery?.stop();
      const stats = session.spool.stats();
      publisher.close();
      transport.close();
      session.close();
      log.info('agent stopped', { undelivered: stats.pendingEvents });
      resolveStopped();
    })();
    return stopping;
  };

  return {
    identity: session.identity,
    scanNow: (reason) => {
      scanAlarm.wake();
      return scanNow(reason);
    },
    heartbeatNow,
    checkServerNow,
    requestsPending,
    stop,
    stopped,
  };
};
