import type { Plan, PlanAction, PlanBranch, PlanStep, ProgressOutcome } from '../../events/index.ts';
import type { EventDraft } from '../../probes/event-draft.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { HostAccess } from './host-view.ts';
import { Projection } from './projection.ts';
import {
  type Clock,
  type ExecutorTiming,
  failed,
  leadingProbes,
  probeForStep,
  type StepContext,
  type StepOutcome,
  type StepResult,
} from './step-context.ts';
import { runDiskProbe } from './steps/disk-probe.ts';
import { mdAdd, mdFail, mdRemove, mdWaitSync } from './steps/md-steps.ts';
import { mdZeroSuperblock } from './steps/md-zero-superblock.ts';
import { multipathReinstate } from './steps/multipath-steps.ts';
import { diskVerify, scsiDelete, scsiOnline, scsiRescan } from './steps/scsi-steps.ts';
import { svmMetadbRestore, svmMetareplace, svmWaitSync } from './steps/svm-steps.ts';
import type { WriteSysfs } from './sysfs.ts';

/**
 * Runs a plan that passed verification (plan-admission.ts): every `disk.probe` at the start of
 * `steps` first (one per disk the plan covers, §4), each reported as `disk.probed`, then the fast
 * path only if every probed disk qualifies for it, else the rest of `steps`: one disk that did not
 * come back intact sends the whole plan down the full path, which heals every disk. Each step
 * reports `command.progress` (`started`, then its outcome, with its branch, duration and what ran),
 * and the plan stops at the first failure or refusal. Each step reads the host afresh and is
 * checked against the probe of the disk it acts on (step-context.ts `probeForStep`); in a dry-run
 * each one checks its preconditions against the host as the earlier steps would have left it and
 * reports what it would run, and nothing runs.
 */

/** What running a plan needs from the agent. */
export type ExecutionDependencies = {
  host: HostAccess;
  clock: Clock;
  timing: ExecutorTiming;
  writeSysfs: WriteSysfs;
  stopRequested: () => Promise<boolean>;
  /** Emits an event (its `planid` already set). */
  emit: (draft: EventDraft) => void;
  log: AgentLog;
  /** Called after each step that changed the host, so detection sees it at once. */
  onHostChanged?: (reason: string) => Promise<void>;
};

/** One step as it was reported. */
export type StepReport = {
  step: number;
  branch: PlanBranch;
  action: PlanAction;
  outcome: StepOutcome;
  code?: string;
  detail: string;
  durationMs: number;
};

export type PlanExecution = {
  /** `succeeded` when every step of the chosen branch succeeded or was skipped. */
  outcome: 'succeeded' | 'failed' | 'refused';
  branch: PlanBranch;
  steps: StepReport[];
};

/** Actions whose success changes the host (a scan should follow). */
const CHANGING_ACTIONS: ReadonlySet<PlanAction> = new Set([
  'md.fail',
  'md.remove',
  'scsi.delete',
  'scsi.rescan',
  'md.add',
  'svm.metareplace',
  'multipath.reinstate',
  'scsi.online',
  'svm.metadb-restore',
]);

