import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueueClosedError } from '../../../../functions/adapters/errors.ts';
import { SqliteQueueStore } from '../../../../functions/adapters/queue/sqlite-queue.ts';
import { ManualClock } from '../../../helpers/queue-clock.ts';
import { temporaryFolder, uniqueQueueName } from '../../../helpers/queue-files.ts';
import { describeQueueContract, receiveAll } from './contract.ts';

const MS_PER_SECOND = 1_000;

{
  const folder = temporaryFolder();
  const file = folder.file('queues.sqlite');
  const clock = new ManualClock();
  let store: SqliteQueueStore;
  describeQueueContract('SQLite', {
    async setup() {
      store = SqliteQueueStore.open(file, { clock });
      return {
        async create({ visibilityTimeoutSeconds, maxReceiveCount }) {
          const name = uniqueQueueName('events');
          if (maxReceiveCount === undefined) {
            return { queue: store.queue(name, { visibilityTimeoutSeconds }), deadLetters: undefined };
          }
          const deadLetterQueue = `${name}-dlq`;
          const queue = store.queue(name, {
            visibilityTimeoutSeconds,
            redrive: { deadLetterQueue, maxReceiveCount },
          });
          return { queue, deadLetters: store.queue(deadLetterQueue) };
        },
        async elapse(seconds) {
          clock.advance(seconds * MS_PER_SECOND);
        },
        async reopen(queue) {
          store.close();
          store = SqliteQueueStore.open(file, { clock });
          return store.queue(queue.name);
        },
      };
    },
    async teardown() {
      store.close();
      folder.remove();
    },
  });
}

