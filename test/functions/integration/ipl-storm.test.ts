import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputTime } from '../../../cli/replay/memory-world.ts';
import { type FaultlineEvent, type Plan, type UnsignedPlan, verifyPlan } from '../../../events/index.ts';
import {
  type BatchResponse,
  type QueueEvent,
  toQueueRecord,
} from '../../../functions/adapters/queue/batch.ts';
import {
  deadLetterReason,
  type OutgoingMessage,
  type WorkQueue,
} from '../../../functions/adapters/queue/port.ts';
import { SqsQueue } from '../../../functions/adapters/queue/sqs-queue.ts';
import { LocalPlanSigner } from '../../../functions/adapters/signer/local-plan-signer.ts';
import type { PlanSigner } from '../../../functions/adapters/signer/port.ts';
import type { DynamoDbStore } from '../../../functions/adapters/store/dynamodb-store.ts';
import { hashToken } from '../../../functions/adapters/store/tokens.ts';
import { createApp } from '../../../functions/api/app.ts';
import { DEFAULT_CORE_CONFIG } from '../../../functions/core/index.ts';
import { createHandler as createCorrelate } from '../../../functions/correlate/handler.ts';
import { eventMessage, SENDER_ATTRIBUTE } from '../../../functions/correlate/messages.ts';
import { parseNotifyConfig } from '../../../functions/notify/config.ts';
import { InMemoryDeliveryLog } from '../../../functions/notify/delivery-log.ts';
import { createHandler as createNotify } from '../../../functions/notify/handler.ts';
import { createHandler as createSweep } from '../../../functions/sweep/handler.ts';
import { at, random, SEED, VscsiClient } from '../../helpers/core-fleet.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { type Fauxqs, startFauxqs } from '../../helpers/fauxqs.ts';
import { dynamoStore } from '../../helpers/store-dynamodb.ts';
import { allIncidents, type Fleet, type FleetOutput, playStorm } from '../../helpers/store-fleet.ts';

/**
 * The acceptance test of the control plane's issue: the real correlate handler consuming from an
 * SQS emulator (fauxqs) and storing in a DynamoDB emulator (dynalite), sweep on its schedule, and
 * the real notify handler consuming the notify queue and delivering to PagerDuty, caught by nock
 * with every other connection refused. A hosting partition IPLs under 40 clients: one incident,
 * a canary plan then waves, each signed, retrievable through the store port; one trigger and one
 * resolve with the same dedup key.
 *
 * fauxqs has no IAM: every message's SenderId is `000000000000`, so it plays the API here (the
 * trusted sender whose `FaultlineSender` stamp names each event's host), as in the cloud when
 * agents post over HTTP. Sender binding by SenderId is covered by correlate's own tests.
 */

const FAUXQS_SENDER = '000000000000';
const PAGERDUTY = 'https://events.pagerduty.com';
const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdef';
const CLIENTS = 40;

interface Queues {
  readonly events: SqsQueue;
  readonly eventsDlq: SqsQueue;
  readonly notify: SqsQueue;
  readonly notifyDlq: SqsQueue;
  readonly eventsArn: string;
  readonly notifyArn: string;
}

/** The local event source mapping: receive batches, hand them to the handler, delete what succeeded. */
const pump = async (
  queue: WorkQueue,
  arn: string,
  handler: (event: QueueEvent) => Promise<BatchResponse>,
): Promise<number> => {
  let handled = 0;
  for (;;) {
    const messages = await queue.receive({ maxMessages: 10 });
    if (messages.length === 0) return handled;
    const response = await handler({ Records: messages.map((message) => toQueueRecord(message, arn)) });
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    const done = messages.filter((message) => !failed.has(message.messageId));
    if (done.length > 0) {
      await queue.deleteBatch(
        done.map((message, index) => ({ id: `m${index}`, receiptHandle: message.receiptHandle })),
      );
    }
    if (failed.size > 0) throw new Error(`records failed: ${[...failed].join(', ')}`);
    handled += messages.length;
  }
};

