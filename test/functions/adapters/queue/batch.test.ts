import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  consumeMessages,
  processBatch,
  type QueueRecord,
  type RecordHandler,
  type RecordResult,
  recordOk,
  rejectRecord,
  retryRecord,
  toQueueRecord,
} from '../../../../functions/adapters/queue/batch.ts';
import {
  DEAD_LETTER_ATTRIBUTES,
  deadLetterReason,
  stringAttribute,
} from '../../../../functions/adapters/queue/port.ts';
import { type SqliteQueue, SqliteQueueStore } from '../../../../functions/adapters/queue/sqlite-queue.ts';
import { ManualClock } from '../../../helpers/queue-clock.ts';
import { temporaryFolder } from '../../../helpers/queue-files.ts';

const record = (messageId: string, body: string): QueueRecord => ({
  messageId,
  body,
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: '1740830400000',
    SenderId: 'AROAEXAMPLE:lpar-0042',
  },
  messageAttributes: { traceId: { dataType: 'String', stringValue: `trace-${messageId}` } },
});

/** A handler that parses JSON bodies: `{"retry":true}` asks for a retry, `{"throw":true}` throws. */
const jsonHandler: RecordHandler = async (input) => {
  let body: { retry?: boolean; throw?: boolean };
  try {
    body = JSON.parse(input.body);
  } catch (error) {
    return rejectRecord(`not JSON: ${(error as Error).message}`);
  }
  if (body.throw === true) throw new Error('the store is down');
  if (body.retry === true) return retryRecord('conditional write lost a race');
  return recordOk;
};

describe('processBatch', () => {
  let folder: ReturnType<typeof temporaryFolder>;
  let store: SqliteQueueStore;
  let events: SqliteQueue;
  let deadLetters: SqliteQueue;

  beforeEach(async () => {
    folder = temporaryFolder();
    store = SqliteQueueStore.open(folder.file('queues.sqlite'), { clock: new ManualClock() });
    events = store.queue('events', { redrive: { deadLetterQueue: 'events-dlq', maxReceiveCount: 3 } });
    deadLetters = await events.deadLetterQueue();
  });
  afterEach(() => {
    store.close();
    folder.remove();
  });

  it('reports only the records to retry, and sends the rejected ones to the DLQ with their reason', async () => {
    const results: [string, RecordResult['kind']][] = [];
    const response = await processBatch(
      [
        record('m1', '{}'),
        record('m2', '{not json'),
        record('m3', '{"retry":true}'),
        record('m4', '{"throw":true}'),
        record('m5', '{}'),
      ],
      jsonHandler,
      {
        deadLetterQueue: deadLetters,
        sourceQueue: 'events',
        onResult: (input, result) => results.push([input.messageId, result.kind]),
      },
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm3' }, { itemIdentifier: 'm4' }] });
    expect(results).toEqual([
      ['m1', 'ok'],
      ['m2', 'rejected'],
      ['m3', 'retry'],
      ['m4', 'failed'],
      ['m5', 'ok'],
    ]);
    const dead = await deadLetters.receive({ maxMessages: 10 });
    expect(dead).toHaveLength(1);
    expect(dead[0]?.body).toBe('{not json');
    expect(deadLetterReason(dead[0] ?? { attributes: {} })).toMatch(/^not JSON: /);
    expect(dead[0]?.attributes[DEAD_LETTER_ATTRIBUTES.sourceMessageId]).toEqual(stringAttribute('m2'));
    expect(dead[0]?.attributes[DEAD_LETTER_ATTRIBUTES.sourceQueue]).toEqual(stringAttribute('events'));
    expect(dead[0]?.attributes.traceId).toEqual(stringAttribute('trace-m2'));
  });

  it('retries a rejected record when the DLQ cannot take it', async () => {
    const results: RecordResult[] = [];
    const response = await processBatch([record('m1', 'nope'), record('m2', '{}')], jsonHandler, {
      deadLetterQueue: {
        send: () => Promise.reject(new Error('DLQ unreachable')),
      },
      sourceQueue: 'events',
      onResult: (_, result) => results.push(result),
    });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect(results[0]).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/DLQ unreachable/) });
    expect(results[1]).toEqual({ kind: 'ok' });
  });

  it('handles every record even when an observer throws', async () => {
    const response = await processBatch([record('m1', '{}'), record('m2', '{}')], jsonHandler, {
      deadLetterQueue: deadLetters,
      sourceQueue: 'events',
      onResult: () => {
        throw new Error('metrics are down');
      },
    });
    expect(response).toEqual({ batchItemFailures: [] });
  });

  it('handles records concurrently when asked, answering for each', async () => {
    let running = 0;
    let most = 0;
    const release: (() => void)[] = [];
    const handler: RecordHandler = async (input) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => {
        release.push(resolve);
        if (release.length === 3) for (const go of release) go();
      });
      running -= 1;
      return input.messageId === 'm2' ? retryRecord('later') : recordOk;
    };
    const response = await processBatch(
      [record('m1', '{}'), record('m2', '{}'), record('m3', '{}')],
      handler,
      {
        deadLetterQueue: deadLetters,
        sourceQueue: 'events',
        concurrency: 3,
      },
    );
    expect(most).toBe(3);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
  });

  it('answers an empty batch with no failures', async () => {
    expect(
      await processBatch([], jsonHandler, { deadLetterQueue: deadLetters, sourceQueue: 'events' }),
    ).toEqual({
      batchItemFailures: [],
    });
  });
});

