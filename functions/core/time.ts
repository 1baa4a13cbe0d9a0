/**
 * Times travel as RFC 3339 strings and are compared as epoch milliseconds; nothing here reads a clock.
 *
 * Both conversions are remembered for the last {@link REMEMBERED} times each: one event of a storm
 * converts its own time and its slices' a dozen times or more, and `Date.parse` (about 150 ns) and
 * `toISOString` (about 400 ns) were a tenth of the core's time (`npm run bench`, core). Only the
 * time it takes changes: the answers are those of the conversions themselves.
 */

/** Conversions remembered in each direction; past it, the memory starts again empty. */
const REMEMBERED = 4096;
const parsed = new Map<string, number>();
const written = new Map<number, string>();

export const toMs = (time: string): number => {
  let ms = parsed.get(time);
  if (ms === undefined) {
    ms = Date.parse(time);
    if (parsed.size >= REMEMBERED) parsed.clear();
    parsed.set(time, ms);
  }
  return ms;
};

export const toTime = (ms: number): string => {
  let time = written.get(ms);
  if (time === undefined) {
    time = new Date(ms).toISOString();
    if (written.size >= REMEMBERED) written.clear();
    written.set(ms, time);
  }
  return time;
};

/** `text` when it is exactly what `toTime(ms)` writes (so it may stand for it and be shared), else undefined. */
export const sameTime = (ms: number, text: string | undefined): string | undefined =>
  text !== undefined && toTime(ms) === text ? text : undefined;

export const addSeconds = (time: string, seconds: number): string => toTime(toMs(time) + seconds * 1000);

export const isAtOrBefore = (a: string, b: string): boolean => toMs(a) <= toMs(b);

export const earliest = (a: string | undefined, b: string | undefined): string | undefined => {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return toMs(a) <= toMs(b) ? a : b;
};

export const latest = (a: string, b: string): string => (toMs(a) >= toMs(b) ? a : b);
