import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Notification } from '../../../events/notification.ts';
import { SqsQueue } from '../../../functions/adapters/queue/sqs-queue.ts';
import type { NotifyConfigInput } from '../../../functions/notify/config.ts';
import { DYNALITE_REGION, type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { type Fauxqs, startFauxqs } from '../../helpers/fauxqs.ts';
import { createDeliveryLogTable } from '../notify/delivery-log-table.ts';
import { type ConsumerSummary, type NotifyConsumerSettings, notifyConsumer } from './notify-consumer.ts';

/**
 * The acceptance test of notify's part of issue #18: on fauxqs (SQS) and dynalite (DynamoDB), notify
 * at concurrency 2, one consumer killed in the middle of a batch, and a fresh handler in a new
 * process taking over that batch once the queue hands it out again: each Slack and webhook message
 * is posted once, each PagerDuty action once and in its incident's order.
 *
 * The destinations are one loopback server that counts what it is sent, answering as the real ones
 * do when they accept: PagerDuty Events API v2 `202 {"status":"success"}`, a Slack incoming webhook
 * `200 ok`, a webhook `204`. Nothing is called but 127.0.0.1 (nock refuses every other connection
 * in this process; the child process is given only loopback URLs).
 *
 * The consumer that dies is in this process: it delivers the first two records of its batch, is
 * "killed" while the third one's requests are out (they never reach the server, as when a process
 * dies before its bytes leave), and never deletes its batch. Its claims on the third record's
 * lanes end before the queue hands the batch out again (the lease is cut at the visibility
 * timeout), so the new process takes them over at once.
 */

const INCIDENTS = 6;
const VISIBILITY_TIMEOUT_SECONDS = 4;
const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdef';
const WEBHOOK_SECRET = 'whsec-takeover-0123456789';
const CHILD = join(import.meta.dirname, 'notify-consumer-process.ts');

/** What the loopback destinations were sent, in arrival order. */
interface Received {
  readonly destination: 'pagerduty' | 'slack' | 'webhook';
  /** PagerDuty: `<event_action>:<notification id or "-">` (acknowledge and resolve carry no payload). */
  readonly what: string;
  readonly incident: string;
}

const incidentId = (index: number): string => `inc-outage-vios${index}-20250301T1200`;

const notificationOf = (index: number, step: 'opened' | 'escalated' | 'resolved'): Notification => {
  const id = incidentId(index);
  const sequence = { opened: 1, escalated: 2, resolved: 3 }[step];
  return {
    id: `ntf-${id}-${step}`,
    incidentId: id,
    time: `2025-03-01T12:0${sequence}:00.000Z`,
    action: step === 'resolved' ? 'resolve' : 'trigger',
    dedupKey: id,
    severity: step === 'opened' ? 'error' : step === 'escalated' ? 'critical' : 'info',
    summary: `vios${index} on p10-a: ${step}`,
    sequence,
    details: { failureDomain: `vscsi:p10-a/vios${index}` },
  };
};

const readBody = async (request: IncomingMessage): Promise<string> => {
  let body = '';
  for await (const chunk of request) body += chunk;
  return body;
};

/** The three destinations on one loopback server: PagerDuty, Slack and a webhook, counting. */
const startDestinations = async (): Promise<{ server: Server; url: string; received: Received[] }> => {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      if (request.url === '/pagerduty/v2/enqueue') {
        const event = JSON.parse(body) as {
          event_action: string;
          dedup_key: string;
          payload?: { custom_details?: { notificationId?: string } };
        };
        received.push({
          destination: 'pagerduty',
          what: `${event.event_action}:${event.payload?.custom_details?.notificationId ?? '-'}`,
          incident: event.dedup_key,
        });
        response.writeHead(202, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: event.dedup_key }),
        );
        return;
      }
      if (request.url === '/slack/services/T0000/B0000/takeover') {
        const id = /Faultline notification `([^`]+)`/.exec(body)?.[1] ?? '?';
        received.push({ destination: 'slack', what: id, incident: /`(inc-[^`]+)`/.exec(body)?.[1] ?? '?' });
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end('ok');
        return;
      }
      if (request.url === '/hooks/faultline') {
        const notification = JSON.parse(body) as Notification;
        received.push({
          destination: 'webhook',
          what: String(request.headers['x-faultline-delivery']),
          incident: notification.incidentId,
        });
        response.writeHead(204);
        response.end();
        return;
      }
      response.writeHead(404);
      response.end();
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, received };
};

/** The fresh handler in a new process: consumes until the queue is empty, and says what it did. */
const runConsumerProcess = (settings: NotifyConsumerSettings): Promise<ConsumerSummary> =>
  new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: {
        ...process.env,
        FAULTLINE_TEST_NOTIFY_CONSUMER: JSON.stringify(settings),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let errors = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      errors += chunk;
    });
    child.once('error', fail);
    child.once('exit', (code) => {
      if (code !== 0) {
        fail(new Error(`the consumer process exited ${code}: ${errors}`));
        return;
      }
      try {
        done(JSON.parse(out.trim().split('\n').pop() ?? '') as ConsumerSummary);
      } catch (error) {
        fail(new Error(`the consumer process printed no summary: ${out} ${errors}`, { cause: error }));
      }
    });
  });

let sqs: Fauxqs;
let dynamo: Dynalite;
let destinations: Awaited<ReturnType<typeof startDestinations>>;

