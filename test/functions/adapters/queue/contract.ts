import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchRejectedError,
  InvalidQueueRequestError,
  MessageNotInFlightError,
  MessageRejectedError,
  NoDeadLetterQueueError,
} from '../../../../functions/adapters/errors.ts';
import {
  DEAD_LETTER_ATTRIBUTES,
  deadLetterReason,
  type MessageAttributes,
  QUEUE_LIMITS,
  type ReceivedMessage,
  stringAttribute,
  type WorkQueue,
} from '../../../../functions/adapters/queue/port.ts';

/**
 * The work queue contract (functions/adapters/queue/port.ts): what every adapter must do, run
 * against each of them — SQS (on fauxqs) and SQLite. Time passes through the harness: the SQLite
 * adapter's clock is moved by hand, the emulator is waited for. Nothing here asserts how long
 * anything took.
 */

export interface QueueUnderTest {
  readonly queue: WorkQueue;
  /** Its dead-letter queue, when created with `maxReceiveCount`. */
  readonly deadLetters: WorkQueue | undefined;
}

export interface QueueHarness {
  /** A fresh queue with a unique name; with `maxReceiveCount`, a redrive policy to a fresh DLQ. */
  create(options: { visibilityTimeoutSeconds: number; maxReceiveCount?: number }): Promise<QueueUnderTest>;
  /** Lets `seconds` pass for the queues (moves a manual clock, or waits a little longer than that). */
  elapse(seconds: number): Promise<void>;
  /** The same queue through a brand-new adapter: a new SQS client, or the SQLite file closed and opened again. */
  reopen(queue: WorkQueue): Promise<WorkQueue>;
}

export interface QueueContractSetup {
  setup(): Promise<QueueHarness>;
  teardown(): Promise<void>;
}

/** Receives until `count` messages came or the queue has nothing more (SQS may answer with fewer than asked). */
export const receiveAll = async (
  queue: WorkQueue,
  count: number,
  visibilityTimeoutSeconds = 30,
): Promise<ReceivedMessage[]> => {
  const received: ReceivedMessage[] = [];
  for (let round = 0; round < count + 5 && received.length < count; round += 1) {
    const batch = await queue.receive({
      maxMessages: Math.min(QUEUE_LIMITS.maxReceiveMessages, count - received.length),
      visibilityTimeoutSeconds,
      waitTimeSeconds: 1,
    });
    if (batch.length === 0) break;
    received.push(...batch);
  }
  return received;
};

const one = async (queue: WorkQueue, visibilityTimeoutSeconds?: number): Promise<ReceivedMessage> => {
  const [message, ...rest] = await queue.receive({
    waitTimeSeconds: 1,
    ...(visibilityTimeoutSeconds === undefined ? {} : { visibilityTimeoutSeconds }),
  });
  expect(rest).toEqual([]);
  if (message === undefined) expect.fail('expected a message');
  return message;
};

const nothingNow = async (queue: WorkQueue): Promise<void> => {
  expect(await queue.receive({ maxMessages: 10 })).toEqual([]);
};

/** A long poll guard: a poll of 20 s that did not answer early would trip this, never a healthy one. */
const EARLY_ANSWER_TEST_TIMEOUT_MS = 12_000;

