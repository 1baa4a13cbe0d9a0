import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { seqFloorFromClock, startCounter, takeSeq } from '../../../agent/state/seq-reservation.ts';

describe('takeSeq', () => {
  it('reserves a block before handing out the first number past the reservation', () => {
    const first = takeSeq({ next: 100, reservedThrough: 100 }, 10);
    expect(first).toEqual({ seq: 100, counter: { next: 101, reservedThrough: 110 }, reserve: 110 });
    const second = takeSeq(first.counter, 10);
    expect(second).toEqual({ seq: 101, counter: { next: 102, reservedThrough: 110 }, reserve: undefined });
  });

  test.prop([
    fc.nat({ max: 1_000_000 }),
    fc.integer({ min: 1, max: 64 }),
    fc.array(fc.nat({ max: 200 }), { maxLength: 8 }),
  ])(
    'never repeats a number across crashes at any point, each restart starting at the last reservation',
    (start, block, runLengths) => {
      let persisted: number | undefined = start;
      const handedOut: number[] = [];
      for (const length of runLengths) {
        let counter = startCounter(persisted, new Date(0));
        for (let index = 0; index < length; index += 1) {
          const taken = takeSeq(counter, block);
          if (taken.reserve !== undefined) persisted = taken.reserve;
          handedOut.push(taken.seq);
          counter = taken.counter;
        }
        // crash here: whatever was in memory is gone
      }
      for (let index = 1; index < handedOut.length; index += 1) {
        expect(handedOut[index]).toBeGreaterThan(handedOut[index - 1] as number);
      }
    },
  );
});

describe('startCounter', () => {
  const now = new Date('2026-11-22T03:12:09.412Z');

  it('starts from the clock in microseconds when there is no record', () => {
    expect(startCounter(undefined, now).next).toBe(seqFloorFromClock(now));
    expect(Number.isSafeInteger(seqFloorFromClock(new Date('2200-01-01T00:00:00Z')))).toBe(true);
  });

  it('starts from the recorded reservation when the clock went back below it', () => {
    const recorded = seqFloorFromClock(now) + 5000;
    expect(startCounter(recorded, new Date(now.getTime() - 60_000))).toEqual({
      next: recorded,
      reservedThrough: recorded,
    });
  });

  it('starts from the clock when the record is older than it, so a stale record never repeats a number', () => {
    expect(startCounter(2048, now).next).toBe(seqFloorFromClock(now));
  });
});
