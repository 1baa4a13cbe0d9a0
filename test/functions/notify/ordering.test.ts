import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MetricsBuffer } from '../../../functions/adapters/observability/metrics-buffer.ts';
import type { MetricSample } from '../../../functions/adapters/observability/metrics-port.ts';
import type { BatchResponse, QueueRecord } from '../../../functions/adapters/queue/batch.ts';
import { type SqliteQueue, SqliteQueueStore } from '../../../functions/adapters/queue/sqlite-queue.ts';
import { type NotifyConfigInput, parseNotifyConfig } from '../../../functions/notify/config.ts';
import { createHandler, type NotifyDeps, takeoverAtFor } from '../../../functions/notify/create-handler.ts';
import {
  type DeliveryKey,
  type DeliveryLog,
  InMemoryDeliveryLog,
} from '../../../functions/notify/delivery-log.ts';
import { IN_PROGRESS_POLL, INVOCATION_MARGIN_MS, leaseMsFor } from '../../../functions/notify/notify.ts';
import { FUNCTION_SIZING } from '../../../infra/settings.ts';
import { temporaryFolder } from '../../helpers/queue-files.ts';
import { event, INCIDENT_ID, notification, record, resolved } from './notifications.ts';

/**
 * notify keeps one incident's actions in the order the core made them, per destination (DESIGN
 * §6, issue #18), and never holds a delivery's claim past the moment the queue may hand its record
 * to another consumer. PagerDuty is nock, which here copies the Events API v2's answers: 202
 * `{status: "success"}`, and 429 `{status: "throttle"}` when an integration is rate limited.
 */

const PAGERDUTY = 'https://events.pagerduty.com';
const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';
const T0 = Date.parse('2025-03-01T12:03:05.000Z');
const pagerDutyOnly: NotifyConfigInput = {
  destinations: [{ kind: 'pagerduty', name: 'pagerduty', routingKey: ROUTING_KEY }],
};

interface PagerDutyEvent {
  readonly event_action: string;
  readonly dedup_key: string;
}

/** PagerDuty that throttles every trigger until a resolve was accepted: what it accepted, in order. */
const throttleTriggersUntilResolved = (): { accepted: string[] } => {
  const accepted: string[] = [];
  nock(PAGERDUTY)
    .persist()
    .post('/v2/enqueue')
    .reply((_uri, body) => {
      const { event_action: action } = body as PagerDutyEvent;
      if (action === 'trigger' && !accepted.includes('resolve')) {
        return [429, { status: 'throttle', message: 'Requests for this service are arriving too quickly' }];
      }
      accepted.push(action);
      return [202, { status: 'success', message: 'Event processed' }];
    });
  return { accepted };
};

/** A log that behaves as `inner`, but for the methods `overrides` replaces. */
const wrappedLog = (inner: DeliveryLog, overrides: Partial<DeliveryLog> = {}): DeliveryLog => ({
  claim: (key, options) => inner.claim(key, options),
  markDelivered: (key, options) => inner.markDelivered(key, options),
  release: (key, token) => inner.release(key, token),
  isOvertaken: (key, options) => inner.isOvertaken(key, options),
  ...overrides,
});

/** PagerDuty's answer to an event it accepted. */
const accepted202 = (): Response =>
  new Response(JSON.stringify({ status: 'success', message: 'Event processed' }), {
    status: 202,
    headers: { 'content-type': 'application/json' },
  });

const actionOf = (init: RequestInit | undefined): string =>
  (JSON.parse(String(init?.body)) as PagerDutyEvent).event_action;

/** A virtual clock that each wait of the retries moves forward, so no test waits in real time. */
const virtualClock = (start = T0) => {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
      // Let other consumers run while this one "waits", as a real sleep would.
      await new Promise((resolve) => setImmediate(resolve));
    },
    set: (at: number) => {
      now = at;
    },
  };
};

