import type { DiskVerifyStep, PlanStep } from '../../../events/index.ts';
import { type StepContext, stepsAfter, stepsBefore } from '../step-context.ts';

/**
 * What this run of a plan has done, for the guards of `md.zero-superblock` (§4) that depend on
 * the plan's own history rather than on the host: which members its `md.remove` steps took out of
 * which arrays (recorded by `md.remove` itself, in a dry-run what it would have removed), or found
 * already out (udev's `mdadm -If` removes the member of a disk that goes away before any plan
 * runs), and which `disk.verify` steps ran before a given step, and which superblocks
 * `md.zero-superblock` zeroed (so the `md.add` after it knows the partition's contents are the
 * array's own). Kept per run: the executor makes one `StepContext` per plan it runs, and nothing
 * recorded outlives it.
 */

/**
 * How the removal an `md.remove` of this run asked for came about: `removed` when the step took
 * the member out itself, `found-out` when the array no longer listed it (removed before the plan
 * ran, as udev's `mdadm -If` does when the member's disk goes away). Either way the member is out
 * because the plan asked for it to be; what its partition holds is for `md.zero-superblock`'s own
 * guards to judge.
 */
export type RemovalKind = 'removed' | 'found-out';

const removals = new WeakMap<StepContext, Map<string, RemovalKind>>();
const zeroings = new WeakMap<StepContext, Set<string>>();

const key = (array: string, member: string): string => `${array}/${member}`;

/**
 * An `md.remove` of this run took `member` out of `array` (or would have, in a dry-run), or found
 * it already out: `kind` says which. A removal the plan did itself stays recorded as such.
 */
export const recordRemoval = (
  context: StepContext,
  array: string,
  member: string,
  kind: RemovalKind = 'removed',
): void => {
  const removed = removals.get(context) ?? new Map<string, RemovalKind>();
  if (removed.get(key(array, member)) !== 'removed') removed.set(key(array, member), kind);
  removals.set(context, removed);
};

/** How an `md.remove` of this run took `member` out of `array`, or found it out; null when none did. */
export const removalInThisRun = (context: StepContext, array: string, member: string): RemovalKind | null =>
  removals.get(context)?.get(key(array, member)) ?? null;

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

/** Whether an `md.remove` of `member` from `array` comes after `step` in its branch of this plan. */
export const removalPlannedAfter = (
  context: StepContext,
  step: PlanStep,
  array: string,
  member: string,
): boolean =>
  stepsAfter(context, step).some(
    (later) => later.action === 'md.remove' && later.array === array && later.member === member,
  );

/** The last `disk.verify` of `disk` that passed earlier in this run, or null. */
export const verifiedBefore = (context: StepContext, step: PlanStep, disk: string): DiskVerifyStep | null => {
  const verified = stepsBefore(context, step).filter(
    (earlier): earlier is DiskVerifyStep => earlier.action === 'disk.verify' && earlier.disk === disk,
  );
  return verified[verified.length - 1] ?? null;
};
