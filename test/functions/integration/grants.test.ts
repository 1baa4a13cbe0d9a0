import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FaultlineEvent, HostHeartbeat } from '../../../events/index.ts';
import { toQueueRecord } from '../../../functions/adapters/queue/batch.ts';
import { deadLetterReason } from '../../../functions/adapters/queue/port.ts';
import { type SqliteQueue, SqliteQueueStore } from '../../../functions/adapters/queue/sqlite-queue.ts';
import { SqliteStore } from '../../../functions/adapters/store/sqlite-store.ts';
import { hashToken } from '../../../functions/adapters/store/tokens.ts';
import { createApp } from '../../../functions/api/app.ts';
import { CoreConfig } from '../../../functions/core/index.ts';
import { createHandler as createCorrelate } from '../../../functions/correlate/handler.ts';
import { at, HostingPartition, random, T0, VscsiClient, vscsi } from '../../helpers/core-fleet.ts';
import { capturingQueue, testSigner } from '../../helpers/store-fleet.ts';

/**
 * Grants, not claims (docs/architecture.md §3 "Sender binding"), end to end: the real API served
 * by @hono/node-server on loopback, the events queue and its DLQ on the embedded SQLite queue (as
 * `faultline up` runs them, with redrive), correlate consuming it, the SQLite store. Servers are
 * registered by an operator over HTTP; after that, only agent tokens are used. What a host claims
 * beyond its grant is refused at ingest with the reason (400) and, sent straight to the queue as
 * the host itself, dead-lettered with the reason; either way nothing changes.
 */

const OPERATOR = 'flt_operator-secret-for-grants-000000000000';
const API_SENDER = 'faultline-api';
const MAX_RECEIVES = 3;
const VISIBILITY_SECONDS = 30;
/** An agent's IAM Roles Anywhere session: `<role id>:<host id>`. */
const roleSession = (hostId: string): string => `AROAEXAMPLEAGENTROLE:${hostId}`;

