/** Times travel as RFC 3339 strings and are compared as epoch milliseconds; nothing here reads a clock. */

export const toMs = (time: string): number => Date.parse(time);

export const toTime = (ms: number): string => new Date(ms).toISOString();

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
