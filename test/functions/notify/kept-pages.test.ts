import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MetricsBuffer } from '../../../functions/adapters/observability/metrics-buffer.ts';
import type { MetricSample } from '../../../functions/adapters/observability/metrics-port.ts';
import { type SqliteQueue, SqliteQueueStore } from '../../../functions/adapters/queue/sqlite-queue.ts';
import { SqliteStore } from '../../../functions/adapters/store/sqlite-store.ts';
import { parseNotifyConfig } from '../../../functions/notify/config.ts';
import { createHandler } from '../../../functions/notify/create-handler.ts';
import { SqliteDeliveryLog } from '../../../functions/notify/sqlite-delivery-log.ts';
import { temporaryFolder } from '../../helpers/queue-files.ts';
import { event, INCIDENT_ID, notification, record, resolved } from './notifications.ts';

/**
 * notify with no destination (docs/architecture.md §6 "Notifications"; issue #17): a page is kept
 * in its incident's timeline, saying what would have been sent and why it was not, and its record
 * is acknowledged: not retried, not dead-lettered, and kept once however often it comes back. The
 * real handler over a real SQLite store (the timeline), queue (the DLQ) and delivery log.
 */

describe('notify with no destination configured', () => {
  let folder: ReturnType<typeof temporaryFolder>;
  let queues: SqliteQueueStore;
  let deadLetters: SqliteQueue;
  let store: SqliteStore;
  let deliveryLog: SqliteDeliveryLog;
  let samples: MetricSample[];
  let fetched: string[];
  let log: Readonly<Record<string, unknown>>[];

  const handler = (destinations: unknown[] = [], allowList?: string[]) =>
    createHandler({
      loadConfig: async () =>
        parseNotifyConfig({ destinations, ...(allowList === undefined ? {} : { allowList }) }),
      deliveryLog,
      deadLetterQueue: deadLetters,
      timeline: store,
      metrics: new MetricsBuffer((flushed) => samples.push(...flushed)),
      fetch: async (input) => {
        fetched.push(String(input));
        return new Response(null, { status: 202 });
      },
      log: (entry) => log.push(entry),
    });

  const timeline = async () => (await store.listTimeline(INCIDENT_ID)).items;

  beforeEach(() => {
    folder = temporaryFolder('faultline-kept-pages-');
    queues = SqliteQueueStore.open(folder.file('queues.sqlite'));
    deadLetters = queues.queue('notify-dlq');
    store = new SqliteStore({ path: folder.file('faultline.db') });
    deliveryLog = SqliteDeliveryLog.open(folder.file('deliveries.sqlite'));
    samples = [];
    fetched = [];
    log = [];
  });
  afterEach(async () => {
    deliveryLog.close();
    await store.close();
    queues.close();
    folder.remove();
  });

  it('keeps a trigger and its resolve in the timeline, says what would have been sent, and acknowledges both', async () => {
    const handle = handler();
    const trigger = notification();
    expect(await handle(event(record(trigger), record(resolved())))).toEqual({ batchItemFailures: [] });
    const entries = await timeline();
    expect(entries.map((entry) => entry.text)).toEqual([
      `page not sent, no destination is configured: it would have sent trigger (critical): ${trigger.summary}`,
      `page not sent, no destination is configured: it would have sent resolve: every mirror is in sync again`,
    ]);
    expect(entries.every((entry) => entry.at === trigger.time && entry.incidentId === INCIDENT_ID)).toBe(
      true,
    );
    expect(await deadLetters.receive({ maxMessages: 10 })).toEqual([]);
    expect(fetched).toEqual([]);
    expect(samples).toContainEqual({
      kind: 'count',
      metric: 'deliveries',
      labels: { destination: 'none', outcome: 'kept' },
      value: 2,
    });
    expect(log).toContainEqual(
      expect.objectContaining({
        level: 'info',
        change: 'paged',
        incident: INCIDENT_ID,
        message: `page kept in the timeline (no destination is configured): trigger (critical): ${trigger.summary}`,
      }),
    );
    expect(log.filter((entry) => entry.level === 'warn' || entry.level === 'error')).toEqual([]);
  });

  it('keeps a page once however often its record comes back', async () => {
    const handle = handler();
    await handle(event(record(notification())));
    await handle(event(record(notification())));
    await handler()(event(record(notification())));
    expect(await timeline()).toHaveLength(1);
  });

  it('keeps a page no destination may take: every one configured is off the allow-list', async () => {
    const handle = handler(
      [{ kind: 'pagerduty', name: 'oncall', routingKey: 'R0123456789abcdef0123456789abcde' }],
      ['https://hooks.example.com/only-this'],
    );
    expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
    const [entry] = await timeline();
    expect(entry?.text).toMatch(
      /^page not sent, no destination may be called \(oncall not on the allow-list\)/,
    );
    expect(fetched).toEqual([]);
  });

  it('pages the destinations when there are some, and keeps nothing in the timeline', async () => {
    const handle = handler([
      { kind: 'pagerduty', name: 'oncall', routingKey: 'R0123456789abcdef0123456789abcde' },
    ]);
    expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
    expect(fetched).toEqual(['https://events.pagerduty.com/v2/enqueue']);
    expect(await timeline()).toEqual([]);
    expect(samples).toContainEqual({
      kind: 'count',
      metric: 'deliveries',
      labels: { destination: 'oncall', outcome: 'delivered' },
      value: 1,
    });
  });

  it('retries the record, not the DLQ, when the timeline cannot be written', async () => {
    const handle = createHandler({
      loadConfig: async () => parseNotifyConfig({ destinations: [] }),
      deliveryLog,
      deadLetterQueue: deadLetters,
      timeline: {
        putTimeline: async () => {
          throw new Error('database is locked');
        },
      },
      log: () => undefined,
    });
    const page = record(notification());
    expect(await handle(event(page))).toEqual({ batchItemFailures: [{ itemIdentifier: page.messageId }] });
    expect(await deadLetters.receive({ maxMessages: 10 })).toEqual([]);
  });
});
