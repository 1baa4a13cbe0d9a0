import type { EventType } from '../../events/index.ts';

/**
 * The spool's size bound, pure. A host cut off from its target for days keeps spooling: every
 * symptom must survive (it is the fault the cloud has to hear about), while a heartbeat is only
 * worth its latest copy. Past the bound, the oldest heartbeats go first, down to a low-water mark
 * so the spool is not rewritten at every append; the newest heartbeat always stays, and symptoms
 * are never dropped even if they alone exceed the bound.
 */

/** After a trim the spool holds at most this share of its bound, so trims stay rare. */
export const SPOOL_TRIM_LOW_WATER = 0.75;

export type SpoolEntrySummary = { readonly seq: number; readonly type: EventType; readonly bytes: number };

export type SpoolTrimPlan = {
  /** The `seq` of each heartbeat to drop, oldest first. */
  drop: number[];
  /** True when what remains still exceeds the bound: symptoms alone fill it. */
  overBound: boolean;
};

/** Decides which heartbeats to drop so the pending entries fit the bound. */
export const planSpoolTrim = (
  pending: readonly SpoolEntrySummary[],
  maxBytes: number,
  lowWater: number = SPOOL_TRIM_LOW_WATER,
): SpoolTrimPlan => {
  let total = pending.reduce((sum, entry) => sum + entry.bytes, 0);
  if (total <= maxBytes) return { drop: [], overBound: false };
  const target = Math.floor(maxBytes * lowWater);
  const heartbeats = pending.filter((entry) => entry.type === 'host.heartbeat');
  const droppable = heartbeats.slice(0, -1);
  const drop: number[] = [];
  for (const heartbeat of droppable) {
    if (total <= target) break;
    drop.push(heartbeat.seq);
    total -= heartbeat.bytes;
  }
  return { drop, overBound: total > maxBytes };
};