export const describeQueueContract = (adapter: string, setup: QueueContractSetup): void => {
  describe(`WorkQueue contract: ${adapter}`, () => {
    let harness: QueueHarness;
    beforeAll(async () => {
      harness = await setup.setup();
    });
    afterAll(() => setup.teardown());

    describe('send, receive, delete', () => {
      it('delivers a sent message with its id, body, receive count, sent time and sender', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        const sent = await queue.send({ body: '{"type":"mirror.degraded"}' });
        const message = await one(queue);
        expect(message.messageId).toBe(sent.messageId);
        expect(message.body).toBe('{"type":"mirror.degraded"}');
        expect(message.receiveCount).toBe(1);
        expect(Number.isFinite(message.sentAt.getTime())).toBe(true);
        expect(message.senderId).toEqual(expect.any(String));
        expect(message.receiptHandle.length).toBeGreaterThan(0);
      });

      it('hides a received message, and a deleted message is gone', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        await queue.send({ body: 'first' });
        const message = await one(queue);
        await nothingNow(queue);
        expect(await queue.counts()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
        await queue.delete(message.receiptHandle);
        expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      });

      it('answers with at most maxMessages, and every message exactly once across receives', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        for (const n of [1, 2, 3, 4, 5]) await queue.send({ body: `m${n}` });
        const first = await queue.receive({ maxMessages: 3, waitTimeSeconds: 1 });
        expect(first.length).toBeGreaterThanOrEqual(1);
        expect(first.length).toBeLessThanOrEqual(3);
        const rest = await receiveAll(queue, 5 - first.length);
        expect([...first, ...rest].map((m) => m.body).sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
        await nothingNow(queue);
      });

      it('deletes a batch of received messages', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        await queue.send({ body: 'a' });
        await queue.send({ body: 'b' });
        const received = await receiveAll(queue, 2);
        const result = await queue.deleteBatch(
          received.map((m, i) => ({ id: `d${i}`, receiptHandle: m.receiptHandle })),
        );
        expect(result.failed).toEqual([]);
        expect(result.successful.map((s) => s.id).sort()).toEqual(['d0', 'd1']);
        expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      });

      it('refuses a message SQS would refuse', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        await expect(queue.send({ body: 'nul \u0000 inside' })).rejects.toBeInstanceOf(MessageRejectedError);
        await expect(
          queue.send({ body: 'x'.repeat(QUEUE_LIMITS.maxMessageBytes + 1) }),
        ).rejects.toMatchObject({
          code: 'message-rejected',
          retryable: false,
        });
        expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      });

      it('refuses receive options out of range', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        await expect(queue.receive({ maxMessages: 11 })).rejects.toBeInstanceOf(InvalidQueueRequestError);
        await expect(queue.receive({ waitTimeSeconds: 21 })).rejects.toBeInstanceOf(InvalidQueueRequestError);
      });
    });

    describe('batch send', () => {
      it('sends the good entries of a batch and reports the bad one alone', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        const result = await queue.sendBatch([
          { id: 'a', body: 'alpha' },
          { id: 'b', body: 'broken \u0000 body' },
          { id: 'c', body: 'gamma' },
        ]);
        expect(result.successful.map((s) => s.id).sort()).toEqual(['a', 'c']);
        expect(result.failed).toEqual([
          { id: 'b', code: 'InvalidMessageContents', message: expect.any(String), senderFault: true },
        ]);
        const received = await receiveAll(queue, 2);
        await nothingNow(queue);
        expect(received.map((m) => m.body).sort()).toEqual(['alpha', 'gamma']);
        const ids = new Map(result.successful.map((s) => [s.messageId, s.id]));
        expect(received.map((m) => ids.get(m.messageId)).sort()).toEqual(['a', 'c']);
      });

      it('refuses a batch of more than 10, or with duplicate ids, as a whole', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        const eleven = Array.from({ length: 11 }, (_, i) => ({ id: `e${i}`, body: `b${i}` }));
        await expect(queue.sendBatch(eleven)).rejects.toBeInstanceOf(BatchRejectedError);
        await expect(
          queue.sendBatch([
            { id: 'same', body: '1' },
            { id: 'same', body: '2' },
          ]),
        ).rejects.toMatchObject({ code: 'batch-rejected', reason: 'BatchEntryIdsNotDistinct' });
        expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      });

      it('sends any number of messages at once, reporting the bad ones alone by id', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        const messages = Array.from({ length: 25 }, (_, i) => ({
          id: `m${i}`,
          body: i === 13 ? 'broken \u0000 body' : `body ${i}`,
        }));
        const result = await queue.sendMany(messages);
        expect(result.successful.map((s) => s.id).sort()).toEqual(
          messages
            .filter((m) => m.id !== 'm13')
            .map((m) => m.id)
            .sort(),
        );
        expect(result.failed).toEqual([
          { id: 'm13', code: 'InvalidMessageContents', message: expect.any(String), senderFault: true },
        ]);
        const received = await receiveAll(queue, 24);
        await nothingNow(queue);
        const ids = new Map(result.successful.map((s) => [s.messageId, s.id]));
        expect(received.map((m) => `${ids.get(m.messageId)}=${m.body}`).sort()).toEqual(
          messages
            .filter((m) => m.id !== 'm13')
            .map((m) => `${m.id}=${m.body}`)
            .sort(),
        );
        expect(await queue.sendMany([])).toEqual({ successful: [], failed: [] });
      });

      it('refuses a sendMany whose ids repeat, even ten entries apart, and sends none of it', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        const messages = Array.from({ length: 12 }, (_, i) => ({
          id: i === 11 ? 'm0' : `m${i}`,
          body: `b${i}`,
        }));
        await expect(queue.sendMany(messages)).rejects.toMatchObject({
          code: 'batch-rejected',
          reason: 'BatchEntryIdsNotDistinct',
        });
        expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      });
    });

    describe('many at once', () => {
      it('receives a batch of more than ten, what was ready, each hidden for the visibility timeout', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        const messages = Array.from({ length: 25 }, (_, i) => ({ id: `m${i}`, body: `body ${i}` }));
        await queue.sendMany(messages);
        const received: ReceivedMessage[] = [];
        // SQS answers a receive with some of what it holds; a few rounds gather all of it.
        for (let round = 0; round < 10 && received.length < 25; round += 1) {
          received.push(
            ...(await queue.receiveMany({ maxMessages: 25 - received.length, waitTimeSeconds: 1 })),
          );
        }
        expect(received.map((m) => m.body).sort()).toEqual(messages.map((m) => m.body).sort());
        expect(new Set(received.map((m) => m.receiptHandle)).size).toBe(25);
        expect(received.every((m) => m.receiveCount === 1)).toBe(true);
        await nothingNow(queue);
        const capped = await harness.create({ visibilityTimeoutSeconds: 30 });
        await capped.queue.sendMany(messages.slice(0, 12));
        const some = await capped.queue.receiveMany({ maxMessages: 3, waitTimeSeconds: 1 });
        expect(some.length).toBeGreaterThan(0);
        expect(some.length).toBeLessThanOrEqual(3);
      });

      it('waits for a first message, and answers nothing once the wait is over', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        expect(await queue.receiveMany({ maxMessages: 50, waitTimeSeconds: 1 })).toEqual([]);
        const late = setTimeout(() => void queue.send({ body: 'late' }), 200);
        try {
          const got = await queue.receiveMany({ maxMessages: 50, waitTimeSeconds: 5 });
          expect(got.map((m) => m.body)).toEqual(['late']);
        } finally {
          clearTimeout(late);
        }
      });

      it('deletes any number of received messages, and refuses repeated ids as a whole', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        await queue.sendMany(Array.from({ length: 23 }, (_, i) => ({ id: `m${i}`, body: `body ${i}` })));
        const received = await receiveAll(queue, 23);
        expect(received).toHaveLength(23);
        const entries = received.map((m, i) => ({ id: `d${i}`, receiptHandle: m.receiptHandle }));
        await expect(
          queue.deleteMany([...entries, { id: 'd0', receiptHandle: received[1]?.receiptHandle ?? '' }]),
        ).rejects.toMatchObject({ code: 'batch-rejected', reason: 'BatchEntryIdsNotDistinct' });
        const deleted = await queue.deleteMany(entries);
        expect(deleted.successful.map((entry) => entry.id).sort()).toEqual(
          entries.map((entry) => entry.id).sort(),
        );
        expect(deleted.failed).toEqual([]);
        expect(await queue.deleteMany([])).toEqual({ successful: [], failed: [] });
        expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      });
    });

    describe('visibility timeout and redelivery', () => {
      it('delivers a message again once its visibility timeout runs out, its receive count one higher', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 1 });
        await queue.send({ body: 'retry me' });
        const first = await one(queue);
        await nothingNow(queue);
        await harness.elapse(1);
        const second = await one(queue);
        expect(second.messageId).toBe(first.messageId);
        expect(second.receiveCount).toBe(2);
        expect(second.receiptHandle).not.toBe(first.receiptHandle);
        await queue.delete(second.receiptHandle);
        expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      });

      it('honours a visibility timeout given at receive', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 600 });
        await queue.send({ body: 'short' });
        await one(queue, 1);
        await harness.elapse(1);
        expect((await one(queue)).receiveCount).toBe(2);
      });

      it('gives a message back at once with a visibility of 0, and extends it otherwise', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 1 });
        await queue.send({ body: 'give back' });
        const first = await one(queue);
        await queue.changeVisibility(first.receiptHandle, 0);
        const second = await one(queue);
        expect(second.receiveCount).toBe(2);
        await queue.changeVisibility(second.receiptHandle, 600);
        await harness.elapse(1);
        await nothingNow(queue);
        await queue.delete(second.receiptHandle);
      });

      it('refuses to change the visibility of a message that is not in flight', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        await queue.send({ body: 'done' });
        const message = await one(queue);
        await queue.delete(message.receiptHandle);
        await expect(queue.changeVisibility(message.receiptHandle, 10)).rejects.toBeInstanceOf(
          MessageNotInFlightError,
        );
      });

      it('keeps a delayed message invisible until its delay runs out', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        await queue.send({ body: 'later', delaySeconds: 1 });
        expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 1 });
        await nothingNow(queue);
        await harness.elapse(1);
        expect((await one(queue)).body).toBe('later');
      });
    });

    describe('dead-letter queue', () => {
      it('names its DLQ and maxReceiveCount in its redrive policy', async () => {
        const { queue, deadLetters } = await harness.create({
          visibilityTimeoutSeconds: 30,
          maxReceiveCount: 3,
        });
        expect(await queue.redrivePolicy()).toEqual({
          deadLetterQueue: deadLetters?.name,
          maxReceiveCount: 3,
        });
        expect((await queue.deadLetterQueue()).name).toBe(deadLetters?.name);
      });

      it('has no DLQ without a redrive policy', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        expect(await queue.redrivePolicy()).toBeUndefined();
        await expect(queue.deadLetterQueue()).rejects.toBeInstanceOf(NoDeadLetterQueueError);
      });

      it('moves a message to the DLQ after maxReceiveCount receives, keeping its id and body, with no reason', async () => {
        const { queue, deadLetters } = await harness.create({
          visibilityTimeoutSeconds: 30,
          maxReceiveCount: 2,
        });
        if (deadLetters === undefined) expect.fail('expected a DLQ');
        const sent = await queue.send({ body: 'poison', attributes: { kind: stringAttribute('event') } });
        for (const count of [1, 2]) {
          const message = await one(queue);
          expect(message.receiveCount).toBe(count);
          await queue.changeVisibility(message.receiptHandle, 0);
        }
        await nothingNow(queue);
        expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
        const dead = await one(deadLetters);
        expect(dead.messageId).toBe(sent.messageId);
        expect(dead.body).toBe('poison');
        expect(dead.attributes.kind).toEqual(stringAttribute('event'));
        expect(deadLetterReason(dead)).toBeUndefined();
      });

      it('takes a rejected message to the DLQ with its reason, and out of the queue', async () => {
        const { queue, deadLetters } = await harness.create({
          visibilityTimeoutSeconds: 30,
          maxReceiveCount: 5,
        });
        if (deadLetters === undefined) expect.fail('expected a DLQ');
        await queue.send({ body: '{not json', attributes: { traceId: stringAttribute('t-1') } });
        const message = await one(queue);
        await queue.deadLetter(message, 'not JSON: Unexpected token n');
        expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
        const dead = await one(deadLetters);
        expect(dead.body).toBe('{not json');
        expect(deadLetterReason(dead)).toBe('not JSON: Unexpected token n');
        expect(dead.attributes[DEAD_LETTER_ATTRIBUTES.sourceMessageId]).toEqual(
          stringAttribute(message.messageId),
        );
        expect(dead.attributes[DEAD_LETTER_ATTRIBUTES.sourceQueue]).toEqual(stringAttribute(queue.name));
        expect(dead.attributes.traceId).toEqual(stringAttribute('t-1'));
      });
    });

    describe('message attributes', () => {
      it('carries String, Number and Binary attributes unchanged', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        const attributes: MessageAttributes = {
          hostId: { type: 'String', value: 'lpar-0042.example.com' },
          seq: { type: 'Number', value: '12345' },
          digest: { type: 'Binary', value: new Uint8Array([0, 1, 2, 250, 255]) },
        };
        await queue.send({ body: 'with attributes', attributes });
        const message = await one(queue);
        expect(message.attributes.hostId).toEqual(attributes.hostId);
        expect(message.attributes.seq).toEqual(attributes.seq);
        const digest = message.attributes.digest;
        expect(digest?.type).toBe('Binary');
        expect(Buffer.from(digest?.value ?? '')).toEqual(Buffer.from([0, 1, 2, 250, 255]));
      });
    });

    describe('long polling', () => {
      it(
        'answers a long poll as soon as a message arrives',
        async () => {
          const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
          const polling = queue.receive({ waitTimeSeconds: 20 });
          await queue.send({ body: 'wake up' });
          const [message] = await polling;
          expect(message?.body).toBe('wake up');
        },
        EARLY_ANSWER_TEST_TIMEOUT_MS,
      );

      it('answers with nothing when nothing arrives during the wait', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        expect(await queue.receive({ waitTimeSeconds: 1 })).toEqual([]);
      });

      it(
        'ends a long poll when its signal aborts',
        async () => {
          const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
          const controller = new AbortController();
          const polling = queue.receive({ waitTimeSeconds: 20, signal: controller.signal });
          controller.abort();
          expect(await polling).toEqual([]);
        },
        EARLY_ANSWER_TEST_TIMEOUT_MS,
      );
    });

    describe('durability', () => {
      it('loses nothing when the adapter is reopened: waiting, in-flight and delayed messages', async () => {
        const { queue } = await harness.create({ visibilityTimeoutSeconds: 30 });
        for (const body of ['one', 'two', 'three']) await queue.send({ body });
        await queue.send({ body: 'delayed', delaySeconds: 1 });
        const inFlight = await one(queue);
        const reopened = await harness.reopen(queue);
        expect(reopened.name).toBe(queue.name);
        expect(await reopened.counts()).toEqual({ visible: 2, inFlight: 1, delayed: 1 });
        const rest = await receiveAll(reopened, 2);
        expect([inFlight, ...rest].map((m) => m.body).sort()).toEqual(['one', 'three', 'two']);
        await reopened.delete(inFlight.receiptHandle);
        for (const message of rest) await reopened.delete(message.receiptHandle);
        await harness.elapse(1);
        expect((await one(reopened)).body).toBe('delayed');
      });
    });
  });
};
