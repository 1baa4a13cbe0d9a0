import { FIRST_PLAN_ACTIONS, type PlanAction } from '../../../events/index.ts';
import type { HostSlice } from '../model.ts';
import type { PlannedSteps } from './plan-context.ts';

/**
 * A plan goes only to an agent that runs every action in it (§4): the actions its heartbeat lists
 * in `capabilities`. An agent refuses a plan with an action it lacks, and a refused plan halts the
 * whole domain's waves (§5.5), so such a host is skipped and paged instead, with the actions named.
 */

/**
 * What a host whose heartbeat has not been heard is taken to run: the actions every agent ran before
 * the core checked capabilities. Every agent heartbeats when it starts, so only a replay of hand-made
 * events or a lost heartbeat gets here; the steps added since (md.zero-superblock, scsi.online,
 * svm.metadb-restore) need an agent that said it runs them.
 */
export const ACTIONS_BEFORE_CAPABILITIES: readonly PlanAction[] = FIRST_PLAN_ACTIONS;

/** Why the host's agent cannot be sent the plan: the actions of either branch it does not run. */
export const capabilityRefusal = (host: HostSlice, planned: PlannedSteps): string | undefined => {
  const runs = new Set<string>(host.capabilities ?? ACTIONS_BEFORE_CAPABILITIES);
  const lacking = [...new Set([...planned.steps, ...(planned.fastPath ?? [])].map((step) => step.action))]
    .filter((action) => !runs.has(action))
    .sort();
  if (lacking.length === 0) return undefined;
  const named = lacking.join(', ');
  const its = lacking.length === 1 ? 'it' : 'them';
  return host.capabilities === undefined
    ? `the plan needs ${named}, and its agent has not said it runs ${its} (no heartbeat with its capabilities yet)`
    : `the plan needs ${named}, which its agent does not run (not in its heartbeat's capabilities)`;
};
