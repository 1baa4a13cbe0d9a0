import type { PathState } from '../../events/index.ts';
import type { PathLoss, PathRecord } from './model.ts';
import { toMs } from './time.ts';

/**
 * When each path left the healthy states, and from which (`PathRecord.lost`), kept whatever order
 * its reports arrive in (§5.8): what lets the multipath runbook tell a leg the outage took `offline`
 * (running until then, so `scsi.online` may bring it back, §4) from one an operator or the kernel
 * had taken offline before it, which is never brought back automatically.
 *
 * A path record holds its newest report by `seq` (./host.ts). A report older than the record still
 * says something of how it was lost: a healthy one newer than the last healthy one known moves
 * `from` forward; one out of the healthy states between that and the first known loss moves the loss
 * back to it. The result is exact when a path's reports arrive in order, and whatever their order
 * when they are healthy ones and then lost ones (the path of an outage). Otherwise, once all arrived,
 * the loss is never placed later than it happened: a healthy report that arrives after an older
 * loss does not know which loss came first after it, and takes its own time for it, so a leg already
 * lost before the outage is never taken for one the outage took.
 */

/** One report of a path: its state, and the `seq` and time of the event that carried it. */
export type PathSighting = { state: PathState; seq: number; at: string };

/** Active, and ghost (a healthy standby): the states a path comes back to (§3). */
const isHealthy = (state: PathState): boolean => state === 'active' || state === 'ghost';

/** The loss a newer report's record keeps (`previous`: the record it replaces, if any). */
export const lossAfter = (previous: PathRecord | undefined, sighting: PathSighting): PathLoss | undefined => {
  if (isHealthy(sighting.state)) return undefined;
  if (previous === undefined) return { seq: sighting.seq, at: sighting.at };
  if (isHealthy(previous.state)) {
    return { seq: sighting.seq, at: sighting.at, from: previous.state, healthySeq: previous.watermark.seq };
  }
  // Out of the healthy states already: the loss began at or before the record it replaces.
  return previous.lost ?? { seq: previous.watermark.seq, at: previous.changedAt };
};

/**
 * The record with what a report older than it (by `seq`) says of how the path was lost: the same
 * record when it says nothing new, else a copy (a slice handed to the core is never changed).
 */
export const withOlderSighting = (record: PathRecord, sighting: PathSighting): PathRecord => {
  if (isHealthy(record.state) || sighting.seq >= record.watermark.seq) return record;
  const lost = record.lost ?? { seq: record.watermark.seq, at: record.changedAt };
  if (lost.healthySeq !== undefined && sighting.seq <= lost.healthySeq) return record;
  if (isHealthy(sighting.state)) {
    // The first loss after this healthy report: the one kept, if later; else one no later than the
    // record, at a time no later than it happened (this report's own), until an older loss says more.
    const first =
      lost.seq > sighting.seq
        ? { seq: lost.seq, at: lost.at }
        : { seq: record.watermark.seq, at: sighting.at };
    return { ...record, lost: { ...first, from: sighting.state, healthySeq: sighting.seq } };
  }
  if (sighting.seq >= lost.seq) return record;
  // An earlier loss: its time, unless the one kept is earlier still (a healthy report's own, above).
  const at = toMs(sighting.at) < toMs(lost.at) ? sighting.at : lost.at;
  return { ...record, lost: { ...lost, seq: sighting.seq, at } };
};
