import { uptime } from 'node:os';
import { resolve } from 'node:path';
import {
  type PlanAction,
  type PlanBranch,
  type PlanMode,
  type Platform,
  parsePlan,
} from '../../events/index.ts';
import type { EventDraft } from '../../probes/event-draft.ts';
import type { AgentConfig } from '../config.ts';
import type { EventSink } from '../detect/event-sink.ts';
import type { AgentIdentity } from '../identity.ts';
import type { PlanRunner, PlanRunnerContext } from '../loop/plan-runner.ts';
import { createTransport, type Transport } from '../publish/proxy-tunnel.ts';
import type { DirectReader } from '../scan/direct-read.ts';
import { type AgentLog, streamLog } from '../state/agent-log.ts';
import type { PlanRefusalCode } from './codes.ts';
import { executorDirectReader } from './disk-read.ts';
import { pathExists, readBootTime } from './host-files.ts';
import { ADMISSION_DEFAULTS, type Admission, type AdmissionPolicy, admitPlan } from './plan-admission.ts';
import { executePlan, type StepReport } from './plan-executor.ts';
import { HttpPlanSource, type PlanSource } from './plan-fetcher.ts';
import { PlanLedger } from './plan-ledger.ts';
import { createProgramRunner, executorSearchPath, type RunProgram } from './programs.ts';
import { type Clock, EXECUTOR_TIMING_DEFAULTS, type ExecutorTiming, systemClock } from './step-context.ts';
import { type WriteSysfs, writeSysfsFile } from './sysfs.ts';

/**
 * The guarded executor as the agent's plan runner (the `PlanRunner` seam of agent/loop/plan-runner.ts): each
 * poll fetches this host's plans, admits each one (signature, host, boot, age, at most once, lock,
 * stop file), runs it step by step with every §4 precondition checked on the host, and reports
 * `command.progress` and `disk.probed` (with the plan's id as `planid`) through the agent's sink.
 * `runPlan` is the same path for one plan given directly: tests, and an operator's one-shot.
 *
 * Wiring into `run` (agent/commands/run.ts):
 *
 * ```ts
 * const planRunner = createPlanRunner({ platform: config.platform });
 * agent = await startAgent(config, { ...(await liveDependencies(config, log)), log, planRunner });
 * ```
 */

/** The configuration the executor reads (a subset of the agent's). */
export type ExecutorConfig = Pick<
  AgentConfig,
  'hostId' | 'root' | 'topology' | 'stopFile' | 'stateDir' | 'fallbackStateDir' | 'planPublicKey'
>;

/** The actions each platform's agent can run; AIX and IBM i observe and page only (§2). */
export const capabilitiesFor = (platform: Platform): readonly PlanAction[] => {
  switch (platform) {
    case 'linux':
      return [
        'disk.probe',
        'md.fail',
        'md.remove',
        'scsi.delete',
        'scsi.rescan',
        'disk.verify',
        'md.add',
        'md.wait-sync',
        'md.zero-superblock',
        'multipath.reinstate',
        'scsi.online',
      ];
    case 'solaris':
      return ['disk.probe', 'svm.metareplace', 'svm.wait-sync', 'svm.metadb-restore'];
    case 'aix':
    case 'ibmi':
      return [];
  }
};

/** What can be replaced, for tests and for hosts laid out unusually. */
export type ExecutorOptions = {
  /** The platform whose actions the agent runs; Linux by default. */
  platform?: Platform;
  /** Runs the allow-listed programs; by default found on `searchPath`. */
  runProgram?: RunProgram;
  /**
   * Where programs are looked for; by default the agent's `PATH` (read once, when the runner is
   * made at start) then the sbin folders a systemd unit's `PATH` may lack.
   */
  searchPath?: readonly string[];
  /** Writes sysfs attributes; directly under the root by default. */
  writeSysfs?: WriteSysfs;
  /** Reads a disk's first block; by default `dd` found on `searchPath` (./disk-read.ts). */
  directRead?: DirectReader;
  clock?: Clock;
  timing?: Partial<ExecutorTiming>;
  policy?: Partial<AdmissionPolicy>;
  /** When this boot began; by default `btime` of the root's `proc/stat`, else the uptime on a live host. */
  bootedAt?: () => Promise<Date | null>;
};

