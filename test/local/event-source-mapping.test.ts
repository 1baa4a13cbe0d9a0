import { describe, expect, it } from 'vitest';
import { SqliteQueueStore } from '../../functions/adapters/queue/sqlite-queue.ts';
import { eventSourceMapping } from '../../local/event-source-mapping.ts';

/**
 * The local runtime's event source mapping (local/event-source-mapping.ts) over a real SQLite queue.
 */
describe('the event source mapping', () => {
  it('keeps its thread serving while it polls an empty queue without long polls (waitTimeSeconds 0)', async () => {
    const queues = SqliteQueueStore.open(':memory:');
    const queue = queues.queue('events');
    const handled: string[] = [];
    const mapping = eventSourceMapping(
      queue,
      async (event) => {
        handled.push(...event.Records.map((record) => record.body));
        return { batchItemFailures: [] };
      },
      {
        batchSize: 10,
        visibilityTimeoutSeconds: 30,
        waitTimeSeconds: 0,
        maxReceiveCount: 5,
        notifyBatchSize: 10,
      },
      'arn:test:events',
      () => undefined,
    );
    // A timer must still fire while the mapping polls: before, an empty receive was retried at once,
    // from the microtask queue, and no timer of the thread ever ran again (this test's own timeout
    // included: the run hung until killed).
    await new Promise((fired) => setTimeout(fired, 20));
    await queue.send({ body: 'after the timer' });
    for (let waited = 0; handled.length === 0 && waited < 100; waited += 1) {
      await new Promise((resumed) => setTimeout(resumed, 20));
    }
    expect(handled).toEqual(['after the timer']);
    expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    await mapping.stop();
    queues.close();
  });
});
