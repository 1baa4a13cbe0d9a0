import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../events/canonical-json.ts';
import type { Notification } from '../../../events/notification.ts';
import {
  DEAD_LETTER_ATTRIBUTES,
  deadLetterReason,
  stringAttribute,
} from '../../../functions/adapters/queue/port.ts';
import { type SqliteQueue, SqliteQueueStore } from '../../../functions/adapters/queue/sqlite-queue.ts';
import { type NotifyConfigInput, parseNotifyConfig } from '../../../functions/notify/config.ts';
import { InMemoryDeliveryLog } from '../../../functions/notify/delivery-log.ts';
import { createHandler, type NotifyDeps } from '../../../functions/notify/handler.ts';
import { temporaryFolder } from '../../helpers/queue-files.ts';
import { acknowledged, event, INCIDENT_ID, notification, record, resolved } from './notifications.ts';

const PAGERDUTY = 'https://events.pagerduty.com';
const SLACK = 'https://hooks.slack.com';
const SLACK_PATH = '/services/T0000FLT/B0000FLT/abcdefghijklmnopqrstuvwx';
const WEBHOOK = 'https://ops.example.com';
const WEBHOOK_PATH = '/hooks/faultline';
const ROGUE = 'https://collector.example.net';
const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';
const SECRET = 'whsec-0123456789abcdef';
const NOW = Date.parse('2025-03-01T12:03:05.250Z');

const pagerDutyOnly: NotifyConfigInput = {
  destinations: [{ kind: 'pagerduty', name: 'pagerduty', routingKey: ROUTING_KEY }],
};

const everyKind: NotifyConfigInput = {
  destinations: [
    { kind: 'pagerduty', name: 'pagerduty', routingKey: ROUTING_KEY },
    { kind: 'slack', name: 'slack', url: `${SLACK}${SLACK_PATH}` },
    { kind: 'webhook', name: 'webhook', url: `${WEBHOOK}${WEBHOOK_PATH}`, secret: SECRET },
  ],
};

interface Sent {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

interface Harness {
  readonly handle: ReturnType<typeof createHandler>;
  /** Every request as handed to fetch: the exact bytes and headers that went out. */
  readonly sent: Sent[];
  /** Every wait the retries asked for. */
  readonly sleeps: number[];
  readonly log: Readonly<Record<string, unknown>>[];
}

describe('notify handler', () => {
  let folder: ReturnType<typeof temporaryFolder>;
  let store: SqliteQueueStore;
  let deadLetters: SqliteQueue;

  const harness = (config: NotifyConfigInput, overrides: Partial<NotifyDeps> = {}): Harness => {
    const sent: Sent[] = [];
    const sleeps: number[] = [];
    const log: Readonly<Record<string, unknown>>[] = [];
    const handle = createHandler({
      loadConfig: async () => parseNotifyConfig(config),
      deliveryLog: new InMemoryDeliveryLog(),
      deadLetterQueue: deadLetters,
      fetch: async (input, init) => {
        sent.push({
          url: String(input),
          headers: { ...(init?.headers as Record<string, string>) },
          body: String(init?.body),
        });
        return fetch(input, init);
      },
      now: () => NOW,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      log: (entry) => log.push(entry),
      ...overrides,
    });
    return { handle, sent, sleeps, log };
  };

  const deadLettered = async () =>
    (await deadLetters.receive({ maxMessages: 10 })).map((message) => ({
      body: message.body,
      reason: deadLetterReason(message),
      sourceMessageId: message.attributes[DEAD_LETTER_ATTRIBUTES.sourceMessageId],
    }));

  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect((host) => host.startsWith('127.0.0.1'));
  });
  afterAll(() => {
    nock.enableNetConnect();
  });
  beforeEach(() => {
    folder = temporaryFolder('faultline-notify-');
    store = SqliteQueueStore.open(folder.file('queues.sqlite'));
    deadLetters = store.queue('notify-dlq');
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    store.close();
    folder.remove();
    expect(pending).toEqual([]);
  });

