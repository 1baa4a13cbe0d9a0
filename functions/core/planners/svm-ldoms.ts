import type { Member, PlanStep } from '../../../events/index.ts';
import { criticalReason } from '../host.ts';
import type { PlanContext, PlanOutcome } from './plan-context.ts';
import { unhealthyArraysOn } from './plan-context.ts';

/**
 * SVM in an LDoms guest: `metareplace -e` of each component in Maintenance on the returned domain
 * whose other submirror is Okay, then wait for each mirror. A mirror with a Last Erred component or
 * no in-sync member is never planned; it pages. Every virtual disk of the guest the domain serves is
 * in the one plan: one `disk.probe` per disk first, then each disk's components by name, then the
 * waits, one per mirror.
 *
 * The state database replicas that sit on the repaired disk and stay in error (`svm.metadb-restore`,
 * §4) are not planned: the core has no report of the replicas (no heartbeat field carries `metadb
 * -i`), and a restore is only planned of replicas it knows.
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
      ],
      touches: mirrors.map((record) => record.array),
    },
  };
};