let sqs: Fauxqs;
let dynamo: Dynalite;
let folder: string;

beforeAll(async () => {
  [sqs, dynamo] = await Promise.all([startFauxqs(), startDynalite()]);
  folder = await mkdtemp(join(tmpdir(), 'faultline-storm-'));
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith('127.0.0.1'));
});
afterAll(async () => {
  nock.cleanAll();
  nock.enableNetConnect();
  await Promise.all([sqs.stop(), dynamo.stop()]);
  await rm(folder, { recursive: true, force: true });
});

const makeQueues = async (suffix = ''): Promise<Queues> => {
  const eventsDlq = await sqs.createQueue(`events-dlq${suffix}`);
  const events = await sqs.createQueue(`events${suffix}`, {
    visibilityTimeoutSeconds: 60,
    redrive: { deadLetterQueueArn: eventsDlq.queueArn, maxReceiveCount: 3 },
  });
  const notifyDlq = await sqs.createQueue(`notify-dlq${suffix}`);
  const notify = await sqs.createQueue(`notify${suffix}`, {
    visibilityTimeoutSeconds: 60,
    redrive: { deadLetterQueueArn: notifyDlq.queueArn, maxReceiveCount: 3 },
  });
  const client = sqs.client();
  return {
    events: new SqsQueue({ client, queueUrl: events.queueUrl }),
    eventsDlq: new SqsQueue({ client, queueUrl: eventsDlq.queueUrl }),
    notify: new SqsQueue({ client, queueUrl: notify.queueUrl }),
    notifyDlq: new SqsQueue({ client, queueUrl: notifyDlq.queueUrl }),
    eventsArn: events.queueArn,
    notifyArn: notify.queueArn,
  };
};

