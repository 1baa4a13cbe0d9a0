import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPageSink } from '../../cli/demo/page-sink.ts';
import { type SqliteQueue, SqliteQueueStore } from '../../functions/adapters/queue/sqlite-queue.ts';
import { SqliteStore } from '../../functions/adapters/store/sqlite-store.ts';
import { parseNotifyConfig } from '../../functions/notify/config.ts';
import { createHandler as createNotify } from '../../functions/notify/create-handler.ts';
import { SqliteDeliveryLog } from '../../functions/notify/sqlite-delivery-log.ts';
import { LOCAL_SINK_DESTINATION } from '../../local/config.ts';
import { NOWHERE, pageRoutesOf, whileListening } from '../../local/pages.ts';
import { event, INCIDENT_ID, notification, record, resolved } from '../functions/notify/notifications.ts';
import { temporaryFolder } from '../helpers/queue-files.ts';

/**
 * Where the local runtime's pages go (local/pages.ts): said in words for the banner and `stats`;
 * without a `notify` section, to the demo's sink while it listens and into the timeline otherwise,
 * with a real sink (cli/demo/page-sink.ts) on a free port and the real notify handler.
 */

describe('where pages go', () => {
  it('says it for the demo sink default, for no destination and for named destinations', () => {
    const demo = pageRoutesOf(undefined);
    expect(demo.destinations).toEqual([{ name: 'demo-sink', kind: 'pagerduty', whileListening: true }]);
    expect(demo.description).toContain(
      `demo-sink (pagerduty) at ${LOCAL_SINK_DESTINATION.url} while \`faultline demo\` runs`,
    );
    expect(demo.description).toContain(`otherwise ${NOWHERE}`);
    expect(pageRoutesOf(parseNotifyConfig({ destinations: [] }))).toEqual({
      destinations: [],
      description: NOWHERE,
    });
    expect(
      pageRoutesOf(
        parseNotifyConfig({
          destinations: [
            { name: 'oncall', kind: 'pagerduty', routingKey: 'R0123456789abcdef0123456789abcde' },
            { name: 'team', kind: 'slack', url: 'https://hooks.slack.com/services/T0/B0/x' },
          ],
        }),
      ),
    ).toEqual({
      destinations: [
        { name: 'oncall', kind: 'pagerduty' },
        { name: 'team', kind: 'slack' },
      ],
      description: 'oncall (pagerduty), team (slack)',
    });
  });
});

describe('notify over the demo sink', () => {
  let folder: ReturnType<typeof temporaryFolder>;
  let queues: SqliteQueueStore;
  let deadLetters: SqliteQueue;
  let store: SqliteStore;
  let deliveryLog: SqliteDeliveryLog;

  beforeEach(() => {
    folder = temporaryFolder('faultline-demo-sink-');
    queues = SqliteQueueStore.open(folder.file('queues.sqlite'));
    deadLetters = queues.queue('notify-dlq');
    store = new SqliteStore({ path: folder.file('faultline.db') });
    deliveryLog = SqliteDeliveryLog.open(folder.file('deliveries.sqlite'));
  });
  afterEach(async () => {
    deliveryLog.close();
    await store.close();
    queues.close();
    folder.remove();
  });

  it('pages the sink while it listens, and keeps the page in the timeline, acknowledged, once it is gone', async () => {
    const sink = await startPageSink(0, '127.0.0.1');
    const port = Number(new URL(sink.url).port);
    const handle = whileListening(
      (config) =>
        createNotify({
          loadConfig: async () => config,
          deliveryLog,
          deadLetterQueue: deadLetters,
          timeline: store,
          log: () => undefined,
        }),
      { destination: { ...LOCAL_SINK_DESTINATION, url: sink.url }, host: '127.0.0.1', port },
    );
    expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
    expect(sink.pages.map((page) => [page.event_action, page.dedup_key])).toEqual([['trigger', INCIDENT_ID]]);
    await sink.close();

    expect(await handle(event(record(resolved())))).toEqual({ batchItemFailures: [] });
    const timeline = (await store.listTimeline(INCIDENT_ID)).items.map((entry) => entry.text);
    expect(timeline).toEqual([
      'page not sent, no destination is configured: it would have sent resolve: every mirror is in sync again',
    ]);
    expect(await deadLetters.receive({ maxMessages: 10 })).toEqual([]);
  });
});
