import type { DiskVerifyStep, PlanStep } from '../../../events/index.ts';
import type { StepContext } from '../step-context.ts';

/**
 * What this run of a plan has done, for the guards of `md.zero-superblock` (§4) that depend on
 * the plan's own history rather than on the host: which members its `md.remove` steps took out of
 * which arrays (recorded by `md.remove` itself, in a dry-run what it would have removed), and which
 * `disk.verify` steps ran before a given step, and which superblocks `md.zero-superblock` zeroed (so
 * the `md.add` after it knows the partition's contents are the array's own). Kept per run: the executor makes one `StepContext`
 * per plan it runs, and nothing recorded outlives it.
 */

const removals = new WeakMap<StepContext, Set<string>>();
const zeroings = new WeakMap<StepContext, Set<string>>();

const key = (array: string, member: string): string => `${array}/${member}`;

/** `md.remove` took `member` out of `array` in this run (or would have, in a dry-run). */
export const recordRemoval = (context: StepContext, array: string, member: string): void => {
  const removed = removals.get(context) ?? new Set<string>();
  removed.add(key(array, member));
  removals.set(context, removed);
};

/** Whether an `md.remove` of this run took `member` out of `array`. */
export const removedInThisRun = (context: StepContext, array: string, member: string): boolean =>
  removals.get(context)?.has(key(array, member)) === true;

/** `md.zero-superblock` zeroed the superblock `member` held for `array` in this run (or would have). */
export const recordZeroing = (context: StepContext, array: string, member: string): void => {
  const zeroed = zeroings.get(context) ?? new Set<string>();
  zeroed.add(key(array, member));
  zeroings.set(context, zeroed);
};

/**
 * Whether this run zeroed the superblock `member` held for `array`: what the partition still
 * carries (with 0.90 or 1.0 metadata, at its start, the array's own file system or LVM label) is
 * then that array's data, not someone else's.
 */
export const zeroedInThisRun = (context: StepContext, array: string, member: string): boolean =>
  zeroings.get(context)?.has(key(array, member)) === true;

/**
 * The steps of the branch `step` belongs to that come before it in this run. The executor runs a
 * branch in order and stops at the first step that fails or is refused (plan-executor.ts), so
 * every step returned here succeeded, or was skipped (a dry-run's "would run").
 */
const stepsBefore = (context: StepContext, step: PlanStep): readonly PlanStep[] => {
  const fast = context.plan.fastPath?.indexOf(step) ?? -1;
  if (fast >= 0) return (context.plan.fastPath ?? []).slice(0, fast);
  const index = context.plan.steps.indexOf(step);
  return index > 0 ? context.plan.steps.slice(0, index) : [];
};

/** The last `disk.verify` of `disk` that passed earlier in this run, or null. */
export const verifiedBefore = (context: StepContext, step: PlanStep, disk: string): DiskVerifyStep | null => {
  const verified = stepsBefore(context, step).filter(
    (earlier): earlier is DiskVerifyStep => earlier.action === 'disk.verify' && earlier.disk === disk,
  );
  return verified[verified.length - 1] ?? null;
};