  describe('PagerDuty Events API v2', () => {
    const accepted = (body: { dedup_key?: string }) => ({
      status: 'success',
      message: 'Event processed',
      dedup_key: body.dedup_key,
    });

    it('triggers with the incident id as dedup_key and the required payload fields', async () => {
      const bodies: unknown[] = [];
      nock(PAGERDUTY)
        .post('/v2/enqueue')
        .reply(202, (_uri, body) => {
          bodies.push(body);
          return accepted(body as { dedup_key?: string });
        });
      const { handle, sent } = harness(pagerDutyOnly);
      expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
      expect(bodies).toEqual([
        {
          routing_key: ROUTING_KEY,
          event_action: 'trigger',
          dedup_key: INCIDENT_ID,
          payload: {
            summary: 'vios2 on p10-a is down: 40 clients run on one mirror half',
            source: 'vscsi:p10-a/vios2',
            severity: 'critical',
            timestamp: '2025-03-01T12:03:00.000Z',
            // An outage concerns every array its failure domain serves (requests.ts componentOf).
            component: 'vscsi:p10-a/vios2',
            group: 'vscsi:p10-a/vios2',
            class: 'storage',
            custom_details: {
              failureDomain: 'vscsi:p10-a/vios2',
              affectedHosts: ['lpar-0001', 'lpar-0002'],
              affectedCount: 40,
              incidentId: INCIDENT_ID,
              notificationId: `ntf-${INCIDENT_ID}-trigger`,
            },
          },
          client: 'Faultline',
        },
      ]);
      expect(sent[0]?.url).toBe(`${PAGERDUTY}/v2/enqueue`);
      expect(sent[0]?.headers['content-type']).toBe('application/json');
    });

    it('delivers on a queue with a short visibility timeout (2 s), where the usual shortest lease does not fit', async () => {
      nock(PAGERDUTY)
        .post('/v2/enqueue')
        .reply(202, (_uri, body) => accepted(body as { dedup_key?: string }));
      const { handle, sent } = harness(pagerDutyOnly, { visibilityTimeoutMs: 2_000 });
      expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
      expect(sent.map((request) => request.url)).toEqual([`${PAGERDUTY}/v2/enqueue`]);
    });

    it('acknowledges and resolves the same alert with the same dedup_key, without a payload', async () => {
      const bodies: unknown[] = [];
      nock(PAGERDUTY)
        .post('/v2/enqueue')
        .times(2)
        .reply(202, (_uri, body) => {
          bodies.push(body);
          return accepted(body as { dedup_key?: string });
        });
      const { handle } = harness(pagerDutyOnly);
      expect(await handle(event(record(acknowledged()), record(resolved())))).toEqual({
        batchItemFailures: [],
      });
      expect(bodies).toEqual([
        { routing_key: ROUTING_KEY, event_action: 'acknowledge', dedup_key: INCIDENT_ID },
        { routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: INCIDENT_ID },
      ]);
    });

    it('names the configured source and console link when given', async () => {
      const bodies: { payload?: { source?: string }; client_url?: string }[] = [];
      nock(PAGERDUTY)
        .post('/v2/enqueue')
        .reply(202, (_uri, body) => {
          bodies.push(body as (typeof bodies)[number]);
          return accepted(body as { dedup_key?: string });
        });
      const { handle } = harness({
        destinations: [
          {
            kind: 'pagerduty',
            name: 'pagerduty',
            routingKey: ROUTING_KEY,
            source: 'faultline-prod',
            clientUrl: 'https://faultline.example.com/incidents',
          },
        ],
      });
      await handle(event(record(notification())));
      expect(bodies[0]?.payload?.source).toBe('faultline-prod');
      expect(bodies[0]?.client_url).toBe('https://faultline.example.com/incidents');
    });
  });

  describe('Slack', () => {
    it('posts a readable message: a text fallback and blocks with the summary and the incident', async () => {
      const bodies: unknown[] = [];
      nock(SLACK)
        .post(SLACK_PATH)
        .reply(200, (_uri, body) => {
          bodies.push(body);
          return 'ok';
        });
      const { handle } = harness({
        destinations: [{ kind: 'slack', name: 'slack', url: `${SLACK}${SLACK_PATH}` }],
      });
      const page = notification({ summary: 'vios2 <p10-a> & friends are down' });
      expect(await handle(event(record(page)))).toEqual({ batchItemFailures: [] });
      expect(bodies).toEqual([
        {
          text: ':rotating_light: Triggered (critical): vios2 &lt;p10-a&gt; &amp; friends are down',
          blocks: [
            {
              type: 'header',
              text: { type: 'plain_text', text: 'Triggered: vios2 <p10-a> & friends are down', emoji: true },
            },
            {
              type: 'section',
              text: { type: 'mrkdwn', text: ':rotating_light: vios2 &lt;p10-a&gt; &amp; friends are down' },
            },
            {
              type: 'section',
              fields: [
                { type: 'mrkdwn', text: `*Incident*\n\`${INCIDENT_ID}\`` },
                { type: 'mrkdwn', text: '*Severity*\ncritical' },
                { type: 'mrkdwn', text: '*Time*\n2025-03-01T12:03:00.000Z' },
                { type: 'mrkdwn', text: '*failureDomain*\nvscsi:p10-a/vios2' },
                { type: 'mrkdwn', text: '*affectedHosts*\nlpar-0001, lpar-0002' },
                { type: 'mrkdwn', text: '*affectedCount*\n40' },
              ],
            },
            {
              type: 'context',
              elements: [{ type: 'mrkdwn', text: `Faultline notification \`ntf-${INCIDENT_ID}-trigger\`` }],
            },
          ],
        },
      ]);
    });
  });

