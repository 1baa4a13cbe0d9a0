import type {
  DecisionRecord,
  OutboxStore,
  SliceRef,
  SliceStore,
  SliceWrite,
} from '../adapters/store/port.ts';
import { sliceKey } from '../adapters/store/port.ts';
import { DecisionContendedError } from './errors.ts';
import { lockToken, parseLockToken } from './ids.ts';

/**
 * The commit protocol: how a decision that changes several slices becomes atomic with
 * single-item conditional writes only (docs/architecture.md §2; no transactions, as dynalite has none).
 *
 * 1. **Record.** The decision record (its slice writes with the versions they expect, and its
 *    effects: the outbox) is written first, conditional on its id being new.
 * 2. **Lock.** Each slice is locked in key order, conditional on its version still being the one
 *    the decision read. A version that moved on aborts the decision (`pending → aborted`, locks
 *    released): nothing happened, and the input is decided again on fresh slices.
 * 3. **Commit point.** `pending → committed` on the record. From here on the decision has
 *    happened, whoever finishes it.
 * 4. **Roll forward.** Each slice is written and unlocked, conditional on the lock being this
 *    decision's. Then the effects are performed from the record (effects.ts).
 *
 * A reader that meets a locked slice settles the decision that holds it ({@link settleLock})
 * before reading: it finishes the locking (commit or abort, whichever the versions say) or rolls
 * a committed decision forward. Every step is idempotent and conditional, so the owner, a reader
 * and sweep may all push the same decision at once and agree. Locks are taken in key order, so
 * two decisions helping each other never wait in a circle.
 *
 * A crash anywhere leaves either a `pending` record (settled as above by the next reader or by
 * sweep: committed if its locks can all be had, else aborted and decided again when its input is
 * redelivered) or a `committed` one (rolled forward by the next reader, the redelivery or sweep).
 */

/** Waits a little (a lost race): jittered, growing with the attempt. Injectable for tests. */
export type Backoff = (attempt: number) => Promise<void>;

export const jitteredBackoff: Backoff = (attempt) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** Math.min(attempt, 6))));

export type CommitStore = Pick<
  SliceStore & OutboxStore,
  'getSlices' | 'lockSlice' | 'applyLocked' | 'unlockSlice' | 'getDecision' | 'setDecisionStatus' | 'putSlice'
>;

/** How deep one decision may help others that hold its slices before it gives up for now. */
const MAX_HELP_DEPTH = 4;
/** How many times one lock is tried while other decisions are settled out of its way. */
const MAX_LOCK_TRIES = 12;
/** How many of those tries wait for the holder before helping it. */
const WAIT_BEFORE_HELPING = 4;

export const tokenOf = (record: Pick<DecisionRecord, 'id' | 'attempt'>): string =>
  lockToken(record.id, record.attempt);

const inKeyOrder = (writes: readonly SliceWrite[]): SliceWrite[] =>
  [...writes].sort((a, b) => (sliceKey(a.ref) < sliceKey(b.ref) ? -1 : 1));

/**
 * Writes every slice a committed decision still holds locked. Idempotent. `knownLocked`: the
 * caller just locked them all itself (the owner right after its commit), so they are not read first.
 */
export const rollForward = async (
  store: CommitStore,
  record: DecisionRecord,
  knownLocked = false,
): Promise<void> => {
  const token = tokenOf(record);
  const writes = inKeyOrder(record.writes);
  const stored = knownLocked ? [] : await store.getSlices(writes.map((write) => write.ref));
  for (const [index, write] of writes.entries()) {
    if (!knownLocked && stored[index]?.lock !== token) continue;
    await store.applyLocked(write, token);
  }
};

const abort = async (store: CommitStore, record: DecisionRecord): Promise<'aborted' | 'committed'> => {
  const moved = await store.setDecisionStatus(record.id, record.attempt, 'pending', 'aborted');
  if (moved === 'conflict') {
    const current = await store.getDecision(record.id);
    if (
      current?.attempt === record.attempt &&
      (current.status === 'committed' || current.status === 'done')
    ) {
      await rollForward(store, current);
      return 'committed';
    }
  }
  const token = tokenOf(record);
  for (const write of record.writes) await store.unlockSlice(write.ref, token);
  return 'aborted';
};

/**
 * Phases two to four for a `pending` record, by its owner or by anyone helping it: lock every
 * slice, commit, roll forward. Answers whether the decision happened.
 */
export const lockAndCommit = async (
  store: CommitStore,
  record: DecisionRecord,
  depth = 0,
  backoff: Backoff = jitteredBackoff,
): Promise<'committed' | 'aborted'> => {
  const token = tokenOf(record);
  for (const write of inKeyOrder(record.writes)) {
    let locked = false;
    for (let tries = 0; tries < MAX_LOCK_TRIES && !locked; tries += 1) {
      if ((await store.lockSlice(write.ref, write.expected, token)) === 'ok') {
        locked = true;
        break;
      }
      const [slice] = await store.getSlices([write.ref]);
      if (slice === undefined) continue;
      if (slice.lock === token) {
        locked = true;
        break;
      }
      if (slice.lock !== undefined) {
        if (depth >= MAX_HELP_DEPTH) throw new DecisionContendedError(record.id, tries + 1);
        if (tries < WAIT_BEFORE_HELPING) {
          // Most locks belong to a live owner about to finish: give it a moment before helping.
          await backoff(tries);
          continue;
        }
        await settleLock(store, write.ref, slice.lock, depth + 1, backoff);
        continue;
      }
      if (slice.version !== write.expected) {
        // Someone else's decision changed this slice first: ours was made on a stale read.
        return abort(store, record);
      }
    }
    if (!locked) throw new DecisionContendedError(record.id, MAX_LOCK_TRIES);
  }
  const committed = await store.setDecisionStatus(record.id, record.attempt, 'pending', 'committed');
  if (committed === 'conflict') {
    const current = await store.getDecision(record.id);
    const happened =
      current?.attempt === record.attempt && (current.status === 'committed' || current.status === 'done');
    if (!happened) {
      for (const write of record.writes) await store.unlockSlice(write.ref, token);
      return 'aborted';
    }
  }
  await rollForward(store, record, committed === 'ok');
  return 'committed';
};

/**
 * Settles the decision that holds `ref` locked with `token`: releases a stale lock (an aborted or
 * replaced attempt), finishes a pending decision, or rolls a committed one forward.
 */
export const settleLock = async (
  store: CommitStore,
  ref: SliceRef,
  token: string,
  depth = 0,
  backoff: Backoff = jitteredBackoff,
): Promise<void> => {
  const { decisionId, attempt } = parseLockToken(token);
  const record = await store.getDecision(decisionId);
  if (record === undefined || record.attempt !== attempt || record.status === 'aborted') {
    await store.unlockSlice(ref, token);
    return;
  }
  if (record.status === 'pending') {
    await lockAndCommit(store, record, depth, backoff);
    return;
  }
  await rollForward(store, record);
};

/**
 * Settles a record found `pending` (a crashed or slow owner): answers the record as it now
 * stands, `committed` or `aborted`.
 */
export const settleRecord = async (store: CommitStore, record: DecisionRecord): Promise<DecisionRecord> => {
  if (record.status === 'pending') await lockAndCommit(store, record);
  else if (record.status === 'committed') await rollForward(store, record);
  return (await store.getDecision(record.id)) ?? record;
};
