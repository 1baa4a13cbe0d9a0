import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventDelivery } from '../../../agent/publish/delivery.ts';
import type { EventPublisher, PublishReport } from '../../../agent/publish/event-publisher.ts';
import type { OutboundEvent } from '../../../agent/publish/outbound-event.ts';
import { MemorySpool } from '../../../agent/spool/memory-spool.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { symptoms } from '../../helpers/agent-events.ts';
import { waitUntil } from '../../helpers/agent-wait.ts';

/** A publisher that answers each call with the next scripted report (then delivers everything). */
const scriptedPublisher = (
  script: ((events: readonly OutboundEvent[]) => PublishReport)[],
  maxEvents = 100,
) => {
  const calls: number[][] = [];
  const publisher: EventPublisher = {
    target: 'scripted',
    limits: { maxEvents, maxBytes: 1 << 30 },
    publish: async (events) => {
      calls.push(events.map((event) => event.seq));
      const next = script.shift();
      return next?.(events) ?? { delivered: events.map((event) => event.id), rejected: [], failed: [] };
    },
    close: () => undefined,
  };
  return { publisher, calls };
};

const setup = (script: Parameters<typeof scriptedPublisher>[0], maxEvents?: number) => {
  const log = memoryLog();
  const spool = new MemorySpool(1 << 30, log);
  const { publisher, calls } = scriptedPublisher(script, maxEvents);
  const plans: number[] = [];
  const delivery = new EventDelivery({
    spool,
    publisher,
    schedule: { initialMs: 1, maxMs: 5 },
    log,
    onPlansPending: () => plans.push(1),
  });
  return { spool, delivery, calls, log, plans };
};

afterEach(() => {
  vi.useRealTimers();
});

describe('EventDelivery', () => {
  it('acknowledges the delivered prefix and does not send a later delivered event twice', async () => {
    const { spool, delivery, calls } = setup([
      (events) => ({
        delivered: events.filter((event) => event.seq !== 3).map((event) => event.id),
        rejected: [],
        failed: [{ id: events[2]?.id ?? '', reason: 'throttled' }],
      }),
    ]);
    spool.append(symptoms(5));
    expect(await delivery.deliverPending()).toEqual({ outcome: 'failed', reason: 'throttled' });
    expect(spool.stats().pendingEvents).toBe(3);
    expect(await delivery.deliverPending()).toEqual({ outcome: 'drained' });
    expect(calls).toEqual([[1, 2, 3, 4, 5], [3]]);
    expect(spool.stats().pendingEvents).toBe(0);
  });

  it('drops rejected events with a log line naming their issues', async () => {
    const { spool, delivery, log } = setup([
      (events) => ({
        delivered: [events[1]?.id ?? ''],
        rejected: [
          {
            id: events[0]?.id ?? '',
            reason: 'rejected by the API',
            issues: [{ path: ['seq'], message: 'bad' }],
          },
        ],
        failed: [],
      }),
    ]);
    spool.append(symptoms(2));
    expect(await delivery.deliverPending()).toEqual({ outcome: 'drained' });
    expect(spool.stats().pendingEvents).toBe(0);
    expect(log.lines).toContainEqual({
      level: 'error',
      message: 'event rejected by the target and dropped',
      fields: expect.objectContaining({
        type: 'mirror.recovering',
        issues: [{ path: ['seq'], message: 'bad' }],
      }),
    });
    expect(delivery.status()).toMatchObject({ deliveredEvents: 1, rejectedEvents: 1 });
  });

  it('takes the spool in publisher-sized slices', async () => {
    const { spool, delivery, calls } = setup([], 4);
    spool.append(symptoms(10));
    await delivery.deliverPending();
    expect(calls.map((call) => call.length)).toEqual([4, 4, 2]);
  });

  it('retries in the background after a failure and tells the plan runner when plans wait', async () => {
    const failing = (events: readonly OutboundEvent[]): PublishReport => ({
      delivered: [],
      rejected: [],
      failed: events.map((event) => ({ id: event.id, reason: 'ECONNREFUSED' })),
    });
    const { spool, delivery, calls, log, plans } = setup([
      failing,
      failing,
      failing,
      (events) => ({
        delivered: events.map((event) => event.id),
        rejected: [],
        failed: [],
        plansPending: true,
      }),
    ]);
    delivery.start();
    spool.append(symptoms(3));
    delivery.wake();
    await waitUntil(() => spool.stats().pendingEvents === 0, 'delivery');
    await delivery.stop();
    expect(calls).toHaveLength(4);
    expect(plans).toEqual([1]);
    expect(log.lines.map((line) => line.message)).toEqual([
      'cannot deliver events; spooling',
      'still cannot deliver events',
      'target reachable again; spool delivered',
    ]);
  });

  it('keeps the events of a 429 spooled and tries again no sooner than its Retry-After', async () => {
    vi.useFakeTimers();
    const rateLimited = (events: readonly OutboundEvent[]): PublishReport => ({
      delivered: [],
      rejected: [],
      failed: events.map((event) => ({ id: event.id, reason: '429 rate-limited' })),
      retryAfterMs: 30_000,
    });
    const { spool, delivery, calls } = setup([rateLimited]);
    spool.append(symptoms(3));
    expect(await delivery.deliverPending()).toEqual({
      outcome: 'failed',
      reason: '429 rate-limited',
      retryAfterMs: 30_000,
    });
    expect(spool.stats().pendingEvents).toBe(3);

    // In the background: the schedule of `setup` (1 to 5 ms) is far shorter than the 30 s asked.
    const next = setup([rateLimited]);
    next.spool.append(symptoms(3));
    next.delivery.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(next.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(next.calls).toHaveLength(1);
    expect(next.spool.stats().pendingEvents).toBe(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(next.calls).toHaveLength(2);
    expect(next.spool.stats().pendingEvents).toBe(0);
    await next.delivery.stop();
    expect(calls).toHaveLength(1);
  });

  it('stops promptly while idle, leaving nothing behind', async () => {
    const { delivery } = setup([]);
    delivery.start();
    await delivery.stop();
    expect(delivery.status().consecutiveFailures).toBe(0);
  });
});