  describe('signed webhook', () => {
    it('sends the notification with its delivery id and a signature the receiver can recompute', async () => {
      const received: unknown[] = [];
      nock(WEBHOOK)
        .post(WEBHOOK_PATH)
        .reply(204, (_uri, body) => {
          received.push(body);
          return '';
        });
      const { handle, sent } = harness({
        destinations: [
          { kind: 'webhook', name: 'webhook', url: `${WEBHOOK}${WEBHOOK_PATH}`, secret: SECRET },
        ],
      });
      const page = notification();
      expect(await handle(event(record(page)))).toEqual({ batchItemFailures: [] });
      expect(received).toEqual([page]);

      const [request] = sent;
      if (request === undefined) expect.fail('nothing was sent');
      expect(request.headers['X-Faultline-Delivery']).toBe(page.id);
      const signature = request.headers['X-Faultline-Signature'] ?? '';
      const match = /^t=(\d+),sha256=([0-9a-f]{64})$/.exec(signature);
      if (match === null) expect.fail(`not a signature: ${signature}`);
      const [, t, hex] = match;
      expect(Number(t)).toBe(Math.floor(NOW / 1_000));
      expect(request.body).toBe(canonicalJson(page));
      expect(createHmac('sha256', SECRET).update(`${t}.${request.body}`).digest('hex')).toBe(hex);
      expect(
        createHmac('sha256', 'another-secret-0000').update(`${t}.${request.body}`).digest('hex'),
      ).not.toBe(hex);
    });
  });

