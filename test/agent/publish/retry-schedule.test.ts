import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../../agent/publish/retry-schedule.ts';

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
