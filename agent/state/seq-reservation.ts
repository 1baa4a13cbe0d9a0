/**
 * `seq` is per agent and strictly increasing across restarts (§3): with `bootid` it is the
 * cloud's per-resource watermark, so a reused `seq` would make the cloud ignore a real event as
 * a stale one. Writing the counter after every event would cost an fsync per event; instead the
 * agent reserves a block, persists the end of the block, and hands out numbers from memory. After
 * a crash the next start begins at the end of the last reservation: numbers are skipped, never
 * repeated. Pure: persisting is the caller's job.
 */

/** How many numbers one durable write reserves. */
export const SEQ_RESERVATION_BLOCK = 1024;

/** Microseconds since the epoch: far above any `seq` an agent reached before its state was lost. */
const CLOCK_FLOOR_PER_MILLISECOND = 1000;

/** The counter: `next` is the next number to hand out; every number below `reservedThrough` may be used. */
export type SeqCounter = { readonly next: number; readonly reservedThrough: number };

/**
 * A floor no earlier agent on this host can have reached: the wall clock in microseconds. An
 * earlier agent started at its own (lower) floor and would have had to send over a thousand events
 * per millisecond since to pass this one.
 */
export const seqFloorFromClock = (now: Date): number => now.getTime() * CLOCK_FLOOR_PER_MILLISECOND;

/**
 * The counter at start: the higher of the recorded reservation and the clock's floor. The
 * reservation alone covers a clock that went back; the floor alone covers a lost, damaged or
 * stale record (state in memory, a state file that could not be written while the last agent ran
 * on). Together `seq` only ever grows.
 */
export const startCounter = (recordedReservedThrough: number | undefined, now: Date): SeqCounter => {
  const next = Math.max(recordedReservedThrough ?? 0, seqFloorFromClock(now));
  return { next, reservedThrough: next };
};

/**
 * Takes the next number. When the reservation is used up, `reserve` says what to persist before
 * the number may be used.
 */
export const takeSeq = (
  counter: SeqCounter,
  block: number = SEQ_RESERVATION_BLOCK,
): { seq: number; counter: SeqCounter; reserve: number | undefined } => {
  const seq = counter.next;
  if (seq < counter.reservedThrough) {
    return { seq, counter: { next: seq + 1, reservedThrough: counter.reservedThrough }, reserve: undefined };
  }
  const reservedThrough = seq + block;
  return { seq, counter: { next: seq + 1, reservedThrough }, reserve: reservedThrough };
};
