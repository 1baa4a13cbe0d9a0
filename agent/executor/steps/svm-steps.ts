import type { Member, SvmMetareplaceStep, SvmWaitSyncStep } from '../../../events/index.ts';
import { diskOfDevice } from '../../../probes/block-device.ts';
import { localFailureDomain } from '../../../probes/failure-domain.ts';
import type { MetastatReading, MetastatSubmirrorReading } from '../../../probes/metastat.ts';
import { svmMemberState } from '../../../probes/report-states.ts';
import { overriddenFailureDomain } from '../../../probes/topology.ts';
import { readMetadb, readMetastat } from '../host-view.ts';
import { metadbProblem } from '../metadb.ts';
import { toolMessage } from '../programs.ts';
import {
  failed,
  refused,
  runAction,
  type StepContext,
  type StepResult,
  succeeded,
  wouldRun,
} from '../step-context.ts';

/**
 * The SVM steps of §4. `metareplace -e` re-enables a component only when it is in exactly
 * `Maintenance` (a `Last Erred` component is never touched automatically: it holds the last good
 * copy of some blocks), the other submirror is `Okay`, no hot spare stands in, and the state
 * database replicas are healthy. `svm.wait-sync` waits until every submirror is `Okay`.
 */

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
  const problem = metadb === null ? 'metadb gave no answer' : metadbProblem(metadb);
  if (problem !== null) return refused('metadb-unhealthy', problem);
  const args = ['-e', step.mirror, step.component];
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