describe('notify: one incident, in order, per destination', () => {
  let folder: ReturnType<typeof temporaryFolder>;
  let queues: SqliteQueueStore;
  let deadLetters: SqliteQueue;
  let samples: MetricSample[];
  let log: Readonly<Record<string, unknown>>[];

  const handler = (overrides: Partial<NotifyDeps> & Pick<NotifyDeps, 'deliveryLog'>) =>
    createHandler({
      loadConfig: async () => parseNotifyConfig(pagerDutyOnly),
      deadLetterQueue: deadLetters,
      metrics: new MetricsBuffer((flushed) => samples.push(...flushed)),
      random: () => 0.5,
      log: (entry) => log.push(entry),
      ...overrides,
    });

  const counted = (outcome: string) =>
    samples.reduce(
      (sum, sample) =>
        sample.kind === 'count' && sample.metric === 'deliveries' && sample.labels.outcome === outcome
          ? sum + sample.value
          : sum,
      0,
    );
  const superseded = () => counted('superseded');

  beforeAll(() => {
    nock.disableNetConnect();
  });
  afterAll(() => {
    nock.enableNetConnect();
  });
  beforeEach(() => {
    folder = temporaryFolder('faultline-notify-order-');
    queues = SqliteQueueStore.open(folder.file('queues.sqlite'));
    deadLetters = queues.queue('notify-dlq');
    samples = [];
    log = [];
  });
  afterEach(() => {
    nock.cleanAll();
    queues.close();
    folder.remove();
  });

  it('drops a trigger that failed with 429 until its resolve went out: PagerDuty gets the resolve alone, never resolve then trigger', async () => {
    const pagerDuty = throttleTriggersUntilResolved();
    const clock = virtualClock();
    const handle = handler({ deliveryLog: new InMemoryDeliveryLog(), now: clock.now, sleep: clock.sleep });
    const trigger = record(notification());
    const resolve = record(resolved());

    // The trigger is throttled through every try of this receive: back to the queue.
    expect(await handle(event(trigger))).toEqual({
      batchItemFailures: [{ itemIdentifier: trigger.messageId }],
    });
    expect(await handle(event(resolve))).toEqual({ batchItemFailures: [] });
    // Its next receive comes after the resolve went out: acknowledged, never sent.
    expect(await handle(event(trigger))).toEqual({ batchItemFailures: [] });

    expect(pagerDuty.accepted).toEqual(['resolve']);
    expect(log).toContainEqual(
      expect.objectContaining({
        outcome: 'superseded',
        notificationId: notification().id,
        destination: 'pagerduty',
        sequence: 1,
        deliveredSequence: 3,
      }),
    );
    expect(superseded()).toBe(1);
    expect(await deadLetters.receive({ maxMessages: 10 })).toEqual([]);
  });

  it('never lets PagerDuty see resolve then trigger, whichever of two consumers gets which record first', async () => {
    // Each interleaving: two handlers on one log, the trigger and the resolve handed to them in
    // either order and at once, every failed record handed back until both are acknowledged.
    for (const order of [
      ['trigger', 'resolve'],
      ['resolve', 'trigger'],
    ] as const) {
      nock.cleanAll();
      const pagerDuty = throttleTriggersUntilResolved();
      const deliveryLog = new InMemoryDeliveryLog();
      const clock = virtualClock();
      const consumers = [0, 1].map(() => handler({ deliveryLog, now: clock.now, sleep: clock.sleep }));
      const records: Record<(typeof order)[number], QueueRecord> = {
        trigger: record(notification()),
        resolve: record(resolved()),
      };
      let pending = order.map((name) => records[name]);
      for (let receive = 0; pending.length > 0; receive += 1) {
        if (receive === 10)
          expect.fail(`records never acknowledged: ${pending.map((r) => r.body).join(', ')}`);
        const answers: BatchResponse[] = await Promise.all(
          pending.map((pendingRecord, index) => {
            const consumer = consumers[index % consumers.length];
            if (consumer === undefined) throw new Error('no consumer');
            return consumer(event(pendingRecord));
          }),
        );
        const failed = new Set(
          answers.flatMap((answer) => answer.batchItemFailures.map((f) => f.itemIdentifier)),
        );
        pending = pending.filter((pendingRecord) => failed.has(pendingRecord.messageId));
        // The queue hands failed records back after their visibility timeout.
        clock.set(clock.now() + 30_000);
      }
      expect(pagerDuty.accepted, `records in the order ${order.join(', ')}`).toEqual(['resolve']);
    }
  });

  it('delivers trigger then resolve when the trigger gets through first', async () => {
    const accepted: string[] = [];
    nock(PAGERDUTY)
      .persist()
      .post('/v2/enqueue')
      .reply((_uri, body) => {
        accepted.push((body as PagerDutyEvent).event_action);
        return [202, { status: 'success' }];
      });
    const handle = handler({ deliveryLog: new InMemoryDeliveryLog(), now: () => T0 });
    expect(await handle(event(record(notification()), record(resolved())))).toEqual({
      batchItemFailures: [],
    });
    expect(accepted).toEqual(['trigger', 'resolve']);
  });

  it('still delivers, once, a record from before notifications carried a sequence', async () => {
    let calls = 0;
    nock(PAGERDUTY)
      .persist()
      .post('/v2/enqueue')
      .reply(() => {
        calls += 1;
        return [202, { status: 'success' }];
      });
    const { sequence: _, ...unordered } = notification();
    const legacy = record(JSON.stringify(unordered));
    const handle = handler({ deliveryLog: new InMemoryDeliveryLog(), now: () => T0 });
    expect(await handle(event(legacy))).toEqual({ batchItemFailures: [] });
    expect(await handle(event(legacy))).toEqual({ batchItemFailures: [] });
    expect(calls).toBe(1);
    expect(await deadLetters.receive({ maxMessages: 10 })).toEqual([]);
  });
  it('drops the trigger when its resolve went out but could not be recorded, and says so at error', async () => {
    const pagerDuty = throttleTriggersUntilResolved();
    const clock = virtualClock();
    let recordTries = 0;
    // The log takes claims but refuses every record of a delivery (DynamoDB throttled, say).
    const deliveryLog = wrappedLog(new InMemoryDeliveryLog(), {
      markDelivered: async () => {
        recordTries += 1;
        throw new Error('ProvisionedThroughputExceededException');
      },
    });
    const handle = handler({ deliveryLog, now: clock.now, sleep: clock.sleep });
    const trigger = record(notification());

    expect(await handle(event(trigger))).toEqual({
      batchItemFailures: [{ itemIdentifier: trigger.messageId }],
    });
    expect(await handle(event(record(resolved())))).toEqual({ batchItemFailures: [] });
    expect(recordTries).toBe(3);
    expect(log).toContainEqual(
      expect.objectContaining({ level: 'error', outcome: 'unrecorded', notificationId: resolved().id }),
    );
    expect(counted('unrecorded')).toBe(1);

    // The trigger comes back once the resolve's lease ran out: it may have gone out, so never after it.
    clock.set(clock.now() + 30_000);
    expect(await handle(event(trigger))).toEqual({ batchItemFailures: [] });
    expect(pagerDuty.accepted).toEqual(['resolve']);
    expect(log).toContainEqual(
      expect.objectContaining({ outcome: 'superseded', notificationId: notification().id, unrecorded: true }),
    );
  });

  it('records a delivery whose first records failed, trying again in place', async () => {
    nock(PAGERDUTY).post('/v2/enqueue').reply(202, { status: 'success' });
    const clock = virtualClock();
    const inner = new InMemoryDeliveryLog();
    let failures = 2;
    const deliveryLog = wrappedLog(inner, {
      markDelivered: async (key, options) => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('ThrottlingException');
        }
        return inner.markDelivered(key, options);
      },
    });
    const handle = handler({ deliveryLog, now: clock.now, sleep: clock.sleep });
    const page = record(resolved());
    expect(await handle(event(page))).toEqual({ batchItemFailures: [] });
    expect(counted('unrecorded')).toBe(0);
    // Recorded: its redelivery, at once, is answered delivered, not in progress.
    expect(await handle(event(page))).toEqual({ batchItemFailures: [] });
    expect(counted('already-delivered')).toBe(1);
  });

  it('waits in place for a delivery of its incident in flight, rather than handing the record back for a visibility timeout', async () => {
    // The flapping incident: its resolve arrives while the trigger's request is out.
    const accepted: string[] = [];
    let triggerOut: () => void = () => undefined;
    const triggerSent = new Promise<void>((resolve) => {
      triggerOut = resolve;
    });
    let answerTrigger: () => void = () => undefined;
    const triggerAnswered = new Promise<void>((resolve) => {
      answerTrigger = resolve;
    });
    const fetchPagerDuty: typeof fetch = async (_input, init) => {
      const action = actionOf(init);
      if (action === 'trigger') {
        triggerOut();
        await triggerAnswered;
      }
      accepted.push(action);
      return accepted202();
    };
    const deliveryLog = new InMemoryDeliveryLog();
    const clock = virtualClock();
    const first = handler({ deliveryLog, now: clock.now, sleep: clock.sleep, fetch: fetchPagerDuty });
    const triggering = first(event(record(notification())));
    await triggerSent;
    const slept: number[] = [];
    const second = handler({
      deliveryLog,
      now: clock.now,
      fetch: fetchPagerDuty,
      // Its first wait is when the trigger's answer comes, and the trigger's record is done.
      sleep: async (ms) => {
        slept.push(ms);
        clock.set(clock.now() + ms);
        answerTrigger();
        await triggering;
      },
    });
    expect(await second(event(record(resolved())))).toEqual({ batchItemFailures: [] });
    expect(await triggering).toEqual({ batchItemFailures: [] });
    expect(accepted).toEqual(['trigger', 'resolve']);
    expect(slept).toEqual([IN_PROGRESS_POLL.firstWaitMs]);
  });

  it('hands the record back after a few seconds when the delivery in flight does not end', async () => {
    const deliveryLog = new InMemoryDeliveryLog();
    const clock = virtualClock();
    const stuck = handler({
      deliveryLog,
      now: clock.now,
      visibilityTimeoutMs: 720_000,
      fetch: () => new Promise<Response>(() => undefined),
    });
    void stuck(event(record(notification())));
    await new Promise((resolve) => setImmediate(resolve));
    const slept: number[] = [];
    const waiting = handler({
      deliveryLog,
      now: clock.now,
      visibilityTimeoutMs: 720_000,
      sleep: async (ms) => {
        slept.push(ms);
        clock.set(clock.now() + ms);
      },
    });
    const resolve = record(resolved());
    expect(await waiting(event(resolve))).toEqual({
      batchItemFailures: [{ itemIdentifier: resolve.messageId }],
    });
    expect(slept.length).toBeGreaterThan(1);
    expect(slept.reduce((sum, ms) => sum + ms, 0)).toBeLessThanOrEqual(IN_PROGRESS_POLL.totalMs);
    expect(Math.max(...slept)).toBeLessThanOrEqual(IN_PROGRESS_POLL.maxWaitMs);
  });

  it('keeps the lane after a try with no answer, so the resolve cannot overtake a trigger PagerDuty may still process', async () => {
    const accepted: string[] = [];
    const clock = virtualClock();
    const deliveryLog = new InMemoryDeliveryLog();
    const handle = handler({
      deliveryLog,
      now: clock.now,
      sleep: async (ms) => {
        clock.set(clock.now() + ms);
      },
      loadConfig: async () => parseNotifyConfig({ ...pagerDutyOnly, retry: { maxAttempts: 1 } }),
      fetch: async (_input, init) => {
        const action = actionOf(init);
        if (action === 'trigger')
          throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
        accepted.push(action);
        return accepted202();
      },
    });
    const trigger = record(notification());
    expect(await handle(event(trigger))).toEqual({
      batchItemFailures: [{ itemIdentifier: trigger.messageId }],
    });
    const resolve = record(resolved());
    expect(await handle(event(resolve))).toEqual({
      batchItemFailures: [{ itemIdentifier: resolve.messageId }],
    });
    expect(accepted).toEqual([]);
    expect(log).toContainEqual(
      expect.objectContaining({
        outcome: 'retry',
        notificationId: notification().id,
        claimKeptUntil: expect.any(String),
      }),
    );
    // Once the trigger's lease ran out the resolve goes, and the trigger is dropped after it.
    clock.set(clock.now() + 30_000);
    expect(await handle(event(resolve))).toEqual({ batchItemFailures: [] });
    expect(await handle(event(trigger))).toEqual({ batchItemFailures: [] });
    expect(accepted).toEqual(['resolve']);
  });

  it('drops a trigger from before notifications carried a sequence once a sequenced resolve went out', async () => {
    const pagerDuty = throttleTriggersUntilResolved();
    const clock = virtualClock();
    const handle = handler({ deliveryLog: new InMemoryDeliveryLog(), now: clock.now, sleep: clock.sleep });
    const { sequence: _, ...unordered } = notification();
    const legacy = record(JSON.stringify(unordered));
    expect(await handle(event(legacy))).toEqual({
      batchItemFailures: [{ itemIdentifier: legacy.messageId }],
    });
    expect(await handle(event(record(resolved())))).toEqual({ batchItemFailures: [] });
    expect(await handle(event(legacy))).toEqual({ batchItemFailures: [] });
    expect(pagerDuty.accepted).toEqual(['resolve']);
    expect(superseded()).toBe(1);
  });
});