interface Plane {
  readonly url: string;
  readonly store: SqliteStore;
  readonly events: SqliteQueue;
  readonly deadLetters: SqliteQueue;
  /** Lets correlate consume the events queue until nothing is left, redeliveries and redrive included. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

const startPlane = async (): Promise<Plane> => {
  const folder = mkdtempSync(join(tmpdir(), 'faultline-grants-'));
  const clock = { now: T0 + 60_000 };
  const store = new SqliteStore({ path: join(folder, 'store.db') });
  const queues = SqliteQueueStore.open(join(folder, 'queues.db'), { clock: { now: () => clock.now } });
  const events = queues.queue('events', {
    visibilityTimeoutSeconds: VISIBILITY_SECONDS,
    redrive: { deadLetterQueue: 'events-dlq', maxReceiveCount: MAX_RECEIVES },
  });
  const deadLetters = queues.queue('events-dlq');
  await store.putToken({ hash: hashToken(OPERATOR), kind: 'operator', label: 'ops', createdAt: at(0) });
  const app = createApp({
    store,
    eventsQueue: events.withSender(API_SENDER),
    now: () => clock.now,
    log: () => undefined,
  });
  const correlate = createCorrelate({
    settings: {
      core: CoreConfig.parse({}),
      trustedSenders: [API_SENDER],
      maxReceiveCount: MAX_RECEIVES,
      tickLimit: 100,
    },
    store,
    signer: testSigner(),
    notifyQueue: capturingQueue(),
    deadLetterQueue: deadLetters,
    sourceQueue: 'events',
    clock: () => clock.now,
    log: () => undefined,
  });
  const server = await new Promise<ReturnType<typeof serve>>((ready) => {
    const started = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => ready(started));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    store,
    events,
    deadLetters,
    async drain() {
      for (let round = 0; round < 20; round += 1) {
        const messages = await events.receive({ maxMessages: 10 });
        if (messages.length === 0) {
          const { visible, inFlight } = await events.counts();
          if (visible + inFlight === 0) return;
          clock.now += (VISIBILITY_SECONDS + 1) * 1000;
          continue;
        }
        const answer = await correlate({
          Records: messages.map((message) => toQueueRecord(message, 'arn:faultline:local:events')),
        });
        const failed = new Set(answer.batchItemFailures.map((failure) => failure.itemIdentifier));
        for (const message of messages) {
          if (!failed.has(message.messageId)) await events.delete(message.receiptHandle);
        }
      }
      throw new Error('the events queue did not drain');
    },
    async close() {
      await new Promise<void>((done) => {
        server.close(() => done());
        (server as Server).closeAllConnections();
      });
      queues.close();
      await store.close();
      rmSync(folder, { recursive: true, force: true });
    },
  };
};

describe('grants, not claims: over HTTP and straight through the queue', () => {
  let plane: Plane;
  const rng = random(13);

  beforeEach(async () => {
    plane = await startPlane();
  });
  afterEach(async () => plane.close());

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(`${plane.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  };
  /** An agent token for `hostId`, minted by the operator (with a grant for a server). */
  const agentToken = async (hostId: string, grant?: { role: 'hosting'; serves: string[] }) => {
    const minted = await call('POST', '/v1/tokens', OPERATOR, { kind: 'agent', hostId, ...grant });
    expect(minted.status).toBe(201);
    return minted.body.token as string;
  };
  /** The fleet: vios2 registered with its token, vios1 registered over PUT, one client. */
  const fleet = async () => {
    const vios1 = new HostingPartition('vios1', vscsi('vios1'));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const client = new VscsiClient('lnx01', rng);
    const registered = await call('PUT', '/v1/hosts/vios1', OPERATOR, {
      role: 'hosting',
      serves: [vscsi('vios1')],
    });
    expect(registered.status).toBe(200);
    return {
      vios1,
      vios2,
      client,
      tokens: {
        vios2: await agentToken('vios2', { role: 'hosting', serves: [vscsi('vios2')] }),
        client: await agentToken('lnx01'),
      },
    };
  };
  const claimingHosting = (host: VscsiClient | HostingPartition, time: string, serves: string[]) => {
    const beat = host.heartbeat(time) as HostHeartbeat;
    return { ...beat, data: { ...beat.data, role: 'hosting', serves } } as FaultlineEvent;
  };
  const goingDown = (host: HostingPartition, failureDomain: string, time: string) =>
    host.event('domain.going-down', host.hostId, { failureDomain, reason: 'IPL' }, time);
  const hostSlice = async (hostId: string) =>
    (await plane.store.getSlices([{ kind: 'host', id: hostId }]))[0];
  const incidents = async () => (await call('GET', '/v1/incidents', OPERATOR)).body.incidents;
  const dlqReasons = async () => {
    const reasons: (string | undefined)[] = [];
    for (const message of await plane.deadLetters.receive({ maxMessages: 10 })) {
      reasons.push(deadLetterReason(message));
    }
    return reasons;
  };

  it("refuses a client's heartbeat claiming hosting, and its announcement, with the reason; nothing changes", async () => {
    const { client, tokens } = await fleet();
    const posing = await call('POST', '/v1/events', tokens.client, [
      claimingHosting(client, at(1), [vscsi('vios2')]),
    ]);
    expect(posing.status).toBe(400);
    expect(posing.body.error.code).toBe('events-rejected');
    expect(posing.body.error.issues).toEqual([
      expect.objectContaining({
        path: [0, 'data', 'role'],
        code: 'role-not-granted',
        message: expect.stringContaining(
          'host lnx01 claims role hosting in its heartbeat, but it is not registered as a server',
        ),
      }),
      expect.objectContaining({ path: [0, 'data', 'serves', 0], code: 'domain-not-granted' }),
    ]);
    const announcing = await call(
      'POST',
      '/v1/events',
      tokens.client,
      client.event('domain.going-down', 'lnx01', { failureDomain: vscsi('vios2') }, at(2)),
    );
    expect(announcing.status).toBe(400);
    expect(announcing.body.error.issues).toEqual([
      expect.objectContaining({
        code: 'role-not-granted',
        message: expect.stringContaining(
          `domain.going-down for ${vscsi('vios2')} is accepted only from a server`,
        ),
      }),
    ]);

    expect(await plane.events.counts()).toMatchObject({ visible: 0, inFlight: 0 });
    await plane.drain();
    expect((await hostSlice('lnx01'))?.version).toBe(0);
    expect(await incidents()).toEqual([]);
    const hosts = (await call('GET', '/v1/hosts', OPERATOR)).body.hosts;
    expect(hosts.map((host: { hostId: string }) => host.hostId)).toEqual(['vios1', 'vios2']);
  });

