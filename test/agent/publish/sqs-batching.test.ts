import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import type { OutboundEvent } from '../../../agent/publish/outbound-event.ts';
import {
  chunkForSendMessageBatch,
  SQS_BATCH_LIMITS,
  sqsMessageAttributes,
  sqsMessageBytes,
} from '../../../agent/publish/sqs-batching.ts';
import { symptoms } from '../../helpers/agent-events.ts';

const sized = (seq: number, bytes: number): OutboundEvent => ({
  id: `e${seq}`,
  type: 'mirror.degraded',
  subject: 'md0',
  hostid: 'h1',
  seq,
  body: 'x'.repeat(bytes),
});

const sizeOf = (event: OutboundEvent): number => sqsMessageBytes(event.body, sqsMessageAttributes(event));

describe('chunkForSendMessageBatch', () => {
  it('puts at most ten entries in a call, in order', () => {
    const events = symptoms(25);
    const batches = chunkForSendMessageBatch(events);
    expect(batches.map((batch) => batch.length)).toEqual([10, 10, 5]);
    expect(batches.flat()).toEqual(events);
  });

  it('starts a new call before 256 KiB of messages', () => {
    const events = [sized(1, 60_000), sized(2, 60_000), sized(3, 60_000), sized(4, 60_000), sized(5, 60_000)];
    const batches = chunkForSendMessageBatch(events);
    expect(batches.map((batch) => batch.map((event) => event.seq))).toEqual([[1, 2, 3, 4], [5]]);
  });

  it('counts attribute names, types and values as SQS does', () => {
    const event = sized(7, 10);
    expect(sizeOf(event)).toBe(
      10 +
        'eventType'.length +
        6 +
        'mirror.degraded'.length +
        'hostId'.length +
        6 +
        2 +
        'subject'.length +
        6 +
        3 +
        3 +
        6 +
        1,
    );
  });

  test.prop([fc.array(fc.integer({ min: 1, max: 64 * 1024 }), { maxLength: 60 })])(
    'keeps every call within the limits and every event once, in order',
    (sizes) => {
      const events = sizes.map((bytes, index) => sized(index, bytes));
      const batches = chunkForSendMessageBatch(events);
      expect(batches.flat()).toEqual(events);
      for (const batch of batches) {
        expect(batch.length).toBeGreaterThan(0);
        expect(batch.length).toBeLessThanOrEqual(SQS_BATCH_LIMITS.maxEntries);
        expect(batch.reduce((sum, event) => sum + sizeOf(event), 0)).toBeLessThanOrEqual(
          SQS_BATCH_LIMITS.maxBatchBytes,
        );
      }
    },
  );
});