describe('SqliteQueueStore', () => {
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

  it('records the sender of each message, as SQS records the IAM session', async () => {
    const events = store.queue('events');
    await events.withSender('lpar-0042').send({ body: 'from a host' });
    await events.send({ body: 'from the runtime' });
    const received = await receiveAll(events, 2);
    expect(received.map((m) => [m.body, m.senderId])).toEqual([
      ['from a host', 'lpar-0042'],
      ['from the runtime', 'local'],
    ]);
  });

  it('holds any number of named queues in one file, each with its own messages', async () => {
    const events = store.queue('events');
    const notify = store.queue('notify', { visibilityTimeoutSeconds: 120 });
    await events.send({ body: 'event' });
    await notify.send({ body: 'page' });
    expect((await events.receive({ maxMessages: 10 })).map((m) => m.body)).toEqual(['event']);
    expect((await notify.receive({ maxMessages: 10 })).map((m) => m.body)).toEqual(['page']);
    expect(store.queueNames()).toEqual(['events', 'notify']);
  });

  it('hands messages out in the order they were sent', async () => {
    const events = store.queue('events');
    for (const n of [1, 2, 3, 4, 5, 6]) {
      await events.send({ body: `m${n}` });
      clock.advance(1);
    }
    const received = await events.receive({ maxMessages: 10 });
    expect(received.map((m) => m.body)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  });

  it('puts a message whose visibility ran out behind what was sent before it became visible again', async () => {
    const events = store.queue('events', { visibilityTimeoutSeconds: 10 });
    await events.send({ body: 'first' });
    await events.receive();
    clock.advance(5 * MS_PER_SECOND);
    await events.send({ body: 'second' });
    clock.advance(5 * MS_PER_SECOND);
    await events.send({ body: 'third' });
    const received = await events.receive({ maxMessages: 10 });
    expect(received.map((m) => [m.body, m.receiveCount])).toEqual([
      ['second', 1],
      ['first', 2],
      ['third', 1],
    ]);
  });

  it('redrives a message to the DLQ once, keeping its sent time and receive count', async () => {
    const events = store.queue('events', {
      visibilityTimeoutSeconds: 5,
      redrive: { deadLetterQueue: 'events-dlq', maxReceiveCount: 3 },
    });
    const sentAt = clock.now();
    await events.send({ body: 'poison' });
    for (let receive = 0; receive < 3; receive += 1) {
      expect(await events.receive()).toHaveLength(1);
      clock.advance(5 * MS_PER_SECOND);
    }
    expect(await events.receive()).toEqual([]);
    const [dead] = await (await events.deadLetterQueue()).receive();
    expect(dead?.sentAt.getTime()).toBe(sentAt);
    expect(dead?.receiveCount).toBe(4);
  });

  it('wakes a long poll when a message it is waiting for is redriven into its queue', async () => {
    const events = store.queue('events', { redrive: { deadLetterQueue: 'events-dlq', maxReceiveCount: 1 } });
    const deadLetters = await events.deadLetterQueue();
    await events.send({ body: 'poison' });
    const [message] = await events.receive();
    if (message === undefined) expect.fail('expected a message');
    await events.changeVisibility(message.receiptHandle, 0);
    const polling = deadLetters.receive({ waitTimeSeconds: 20 });
    expect(await events.receive()).toEqual([]);
    expect((await polling).map((m) => m.body)).toEqual(['poison']);
  });

  it('wakes a long poll when another thread sends through its own store on the same file', async () => {
    // The local runtime's API and its decider thread each open the file (local/decider.ts).
    const file = folder.file('queues.sqlite');
    const waiting = SqliteQueueStore.open(file, { pollIntervalMs: 60_000 });
    try {
      const polling = waiting.queue('events').receive({ waitTimeSeconds: 20 });
      const tsx = import.meta.resolve('tsx/esm/api');
      const queueModule = new URL('../../../../functions/adapters/queue/sqlite-queue.ts', import.meta.url)
        .href;
      const sender = new Worker(
        `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(queueModule)}); })
          .then(async ({ SqliteQueueStore }) => {
            const store = SqliteQueueStore.open(${JSON.stringify(file)});
            await store.queue('events').send({ body: 'from another thread' });
            store.close();
          })`,
        { eval: true },
      );
      const exited = new Promise((done, fail) => {
        sender.once('exit', done);
        sender.once('error', fail);
      });
      // Without the wake-up it would answer only after the 60 s poll interval: past the test's timeout.
      expect((await polling).map((m) => m.body)).toEqual(['from another thread']);
      expect(await exited).toBe(0);
    } finally {
      waiting.close();
    }
  }, 15_000);

  it('deletes messages past the retention period of their queue', async () => {
    const events = store.queue('events', { retentionSeconds: 60 });
    await events.send({ body: 'old' });
    clock.advance(61 * MS_PER_SECOND);
    await events.send({ body: 'new' });
    expect((await events.receive({ maxMessages: 10 })).map((m) => m.body)).toEqual(['new']);
  });

  it('answers pending long polls with nothing when closed, and refuses calls afterwards', async () => {
    const events = store.queue('events');
    const polling = events.receive({ waitTimeSeconds: 20 });
    store.close();
    expect(await polling).toEqual([]);
    await expect(events.send({ body: 'late' })).rejects.toBeInstanceOf(QueueClosedError);
  });

  it('a delete with a receipt handle from an earlier receive leaves the message alone', async () => {
    const events = store.queue('events', { visibilityTimeoutSeconds: 1 });
    await events.send({ body: 'twice' });
    const [first] = await events.receive();
    clock.advance(MS_PER_SECOND);
    const [second] = await events.receive();
    if (first === undefined || second === undefined) expect.fail('expected the message twice');
    await events.delete(first.receiptHandle);
    expect(await events.counts()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
    await events.delete(second.receiptHandle);
    expect(await events.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('shares a database opened by someone else, and leaves it open when closed', async () => {
    const db = new Database(folder.file('shared.sqlite'));
    const shared = new SqliteQueueStore(db, { clock });
    await shared.queue('events').send({ body: 'shared' });
    shared.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT COUNT(*) AS n FROM work_queue_messages').get()).toEqual({ n: 1 });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('refuses a queue name SQS would refuse, and a queue that is its own DLQ', () => {
    expect(() => store.queue('bad name')).toThrow(/queue name/);
    expect(() => store.queue('loop', { redrive: { deadLetterQueue: 'loop', maxReceiveCount: 3 } })).toThrow(
      /own dead-letter queue/,
    );
  });
});
