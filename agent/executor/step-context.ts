import type { DiskProbeStep, Plan, PlanStep } from '../../events/index.ts';
import { diskOfDevice } from '../../probes/block-device.ts';
import type { EventDraft } from '../../probes/event-draft.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { StepFailureCode, StepRefusalCode } from './codes.ts';
import { ToolMissingError } from './errors.ts';
import type { HostAccess } from './host-view.ts';
import { commandLine, type ExecutorProgram, type ProgramResult, toolMessage } from './programs.ts';
import type { Projection } from './projection.ts';
import type { WriteSysfs } from './sysfs.ts';

/** What every step handler is given, and what it gives back. */

/** Time as the executor sees it: injectable, so tests run waits of minutes in no time. */
export type Clock = {
  now: () => number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
};

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** The executor's waits and deadlines; each can be set (tests use short ones with a fake clock). */
export type ExecutorTiming = {
  /** How often `md.wait-sync` and `svm.wait-sync` look at the host. */
  syncPollMs: number;
  /** Least time between two `mirror.recovering` events of one wait. */
  progressReportMs: number;
  /** How long `disk.verify` waits for the disk and its partition nodes to come back. */
  settleTimeoutMs: number;
  settlePollMs: number;
  /** How long `scsi.delete` waits for the device to leave sysfs after the write. */
  deleteTimeoutMs: number;
  deletePollMs: number;
};

export const EXECUTOR_TIMING_DEFAULTS: ExecutorTiming = {
  syncPollMs: 5_000,
  progressReportMs: 30_000,
  settleTimeoutMs: 60_000,
  settlePollMs: 500,
  deleteTimeoutMs: 30_000,
  deletePollMs: 250,
};

export type StepContext = {
  host: HostAccess;
  plan: Plan;
  /**
   * The `disk.probe` of the disk this step acts on (probeForStep), else the plan's first: which
   * disk, address and failure domain the step is checked against. The executor sets it before
   * each step; the context itself stays one object per run (md-run-record.ts keys on it).
   */
  probe: DiskProbeStep;
  dryRun: boolean;
  projection: Projection;
  clock: Clock;
  timing: ExecutorTiming;
  writeSysfs: WriteSysfs;
  /** Whether the local stop file exists now. */
  stopRequested: () => Promise<boolean>;
  /** Emits an event caused by this step (the plan id is added). */
  emit: (draft: EventDraft) => void;
  log: AgentLog;
};

/** A plan's leading probes: one per disk it covers (§4), the first always there (the contract). */
export type PlanProbes = readonly [DiskProbeStep, ...DiskProbeStep[]];

/** Every `disk.probe` at the start of `steps`, before its first other step. */
export const leadingProbes = (plan: Plan): PlanProbes => {
  // The contract (events/plan.ts) makes every plan start with `disk.probe`.
  const first = plan.steps[0] as DiskProbeStep;
  const more: DiskProbeStep[] = [];
  for (const step of plan.steps.slice(1)) {
    if (step.action !== 'disk.probe') break;
    more.push(step);
  }
  return [first, ...more];
};

/** The disk a step acts on, by name and by SCSI address, as far as its arguments say. */
const targetOf = (step: PlanStep): { disk: string | null; hctl: string | null } => {
  switch (step.action) {
    case 'disk.probe':
      return { disk: step.disk, hctl: step.hctl ?? null };
    case 'disk.verify':
    case 'scsi.online':
      return { disk: step.disk, hctl: step.hctl };
    case 'md.fail':
    case 'md.remove':
    case 'md.add':
    case 'md.zero-superblock':
      return { disk: diskOfDevice(step.member), hctl: null };
    case 'scsi.delete':
      return { disk: null, hctl: step.hctl };
    case 'scsi.rescan':
      return {
        disk: null,
        hctl: `${step.scsiHost.slice('host'.length)}:${step.channel}:${step.target}:${step.lun}`,
      };
    case 'multipath.reinstate':
      return { disk: diskOfDevice(step.path), hctl: null };
    case 'svm.metareplace':
      return { disk: diskOfDevice(step.component), hctl: null };
    case 'svm.metadb-restore':
      return { disk: diskOfDevice(step.slice), hctl: null };
    case 'md.wait-sync':
    case 'svm.wait-sync':
      return { disk: null, hctl: null };
  }
};

