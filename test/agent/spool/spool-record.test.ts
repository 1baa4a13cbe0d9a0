import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../../agent/spool/crc32.ts';
import { decodeSpoolSegment, encodeSpoolRecord } from '../../../agent/spool/spool-record.ts';
import { heartbeat, outbound, symptoms } from '../../helpers/agent-events.ts';

describe('crc32', () => {
  it('matches the IEEE reference value', () => {
    expect(crc32(Buffer.from('123456789', 'ascii')).toString(16)).toBe('cbf43926');
  });
});

describe('spool records', () => {
  const events = [...symptoms(3), outbound(heartbeat(), 4)];
  const segment = Buffer.concat([
    ...events.map((event) => encodeSpoolRecord({ kind: 'event', event })),
    encodeSpoolRecord({ kind: 'ack', through: 2 }),
  ]);

  it('reads back every record, the event text byte for byte', () => {
    const decoded = decodeSpoolSegment(segment);
    expect(decoded.damaged).toEqual([]);
    expect(decoded.validLength).toBe(segment.length);
    expect(decoded.records.map((entry) => entry.record)).toEqual([
      ...events.map((event) => ({ kind: 'event', event })),
      { kind: 'ack', through: 2 },
    ]);
  });

  test.prop([fc.integer({ min: 1, max: 2000 })])('cuts a torn tail wherever the write stopped', (cut) => {
    const torn = segment.subarray(0, Math.max(0, segment.length - cut));
    const decoded = decodeSpoolSegment(torn);
    const lastEnd = decoded.records.at(-1);
    expect(decoded.validLength).toBe(lastEnd === undefined ? 0 : lastEnd.offset + lastEnd.length);
    expect(decoded.damaged).toEqual([]);
    for (const entry of decoded.records) {
      expect(segment.subarray(entry.offset, entry.offset + entry.length)).toEqual(
        torn.subarray(entry.offset, entry.offset + entry.length),
      );
    }
  });

  test.prop([fc.nat(), fc.integer({ min: 1, max: 255 })])(
    'never reads a damaged record as an event',
    (position, flip) => {
      const damaged = Buffer.from(segment);
      const index = position % damaged.length;
      damaged[index] = (damaged[index] as number) ^ flip;
      const decoded = decodeSpoolSegment(damaged);
      const original = decodeSpoolSegment(segment).records.map((entry) => JSON.stringify(entry.record));
      for (const entry of decoded.records) expect(original).toContain(JSON.stringify(entry.record));
      expect(decoded.records.length).toBeGreaterThanOrEqual(original.length - 2);
    },
  );

  it('skips a damaged record in the middle and keeps reading', () => {
    const damaged = Buffer.from(segment);
    const second = decodeSpoolSegment(segment).records[1];
    if (second === undefined) throw new Error('no second record');
    damaged[second.offset + 20] = 0x41;
    const decoded = decodeSpoolSegment(damaged);
    expect(decoded.damaged).toEqual([
      { offset: second.offset, length: second.length, reason: 'checksum mismatch' },
    ]);
    expect(decoded.records).toHaveLength(4);
    expect(decoded.validLength).toBe(segment.length);
  });
});