/** How one plan ended. */
export type PlanRunResult = {
  /** The plan's id, when the input carried one. */
  planId?: string;
  mode?: PlanMode;
  /** `refused` with a plan-level `code` when no step ran; else how the last step ended. */
  outcome: 'succeeded' | 'failed' | 'refused';
  /** The plan-level refusal, or the code of the step that stopped the plan. */
  code?: string;
  detail?: string;
  branch?: PlanBranch;
  steps: StepReport[];
};

type Environment = {
  config: ExecutorConfig;
  identity: Pick<AgentIdentity, 'hostId' | 'bootId'>;
  sink: EventSink;
  log: AgentLog;
  signal?: AbortSignal | undefined;
  receivedAt?: Date;
  ledger?: PlanLedger;
  scanNow?: (reason: string) => Promise<unknown>;
  attributeTo?: (planId: string | undefined) => void;
  /** Whether a plan-level refusal is worth an event (the loop reports each one once). */
  shouldReport?: (planId: string, code: PlanRefusalCode) => boolean;
};

const resolveOptions = (options: ExecutorOptions) => {
  const clock = options.clock ?? systemClock;
  const searchPath = options.searchPath ?? executorSearchPath(process.env.PATH);
  return {
    capabilities: capabilitiesFor(options.platform ?? 'linux'),
    runProgram: options.runProgram ?? createProgramRunner(searchPath),
    writeSysfs: options.writeSysfs ?? writeSysfsFile,
    directReadFor: (root: string): DirectReader =>
      options.directRead ??
      executorDirectReader({
        root,
        platform: options.platform ?? 'linux',
        searchPath,
        searchPathGiven: options.searchPath !== undefined,
      }),
    clock,
    timing: { ...EXECUTOR_TIMING_DEFAULTS, ...options.timing },
    policy: { ...ADMISSION_DEFAULTS, ...options.policy },
    bootedAt: options.bootedAt,
  };
};
type Resolved = ReturnType<typeof resolveOptions>;

const bootTime = async (resolved: Resolved, root: string): Promise<Date | null> => {
  if (resolved.bootedAt !== undefined) return resolved.bootedAt();
  const fromProc = await readBootTime(root);
  if (fromProc !== null) return fromProc;
  return resolve(root) === '/' ? new Date(resolved.clock.now() - uptime() * 1000) : null;
};

const openLedger = (config: ExecutorConfig): PlanLedger | Error => {
  try {
    return PlanLedger.open(config);
  } catch (error) {
    return error as Error;
  }
};