describe('notify: a delivery lease never outlives the record’s receive', () => {
  let folder: ReturnType<typeof temporaryFolder>;
  let queues: SqliteQueueStore;
  let deadLetters: SqliteQueue;

  beforeAll(() => {
    nock.disableNetConnect();
  });
  afterAll(() => {
    nock.enableNetConnect();
  });
  beforeEach(() => {
    folder = temporaryFolder('faultline-notify-lease-');
    queues = SqliteQueueStore.open(folder.file('queues.sqlite'));
    deadLetters = queues.queue('notify-dlq');
  });
  afterEach(() => {
    nock.cleanAll();
    queues.close();
    folder.remove();
  });

  /** A log that says which leases it was asked for. */
  const recordingLog = (): {
    log: DeliveryLog;
    leases: { key: DeliveryKey; now: number; leaseMs: number }[];
  } => {
    const inner = new InMemoryDeliveryLog();
    const leases: { key: DeliveryKey; now: number; leaseMs: number }[] = [];
    return {
      leases,
      log: {
        claim: (key, options) => {
          leases.push({ key, ...options });
          return inner.claim(key, options);
        },
        markDelivered: (key, options) => inner.markDelivered(key, options),
        release: (key, token) => inner.release(key, token),
        isOvertaken: (key, options) => inner.isOvertaken(key, options),
      },
    };
  };

  const notifyWith = (deps: Partial<NotifyDeps> & Pick<NotifyDeps, 'deliveryLog'>) =>
    createHandler({
      loadConfig: async () => parseNotifyConfig(pagerDutyOnly),
      deadLetterQueue: deadLetters,
      random: () => 0.5,
      log: () => undefined,
      ...deps,
    });

  it('claims for less than the queue’s visibility timeout, though its retry policy could take minutes', async () => {
    nock(PAGERDUTY).post('/v2/enqueue').reply(202, { status: 'success' });
    const { log, leases } = recordingLog();
    const handle = notifyWith({ deliveryLog: log, now: () => T0, visibilityTimeoutMs: 60_000 });
    expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
    expect(leases).toHaveLength(1);
    // The policy's 135 s, cut where the queue may hand the record on: 5 s before its 60 s are up.
    expect(takeoverAtFor(T0, 60_000)).toBe(T0 + 55_000);
    expect(leases[0]?.leaseMs).toBe(55_000);
  });

  it('fits one record’s worst case under the default retry policy in notify’s Lambda timeout', () => {
    const policy = parseNotifyConfig(pagerDutyOnly).retry;
    expect(leaseMsFor(policy) + INVOCATION_MARGIN_MS + IN_PROGRESS_POLL.totalMs).toBeLessThanOrEqual(
      FUNCTION_SIZING.notify.timeoutSeconds * 1_000,
    );
  });

  it('claims for no longer than the invocation has left, less the time to record and answer', async () => {
    nock(PAGERDUTY).post('/v2/enqueue').reply(202, { status: 'success' });
    const { log, leases } = recordingLog();
    const handle = notifyWith({ deliveryLog: log, now: () => T0, visibilityTimeoutMs: 720_000 });
    expect(await handle(event(record(notification())), { getRemainingTimeInMillis: () => 60_000 })).toEqual({
      batchItemFailures: [],
    });
    expect(leases.map((lease) => lease.leaseMs)).toEqual([60_000 - INVOCATION_MARGIN_MS]);
  });

  it('hands back, unclaimed, the records of a batch its invocation has no time left for', async () => {
    const clock = virtualClock();
    const { log, leases } = recordingLog();
    let sent = 0;
    const handle = notifyWith({
      deliveryLog: log,
      now: clock.now,
      visibilityTimeoutMs: 720_000,
      // Each page takes PagerDuty 22 s to take: the third starts 44 s into a 50 s invocation.
      fetch: async () => {
        sent += 1;
        clock.set(clock.now() + 22_000);
        return accepted202();
      },
    });
    const pages = [1, 2, 3].map((index) =>
      record(notification({ id: `ntf-${index}`, incidentId: `inc-${index}` })),
    );
    expect(await handle(event(...pages), { getRemainingTimeInMillis: () => 50_000 })).toEqual({
      batchItemFailures: [{ itemIdentifier: pages[2]?.messageId }],
    });
    expect(sent).toBe(2);
    expect(leases.map((lease) => lease.key.notificationId)).toEqual(['ntf-1', 'ntf-2']);
    expect(leases.map((lease) => lease.now + lease.leaseMs)).toEqual([
      T0 + 50_000 - INVOCATION_MARGIN_MS,
      T0 + 50_000 - INVOCATION_MARGIN_MS,
    ]);
  });

  it('stops trying when its lease ends, gives the claim back and lets the queue retry the record', async () => {
    // Retry-After 7 s, twice: the second wait would end past the lease (10 s less its margin).
    nock(PAGERDUTY).post('/v2/enqueue').times(2).reply(429, { status: 'throttle' }, { 'Retry-After': '7' });
    const clock = virtualClock();
    const sent: number[] = [];
    const deliveryLog = new InMemoryDeliveryLog();
    const handle = notifyWith({
      deliveryLog,
      now: clock.now,
      sleep: clock.sleep,
      visibilityTimeoutMs: 10_000,
      fetch: (input, init) => {
        sent.push(clock.now());
        return fetch(input, init);
      },
    });
    const page = record(notification());
    expect(await handle(event(page))).toEqual({ batchItemFailures: [{ itemIdentifier: page.messageId }] });
    expect(sent).toEqual([T0, T0 + 7_000]);
    // The claim was given back: the record's next receive, at once, may claim it.
    const next = await deliveryLog.claim(
      { notificationId: notification().id, incidentId: INCIDENT_ID, destination: 'pagerduty', sequence: 1 },
      { now: clock.now(), leaseMs: 1_000 },
    );
    expect(next.status).toBe('claimed');
  });

  it('lets the record’s next receive take over from a consumer that died mid-delivery, and page once', async () => {
    const deliveryLog = new InMemoryDeliveryLog();
    const visibilityTimeoutMs = 60_000;
    // The first consumer's request never comes back: the process was killed while it was out.
    let now = T0;
    const dying = notifyWith({
      deliveryLog,
      now: () => now,
      visibilityTimeoutMs,
      fetch: () => new Promise<Response>(() => undefined),
    });
    const page = record(notification());
    void dying(event(page));
    await new Promise((resolve) => setImmediate(resolve));

    // SQS hands the record to another consumer once its visibility timeout ran out.
    now = T0 + visibilityTimeoutMs;
    let calls = 0;
    nock(PAGERDUTY)
      .post('/v2/enqueue')
      .reply(() => {
        calls += 1;
        return [202, { status: 'success' }];
      });
    const taking = notifyWith({ deliveryLog, now: () => now, visibilityTimeoutMs });
    expect(await taking(event(page))).toEqual({ batchItemFailures: [] });
    expect(calls).toBe(1);
  });

  it('starts no delivery once the batch has used up its time, and hands the record back', async () => {
    const { log, leases } = recordingLog();
    const clock = virtualClock();
    const handle = notifyWith({
      deliveryLog: log,
      now: clock.now,
      visibilityTimeoutMs: 10_000,
      // The configuration takes longer to load than the queue waits.
      loadConfig: async () => {
        clock.set(T0 + 10_000);
        return parseNotifyConfig(pagerDutyOnly);
      },
    });
    const page = record(notification());
    expect(await handle(event(page))).toEqual({ batchItemFailures: [{ itemIdentifier: page.messageId }] });
    expect(leases).toEqual([]);
  });
});
