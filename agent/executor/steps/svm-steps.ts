import type {
  Member,
  PlanStep,
  SvmMetadbRestoreStep,
  SvmMetareplaceStep,
  SvmWaitSyncStep,
} from '../../../events/index.ts';
import { diskOfDevice } from '../../../probes/block-device.ts';
import { localFailureDomain } from '../../../probes/failure-domain.ts';
import { replicaActive, replicaSlice } from '../../../probes/metadb.ts';
import type { MetastatReading, MetastatSubmirrorReading } from '../../../probes/metastat.ts';
import { svmMemberState } from '../../../probes/report-states.ts';
import { overriddenFailureDomain } from '../../../probes/topology.ts';
import { readMetadb, readMetastat } from '../host-view.ts';
import { metadbProblem, metadbRestoreRefusal } from '../metadb.ts';
import { toolMessage } from '../programs.ts';
import {
  branchOf,
  failed,
  refused,
  runAction,
  type StepContext,
  type StepResult,
  stepsBefore,
  succeeded,
  wouldRun,
} from '../step-context.ts';

/**
 * The SVM steps of §4. `metareplace -e` re-enables a component only when it is in exactly
 * `Maintenance` (a `Last Erred` component is never touched automatically: it holds the last good
 * copy of some blocks), the other submirror is `Okay`, no hot spare stands in, and at least half of
 * the state database replicas are active with every replica in error on a disk the plan repairs
 * (replicas on a returned disk keep their error flags until re-created; a guest's root and data
 * disks may both come from the returned domain). `svm.wait-sync` waits
 * until every submirror is `Okay`. `svm.metadb-restore` then re-creates the replicas in error on
 * the repaired disks (`metadb -d <slice>`, `metadb -a -c <count> <slice>`, never `-f`), only after
 * this run's wait-sync of every mirror the plan repaired succeeded.
 */

/**
 * The mirrors whose `svm.wait-sync` succeeded in this run of a plan (in a dry-run: would have run),
 * keyed by the run's step context, which lives as long as the run: the plan's own record of what it
 * did, never the host's word, which cannot tell this run's resync from an earlier one.
 */
const syncedInRun = new WeakMap<StepContext, Set<string>>();

const recordSynced = (context: StepContext, mirror: string): void => {
  const synced = syncedInRun.get(context) ?? new Set<string>();
  synced.add(mirror);
  syncedInRun.set(context, synced);
};

const submirrorsOf = (reading: MetastatReading, mirror: string): MetastatSubmirrorReading[] =>
  reading.submirrors.filter((submirror) => submirror.mirror === mirror);

const healthy = (submirror: MetastatSubmirrorReading): boolean =>
  submirror.state === 'Okay' && submirror.components.every((component) => component.state === 'Okay');

export const svmMetareplace = async (step: SvmMetareplaceStep, context: StepContext): Promise<StepResult> => {
  const reading = await readMetastat(context.host);
  if (reading === null) return refused('mirror-not-found', 'metastat gave no answer');
  if (!reading.mirrors.some((mirror) => mirror.name === step.mirror)) {
    return refused('mirror-not-found', `${step.mirror} is not an SVM mirror on this host`);
  }
  const submirrors = submirrorsOf(reading, step.mirror);
  const holding = submirrors.find((submirror) =>
    submirror.components.some((component) => component.device === step.component),
  );
  const component = holding?.components.find((candidate) => candidate.device === step.component);
  if (holding === undefined || component === undefined) {
    return refused('component-not-found', `${step.component} is not a component of ${step.mirror}`);
  }
  if (component.state === 'Last Erred') {
    return refused(
      'last-erred',
      `${step.component} of ${holding.name} is Last Erred: only an operator replaces it`,
    );
  }
  if (component.state !== 'Maintenance') {
    return refused(
      'not-in-maintenance',
      `${step.component} of ${holding.name} is ${component.state}, not Maintenance`,
    );
  }
  const partners = submirrors.filter((submirror) => submirror !== holding);
  const unhealthy = partners.filter((submirror) => !healthy(submirror));
  if (partners.length === 0 || unhealthy.length > 0) {
    return refused(
      'partner-not-okay',
      partners.length === 0
        ? `${step.mirror} has no other submirror`
        : `${unhealthy.map((submirror) => `${submirror.name} is ${submirror.state ?? 'in an unknown state'}`).join('; ')}`,
    );
  }
  const standIns = submirrors.flatMap((submirror) =>
    submirror.components
      .filter((candidate) => candidate.hotSpare !== null)
      .map((candidate) => `${candidate.hotSpare} stands in for ${candidate.device}`),
  );
  const pools = new Set(
    submirrors.flatMap((submirror) => (submirror.hotSparePool === null ? [] : [submirror.hotSparePool])),
  );
  for (const pool of reading.hotSparePools) {
    if (!pools.has(pool.name)) continue;
    for (const spare of pool.spares) {
      if (/^in use$/i.test(spare.status)) standIns.push(`${spare.device} of ${pool.name} is in use`);
    }
  }
  if (standIns.length > 0) return refused('hot-spare-in-use', standIns.join('; '));
  const metadb = await readMetadb(context.host);
  const problem =
    metadb === null
      ? 'metadb gave no answer'
      : metadbProblem(metadb, { repairedDisks: repairedDisks(branchOf(context, step)) });
  if (problem !== null) return refused('metadb-unhealthy', problem);
  const args = ['-e', step.mirror, step.component];
  // A resync starts (or would): a wait-sync of this mirror before it no longer counts.
  syncedInRun.get(context)?.delete(step.mirror);
  if (context.dryRun)
    return wouldRun(
      `metareplace ${args.join(' ')} (${partners.map((submirror) => submirror.name).join(', ')} Okay)`,
    );
  const run = await runAction(context, 'metareplace', args);
  if (!run.ok) return run.result;
  const after = await readMetastat(context.host);
  const state =
    after === null
      ? undefined
      : submirrorsOf(after, step.mirror)
          .flatMap((submirror) => submirror.components)
          .find((candidate) => candidate.device === step.component)?.state;
  if (state !== 'Resyncing' && state !== 'Okay') {
    return failed('not-applied', `${run.line} returned, but ${step.component} is ${state ?? 'not listed'}`);
  }
  return succeeded(`${run.line}: ${toolMessage(run.result) || 'done'} (${step.component} ${state})`);
};

