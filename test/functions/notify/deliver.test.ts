import { describe, expect, it } from 'vitest';
import { RetryPolicy } from '../../../functions/notify/config.ts';
import { backoffMs, parseRetryAfter } from '../../../functions/notify/deliver.ts';

const NOW = Date.parse('2025-03-01T12:00:00.000Z');

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
  });

  it('reads an HTTP date, and a date in the past as no wait', () => {
    expect(parseRetryAfter('Sat, 01 Mar 2025 12:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Sat, 01 Mar 2025 11:00:00 GMT', NOW)).toBe(0);
  });

  it('ignores an absent or unreadable header', () => {
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-5', NOW)).toBeUndefined();
  });
});

describe('backoffMs', () => {
  const policy = RetryPolicy.parse({ baseDelayMs: 1_000, maxDelayMs: 5_000 });

  it('doubles up to the cap, half of it fixed and half jittered', () => {
    expect([1, 2, 3, 4, 5].map((attempt) => backoffMs(attempt, policy, () => 0))).toEqual([
      500, 1_000, 2_000, 2_500, 2_500,
    ]);
    expect([1, 2, 3, 4, 5].map((attempt) => backoffMs(attempt, policy, () => 0.999_999))).toEqual([
      1_000, 2_000, 4_000, 5_000, 5_000,
    ]);
  });
});
