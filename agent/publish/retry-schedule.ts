/**
 * When to try a target again after a failed delivery, pure: exponential backoff from `initialMs`,
 * capped at `maxMs`, with "equal jitter" (half fixed, half random) so that the hundreds of hosts a
 * VIOS reboot cuts off at once do not all return to the queue in the same second.
 */

export type RetrySchedule = { readonly initialMs: number; readonly maxMs: number };

/** Hard ceiling on the exponent, so a long outage cannot overflow the arithmetic. */
const MAX_DOUBLINGS = 30;

/**
 * The delay before attempt `failures + 1`, given how many attempts in a row have failed
 * (`failures` ≥ 1) and a random number in [0, 1).
 */
export const retryDelayMs = (schedule: RetrySchedule, failures: number, random: number): number => {
  const doublings = Math.min(Math.max(failures - 1, 0), MAX_DOUBLINGS);
  const ceiling = Math.min(schedule.maxMs, schedule.initialMs * 2 ** doublings);
  const jitter = Math.min(Math.max(random, 0), 1);
  return Math.round(ceiling / 2 + (ceiling / 2) * jitter);
};

/** The longest `Retry-After` honoured: a larger one (a misconfigured proxy) waits this long, then tries. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * The delay before the next attempt: the schedule's, or longer when the target said to wait
 * (`Retry-After`, capped at {@link MAX_RETRY_AFTER_MS}): a rate-limited agent never comes back
 * sooner than it was asked to.
 */
export const nextAttemptDelayMs = (
  schedule: RetrySchedule,
  failures: number,
  random: number,
  retryAfterMs?: number,
): number => {
  const scheduled = retryDelayMs(schedule, failures, random);
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs) || retryAfterMs <= 0) return scheduled;
  return Math.max(scheduled, Math.min(Math.ceil(retryAfterMs), MAX_RETRY_AFTER_MS));
};