const MAX_DETAIL = 4096;
const clip = (detail: string): string =>
  detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL - 1)}…` : detail;

/** What the last of several probes adds to its detail: the branch the whole plan takes, and why. */
const planDecision = (probed: number, notQualifying: readonly string[]): string =>
  notQualifying.length === 0
    ? `plan → fast path (all ${probed} probed disks qualify)`
    : `plan → steps (${notQualifying.join(', ')} ${notQualifying.length === 1 ? 'does' : 'do'} not qualify for the fast path)`;

const runStep = async (step: PlanStep, context: StepContext): Promise<StepResult> => {
  switch (step.action) {
    case 'disk.probe': {
      const probe = await runDiskProbe(step, context);
      context.emit(probe.draft);
      return probe.result;
    }
    case 'md.fail':
      return mdFail(step, context);
    case 'md.remove':
      return mdRemove(step, context);
    case 'scsi.delete':
      return scsiDelete(step, context);
    case 'scsi.rescan':
      return scsiRescan(step, context);
    case 'disk.verify':
      return diskVerify(step, context);
    case 'md.add':
      return mdAdd(step, context);
    case 'md.wait-sync':
      return mdWaitSync(step, context);
    case 'svm.metareplace':
      return svmMetareplace(step, context);
    case 'svm.wait-sync':
      return svmWaitSync(step, context);
    case 'multipath.reinstate':
      return multipathReinstate(step, context);
    case 'md.zero-superblock':
      return mdZeroSuperblock(step, context);
    case 'scsi.online':
      return scsiOnline(step, context);
    case 'svm.metadb-restore':
      return svmMetadbRestore(step, context);
  }
};

/** Runs a verified plan. Never throws: an unexpected error fails the step it happened in. */
export const executePlan = async (
  plan: Plan,
  dependencies: ExecutionDependencies,
): Promise<PlanExecution> => {
  const probes = leadingProbes(plan);
  const context: StepContext = {
    host: dependencies.host,
    plan,
    probe: probes[0],
    dryRun: plan.mode === 'dry-run',
    projection: new Projection(),
    clock: dependencies.clock,
    timing: dependencies.timing,
    writeSysfs: dependencies.writeSysfs,
    stopRequested: dependencies.stopRequested,
    emit: dependencies.emit,
    log: dependencies.log,
  };
  const reports: StepReport[] = [];
  const progress = (
    step: number,
    action: PlanAction,
    branch: PlanBranch,
    outcome: ProgressOutcome,
    extra: { code?: string | undefined; detail?: string; durationMs?: number } = {},
  ) =>
    dependencies.emit({
      type: 'command.progress',
      subject: plan.hostId,
      data: {
        planId: plan.id,
        step,
        action,
        outcome,
        branch,
        ...(extra.code === undefined ? {} : { code: extra.code }),
        ...(extra.detail === undefined ? {} : { detail: clip(extra.detail) }),
        ...(extra.durationMs === undefined ? {} : { durationMs: extra.durationMs }),
      },
    });

  /** Runs one step with its reports; true when the plan may go on. */
  const perform = async (
    number: number,
    branch: PlanBranch,
    step: PlanStep,
    body: () => Promise<StepResult>,
  ): Promise<boolean> => {
    const started = dependencies.clock.now();
    context.probe = probeForStep(step, probes);
    progress(number, step.action, branch, 'started');
    let result: StepResult;
    if (await dependencies.stopRequested()) {
      result = {
        outcome: 'refused',
        code: 'stop-file',
        detail: 'the local stop file exists: no further step runs',
      };
    } else if (dependencies.host.signal?.aborted === true) {
      result = failed('aborted', 'the agent is stopping');
    } else {
      try {
        result = await body();
      } catch (error) {
        dependencies.log.error('a plan step failed unexpectedly', { planId: plan.id, step: number, error });
        result = failed('internal-error', `unexpected error: ${(error as Error).message}`);
      }
    }
    const durationMs = Math.max(0, Math.round(dependencies.clock.now() - started));
    progress(number, step.action, branch, result.outcome, {
      code: result.code,
      detail: result.detail,
      durationMs,
    });
    reports.push({
      step: number,
      branch,
      action: step.action,
      outcome: result.outcome,
      ...(result.code === undefined ? {} : { code: result.code }),
      detail: result.detail,
      durationMs,
    });
    dependencies.log.info(`plan ${plan.id} step ${number} (${branch}) ${step.action}: ${result.outcome}`, {
      ...(result.code === undefined ? {} : { code: result.code }),
      detail: result.detail,
    });
    if (
      !context.dryRun &&
      result.outcome === 'succeeded' &&
      CHANGING_ACTIONS.has(step.action) &&
      dependencies.onHostChanged !== undefined
    ) {
      await dependencies.onHostChanged(`plan ${plan.id} step ${number}`).catch(() => undefined);
    }
    return result.outcome === 'succeeded' || result.outcome === 'skipped';
  };

  const finish = (branch: PlanBranch): PlanExecution => {
    const last = reports[reports.length - 1];
    const outcome =
      last?.outcome === 'failed' ? 'failed' : last?.outcome === 'refused' ? 'refused' : 'succeeded';
    return { outcome, branch, steps: reports };
  };

  /** The probed disks that do not qualify for the fast path. */
  const notQualifying: string[] = [];
  for (const [number, probeStep] of probes.entries()) {
    const probed = await perform(number, 'steps', probeStep, async () => {
      const probe = await runDiskProbe(probeStep, context);
      dependencies.emit(probe.draft);
      if (!probe.fastPath) notQualifying.push(probeStep.disk);
      const decidesForSeveral =
        probes.length > 1 && number === probes.length - 1 && plan.fastPath !== undefined;
      return decidesForSeveral
        ? { ...probe.result, detail: `${probe.result.detail}; ${planDecision(probes.length, notQualifying)}` }
        : probe.result;
    });
    if (!probed) return finish('steps');
  }
  const branch: PlanBranch = notQualifying.length === 0 && plan.fastPath !== undefined ? 'fastPath' : 'steps';
  const steps = branch === 'fastPath' ? (plan.fastPath ?? []) : plan.steps.slice(probes.length);
  for (const [index, step] of steps.entries()) {
    const number = branch === 'fastPath' ? index : index + probes.length;
    if (!(await perform(number, branch, step, () => runStep(step, context)))) break;
  }
  return finish(branch);
};