/**
 * The probe of the disk a step acts on: the one of its disk (a member's or a path's disk), else the
 * one at its SCSI address (`scsi.delete`, `scsi.rescan`), else the plan's first (a wait names no
 * disk). A step checks the disk and failure domain against its own disk's probe, not the first's.
 */
export const probeForStep = (step: PlanStep, probes: PlanProbes): DiskProbeStep => {
  const { disk, hctl } = targetOf(step);
  return (
    (disk === null ? undefined : probes.find((probe) => probe.disk === disk)) ??
    (hctl === null ? undefined : probes.find((probe) => probe.hctl === hctl)) ??
    probes[0]
  );
};

/** The branch of the plan (`steps` or `fastPath`) that holds `step`. */
export const branchOf = (context: StepContext, step: PlanStep): readonly PlanStep[] => {
  const fastPath = context.plan.fastPath ?? [];
  return fastPath.includes(step) ? fastPath : context.plan.steps;
};

/**
 * The steps of `step`'s branch before it. The executor runs a branch in order and stops at the
 * first step that fails or is refused (plan-executor.ts), so each of them succeeded in this run,
 * or was skipped (a dry-run's "would run").
 */
export const stepsBefore = (context: StepContext, step: PlanStep): readonly PlanStep[] => {
  const branch = branchOf(context, step);
  const at = branch.indexOf(step);
  return at < 0 ? [] : branch.slice(0, at);
};

/** The steps of `step`'s branch after it: what this run has yet to do. */
export const stepsAfter = (context: StepContext, step: PlanStep): readonly PlanStep[] => {
  const branch = branchOf(context, step);
  const at = branch.indexOf(step);
  return at < 0 ? [] : branch.slice(at + 1);
};

export type StepOutcome = 'succeeded' | 'failed' | 'skipped' | 'refused';

export type StepResult = {
  outcome: StepOutcome;
  code?: StepRefusalCode | StepFailureCode;
  detail: string;
};

export const succeeded = (detail: string): StepResult => ({ outcome: 'succeeded', detail });
export const skipped = (detail: string): StepResult => ({ outcome: 'skipped', detail });
export const refused = (code: StepRefusalCode, detail: string): StepResult => ({
  outcome: 'refused',
  code,
  detail,
});
export const failed = (code: StepFailureCode, detail: string): StepResult => ({
  outcome: 'failed',
  code,
  detail,
});

/** A dry-run's report of what a step would do, with anything it could only check later. */
export const wouldRun = (what: string, deferred: readonly string[] = []): StepResult =>
  skipped(`would run: ${what}${deferred.length === 0 ? '' : `; ${deferred.join('; ')}`}`);

export type ActionRun = { ok: true; result: ProgramResult; line: string } | { ok: false; result: StepResult };

/** Runs a program as a step's action; a missing tool, a timeout or a non-zero exit fail the step. */
export const runAction = async (
  context: StepContext,
  program: ExecutorProgram,
  args: readonly string[],
): Promise<ActionRun> => {
  const line = commandLine(program, args);
  let result: ProgramResult;
  try {
    result = await context.host.runProgram(
      program,
      args,
      context.host.signal === undefined ? {} : { signal: context.host.signal },
    );
  } catch (error) {
    if (error instanceof ToolMissingError)
      return { ok: false, result: failed('tool-missing', `${line}: ${error.message}`) };
    return { ok: false, result: failed('tool-failed', `${line}: ${(error as Error).message}`) };
  }
  if (result.timedOut)
    return { ok: false, result: failed('tool-timed-out', `${line}: killed after its timeout`) };
  if (result.exitCode !== 0) {
    return {
      ok: false,
      result: failed('tool-failed', `${line}: exit ${result.exitCode ?? 'signal'}: ${toolMessage(result)}`),
    };
  }
  return { ok: true, result, line };
};

/** Polls `condition` every `pollMs` until it holds or `timeoutMs` passed; resolves with the last value. */
export const pollUntil = async <T>(
  context: Pick<StepContext, 'clock' | 'host'>,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  pollMs: number,
): Promise<{ value: T; met: boolean }> => {
  const deadline = context.clock.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return { value, met: true };
    if (context.clock.now() >= deadline || context.host.signal?.aborted === true)
      return { value, met: false };
    await context.clock.sleep(pollMs, context.host.signal);
  }
};