  describe('retries', () => {
    it('retries after a 429 for as long as Retry-After says (seconds)', async () => {
      nock(PAGERDUTY).post('/v2/enqueue').reply(429, { status: 'throttle' }, { 'Retry-After': '7' });
      nock(PAGERDUTY).post('/v2/enqueue').reply(202, { status: 'success' });
      const { handle, sent, sleeps } = harness(pagerDutyOnly);
      expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
      expect(sent).toHaveLength(2);
      expect(sleeps).toEqual([7_000]);
    });

    it('retries after a 429 until the HTTP date in Retry-After', async () => {
      // An HTTP date has whole seconds: NOW is 12:03:05.250, the date 12:03:09.
      nock(PAGERDUTY)
        .post('/v2/enqueue')
        .reply(429, { status: 'throttle' }, { 'Retry-After': 'Sat, 01 Mar 2025 12:03:09 GMT' });
      nock(PAGERDUTY).post('/v2/enqueue').reply(202, { status: 'success' });
      const { handle, sleeps } = harness(pagerDutyOnly);
      expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
      expect(sleeps).toEqual([3_750]);
    });

    it('retries a 503 with exponential backoff and jitter', async () => {
      nock(PAGERDUTY).post('/v2/enqueue').times(2).reply(503, 'unavailable');
      nock(PAGERDUTY).post('/v2/enqueue').reply(202, { status: 'success' });
      const { handle, sent, sleeps } = harness(pagerDutyOnly);
      expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
      expect(sent).toHaveLength(3);
      // base 500 ms doubling, half fixed and half jittered (random() = 0.5)
      expect(sleeps).toEqual([375, 750]);
    });

    it('retries when the connection fails', async () => {
      nock(PAGERDUTY).post('/v2/enqueue').replyWithError('socket hang up');
      nock(PAGERDUTY).post('/v2/enqueue').reply(202, { status: 'success' });
      const { handle, sent } = harness(pagerDutyOnly);
      expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
      expect(sent).toHaveLength(2);
    });

    it('reports the record failed after the last try, so SQS delivers it again, and dead-letters nothing', async () => {
      nock(PAGERDUTY).post('/v2/enqueue').times(4).reply(503, 'unavailable');
      const { handle, sent } = harness(pagerDutyOnly);
      const failing = record(notification());
      expect(await handle(event(failing))).toEqual({
        batchItemFailures: [{ itemIdentifier: failing.messageId }],
      });
      expect(sent).toHaveLength(4);
      expect(await deadLettered()).toEqual([]);
    });

    it('hands a Retry-After longer than it waits back to SQS at once', async () => {
      nock(PAGERDUTY).post('/v2/enqueue').reply(429, { status: 'throttle' }, { 'Retry-After': '600' });
      const { handle, sent, sleeps } = harness(pagerDutyOnly);
      const throttled = record(notification());
      expect(await handle(event(throttled))).toEqual({
        batchItemFailures: [{ itemIdentifier: throttled.messageId }],
      });
      expect(sent).toHaveLength(1);
      expect(sleeps).toEqual([]);
    });

    it('does not retry a 400, and dead-letters the record with the reason', async () => {
      nock(PAGERDUTY)
        .post('/v2/enqueue')
        .reply(400, {
          status: 'invalid event',
          message: 'Event object is invalid',
          errors: ['Invalid routing key'],
        });
      const { handle, sent, sleeps } = harness(pagerDutyOnly);
      const refused = record(notification());
      expect(await handle(event(refused))).toEqual({ batchItemFailures: [] });
      expect(sent).toHaveLength(1);
      expect(sleeps).toEqual([]);
      const [dead, ...more] = await deadLettered();
      expect(more).toEqual([]);
      expect(dead?.body).toBe(refused.body);
      expect(dead?.reason).toMatch(/^refused by pagerduty: HTTP 400: .*Invalid routing key/);
      expect(dead?.sourceMessageId).toEqual(stringAttribute(refused.messageId));
    });

    it('never follows a redirect', async () => {
      nock(WEBHOOK)
        .post(WEBHOOK_PATH)
        .reply(302, '', { Location: `${ROGUE}/steal` });
      const rogue = nock(ROGUE).post('/steal').reply(200);
      const { handle, sent } = harness({
        destinations: [
          { kind: 'webhook', name: 'webhook', url: `${WEBHOOK}${WEBHOOK_PATH}`, secret: SECRET },
        ],
      });
      expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
      expect(sent.map((request) => request.url)).toEqual([`${WEBHOOK}${WEBHOOK_PATH}`]);
      expect(rogue.isDone()).toBe(false);
      nock.cleanAll();
      expect((await deadLettered())[0]?.reason).toMatch(/HTTP 302/);
    });
  });

  describe('allow-list', () => {
    it('never calls a destination that is not on the allow-list, and delivers to the others', async () => {
      const rogue = nock(ROGUE).post('/hook').reply(200);
      nock(PAGERDUTY).post('/v2/enqueue').reply(202, { status: 'success' });
      const { handle, sent, log } = harness({
        destinations: [
          { kind: 'pagerduty', name: 'pagerduty', routingKey: ROUTING_KEY },
          { kind: 'webhook', name: 'collector', url: `${ROGUE}/hook`, secret: SECRET },
        ],
        allowList: ['https://events.pagerduty.com/v2/enqueue'],
      });
      expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
      expect(sent.map((request) => request.url)).toEqual([`${PAGERDUTY}/v2/enqueue`]);
      expect(rogue.isDone()).toBe(false);
      expect(log).toContainEqual(expect.objectContaining({ outcome: 'blocked', destination: 'collector' }));
      nock.cleanAll();
    });
  });

