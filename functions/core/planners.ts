import { criticalReason } from './host.ts';
import { capabilityRefusal } from './planners/capabilities.ts';
import { planLvm } from './planners/lvm.ts';
import { planMdOverVscsi } from './planners/md-vscsi.ts';
import { planMultipath } from './planners/multipath.ts';
import { byName, type PlanContext, type PlanOutcome } from './planners/plan-context.ts';
import { planSvm } from './planners/svm-ldoms.ts';

export type { PlanContext, PlannedSteps, PlanOutcome } from './planners/plan-context.ts';

/**
 * The runbooks of docs/architecture.md §1 as plan builders (./planners/). A planner reads one host's
 * slice as the core last saw it and returns the steps for the storage one failure domain serves,
 * every disk of it in one plan, or why it will not plan. It never includes a step the §4/§5 rules
 * forbid, nor one the host's agent does not run; the agent re-checks each step on the host.
 */

/**
 * Why no plan may go to the host at all (§5.4): it holds an array that lost its last good copy, or
 * whose remaining in-sync members all depend on down domains. Plans act on whole disks, so even a
 * plan for another array could touch that one's disk.
 */
const doubleFaultOf = ({ host, isDomainUp }: PlanContext): PlanOutcome | undefined => {
  for (const record of Object.values(host.arrays).sort(byName((item) => item.array))) {
    const reason = criticalReason(record, (domain) => !isDomainUp(domain));
    if (reason !== undefined) return { kind: 'refuse', reason: `double fault: ${reason}` };
  }
  return undefined;
};

/**
 * The plan for one host and one failure domain, by the runbook its storage needs. An AIX LVM mirror
 * not healthy on the domain refuses the host first (./planners/lvm.ts): it has no runbook yet, and
 * no other planner may call the host healthy or plan its other storage while it waits for a person.
 */
export const planFor = (context: PlanContext): PlanOutcome => {
  const planned = planLvm(context) ?? planMdOverVscsi(context) ?? planSvm(context) ?? planMultipath(context);
  if (planned === undefined) return { kind: 'healthy' };
  if (planned.kind !== 'plan') return planned;
  const doubleFault = doubleFaultOf(context);
  if (doubleFault !== undefined) return doubleFault;
  const lacking = capabilityRefusal(context.host, planned.planned);
  return lacking === undefined ? planned : { kind: 'refuse', reason: lacking };
};