/** Admits and runs one plan, reporting through the sink. Never throws. */
const handlePlan = async (
  raw: unknown,
  environment: Environment,
  resolved: Resolved,
): Promise<PlanRunResult> => {
  const { config, identity, sink, log } = environment;
  const emit = (planId: string) => (draft: EventDraft) => {
    sink.emit([{ ...draft, planid: planId }]);
  };
  const now = new Date(resolved.clock.now());
  const ledger = environment.ledger ?? openLedger(config);
  if (!(ledger instanceof Error)) ledger.prune(now);
  let admission: Admission;
  try {
    admission = await admitPlan(raw, {
      hostId: identity.hostId,
      bootId: identity.bootId,
      publicKey: config.planPublicKey,
      capabilities: resolved.capabilities,
      ledger,
      now,
      ...(environment.receivedAt === undefined ? {} : { receivedAt: environment.receivedAt }),
      bootedAt: await bootTime(resolved, config.root),
      stopFile: config.stopFile,
      policy: resolved.policy,
    });
  } catch (error) {
    // The ledger could not record the plan (disk full, I/O error): at-most-once cannot be promised.
    const parsed = parsePlan(raw);
    admission = {
      admitted: false,
      code: 'ledger-unavailable',
      detail: `the plan ledger failed: ${(error as Error).message}`,
      ...(parsed.ok ? { plan: parsed.value, planId: parsed.value.id } : {}),
    };
  }
  if (!admission.admitted) {
    const planId = admission.planId;
    log.warn(`plan ${planId ?? '(no id)'} refused: ${admission.code}`, { detail: admission.detail });
    if (planId !== undefined && (environment.shouldReport?.(planId, admission.code) ?? true)) {
      emit(planId)({
        type: 'command.progress',
        subject: identity.hostId,
        data: {
          planId,
          step: 0,
          action: admission.plan?.steps[0]?.action ?? 'disk.probe',
          outcome: 'refused',
          branch: 'steps',
          code: admission.code,
          detail: admission.detail,
        },
      });
    }
    return {
      ...(planId === undefined ? {} : { planId }),
      ...(admission.plan === undefined ? {} : { mode: admission.plan.mode }),
      outcome: 'refused',
      code: admission.code,
      detail: admission.detail,
      steps: [],
    };
  }
  const { plan } = admission;
  const started = now;
  log.info(`plan ${plan.id} admitted (${plan.mode}, ${plan.steps.length} steps)`, {
    incidentId: plan.incidentId,
  });
  environment.attributeTo?.(plan.id);
  try {
    const execution = await executePlan(plan, {
      host: {
        root: config.root,
        hostId: identity.hostId,
        topology: config.topology,
        runProgram: resolved.runProgram,
        signal: environment.signal,
        directRead: resolved.directReadFor(config.root),
      },
      clock: resolved.clock,
      timing: resolved.timing,
      writeSysfs: resolved.writeSysfs,
      stopRequested: () => pathExists(config.stopFile),
      emit: emit(plan.id),
      log,
      ...(environment.scanNow === undefined
        ? {}
        : { onHostChanged: async (reason: string) => void (await environment.scanNow?.(reason)) }),
    });
    await environment.scanNow?.(`plan ${plan.id} finished`).catch(() => undefined);
    const last = execution.steps[execution.steps.length - 1];
    admission.ledger.markFinished(
      plan.id,
      plan.mode,
      identity.bootId,
      started,
      new Date(resolved.clock.now()),
      execution.outcome,
    );
    log.info(`plan ${plan.id} ${execution.outcome} on ${execution.branch}`, {
      steps: execution.steps.length,
      ...(last?.code === undefined ? {} : { code: last.code }),
    });
    return {
      planId: plan.id,
      mode: plan.mode,
      outcome: execution.outcome,
      ...(execution.outcome === 'succeeded' || last?.code === undefined ? {} : { code: last.code }),
      ...(last === undefined ? {} : { detail: last.detail }),
      branch: execution.branch,
      steps: execution.steps,
    };
  } catch (error) {
    // Only the sink can throw here (the spool cannot be written). The plan stays recorded as
    // started, so it is never run again; what it did is on the host and in the log.
    log.error(`plan ${plan.id} stopped: its events cannot be recorded`, { error });
    return {
      planId: plan.id,
      mode: plan.mode,
      outcome: 'failed',
      code: 'internal-error',
      detail: (error as Error).message,
      steps: [],
    };
  } finally {
    environment.attributeTo?.(undefined);
    admission.release();
  }
};

/** Everything a one-shot run needs. */
export type RunPlanDependencies = ExecutorOptions & {
  config: ExecutorConfig;
  identity: Pick<AgentIdentity, 'hostId' | 'bootId'>;
  sink: EventSink;
  log?: AgentLog;
  /** When the plan was received (by the agent's clock); now by default. */
  receivedAt?: Date;
  signal?: AbortSignal;
};

/** Verifies and runs one plan given as parsed JSON (or text), reporting through `sink`. */
export const runPlan = (raw: unknown, dependencies: RunPlanDependencies): Promise<PlanRunResult> => {
  const resolved = resolveOptions(dependencies);
  return handlePlan(
    raw,
    {
      config: dependencies.config,
      identity: dependencies.identity,
      sink: dependencies.sink,
      log: dependencies.log ?? streamLog(),
      signal: dependencies.signal,
      ...(dependencies.receivedAt === undefined ? {} : { receivedAt: dependencies.receivedAt }),
    },
    resolved,
  );
};

export type PlanRunnerOptions = ExecutorOptions & {
  /** Where plans come from; the configured API by default. */
  source?: PlanSource;
  /** The `?wait=` of each poll (a long poll where the API holds requests). */
  longPollSeconds?: number;
};

