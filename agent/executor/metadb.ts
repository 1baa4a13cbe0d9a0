import { diskOfDevice } from '../../probes/block-device.ts';
import {
  type MetadbReading,
  type MetadbReplica,
  replicaActive,
  replicaInError,
  replicaSlice,
} from '../../probes/metadb.ts';
import type { StepRefusalCode } from './codes.ts';

/**
 * The executor's reading of the state database (`metadb`, parsed by probes/metadb.ts), for the SVM
 * steps of docs/architecture.md §4.
 *
 * SVM needs half of its replicas to keep running and half plus one to boot; a resync that starts
 * while SVM cannot commit its state is how a mirror ends up with two stale halves. But replicas on
 * a disk that went away (its service domain rebooted) keep their error flags after the disk is
 * back, until they are deleted and re-created (`metadb -d`, `metadb -a`): those alone must not
 * refuse the repair of that very disk, and a guest with three replicas per disk then has exactly
 * half of them active.
 */

/** The disk a replica sits on (`c0d1`), or null for a name that is not a disk's slice. */
export const replicaDisk = (replica: MetadbReplica): string | null => diskOfDevice(replicaSlice(replica));

const describe = (replicas: readonly MetadbReplica[]): string =>
  replicas.map((replica) => `${replicaSlice(replica)} (${replica.flags})`).join(', ');

/**
 * Whether the state database allows `svm.metareplace` of a component when the plan repairs
 * `repairedDisks` (the disks of its `metareplace` components, every disk of the guest the returned
 * domain serves): at least one replica, every replica in error on a disk being repaired, and at
 * least half of them active. A guest whose root and data disks both come from the returned domain
 * has replicas in error on one of them only, and its data disk's repair must not be refused for
 * them. Without repaired disks, any replica in error refuses. Returns why not, or null.
 */
export const metadbProblem = (
  reading: MetadbReading,
  options: { repairedDisks?: readonly string[] } = {},
): string | null => {
  const { replicas } = reading;
  if (replicas.length === 0) {
    return reading.messages[0] === undefined ? 'no state database replica' : reading.messages[0];
  }
  const repairedDisks = options.repairedDisks ?? [];
  const erredElsewhere = replicas.filter(
    (replica) => replicaInError(replica) && !repairedDisks.includes(replicaDisk(replica) ?? ''),
  );
  if (erredElsewhere.length > 0) {
    return repairedDisks.length === 0
      ? `replica errors: ${describe(erredElsewhere)}`
      : `replica errors off the repaired ${repairedDisks.length === 1 ? 'disk' : 'disks'} ${repairedDisks.join(', ')}: ${describe(erredElsewhere)}`;
  }
  const active = replicas.filter(replicaActive).length;
  if (active * 2 < replicas.length) return `only ${active} of ${replicas.length} replicas are active`;
  return null;
};

/** A refusal of `svm.metadb-restore`: its code and why. */
export type MetadbRestoreRefusal = { code: StepRefusalCode; detail: string };

/** What `svm.metadb-restore` found on the host: the replicas on its slice and the others. */
export type MetadbRestoreReading = { onSlice: MetadbReplica[]; otherDisks: MetadbReplica[]; total: number };

/**
 * The state database guards of `svm.metadb-restore` (§4), on a fresh reading: every replica on
 * `slice` is in error, every replica on the disks the plan did not repair is active and those are
 * at least half of all replicas (so a majority is left once the slice's are deleted), and `count`
 * is the number of replicas on the slice. Replicas on other slices of the repaired disks (in error
 * until their own restore, or already re-created) count in the total only: deleting replicas that
 * are all in error takes nothing from those that work. `repairedDisks` are the disks of the plan's
 * `metareplace` steps; the slice's own disk is always one. The other guards (the plan's
 * wait-sync, the slice on a repaired disk) are the step's.
 */
export const metadbRestoreRefusal = (
  reading: MetadbReading,
  slice: string,
  count: number,
  repairedDisks: readonly string[] = [],
): MetadbRestoreRefusal | MetadbRestoreReading => {
  const disk = diskOfDevice(slice);
  const repaired = new Set([...repairedDisks, ...(disk === null ? [] : [disk])]);
  const { replicas } = reading;
  const onSlice = replicas.filter((replica) => replicaSlice(replica) === slice);
  const otherDisks = replicas.filter((replica) => !repaired.has(replicaDisk(replica) ?? ''));
  if (onSlice.length === 0) {
    return { code: 'no-replica-on-slice', detail: `metadb lists no replica on ${slice}` };
  }
  const working = onSlice.filter((replica) => !replicaInError(replica));
  if (working.length > 0) {
    return {
      code: 'replica-not-in-error',
      detail: `${working.length} of the ${onSlice.length} replicas on ${slice} are not in error (${describe(working)}): nothing to re-create`,
    };
  }
  const inactive = otherDisks.filter((replica) => !replicaActive(replica));
  if (inactive.length > 0) {
    return {
      code: 'other-replica-not-active',
      detail: `replicas on disks this plan did not repair are not active: ${describe(inactive)}`,
    };
  }
  if (otherDisks.length * 2 < replicas.length) {
    return {
      code: 'too-few-other-replicas',
      detail: `only ${otherDisks.length} of ${replicas.length} replicas are on other disks than ${[...repaired].join(', ') || slice}: fewer than half`,
    };
  }
  if (count !== onSlice.length) {
    return {
      code: 'replica-count-mismatch',
      detail: `the plan re-creates ${count} replicas on ${slice}, metadb lists ${onSlice.length}`,
    };
  }
  return { onSlice, otherDisks, total: replicas.length };
};
