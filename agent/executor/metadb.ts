import { ERROR_FLAGS, type MetadbReading } from '../../probes/metadb.ts';

/**
 * The executor's reading of the state database (`metadb -i`, parsed by probes/metadb.ts):
 * `svm.metareplace` runs only while the replicas are healthy (docs/architecture.md §4): a resync
 * that starts while SVM cannot commit its state is how a mirror ends up with two stale halves.
 */

/**
 * Whether the state database is healthy: at least one replica, none with an error flag, and a
 * majority of them active (SVM needs half the replicas to run and half plus one to boot).
 * Returns why not, or null when healthy.
 */
export const metadbProblem = (reading: MetadbReading): string | null => {
  const { replicas } = reading;
  if (replicas.length === 0) {
    return reading.messages[0] === undefined ? 'no state database replica' : reading.messages[0];
  }
  const erred = replicas.filter((replica) => ERROR_FLAGS.test(replica.flags));
  if (erred.length > 0) {
    return `replica errors: ${erred.map((replica) => `${replica.device} (${replica.flags})`).join(', ')}`;
  }
  const active = replicas.filter((replica) => replica.flags.includes('a')).length;
  if (active * 2 <= replicas.length) return `only ${active} of ${replicas.length} replicas are active`;
  return null;
};
