import type { Member, PlanStep, ReplicaReport } from '../../../events/index.ts';
import { criticalReason } from '../host.ts';
import type { PlanContext, PlanOutcome } from './plan-context.ts';
import { byName, unhealthyArraysOn } from './plan-context.ts';

/**
 * SVM in an LDoms guest: `metareplace -e` of each component in Maintenance on the returned domain
 * whose other submirror is Okay, then wait for each mirror, then re-create the state database
 * replicas the repaired disks kept in error (`svm.metadb-restore`). A mirror with a Last Erred
 * component or no in-sync member is never planned; it pages. Every virtual disk of the guest the
 * domain serves is in the one plan: one `disk.probe` per disk first, then each disk's components by
 * name, then the waits, one per mirror, then the restores, one per slice by name.
 *
 * The replicas come from the latest heartbeat's `replicas` (§3). Replicas on a returned disk keep
 * their error flags until re-created; the agent refuses a `metareplace` while replicas are in error
 * off the disks the plan repairs, or fewer than half are active, and a refused step halts the
 * domain's waves: such a guest is paged instead. Replicas in error the plan cannot re-create are
 * named in the plan's `attention` (the mirrors are repaired, and a person is paged for them). Without `replicas` (an older agent, `metadb` unread) the
 * plan is the repair alone: no restore is planned of replicas the core does not know.
 */
export const planSvm = ({
  host,
  failureDomain,
  config,
  isDomainUp,
}: PlanContext): PlanOutcome | undefined => {
  const mirrors = unhealthyArraysOn(host, failureDomain, 'svm');
  if (mirrors.length === 0) return undefined;
  const byDisk = new Map<string, { mirror: string; component: Member }[]>();
  const wait: PlanStep[] = [];
  for (const record of mirrors) {
    if (criticalReason(record, (domain) => !isDomainUp(domain)) !== undefined) continue;
    const components = record.members.filter(
      (member) => member.failureDomain === failureDomain && member.state === 'maintenance',
    );
    const partnerOkay = record.members.some(
      (member) =>
        member.failureDomain !== failureDomain &&
        member.state === 'in-sync' &&
        isDomainUp(member.failureDomain),
    );
    if (components.length === 0 || !partnerOkay) continue;
    for (const component of components) {
      byDisk.set(component.disk, [
        ...(byDisk.get(component.disk) ?? []),
        { mirror: record.array, component },
      ]);
    }
    wait.push({ action: 'svm.wait-sync', mirror: record.array, stallSeconds: config.stallSeconds });
  }
  const disks = [...byDisk.keys()].sort();
  if (disks.length === 0)
    return { kind: 'refuse', reason: 'no SVM component in Maintenance can be replaced safely' };
  const stateDatabase: { refuse: string } | { restores: PlanStep[]; attention?: string } =
    host.replicas === undefined ? { restores: [] } : replicaPlan(host.replicas, disks);
  if ('refuse' in stateDatabase) return { kind: 'refuse', reason: stateDatabase.refuse };
  return {
    kind: 'plan',
    planned: {
      steps: [
        ...disks.map((disk): PlanStep => ({ action: 'disk.probe', disk, failureDomain })),
        ...disks.flatMap((disk) =>
          (byDisk.get(disk) ?? []).map(
            ({ mirror, component }): PlanStep => ({
              action: 'svm.metareplace',
              mirror,
              component: component.device,
            }),
          ),
        ),
        ...wait,
        ...stateDatabase.restores,
      ],
      touches: mirrors.map((record) => record.array),
      ...(stateDatabase.attention === undefined ? {} : { attention: stateDatabase.attention }),
    },
  };
};

/** Whether a slice (`c0d1s7`, `c0d1p0`) is one of the disk's (`c0d1`); `c0d10s7` is not `c0d1`'s. */
const isSliceOf = (slice: string, disk: string): boolean =>
  slice.startsWith(disk) && /^[sp]\d{1,2}$/.test(slice.slice(disk.length));

/** Whether replicas named `slice` sit on the disk: one of its slices, or the whole disk as the agent reads it. */
const isOnDisk = (slice: string, disk: string): boolean => slice === disk || isSliceOf(slice, disk);

const listed = (reports: readonly ReplicaReport[]): string =>
  reports.map((report) => `${report.slice} (${report.erred} of ${report.count} in error)`).join(', ');

/**
 * The state database rules of §4, read from the heartbeat's replicas for a plan that repairs
 * `repairedDisks` (every disk of the guest the domain serves): why its `metareplace` steps would be
 * refused (replicas in error off those disks, or fewer than half active), else the restores to
 * append: each slice of a repaired disk whose replicas are all in error, while every replica off
 * the repaired disks is active and those are at least half of all (what `svm.metadb-restore`
 * re-checks). Replicas the plan cannot re-create (a slice only partly in error, or a state
 * database whose other replicas are not all active or fewer than half) are named in `attention`:
 * the mirrors are repaired and a person is paged for the replicas.
 */
const replicaPlan = (
  replicas: readonly ReplicaReport[],
  repairedDisks: readonly string[],
): { refuse: string } | { restores: PlanStep[]; attention?: string } => {
  const onRepaired = (report: ReplicaReport): boolean =>
    repairedDisks.some((disk) => isOnDisk(report.slice, disk));
  const elsewhere = replicas.filter((report) => report.erred > 0 && !onRepaired(report));
  if (elsewhere.length > 0)
    return {
      refuse: `state database replicas in error off ${repairedDisks.join(', ')}, the ${repairedDisks.length === 1 ? 'disk' : 'disks'} being repaired: ${listed(elsewhere)}; its agent refuses svm.metareplace then (metadb-unhealthy)`,
    };
  const total = replicas.reduce((sum, report) => sum + report.count, 0);
  const active = replicas.reduce((sum, report) => sum + report.active, 0);
  if (active * 2 < total)
    return {
      refuse: `only ${active} of ${total} state database replicas are active; its agent refuses svm.metareplace then (metadb-unhealthy)`,
    };
  const others = replicas.filter((report) => !onRepaired(report));
  const othersCount = others.reduce((sum, report) => sum + report.count, 0);
  const othersHold = others.every((report) => report.active === report.count) && othersCount * 2 >= total;
  const inError = replicas.filter((report) => report.erred > 0 && isSliceOfAny(report.slice, repairedDisks));
  const restored = othersHold ? inError.filter((report) => report.erred === report.count) : [];
  const left = inError.filter((report) => !restored.includes(report));
  const why = othersHold
    ? 'only some of their replicas are in error, and svm.metadb-restore re-creates a slice whose replicas are all in error'
    : `the replicas off ${repairedDisks.join(', ')} are ${othersCount * 2 < total ? `${othersCount} of ${total}, fewer than half` : 'not all active'}`;
  return {
    restores: restored
      .sort(byName((report) => report.slice))
      .map(
        (report): PlanStep => ({ action: 'svm.metadb-restore', slice: report.slice, count: report.count }),
      ),
    ...(left.length === 0
      ? {}
      : {
          attention: `state database replicas in error on ${listed(left)} are not re-created by the plan (${why}): re-create them by hand once the mirrors are in sync (metadb -d, metadb -a)`,
        }),
  };
};

const isSliceOfAny = (slice: string, disks: readonly string[]): boolean =>
  disks.some((disk) => isSliceOf(slice, disk));
