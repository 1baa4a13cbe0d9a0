import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { planSpoolTrim, type SpoolEntrySummary } from '../../../agent/spool/spool-trim.ts';

const entry = (seq: number, type: SpoolEntrySummary['type'], bytes = 100): SpoolEntrySummary => ({
  seq,
  type,
  bytes,
});

describe('planSpoolTrim', () => {
  it('drops nothing within the bound', () => {
    expect(planSpoolTrim([entry(1, 'host.heartbeat'), entry(2, 'mirror.degraded')], 200)).toEqual({
      drop: [],
      overBound: false,
    });
  });

  it('drops the oldest heartbeats first, down to the low-water mark, and keeps the newest heartbeat', () => {
    const pending = [
      entry(1, 'host.heartbeat'),
      entry(2, 'mirror.degraded'),
      entry(3, 'host.heartbeat'),
      entry(4, 'host.heartbeat'),
      entry(5, 'path.lost'),
      entry(6, 'host.heartbeat'),
    ];
    expect(planSpoolTrim(pending, 500)).toEqual({ drop: [1, 3, 4], overBound: false });
  });

  it('never drops a symptom, even when symptoms alone exceed the bound', () => {
    const pending = [
      entry(1, 'mirror.degraded', 400),
      entry(2, 'host.heartbeat'),
      entry(3, 'path.lost', 400),
    ];
    expect(planSpoolTrim(pending, 500)).toEqual({ drop: [], overBound: true });
  });

  const types: SpoolEntrySummary['type'][] = [
    'host.heartbeat',
    'mirror.degraded',
    'path.lost',
    'disk.probed',
  ];
  test.prop([
    fc.array(fc.record({ type: fc.constantFrom(...types), bytes: fc.integer({ min: 1, max: 5000 }) }), {
      maxLength: 200,
    }),
    fc.integer({ min: 1000, max: 100_000 }),
  ])('keeps every symptom and the newest heartbeat, dropping heartbeats oldest first', (items, maxBytes) => {
    const pending = items.map((item, index) => entry(index + 1, item.type, item.bytes));
    const plan = planSpoolTrim(pending, maxBytes);
    const dropped = new Set(plan.drop);
    const heartbeats = pending.filter((item) => item.type === 'host.heartbeat');
    for (const item of pending) if (item.type !== 'host.heartbeat') expect(dropped.has(item.seq)).toBe(false);
    const newest = heartbeats.at(-1);
    if (newest !== undefined) expect(dropped.has(newest.seq)).toBe(false);
    expect(plan.drop).toEqual(heartbeats.slice(0, plan.drop.length).map((item) => item.seq));
    const kept = pending.filter((item) => !dropped.has(item.seq)).reduce((sum, item) => sum + item.bytes, 0);
    if (!plan.overBound) expect(kept).toBeLessThanOrEqual(maxBytes);
  });
});