const reportedMembers = (context: StepContext, submirrors: readonly MetastatSubmirrorReading[]): Member[] =>
  submirrors.flatMap((submirror) =>
    submirror.components.flatMap((component) => {
      const disk = diskOfDevice(component.device);
      if (disk === null) return [];
      return [
        {
          device: component.device,
          disk,
          state: svmMemberState(component.state),
          failureDomain:
            overriddenFailureDomain(context.host.topology, disk, null) ??
            localFailureDomain(context.host.hostId),
          submirror: submirror.name,
        },
      ];
    }),
  );

export const svmWaitSync = async (step: SvmWaitSyncStep, context: StepContext): Promise<StepResult> => {
  const { clock, timing, host } = context;
  if (context.dryRun) {
    const reading = await readMetastat(host);
    if (reading?.mirrors.some((mirror) => mirror.name === step.mirror) !== true) {
      return refused('mirror-not-found', `${step.mirror} is not an SVM mirror on this host`);
    }
    recordSynced(context, step.mirror);
    return wouldRun(
      `wait until every submirror of ${step.mirror} is Okay, failing after ${step.stallSeconds} s without progress`,
    );
  }
  const started = clock.now();
  let bestProgress = -1;
  let lastChange = started;
  let lastReport = Number.NEGATIVE_INFINITY;
  for (;;) {
    if (await context.stopRequested())
      return failed('stop-file', `the stop file appeared while waiting for ${step.mirror}`);
    if (host.signal?.aborted === true)
      return failed('aborted', `the agent stopped while waiting for ${step.mirror}`);
    const reading = await readMetastat(host);
    const mirror = reading?.mirrors.find((candidate) => candidate.name === step.mirror);
    if (reading === null || mirror === undefined)
      return failed('mirror-not-found', `${step.mirror} is not listed by metastat`);
    const submirrors = submirrorsOf(reading, step.mirror);
    const now = clock.now();
    if (submirrors.length > 0 && submirrors.every(healthy)) {
      recordSynced(context, step.mirror);
      return succeeded(
        `every submirror of ${step.mirror} is Okay after ${Math.round((now - started) / 1000)} s`,
      );
    }
    const erred = submirrors.flatMap((submirror) =>
      submirror.components
        .filter((component) => component.state === 'Last Erred')
        .map((component) => component.device),
    );
    if (erred.length > 0)
      return failed('last-erred', `${erred.join(', ')} of ${step.mirror} went Last Erred`);
    const progress = mirror.resyncProgress;
    if (progress !== null && progress > bestProgress) {
      bestProgress = progress;
      lastChange = now;
    }
    if (progress !== null && now - lastReport >= timing.progressReportMs) {
      lastReport = now;
      context.emit({
        type: 'mirror.recovering',
        subject: step.mirror,
        data: {
          array: step.mirror,
          kind: 'svm',
          level: 'raid1',
          members: reportedMembers(context, submirrors),
          progress,
        },
      });
    }
    if (now - lastChange >= step.stallSeconds * 1000) {
      return failed(
        'sync-stalled',
        `${step.mirror}: no progress for ${step.stallSeconds} s (${bestProgress < 0 ? 'no resync running' : `stuck at ${bestProgress}%`})`,
      );
    }
    await clock.sleep(timing.syncPollMs, host.signal);
  }
};

