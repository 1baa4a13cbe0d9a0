import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPageSink } from '../../cli/demo/page-sink.ts';
import { type SqliteQueue, SqliteQueueStore } from '../../functions/adapters/queue/sqlite-queue.ts';
import { SqliteStore } from '../../functions/adapters/store/sqlite-store.ts';
import { type NotifyConfig, parseNotifyConfig } from '../../functions/notify/config.ts';
import { createHandler as createNotify } from '../../functions/notify/create-handler.ts';
import { SqliteDeliveryLog } from '../../functions/notify/sqlite-delivery-log.ts';
import { DATA_FILES } from '../../local/data-files.ts';
import {
  DEMO_SINK_FILE,
  NOWHERE,
  pageRoutesOf,
  registerDemoSink,
  whileListening,
} from '../../local/pages.ts';
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
      'demo-sink (pagerduty), the sink a running `faultline demo` registers in the data folder',
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

  const notifyOver = (config: NotifyConfig) =>
    createNotify({
      loadConfig: async () => config,
      deliveryLog,
      deadLetterQueue: deadLetters,
      timeline: store,
      log: () => undefined,
    });

  const timelineTexts = async (): Promise<string[]> =>
    (await store.listTimeline(INCIDENT_ID)).items.map((entry) => entry.text);

  it('pages the sink a running demo registered while it listens, and keeps the page in the timeline, acknowledged, once it is gone', async () => {
    const sink = await startPageSink(0, '127.0.0.1');
    const unregister = registerDemoSink(folder.path, Number(new URL(sink.url).port));
    expect(statSync(join(folder.path, DEMO_SINK_FILE)).mode & 0o777).toBe(0o600);
    const handle = whileListening(notifyOver, folder.path);
    expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
    expect(sink.pages.map((page) => [page.event_action, page.dedup_key])).toEqual([['trigger', INCIDENT_ID]]);
    unregister();
    await sink.close();

    expect(await handle(event(record(resolved())))).toEqual({ batchItemFailures: [] });
    expect(await timelineTexts()).toEqual([
      'page not sent, no destination is configured: it would have sent resolve: every mirror is in sync again',
    ]);
    expect(await deadLetters.receive({ maxMessages: 10 })).toEqual([]);
  });

  it('links each trigger to the incident’s page on this control plane, whose URL `faultline up` wrote in the data folder', async () => {
    writeFileSync(join(folder.path, DATA_FILES.url), 'http://127.0.0.1:8787\n');
    const sink = await startPageSink(0, '127.0.0.1');
    const unregister = registerDemoSink(folder.path, Number(new URL(sink.url).port));
    const handle = whileListening(notifyOver, folder.path);
    expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
    expect(sink.pages).toEqual([
      expect.objectContaining({
        event_action: 'trigger',
        links: [
          {
            href: `http://127.0.0.1:8787/incidents/${INCIDENT_ID}`,
            text: `Faultline incident ${INCIDENT_ID}`,
          },
        ],
      }),
    ]);
    unregister();
    await sink.close();
  });

  it('sends nothing to a process that merely listens where a demo would, with no demo registered', async () => {
    const stranger = await startPageSink(0, '127.0.0.1');
    // A registration left by a demo that is gone names a pid no process has.
    writeFileSync(
      join(folder.path, DEMO_SINK_FILE),
      JSON.stringify({ port: Number(new URL(stranger.url).port), pid: 2 ** 22 + 7 }),
    );
    const handle = whileListening(notifyOver, folder.path);
    expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
    expect(stranger.pages).toEqual([]);
    expect(await timelineTexts()).toHaveLength(1);
    await stranger.close();
  });
});
