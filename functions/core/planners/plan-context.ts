import type { Member, PlanStep } from '../../../events/index.ts';
import type { CoreConfig } from '../config.ts';
import type { ArrayRecord, HostSlice } from '../model.ts';

/**
 * What a runbook's planner returns: the plan's branches, the arrays or maps it touches, and what
 * the plan leaves for a person (`attention`: paged when the plan goes out).
 */
export type PlannedSteps = {
  steps: PlanStep[];
  fastPath?: PlanStep[];
  touches: string[];
  attention?: string;
};

/** A plan, nothing to do, or why no plan may go to the host (it is then skipped and paged). */
export type PlanOutcome =
  | { kind: 'plan'; planned: PlannedSteps }
  | { kind: 'healthy' }
  | { kind: 'refuse'; reason: string };

/** One host and the failure domain whose outage it recovers from, as the core last saw them. */
export type PlanContext = {
  host: HostSlice;
  failureDomain: string;
  config: CoreConfig;
  isDomainUp: (failureDomain: string) => boolean;
  /**
   * When the outage began (its episode's `downAt`): a path leg lost since then (less the grouping
   * window, for reports that arrive out of order) was lost to it. Without it, no leg counts as lost
   * to the outage.
   */
  downAt?: string;
};

export const byName =
  <T>(key: (item: T) => string) =>
  (a: T, b: T): number => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };

/** The arrays of one kind with a member (present or remembered) on the domain, not healthy, by name. */
export const unhealthyArraysOn = (
  host: HostSlice,
  failureDomain: string,
  kind: ArrayRecord['kind'],
): ArrayRecord[] =>
  Object.values(host.arrays)
    .filter(
      (record) =>
        record.kind === kind &&
        record.health !== 'healthy' &&
        [...record.members, ...record.known].some((member) => member.failureDomain === failureDomain),
    )
    .sort(byName((record) => record.array));

/** An in-sync member of the array on another failure domain that is up: what makes failing this one safe. */
export const hasSafePartner = (
  record: ArrayRecord,
  member: Member,
  isDomainUp: (domain: string) => boolean,
): boolean =>
  record.members.some(
    (other) =>
      other.device !== member.device &&
      other.state === 'in-sync' &&
      other.failureDomain !== member.failureDomain &&
      isDomainUp(other.failureDomain),
  );
