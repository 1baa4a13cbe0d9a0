import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  MAX_RETRY_AFTER_MS,
  nextAttemptDelayMs,
  retryDelayMs,
} from '../../../agent/publish/retry-schedule.ts';
import { retryAfterMs } from '../../../events/index.ts';

const schedule = { initialMs: 1000, maxMs: 300_000 };

describe('retryDelayMs', () => {
  it('doubles from the initial delay, half of it jittered', () => {
    expect([1, 2, 3, 4].map((failures) => retryDelayMs(schedule, failures, 0))).toEqual([
      500, 1000, 2000, 4000,
    ]);
    expect([1, 2, 3, 4].map((failures) => retryDelayMs(schedule, failures, 0.999_999))).toEqual([
      1000, 2000, 4000, 8000,
    ]);
  });

  it('stops growing at the maximum, however long the outage', () => {
    expect(retryDelayMs(schedule, 10_000, 0.999_999)).toBe(300_000);
  });

  test.prop([fc.integer({ min: 1, max: 100_000 }), fc.double({ min: 0, max: 1, noNaN: true })])(
    'stays between half the ceiling and the ceiling',
    (failures, random) => {
      const delay = retryDelayMs(schedule, failures, random);
      const ceiling = Math.min(schedule.maxMs, schedule.initialMs * 2 ** Math.min(failures - 1, 30));
      expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
      expect(delay).toBeLessThanOrEqual(ceiling);
    },
  );
});

describe('nextAttemptDelayMs', () => {
  const schedule = { initialMs: 1000, maxMs: 300_000 };

  it('waits at least what the target asked (Retry-After), the schedule when it asks less or nothing', () => {
    expect(nextAttemptDelayMs(schedule, 1, 0, 7000)).toBe(7000);
    expect(nextAttemptDelayMs(schedule, 1, 0, 100)).toBe(retryDelayMs(schedule, 1, 0));
    expect(nextAttemptDelayMs(schedule, 1, 0)).toBe(retryDelayMs(schedule, 1, 0));
    expect(nextAttemptDelayMs(schedule, 9, 1, 7000)).toBe(retryDelayMs(schedule, 9, 1));
  });

  it('caps an absurd Retry-After, so a misconfigured proxy cannot stop delivery for good', () => {
    expect(nextAttemptDelayMs(schedule, 1, 0, 10 * MAX_RETRY_AFTER_MS)).toBe(MAX_RETRY_AFTER_MS);
    expect(nextAttemptDelayMs(schedule, 1, 0, Number.NaN)).toBe(retryDelayMs(schedule, 1, 0));
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-22T03:40:00.000Z');

  it('reads delta-seconds and HTTP dates, and nothing else', () => {
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs(' 120 ', now)).toBe(120_000);
    expect(retryAfterMs('Sun, 22 Nov 2026 03:40:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Sun, 22 Nov 2026 03:39:00 GMT', now)).toBe(0);
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('-5', now)).toBeUndefined();
  });
});