/** Defaults of the plan loop. */
export const PLAN_RUNNER_DEFAULTS = {
  longPollSeconds: 20,
  /** After a plan ran, the next one (or the control plane's next wave) is asked for this soon. */
  afterPlanPollSeconds: 1,
  /** The least time between two polls, whatever the API says. */
  minPollSeconds: 0.5,
  /** The first wait after a failed poll; it doubles up to the heartbeat interval. */
  retryPollSeconds: 5,
  /** Plan refusals reported, remembered so a plan served again is not reported at every poll. */
  reportedRefusals: 1024,
} as const;

export const createPlanRunner = (options: PlanRunnerOptions = {}): PlanRunner => {
  const resolved = resolveOptions(options);
  const reported = new Set<string>();
  let transport: Transport | undefined;
  let source: PlanSource | undefined = options.source;
  let ledger: PlanLedger | undefined;
  let failures = 0;
  let warnedNoTarget = false;

  const shouldReport = (planId: string, code: PlanRefusalCode): boolean => {
    const key = `${planId}\u0000${code}`;
    if (reported.has(key)) return false;
    if (reported.size >= PLAN_RUNNER_DEFAULTS.reportedRefusals) {
      const [oldest] = reported;
      if (oldest !== undefined) reported.delete(oldest);
    }
    reported.add(key);
    return true;
  };

  const sourceFor = (context: PlanRunnerContext): PlanSource | undefined => {
    if (source !== undefined) return source;
    const api = context.config.targets.api;
    if (api === undefined) return undefined;
    transport = createTransport({
      ...(context.config.proxy === undefined ? {} : { proxy: context.config.proxy }),
      ...(context.config.caCertificates === undefined
        ? {}
        : { caCertificates: context.config.caCertificates }),
      connectTimeoutMs: context.config.requestTimeoutSeconds * 1000,
    });
    const opened = transport;
    context.signal.addEventListener('abort', () => opened.close(), { once: true });
    source = new HttpPlanSource({
      target: api,
      hostId: context.config.hostId,
      transport,
      requestTimeoutMs: context.config.requestTimeoutSeconds * 1000,
      clock: () => new Date(resolved.clock.now()),
    });
    return source;
  };

  return {
    capabilities: resolved.capabilities,
    poll: async (context) => {
      const idle = context.config.intervals.heartbeatSeconds;
      const from = sourceFor(context);
      if (from === undefined) {
        if (!warnedNoTarget) {
          context.log.warn('no targets.api is configured: this agent cannot fetch plans and runs none');
          warnedNoTarget = true;
        }
        return { nextPollSeconds: idle };
      }
      let poll: Awaited<ReturnType<PlanSource['fetchPlans']>>;
      try {
        poll = await from.fetchPlans({
          waitSeconds: options.longPollSeconds ?? PLAN_RUNNER_DEFAULTS.longPollSeconds,
          signal: context.signal,
        });
      } catch (error) {
        failures += 1;
        if ((failures & (failures - 1)) === 0) context.log.error('cannot fetch plans', { failures, error });
        return {
          nextPollSeconds: Math.min(
            idle,
            PLAN_RUNNER_DEFAULTS.retryPollSeconds * 2 ** Math.min(failures - 1, 16),
          ),
        };
      }
      if (failures > 0) context.log.info('plans can be fetched again', { failures });
      failures = 0;
      if (ledger === undefined) {
        const opened = openLedger(context.config);
        if (!(opened instanceof Error)) ledger = opened;
      }
      let ran = false;
      for (const raw of poll.plans) {
        if (context.signal.aborted) break;
        const result = await handlePlan(
          raw,
          {
            config: context.config,
            identity: context.identity,
            sink: context.sink,
            log: context.log,
            signal: context.signal,
            receivedAt: poll.receivedAt,
            ...(ledger === undefined ? {} : { ledger }),
            scanNow: context.scanNow,
            attributeTo: context.attributeTo,
            shouldReport,
          },
          resolved,
        );
        if (result.steps.length > 0) ran = true;
      }
      return {
        nextPollSeconds: ran
          ? PLAN_RUNNER_DEFAULTS.afterPlanPollSeconds
          : Math.max(poll.nextPollSeconds, PLAN_RUNNER_DEFAULTS.minPollSeconds),
      };
    },
  };
};
