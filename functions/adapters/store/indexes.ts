import type { DomainSlice, HostSlice } from '../../core/index.ts';
import type { DecisionStatus, SliceRef, SliceValue } from './port.ts';
import { sortableTime } from './projection.ts';

/**
 * What both store adapters derive, for their indexes, from what they write: a slice's due timer
 * and whether a failure domain has an open episode (port.ts: "index attributes are derived by the
 * adapter from the value it writes, in the same item"), and which decision records are still
 * unfinished. Written once so that SQLite's columns and DynamoDB's GSI keys cannot disagree.
 */

/** The index entries a slice's value implies. */
export interface SliceIndex {
  /** When the slice's timer is due (a sortable time), or undefined while none is set. */
  readonly wakeAt: string | undefined;
  /** Whether the slice is a failure domain with an episode not yet resolved. */
  readonly openDomain: boolean;
  /**
   * The host id of a host slice, which is always listed (`listHosts`: the topology and a domain's
   * impact walk every host); undefined for other slices. SQLite lists hosts by its primary key and
   * needs no column; DynamoDB keeps a keys-only `gsi4` (../dynamodb-table.ts `hostListingKeys`).
   */
  readonly listedHost: string | undefined;
}

/** The index entries of a slice as `value` is written (the control slice has none). */
export const sliceIndexOf = (ref: SliceRef, value: SliceValue): SliceIndex => {
  if (ref.kind === 'control') return { wakeAt: undefined, openDomain: false, listedHost: undefined };
  const wakeAt = (value as DomainSlice | HostSlice).wakeAt;
  const episode = ref.kind === 'domain' ? (value as DomainSlice).episode : undefined;
  return {
    wakeAt: wakeAt === undefined ? undefined : sortableTime(wakeAt),
    openDomain: episode !== undefined && episode.incident.status !== 'resolved',
    listedHost: ref.kind === 'host' ? ref.id : undefined,
  };
};

/** Whether a decision record is still to be rolled forward or drained (sweep lists these). */
export const isUnfinished = (status: DecisionStatus): boolean =>
  status === 'pending' || status === 'committed';

/** Whether a decision record is history: from then on only its retention applies. */
export const isFinished = (status: DecisionStatus): boolean => status === 'done' || status === 'aborted';