/**
 * The disks whose components `steps` re-enable (`svm.metareplace`): the disks of the guest the
 * returned domain serves, whose replicas stayed in error while they were away.
 */
const repairedDisks = (steps: readonly PlanStep[]): string[] => [
  ...new Set(
    steps.flatMap((step) => (step.action === 'svm.metareplace' ? (diskOfDevice(step.component) ?? []) : [])),
  ),
];

/**
 * `svm.metadb-restore`: re-creates the state database replicas on a slice of a disk this plan
 * repaired, which stayed in error since the disk went away (the documented recovery once its
 * component is back). Guards, re-read right before: the wait-sync of every mirror this plan's
 * `metareplace` steps re-enabled succeeded in this run; the slice is on a disk this plan repaired;
 * every replica on it is in error while every replica on the disks this plan did not repair is
 * active and those are at least half of all; `count` is the number of replicas on it now. Then `metadb -d <slice>` and
 * `metadb -a -c <count> <slice>` (never `-f`: the real tool deletes replicas that are all in error
 * without it), and it fails unless the slice then holds `count` active replicas.
 */
export const svmMetadbRestore = async (
  step: SvmMetadbRestoreStep,
  context: StepContext,
): Promise<StepResult> => {
  const before = stepsBefore(context, step);
  const repairs = before.filter(
    (earlier): earlier is SvmMetareplaceStep => earlier.action === 'svm.metareplace',
  );
  const repairedMirrors = [...new Set(repairs.map((repair) => repair.mirror))];
  const synced = syncedInRun.get(context) ?? new Set<string>();
  const unsynced = repairedMirrors.filter((mirror) => !synced.has(mirror));
  if (repairedMirrors.length === 0 || unsynced.length > 0) {
    return refused(
      'wait-sync-not-succeeded',
      repairedMirrors.length === 0
        ? 'this plan re-enabled no SVM component before this step: no resync to wait for'
        : `no svm.wait-sync of ${unsynced.join(', ')} succeeded in this run before this step`,
    );
  }
  const repaired = repairedDisks(repairs);
  const disk = diskOfDevice(step.slice);
  if (disk === null || step.slice === disk || !repaired.includes(disk)) {
    return refused(
      'slice-not-on-repaired-disk',
      `${step.slice} is not a slice of a disk this plan repaired (${repaired.join(', ')})`,
    );
  }
  const reading = await readMetadb(context.host);
  if (reading === null) return refused('metadb-unreadable', 'metadb gave no answer');
  const checked = metadbRestoreRefusal(reading, step.slice, step.count, repaired);
  if ('code' in checked) return refused(checked.code, checked.detail);
  const state = `${checked.onSlice.length} replicas on ${step.slice} in error, ${checked.otherDisks.length} of ${checked.total} on disks this plan did not repair active`;
  const remove = ['-d', step.slice];
  const add = ['-a', '-c', String(step.count), step.slice];
  if (context.dryRun) return wouldRun(`metadb ${remove.join(' ')}; metadb ${add.join(' ')} (${state})`);
  const removed = await runAction(context, 'metadb', remove);
  if (!removed.ok) return removed.result;
  const added = await runAction(context, 'metadb', add);
  if (!added.ok) {
    return {
      ...added.result,
      detail: `${added.result.detail}; the ${checked.onSlice.length} replicas of ${step.slice} were deleted and not re-created: ${checked.total - checked.onSlice.length} replicas remain`,
    };
  }
  const after = await readMetadb(context.host);
  const onSlice = after?.replicas.filter((replica) => replicaSlice(replica) === step.slice) ?? [];
  const active = onSlice.filter(replicaActive);
  if (active.length !== step.count || onSlice.length !== step.count) {
    return failed(
      'not-applied',
      `${removed.line} and ${added.line} returned, but ${step.slice} holds ${onSlice.length} replicas, ${active.length} active`,
    );
  }
  return succeeded(
    `${removed.line}; ${added.line}: ${active.length} replicas on ${step.slice} active (${checked.otherDisks.length} on disks this plan did not repair)`,
  );
};