describe('consumeMessages', () => {
  let folder: ReturnType<typeof temporaryFolder>;
  let clock: ManualClock;
  let store: SqliteQueueStore;

  beforeEach(() => {
    folder = temporaryFolder();
    clock = new ManualClock();
    store = SqliteQueueStore.open(folder.file('queues.sqlite'), { clock });
  });
  afterEach(() => {
    store.close();
    folder.remove();
  });

  it('deletes what succeeded or was dead-lettered and leaves failures to come back, as an event source mapping does', async () => {
    const events = store.queue('events', {
      visibilityTimeoutSeconds: 30,
      redrive: { deadLetterQueue: 'events-dlq', maxReceiveCount: 2 },
    });
    const deadLetters = await events.deadLetterQueue();
    const bodies = [
      '{}',
      '{bad',
      '{"retry":true}',
      '{}',
      '{"throw":true}',
      '{}',
      '{}',
      '{}',
      '{}',
      '{}',
      '{}',
      '{}',
    ];
    for (const body of bodies) await events.send({ body });
    const options = { deadLetterQueue: deadLetters, sourceQueue: 'events' };
    const received = [
      ...(await events.receive({ maxMessages: 10 })),
      ...(await events.receive({ maxMessages: 10 })),
    ];
    expect(received).toHaveLength(12);
    const result = await consumeMessages(events, received, jsonHandler, options);
    expect(result.batchItemFailures).toHaveLength(2);
    expect(result.undeleted).toEqual([]);
    expect(await events.counts()).toEqual({ visible: 0, inFlight: 2, delayed: 0 });

    clock.advance(30_000);
    const again = await events.receive({ maxMessages: 10 });
    expect(again.map((m) => [m.body, m.receiveCount]).sort()).toEqual([
      ['{"retry":true}', 2],
      ['{"throw":true}', 2],
    ]);
    await consumeMessages(events, again, jsonHandler, options);
    clock.advance(30_000);
    expect(await events.receive({ maxMessages: 10 })).toEqual([]);
    const dead = await deadLetters.receive({ maxMessages: 10 });
    expect(
      dead.map((m) => [m.body, deadLetterReason(m) === undefined ? 'redriven' : 'rejected']).sort(),
    ).toEqual([
      ['{"retry":true}', 'redriven'],
      ['{"throw":true}', 'redriven'],
      ['{bad', 'rejected'],
    ]);
  });

  it('hands the handler a record shaped as Lambda would', async () => {
    const events = store.queue('events');
    await events
      .withSender('lpar-0042')
      .send({ body: 'x', attributes: { seq: { type: 'Number', value: '7' } } });
    const [message] = await events.receive();
    if (message === undefined) expect.fail('expected a message');
    expect(toQueueRecord(message, 'arn:aws:sqs:local:000000000000:events')).toEqual({
      messageId: message.messageId,
      receiptHandle: message.receiptHandle,
      body: 'x',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(clock.now()),
        SenderId: 'lpar-0042',
      },
      messageAttributes: { seq: { dataType: 'Number', stringValue: '7' } },
      eventSourceARN: 'arn:aws:sqs:local:000000000000:events',
    });
  });
});