beforeAll(async () => {
  [sqs, dynamo, destinations] = await Promise.all([startFauxqs(), startDynalite(), startDestinations()]);
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith('127.0.0.1'));
});
afterAll(async () => {
  nock.enableNetConnect();
  await Promise.all([
    sqs.stop(),
    dynamo.stop(),
    new Promise<void>((closed) => {
      destinations.server.closeAllConnections();
      destinations.server.close(() => closed());
    }),
  ]);
});

describe('notify on SQS and DynamoDB emulators: a consumer dies mid-batch, a new process takes over', () => {
  it('posts each Slack and webhook message once, and each PagerDuty action once and in order', {
    timeout: 120_000,
  }, async () => {
    const deadLetters = await sqs.createQueue('notify-takeover-dlq');
    const notifyQueue = await sqs.createQueue('notify-takeover', {
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
      redrive: { deadLetterQueueArn: deadLetters.queueArn, maxReceiveCount: 5 },
    });
    const config: NotifyConfigInput = {
      destinations: [
        {
          kind: 'pagerduty',
          name: 'pagerduty',
          routingKey: ROUTING_KEY,
          url: `${destinations.url}/pagerduty/v2/enqueue`,
        },
        { kind: 'slack', name: 'slack', url: `${destinations.url}/slack/services/T0000/B0000/takeover` },
        {
          kind: 'webhook',
          name: 'webhook',
          url: `${destinations.url}/hooks/faultline`,
          secret: WEBHOOK_SECRET,
        },
      ],
    };
    const settings: NotifyConsumerSettings = {
      sqsEndpoint: sqs.endpoint,
      dynamoEndpoint: dynamo.endpoint,
      region: DYNALITE_REGION,
      queueUrl: notifyQueue.queueUrl,
      queueArn: notifyQueue.queueArn,
      deadLetterQueueUrl: deadLetters.queueUrl,
      deliveryLogTable: await createDeliveryLogTable(dynamo.client()),
      visibilityTimeoutMs: VISIBILITY_TIMEOUT_SECONDS * 1_000,
      config,
    };
    const producer = new SqsQueue({ client: sqs.client(), queueUrl: notifyQueue.queueUrl });
    const enqueue = (notifications: readonly Notification[]) =>
      producer.sendMany(
        notifications.map((body, index) => ({ id: `n${index}`, body: JSON.stringify(body) })),
      );
    const incidents = Array.from({ length: INCIDENTS }, (_, index) => index + 1);

    // 1. The triggers, to two consumers at once. The first is killed while its batch's third
    //    record is out: its first two are delivered, its batch is never deleted.
    await enqueue(incidents.map((index) => notificationOf(index, 'opened')));
    let requestsOut = 0;
    let killed: () => void = () => undefined;
    const dyingNow = new Promise<void>((resolve) => {
      killed = resolve;
    });
    const doomed = notifyConsumer(settings, {
      fetch: (input, init) => {
        requestsOut += 1;
        // Records one and two: three destinations each. The third record's requests never leave.
        if (requestsOut <= 6) return fetch(input, init);
        killed();
        return new Promise<Response>(() => undefined);
      },
    });
    const steady = notifyConsumer(settings);
    const doomedBatch = await doomed.queue.receive({ maxMessages: 4 });
    expect(doomedBatch).toHaveLength(4);
    void doomed.handle(doomed.eventOf(doomedBatch));
    await dyingNow;
    // The other consumer takes what is visible (the batch in the dead one's hands is not).
    for (let batch = await steady.queue.receive({ maxMessages: 4 }); batch.length > 0; ) {
      await steady.consume(batch);
      batch = await steady.queue.receive({ maxMessages: 4 });
    }
    expect(await steady.queue.counts()).toMatchObject({ visible: 0, inFlight: 4 });

    // 2. A fresh handler in a new process gets the dead consumer's batch once its visibility ran out.
    const takeover = await runConsumerProcess(settings);
    expect(takeover).toEqual({ handled: 4, redelivered: 4, failed: 0 });

    // 3. The escalations, and every trigger again (the outbox re-enqueues after a crash), then the
    //    resolves and the escalations again: each time to a consumer here and a new process at once.
    await enqueue([
      ...incidents.map((index) => notificationOf(index, 'escalated')),
      ...incidents.map((index) => notificationOf(index, 'opened')),
    ]);
    await Promise.all([steady.drain(), runConsumerProcess(settings)]);
    await enqueue([
      ...incidents.map((index) => notificationOf(index, 'resolved')),
      ...incidents.map((index) => notificationOf(index, 'escalated')),
    ]);
    await Promise.all([steady.drain(), runConsumerProcess(settings)]);
    steady.close();
    doomed.close();

    const { received } = destinations;
    for (const destination of ['slack', 'webhook'] as const) {
      const posted = received.filter((entry) => entry.destination === destination).map((entry) => entry.what);
      expect(posted.toSorted(), destination).toEqual(
        incidents
          .flatMap((index) =>
            (['opened', 'escalated', 'resolved'] as const).map((step) => notificationOf(index, step).id),
          )
          .toSorted(),
      );
    }
    for (const index of incidents) {
      const id = incidentId(index);
      expect(
        received
          .filter((entry) => entry.destination === 'pagerduty' && entry.incident === id)
          .map((entry) => entry.what),
        id,
      ).toEqual([`trigger:ntf-${id}-opened`, `trigger:ntf-${id}-escalated`, 'resolve:-']);
    }
    const deadLettered = new SqsQueue({ client: sqs.client(), queueUrl: deadLetters.queueUrl });
    expect(await deadLettered.counts()).toMatchObject({ visible: 0, inFlight: 0 });
  });
});
