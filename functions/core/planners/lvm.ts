import type { ArrayRecord } from '../model.ts';
import type { PlanContext, PlanOutcome } from './plan-context.ts';
import { unhealthyArraysOn } from './plan-context.ts';

/**
 * AIX LVM mirrors (`kind: lvm`, docs/architecture.md §2, §3): observed and paged for, never
 * planned. No runbook exists yet: bringing a copy back takes `varyonvg` (a disk LVM marked missing)
 * then `syncvg`, which no agent action runs. A host with an `lvm` array not healthy on the domain
 * that came back is refused, before any other planner looks at it, so its page says why and no
 * plan touches a disk of it (the planners for the host's other storage would otherwise plan, or
 * call it healthy and resolve it).
 *
 * A member the agent reports `faulty` is a copy whose disk LVM lists `missing` or `removed`: its
 * partitions are stale. An array degraded with every member in sync has stale partitions on a disk
 * that is back (`lsvg` does not say which copy).
 */

/** At most this many arrays are named in the reason; the rest are counted. */
const NAMED_ARRAYS = 4;

export const planLvm = ({ host, failureDomain }: PlanContext): PlanOutcome | undefined => {
  const mirrors = unhealthyArraysOn(host, failureDomain, 'lvm');
  if (mirrors.length === 0) return undefined;
  const named = mirrors.slice(0, NAMED_ARRAYS).map((record) => staleness(record, failureDomain));
  const more = mirrors.length - named.length;
  return {
    kind: 'refuse',
    reason: `no runbook for AIX LVM mirrors yet: ${named.join('; ')}${more > 0 ? `; and ${more} more logical volume(s)` : ''}; a person runs varyonvg and syncvg once the disks are back`,
  };
};

/** What is stale in one logical volume: its faulty copies on the domain, or that lsvg cannot say. */
const staleness = (record: ArrayRecord, failureDomain: string): string => {
  const stale = record.members.filter((member) => member.state !== 'in-sync' && member.state !== 'spare');
  const here = stale.filter((member) => member.failureDomain === failureDomain);
  if (here.length > 0)
    return `${record.array} has stale partitions on ${here.map((member) => member.disk).join(', ')} (${failureDomain})`;
  const gone = record.known.filter(
    (member) =>
      member.failureDomain === failureDomain &&
      !record.members.some((present) => present.device === member.device),
  );
  if (gone.length > 0)
    return `${record.array} lost its copy on ${gone.map((member) => member.disk).join(', ')} (${failureDomain})`;
  return stale.length > 0
    ? `${record.array} has stale partitions on ${stale.map((member) => `${member.disk} (${member.failureDomain})`).join(', ')}`
    : `${record.array} has stale partitions (lsvg does not say on which copy)`;
};