describe(`the control plane on SQS and DynamoDB emulators (seed ${SEED})`, () => {
  it('turns a 40-client IPL storm into one incident, a signed canary then waves, and one PagerDuty trigger and resolve', {
    timeout: 600_000,
  }, async () => {
    const queues = await makeQueues();
    const { store } = await dynamoStore(dynamo);
    const local = new LocalPlanSigner({ dataDir: folder });
    const signed: string[] = [];
    const signer: PlanSigner = {
      sign: (plan) => {
        signed.push(plan.id);
        return local.sign(plan);
      },
      signLines: (lines) => local.signLines(lines),
      publicKeyPem: () => local.publicKeyPem(),
    };
    const pages: { event_action: string; dedup_key: string; routing_key: string }[] = [];
    nock(PAGERDUTY)
      .persist()
      .post('/v2/enqueue')
      .reply(202, (_uri, body) => {
        pages.push(body as (typeof pages)[number]);
        return {
          status: 'success',
          message: 'Event processed',
          dedup_key: (body as { dedup_key: string }).dedup_key,
        };
      });

    let clock = 0;
    const quiet = () => undefined;
    const correlate = createCorrelate({
      settings: {
        core: DEFAULT_CORE_CONFIG,
        trustedSenders: [FAUXQS_SENDER],
        maxReceiveCount: 3,
        tickLimit: 1000,
      },
      store,
      signer,
      notifyQueue: queues.notify,
      deadLetterQueue: queues.eventsDlq,
      clock: () => clock,
      log: quiet,
    });
    const sweep = createSweep({
      settings: { core: DEFAULT_CORE_CONFIG, graceSeconds: 60, finishLimit: 500, tickLimit: 1000 },
      store,
      signer,
      notifyQueue: queues.notify,
      clock: () => clock,
      log: quiet,
    });
    const notify = createNotify({
      loadConfig: async () =>
        parseNotifyConfig({
          destinations: [{ name: 'pagerduty', kind: 'pagerduty', routingKey: ROUTING_KEY }],
        }),
      deliveryLog: new InMemoryDeliveryLog(),
      deadLetterQueue: queues.notifyDlq,
      sleep: async () => undefined,
      log: quiet,
    });
    const deliverPages = () => pump(queues.notify, queues.notifyArn, notify);

    const plans = async (): Promise<UnsignedPlan[]> => {
      const issued: UnsignedPlan[] = [];
      for (const id of new Set(signed)) {
        const stored = await store.getPlan(id);
        if (stored !== undefined) {
          const { signature: _signature, ...plan } = stored.plan;
          issued.push(plan);
        }
      }
      return issued;
    };
    const fleet: Fleet = {
      async ingest(input) {
        clock = Math.max(clock, Date.parse(inputTime(input)));
        const event = input as FaultlineEvent;
        await queues.events.send(eventMessage(event, { kind: 'agent', hostId: event.hostid }));
        await pump(queues.events, queues.eventsArn, correlate);
        await deliverPages();
      },
      async fireDue(now) {
        clock = Math.max(clock, Date.parse(now));
        for (let round = 0; round < 20; round += 1) {
          if ((await sweep()).timersFired === 0) break;
        }
        await deliverPages();
      },
      plans,
      output: async (): Promise<FleetOutput> => ({
        incidents: [],
        plans: await plans(),
        notifications: [],
        timeline: [],
      }),
    };

    // Agents fetch their plans through the Hono API of docs/architecture.md §6, each with its own token.
    const api = createApp({ store, eventsQueue: queues.events, now: () => clock });
    const publicKey = await signer.publicKeyPem();
    const fetched: string[] = [];
    const issuedBeforeHealing: number[] = [];
    await playStorm(fleet, {
      clients: CLIENTS,
      seed: SEED,
      onPlan: async (plan) => {
        issuedBeforeHealing.push(signed.length);
        const token = `flt_agent_${plan.hostId}_0123456789abcdef0123456789`;
        await store.putToken({
          hash: hashToken(token),
          kind: 'agent',
          hostId: plan.hostId,
          createdAt: at(0),
        });
        const response = await api.request(`/v1/agents/${plan.hostId}/plans`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as { plans: Plan[]; nextPollSeconds: number };
        const served = body.plans.find((candidate) => candidate.id === plan.id);
        expect(served && verifyPlan(served, publicKey)).toBe(true);
        expect(body.nextPollSeconds).toBeGreaterThan(0);
        fetched.push(plan.id);
      },
    });
    expect(fetched).toHaveLength(CLIENTS);

    const incidents = await allIncidents(store as DynamoDbStore);
    expect(incidents).toHaveLength(1);
    const [incident] = incidents;
    expect(incident).toMatchObject({
      kind: 'outage',
      status: 'resolved',
      affectedHosts: CLIENTS,
      escalated: false,
    });

    const issued = await plans();
    expect(issued).toHaveLength(CLIENTS);
    expect(new Set(issued.map((plan) => plan.hostId)).size).toBe(CLIENTS);
    expect(issued[0]?.wave).toBe(0);
    expect(issued.slice(1).every((plan) => plan.wave >= 1)).toBe(true);
    // The canary went out alone; nothing else until it was healthy.
    expect(issuedBeforeHealing[0]).toBe(1);
    expect(issuedBeforeHealing[1]).toBe(1 + DEFAULT_CORE_CONFIG.maxPlansInFlight);
    for (const plan of issued) {
      const stored = await store.getPlan(plan.id);
      expect(stored?.revoked).toBe(false);
      expect(verifyPlan(stored?.plan as Plan, publicKey)).toBe(true);
      expect(stored?.plan.incidentId).toBe(incident?.id);
    }
    expect(signed).toHaveLength(CLIENTS);

    expect(pages.map((page) => page.event_action)).toEqual(['trigger', 'resolve']);
    expect(pages.map((page) => page.dedup_key)).toEqual([incident?.id, incident?.id]);
    expect(pages.every((page) => page.routing_key === ROUTING_KEY)).toBe(true);
    expect(await queues.eventsDlq.counts()).toMatchObject({ visible: 0, inFlight: 0 });
    expect(await queues.notifyDlq.counts()).toMatchObject({ visible: 0, inFlight: 0 });
    expect(await queues.events.counts()).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it('applies 7 of a batch of 10, and the 3 malformed records reach the DLQ after maxReceiveCount receives, once each, with their reasons', async () => {
    const queues = await makeQueues('-malformed');
    const { store } = await dynamoStore(dynamo);
    const correlate = createCorrelate({
      settings: {
        core: DEFAULT_CORE_CONFIG,
        trustedSenders: [FAUXQS_SENDER],
        maxReceiveCount: 3,
        tickLimit: 100,
      },
      store,
      signer: new LocalPlanSigner({ dataDir: folder }),
      notifyQueue: queues.notify,
      deadLetterQueue: queues.eventsDlq,
      clock: () => Date.parse(at(10)),
      log: () => undefined,
    });
    const rng = random(10);
    const clients = Array.from({ length: 7 }, (_, index) => new VscsiClient(`client${index}`, rng));
    const stamp = (hostId: string) => ({
      [SENDER_ATTRIBUTE]: { type: 'String' as const, value: `agent:${hostId}` },
    });
    const malformed = [
      { body: '{"specversion":', attributes: stamp('client0') },
      { body: JSON.stringify({ ...clients[1]?.heartbeat(at(2)), seq: -1 }), attributes: stamp('client1') },
      { body: JSON.stringify(clients[2]?.heartbeat(at(2))), attributes: stamp('client3') },
    ];
    const good = clients.map((client) =>
      eventMessage(client.heartbeat(at(1)), { kind: 'agent', hostId: client.hostId }),
    );
    const batch = [
      good[0],
      malformed[0],
      good[1],
      good[2],
      malformed[1],
      good[3],
      good[4],
      malformed[2],
      good[5],
      good[6],
    ];
    const sent = await queues.events.sendBatch(
      batch.map((message, index) => ({ id: `e${index}`, ...(message as OutgoingMessage) })),
    );
    expect(sent.failed).toEqual([]);
    const malformedIds = new Set(
      [1, 4, 7].map((index) => sent.successful.find((entry) => entry.id === `e${index}`)?.messageId),
    );

    const failures: string[][] = [];
    for (let receive = 1; receive <= 4; receive += 1) {
      const messages = await queues.events.receive({ maxMessages: 10 });
      if (messages.length === 0) break;
      const response = await correlate({
        Records: messages.map((message) => toQueueRecord(message, queues.eventsArn)),
      });
      const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
      failures.push([...failed].sort());
      const done = messages.filter((message) => !failed.has(message.messageId));
      if (done.length > 0) {
        await queues.events.deleteBatch(
          done.map((message, index) => ({ id: `d${index}`, receiptHandle: message.receiptHandle })),
        );
      }
      // The visibility timeout of the failures runs out (here at once).
      for (const message of messages)
        if (failed.has(message.messageId)) await queues.events.changeVisibility(message.receiptHandle, 0);
    }
    expect(failures).toEqual([[...malformedIds].sort(), [...malformedIds].sort(), []]);
    for (const client of clients) {
      expect((await store.getSlices([{ kind: 'host', id: client.hostId }]))[0]?.version).toBe(1);
    }
    const dead = await queues.eventsDlq.receive({ maxMessages: 10 });
    expect(dead).toHaveLength(3);
    expect(dead.map((message) => deadLetterReason(message)).sort()).toEqual([
      'hostid client2 is not its sender client3',
      expect.stringMatching(/^not JSON/),
      expect.stringMatching(/^not a Faultline event: seq/),
    ]);
    expect(await queues.events.counts()).toMatchObject({ visible: 0, inFlight: 0 });
  });
});
