import { describe, expect, it } from 'vitest';
import { retryAfterMs } from '../../../events/index.ts';
import { RetryPolicy } from '../../../functions/notify/config.ts';
import { backoffMs, deliverWithRetry } from '../../../functions/notify/deliver.ts';
import type { DeliveryRequest } from '../../../functions/notify/requests.ts';

const NOW = Date.parse('2025-03-01T12:00:00.000Z');

describe('retryAfterMs', () => {
  it('reads delta-seconds', () => {
    expect(retryAfterMs('120', NOW)).toBe(120_000);
    expect(retryAfterMs(' 0 ', NOW)).toBe(0);
  });

  it('reads an HTTP date, and a date in the past as no wait', () => {
    expect(retryAfterMs('Sat, 01 Mar 2025 12:00:30 GMT', NOW)).toBe(30_000);
    expect(retryAfterMs('Sat, 01 Mar 2025 11:00:00 GMT', NOW)).toBe(0);
  });

  it('ignores an absent or unreadable header', () => {
    expect(retryAfterMs(null, NOW)).toBeUndefined();
    expect(retryAfterMs('soon', NOW)).toBeUndefined();
    expect(retryAfterMs('-5', NOW)).toBeUndefined();
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

describe('deliverWithRetry within its lease', () => {
  const URL = 'https://events.pagerduty.com/v2/enqueue';
  const request: DeliveryRequest = { url: URL, headers: {}, body: '{}' };
  const policy = RetryPolicy.parse({ maxAttempts: 4, baseDelayMs: 1_000, maxDelayMs: 8_000 });

  /** A destination that answers 503 to every try; the clock moves only when the retries wait. */
  const unavailable = () => {
    let now = NOW;
    const tries: number[] = [];
    return {
      tries,
      deps: {
        now: () => now,
        sleep: async (ms: number) => {
          now += ms;
        },
        random: () => 0.5,
        fetch: async () => {
          tries.push(now);
          return new Response('unavailable', { status: 503 });
        },
      } as const,
    };
  };

  it('starts no try when its lease has already ended, and says the queue delivers it again', async () => {
    const { tries, deps } = unavailable();
    const result = await deliverWithRetry(() => request, new Set([URL]), policy, deps, { deadline: NOW });
    expect(tries).toEqual([]);
    expect(result).toMatchObject({ kind: 'failed', retryable: true, attempts: 0 });
  });

  it('stops before a wait that would end past its lease, retryably, having tried only inside it', async () => {
    const { tries, deps } = unavailable();
    // Waits of 750 ms then 1,500 ms: the second would end at 2,250 ms, past a lease of 2 s.
    const result = await deliverWithRetry(() => request, new Set([URL]), policy, deps, {
      deadline: NOW + 2_000,
    });
    expect(tries.map((at) => at - NOW)).toEqual([0, 750]);
    expect(result).toMatchObject({ kind: 'failed', retryable: true, attempts: 2 });
    expect(result.kind === 'failed' ? result.detail : '').toMatch(/lease ends before the next try/);
  });

  it('hands over at its next wait when asked to, and not before its first try', async () => {
    const { tries, deps } = unavailable();
    const result = await deliverWithRetry(() => request, new Set([URL]), policy, deps, {
      deadline: NOW + 60_000,
      handOver: async () => 'a newer action of its incident waits to go first: handed back',
    });
    expect(tries).toHaveLength(1);
    expect(result).toMatchObject({ kind: 'failed', retryable: true, attempts: 1 });
    expect(result.kind === 'failed' ? result.detail : '').toMatch(/newer action/);
  });
});