  describe('batches', () => {
    it('dead-letters malformed records with their reasons and delivers their neighbours', async () => {
      const bodies: { dedup_key?: string; event_action?: string }[] = [];
      nock(PAGERDUTY)
        .post('/v2/enqueue')
        .times(2)
        .reply(202, (_uri, body) => {
          bodies.push(body as (typeof bodies)[number]);
          return { status: 'success' };
        });
      const { handle } = harness(pagerDutyOnly);
      const notJson = record('{"id": "ntf-1", ');
      const notANotification = record(JSON.stringify({ ...notification(), severity: 'catastrophic' }));
      const response = await handle(
        event(record(notification()), notJson, notANotification, record(resolved())),
      );
      expect(response).toEqual({ batchItemFailures: [] });
      expect(bodies.map((body) => body.event_action)).toEqual(['trigger', 'resolve']);
      const dead = await deadLettered();
      expect(dead).toHaveLength(2);
      expect(dead.find((d) => d.body === notJson.body)?.reason).toMatch(/^not JSON: /);
      expect(dead.find((d) => d.body === notANotification.body)?.reason).toMatch(
        /^not a notification: severity: /,
      );
    });

    it('does not send a redelivered record twice', async () => {
      let calls = 0;
      nock(PAGERDUTY)
        .persist()
        .post('/v2/enqueue')
        .reply(202, () => {
          calls += 1;
          return { status: 'success' };
        });
      const { handle } = harness(pagerDutyOnly);
      const page = record(notification());
      expect(await handle(event(page))).toEqual({ batchItemFailures: [] });
      expect(await handle(event(page))).toEqual({ batchItemFailures: [] });
      expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
      expect(calls).toBe(1);
      nock.cleanAll();
    });

    it('on redelivery sends only to the destinations that did not get it', async () => {
      const pagerDuty = nock(PAGERDUTY).post('/v2/enqueue').reply(202, { status: 'success' });
      nock(SLACK).post(SLACK_PATH).reply(200, 'ok');
      nock(WEBHOOK).post(WEBHOOK_PATH).times(4).reply(503, 'down');
      const { handle, sent } = harness(everyKind);
      const page = record(notification());
      expect(await handle(event(page))).toEqual({ batchItemFailures: [{ itemIdentifier: page.messageId }] });
      expect(pagerDuty.isDone()).toBe(true);

      nock(WEBHOOK).post(WEBHOOK_PATH).reply(204);
      sent.length = 0;
      expect(await handle(event(page))).toEqual({ batchItemFailures: [] });
      expect(sent.map((request) => request.url)).toEqual([`${WEBHOOK}${WEBHOOK_PATH}`]);
    });

    it('sends each destination only the actions and severities it asked for', async () => {
      nock(PAGERDUTY).post('/v2/enqueue').reply(202, { status: 'success' });
      const { handle, sent } = harness({
        destinations: [
          { kind: 'pagerduty', name: 'pagerduty', routingKey: ROUTING_KEY, minSeverity: 'critical' },
          { kind: 'slack', name: 'slack', url: `${SLACK}${SLACK_PATH}`, actions: ['resolve'] },
        ],
      });
      const warning: Notification = notification({ id: 'ntf-warning', severity: 'warning' });
      expect(await handle(event(record(warning), record(notification())))).toEqual({ batchItemFailures: [] });
      expect(sent.map((request) => request.url)).toEqual([`${PAGERDUTY}/v2/enqueue`]);
    });

    it('fails the whole batch while its configuration is invalid, and recovers once it is fixed', async () => {
      let config: NotifyConfigInput = {
        destinations: [{ kind: 'slack', name: 'slack', url: 'http://hooks.slack.com/x' }],
      };
      nock(SLACK).post(SLACK_PATH).reply(200, 'ok');
      const { handle } = harness(pagerDutyOnly, { loadConfig: async () => parseNotifyConfig(config) });
      await expect(handle(event(record(notification())))).rejects.toMatchObject({
        code: 'notify-config-invalid',
      });
      config = { destinations: [{ kind: 'slack', name: 'slack', url: `${SLACK}${SLACK_PATH}` }] };
      expect(await handle(event(record(notification())))).toEqual({ batchItemFailures: [] });
    });

    it('sends to the destinations of the configuration loadConfig answers for each batch (a rotated secret)', async () => {
      const before = parseNotifyConfig({
        destinations: [{ kind: 'slack', name: 'slack', url: `${SLACK}${SLACK_PATH}` }],
      });
      const after = parseNotifyConfig({
        destinations: [{ kind: 'slack', name: 'slack', url: `${SLACK}/services/rotated` }],
      });
      let current = before;
      nock(SLACK).post(SLACK_PATH).reply(200, 'ok');
      nock(SLACK).post('/services/rotated').reply(200, 'ok');
      const { handle, sent } = harness(pagerDutyOnly, { loadConfig: async () => current });
      expect(await handle(event(record(notification({ id: 'ntf-before' }))))).toEqual({
        batchItemFailures: [],
      });
      current = after;
      expect(await handle(event(record(notification({ id: 'ntf-after' }))))).toEqual({
        batchItemFailures: [],
      });
      expect(sent.map((request) => request.url)).toEqual([
        `${SLACK}${SLACK_PATH}`,
        `${SLACK}/services/rotated`,
      ]);
    });
  });
});
