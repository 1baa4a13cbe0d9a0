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
import { type AgentLog, streamLog } from '../state/agent-log.ts';
import { type HostSession, openHostSession } from '../state/host-session.ts';
import { STATE_FILES } from '../state/state-directory.ts';

import type { PlanRunner, PlanRunnerContext } from './plan-runner.ts';

/**
 * The agent's loop, run by `faultline-agent run --config agent.json` (§6). Scan every `scanSeconds`
 * (and at once when `hook` asks), diff, spool, deliver; a heartbeat at start and every
 * `heartbeatSeconds`; SIGINT and SIGTERM stop it cleanly, with every undelivered event left in
 * the spool for the next start. The executor plugs in through `PlanRunner`.
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
};

/** A running agent. */
export type RunningAgent = {
  identity: AgentIdentity;
  /** Scans and diffs now, or right after the scan in progress. */
  scanNow: (reason: string) => Promise<HostSnapshot | undefined>;
  /** Sends a heartbeat now (tests; the loop sends its own). */
  heartbeatNow: () => OutboundEvent | undefined;
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

const createPublisher = (config: AgentConfig, transport: Transport, log: AgentLog): EventPublisher => {
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
  try {
    publisher = dependencies.publisher ?? createPublisher(config, transport, log);
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

  const heartbeatContext = () => ({
    platform: config.platform,
    role: config.role,
    intervalSeconds: config.intervals.heartbeatSeconds,
    capabilities: planRunner?.capabilities ?? [],
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
  const loops = Promise.all([
    scanLoop(),
    firstScan.then(() => heartbeatLoop()),
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
      await loops.catch((error: unknown) => log.error('agent loop failed', { error }));
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
    stop,
    stopped,
  };
};