  it('refuses a registered server announcing a domain it is not granted, and accepts its heartbeat and announcement within the grant', async () => {
    const { vios2, tokens } = await fleet();
    const beyond = await call('POST', '/v1/events', tokens.vios2, goingDown(vios2, vscsi('vios1'), at(1)));
    expect(beyond.status).toBe(400);
    expect(beyond.body.error.issues).toEqual([
      {
        path: ['data', 'failureDomain'],
        code: 'domain-not-granted',
        message: `domain.going-down for ${vscsi('vios1')} is accepted only from a server granted that domain, or an operator token; host vios2 is registered as hosting serving ${vscsi('vios2')}`,
      },
    ]);
    await plane.drain();
    expect(await incidents()).toEqual([]);

    const within = await call('POST', '/v1/events', tokens.vios2, [
      claimingHosting(vios2, at(2), [vscsi('vios2')]),
      goingDown(vios2, vscsi('vios2'), at(3)),
    ]);
    expect(within.status).toBe(202);
    expect(within.body.rejected).toEqual([]);
    await plane.drain();
    expect((await hostSlice('vios2'))?.value).toMatchObject({ role: 'hosting' });
    expect(await incidents()).toEqual([
      expect.objectContaining({ kind: 'outage', failureDomain: vscsi('vios2') }),
    ]);
    expect(await plane.deadLetters.counts()).toMatchObject({ visible: 0 });
  });

  it('dead-letters the same claims sent straight to the queue by each host, with the reason, and takes an in-grant announcement', async () => {
    const { vios2, client } = await fleet();
    const asHost = (hostId: string, event: FaultlineEvent) =>
      plane.events.withSender(roleSession(hostId)).send({ body: JSON.stringify(event) });
    await asHost('lnx01', claimingHosting(client, at(1), [vscsi('vios2')]));
    await asHost('vios2', goingDown(vios2, vscsi('vios1'), at(2)));
    await plane.drain();

    expect(await dlqReasons()).toEqual([
      expect.stringMatching(
        /^role-not-granted: host lnx01 claims role hosting in its heartbeat, but it is not registered as a server.*; domain-not-granted: host lnx01 lists \S+\/vios2 in its heartbeat's serves/,
      ),
      `domain-not-granted: domain.going-down for ${vscsi('vios1')} is accepted only from a server granted that domain, or an operator token; host vios2 is registered as hosting serving ${vscsi('vios2')}`,
    ]);
    expect((await hostSlice('lnx01'))?.version).toBe(0);
    expect((await hostSlice('vios2'))?.version).toBe(0);
    expect(await incidents()).toEqual([]);

    await asHost('vios2', goingDown(vios2, vscsi('vios2'), at(3)));
    await plane.drain();
    expect(await incidents()).toEqual([
      expect.objectContaining({ kind: 'outage', failureDomain: vscsi('vios2') }),
    ]);
    expect(await plane.deadLetters.counts()).toMatchObject({ visible: 0 });
  });

  it('needs an operator token to register a server: an agent token gets 403 and grants nothing', async () => {
    const { tokens } = await fleet();
    const put = await call('PUT', '/v1/hosts/lnx01', tokens.client, {
      role: 'hosting',
      serves: [vscsi('lnx01')],
    });
    expect(put.status).toBe(403);
    const minted = await call('POST', '/v1/tokens', tokens.vios2, {
      hostId: 'lnx01',
      role: 'hosting',
      serves: [vscsi('lnx01')],
    });
    expect(minted.status).toBe(403);
    expect(await plane.store.getHostRecord('lnx01')).toBeUndefined();
  });
});
