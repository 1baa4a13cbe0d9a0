import type { OutboundEvent } from './outbound-event.ts';

/**
 * How events are packed into `SendMessageBatch` calls, pure: at most 10 entries and 256 KiB of
 * message (body plus attributes, as SQS counts it) per call, in order, never reordering events to
 * fill a call better.
 */
export const SQS_BATCH_LIMITS = {
  maxEntries: 10,
  /** SendMessageBatch: the sum of all messages' sizes. */
  maxBatchBytes: 256 * 1024,
} as const;

/** The message attributes the agent sets, so a queue consumer can route or filter without parsing. */
export type SqsMessageAttributes = Record<string, { DataType: 'String' | 'Number'; StringValue: string }>;

export const sqsMessageAttributes = (event: OutboundEvent): SqsMessageAttributes => ({
  eventType: { DataType: 'String', StringValue: event.type },
  hostId: { DataType: 'String', StringValue: event.hostid },
  subject: { DataType: 'String', StringValue: event.subject },
  seq: { DataType: 'Number', StringValue: String(event.seq) },
});

/** The size SQS counts for a message: the body and each attribute's name, type and value. */
export const sqsMessageBytes = (body: string, attributes: SqsMessageAttributes): number =>
  Buffer.byteLength(body, 'utf8') +
  Object.entries(attributes).reduce(
    (sum, [name, value]) =>
      sum +
      Buffer.byteLength(name, 'utf8') +
      Buffer.byteLength(value.DataType, 'utf8') +
      Buffer.byteLength(value.StringValue, 'utf8'),
    0,
  );

/** Splits events, in order, into batches within the limits. */
export const chunkForSendMessageBatch = <Event extends OutboundEvent>(
  events: readonly Event[],
  limits: { maxEntries: number; maxBatchBytes: number } = SQS_BATCH_LIMITS,
): Event[][] => {
  const batches: Event[][] = [];
  let current: Event[] = [];
  let bytes = 0;
  for (const event of events) {
    const size = sqsMessageBytes(event.body, sqsMessageAttributes(event));
    if (current.length > 0 && (current.length >= limits.maxEntries || bytes + size > limits.maxBatchBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
};
