import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../../events/index.ts';
import { agentEvent, degradedBatch } from '../../helpers/api-events.ts';
import { API_NOW, type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { signedPlan } from '../../helpers/api-plans.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';

const OTHER_HOST = 'lnxclient08.example.net';
const VIOS = 'vios2';
const CONTROL = 't5-control';
/** The domains of the checked-in examples (events/examples): vios2's, and the other VIOS of its system. */
const VIOS2_DOMAIN = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';
const VIOS1_DOMAIN = 'vscsi:Server-9080-M9S-SN78AB12C/vios1';

describe('POST /v1/events', () => {
  let api: ApiHarness;
  let agentToken: string;

  beforeEach(async () => {
    api = await apiHarness();
    agentToken = await api.agentToken(AGENT_HOST);
  });
  afterEach(async () => api.close());

  const post = (body: unknown, token = agentToken, headers: Record<string, string> = {}) =>
    api.request('POST', '/v1/events', { token, body, headers });

  it('queues one event, stamped with receivedat and its authenticated sender', async () => {
    const event = {
      ...agentEvent('mirror.degraded', AGENT_HOST),
      receivedat: '2020-01-01T00:00:00Z',
      extra: 1,
    };
    const answer = await post(event, agentToken, { 'content-type': 'application/cloudevents+json' });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ accepted: [event.id], rejected: [], plansPending: false });
    const [queued, ...rest] = await api.drain();
    expect(rest).toEqual([]);
    expect(queued?.sender).toEqual({ kind: 'agent', hostId: AGENT_HOST });
    expect(queued?.senderId).toBe('api');
    expect(queued?.body.receivedat).toBe(new Date(API_NOW).toISOString());
    expect(queued?.body.id).toBe(event.id);
    expect(queued?.body).not.toHaveProperty('extra');
  });

  it('queues a batch in order, one message per event', async () => {
    const batch = degradedBatch(AGENT_HOST, 25);
    const answer = await post(batch, agentToken, { 'content-type': 'application/cloudevents-batch+json' });
    expect(answer.status).toBe(202);
    expect(answer.body.accepted).toEqual(batch.map((event) => event.id));
    const queued = await api.drain();
    expect(queued.map((message) => message.body.id).sort()).toEqual(batch.map((event) => event.id).sort());
  });

  it('rejects an event whose hostid is not the host of its agent token', async () => {
    const foreign = agentEvent('mirror.degraded', OTHER_HOST);
    const alone = await post(foreign);
    expect(alone.status).toBe(400);
    expect(alone.body.error.code).toBe('events-rejected');
    expect(alone.body.error.issues).toEqual([
      expect.objectContaining({ path: ['hostid'], code: 'sender-mismatch' }),
    ]);

    const own = agentEvent('mirror.degraded', AGENT_HOST);
    const mixed = await post([own, foreign]);
    expect(mixed.status).toBe(202);
    expect(mixed.body.accepted).toEqual([own.id]);
    expect(mixed.body.rejected).toEqual([
      { index: 1, issues: [expect.objectContaining({ path: [1, 'hostid'], code: 'sender-mismatch' })] },
    ]);
    expect((await api.drain()).map((message) => message.body.id)).toEqual([own.id]);
  });

  it('lets an operator token post for any host (an HMC posting ipl.completed)', async () => {
    const ipl = agentEvent('ipl.completed', VIOS);
    const answer = await post(ipl, OPERATOR_SECRET);
    expect(answer.status).toBe(202);
    expect(answer.body.plansPending).toBe(false);
    const [queued] = await api.drain();
    expect(queued?.sender).toEqual({ kind: 'operator', label: 'ops' });
  });

  it('stamps sentby from the authenticated sender, whatever the event says', async () => {
    const forged = { ...agentEvent('mirror.degraded', AGENT_HOST), sentby: 'operator:ops' };
    expect((await post(forged)).status).toBe(202);
    const ipl = { ...agentEvent('ipl.completed', VIOS), sentby: 'agent:vios2' };
    expect((await post(ipl, OPERATOR_SECRET)).status).toBe(202);
    expect((await api.drain()).map((message) => message.body.sentby)).toEqual([
      `agent:${AGENT_HOST}`,
      'operator:ops',
    ]);
  });

  describe('grants, not claims', () => {
    const register = (hostId: string, role: 'hosting' | 'control', serves: string[]) =>
      api.store.putHostRecord({
        hostId,
        role,
        serves,
        registeredAt: new Date(API_NOW).toISOString(),
        registeredBy: 'ops',
      });
    const heartbeat = (hostId: string, data: Record<string, unknown>) => {
      const event = agentEvent('host.heartbeat', hostId);
      return { ...event, data: { ...event.data, ...data } };
    };

    it('rejects ipl.completed, domain.rebooted and domain.going-down from a host not registered as a server, whatever its heartbeats said', async () => {
      await api.putHost(AGENT_HOST, { role: 'hosting' });
      for (const type of ['ipl.completed', 'domain.rebooted', 'domain.going-down'] as const) {
        const answer = await post(agentEvent(type, AGENT_HOST));
        expect(answer.status, type).toBe(400);
        expect(answer.body.error.code).toBe('events-rejected');
        expect(answer.body.error.issues).toEqual([
          {
            path: ['type'],
            code: 'role-not-granted',
            message: expect.stringMatching(
              new RegExp(
                `^${type} for \\S+ is accepted only from a server granted that domain, or an operator token; host ${AGENT_HOST} is not registered as a server`,
              ),
            ),
          },
        ]);
      }
      const beat = agentEvent('host.heartbeat', AGENT_HOST);
      const mixed = await post([agentEvent('ipl.completed', AGENT_HOST), beat]);
      expect(mixed.status).toBe(202);
      expect(mixed.body.accepted).toEqual([beat.id]);
      expect(mixed.body.rejected).toEqual([
        { index: 0, issues: [expect.objectContaining({ path: [0, 'type'], code: 'role-not-granted' })] },
      ]);
      expect(await api.drain()).toHaveLength(1);
    });

    it('accepts them from a server for a domain it is granted, and refuses a domain it is not', async () => {
      const vios = await api.agentToken(VIOS);
      await register(VIOS, 'hosting', [VIOS2_DOMAIN]);
      const control = await api.agentToken(CONTROL);
      await register(CONTROL, 'control', ['vdisk:t5-control/primary', 'vdisk:t5-control/alternate']);
      expect((await post(agentEvent('ipl.completed', VIOS), vios)).status).toBe(202);
      expect((await post(agentEvent('domain.going-down', VIOS), vios)).status).toBe(202);
      expect((await post(agentEvent('domain.rebooted', CONTROL), control)).status).toBe(202);
      expect(await api.drain()).toHaveLength(3);

      const other = agentEvent('domain.going-down', VIOS);
      other.data = { failureDomain: VIOS1_DOMAIN, reason: 'not mine' };
      const answer = await post(other, vios);
      expect(answer.status).toBe(400);
      expect(answer.body.error.issues).toEqual([
        {
          path: ['data', 'failureDomain'],
          code: 'domain-not-granted',
          message: `domain.going-down for ${VIOS1_DOMAIN} is accepted only from a server granted that domain, or an operator token; host ${VIOS} is registered as hosting serving ${VIOS2_DOMAIN}`,
        },
      ]);
      expect(await api.drain()).toEqual([]);
    });

    it('rejects a heartbeat claiming a server role the host is not registered with, and accepts one within its grant', async () => {
      const posing = heartbeat(AGENT_HOST, { role: 'hosting', serves: [VIOS2_DOMAIN] });
      const answer = await post(posing);
      expect(answer.status).toBe(400);
      expect(answer.body.error.issues).toEqual([
        {
          path: ['data', 'role'],
          code: 'role-not-granted',
          message: expect.stringContaining(
            `host ${AGENT_HOST} claims role hosting in its heartbeat, but it is not registered as a server`,
          ),
        },
        {
          path: ['data', 'serves', 0],
          code: 'domain-not-granted',
          message: `host ${AGENT_HOST} lists ${VIOS2_DOMAIN} in its heartbeat's serves, but it is not registered as a server (every host not registered is a client)`,
        },
      ]);

      const vios = await api.agentToken(VIOS);
      await register(VIOS, 'hosting', [VIOS2_DOMAIN]);
      const asControl = await post(heartbeat(VIOS, { role: 'control' }), vios);
      expect(asControl.body.error.issues).toEqual([
        expect.objectContaining({
          code: 'role-not-granted',
          message: expect.stringContaining(`but it is registered as hosting serving ${VIOS2_DOMAIN}`),
        }),
      ]);
      const within = heartbeat(VIOS, { role: 'hosting', serves: [VIOS2_DOMAIN] });
      const asClient = heartbeat(VIOS, { role: 'client' });
      const accepted = await post([within, asClient], vios);
      expect(accepted.status).toBe(202);
      expect(accepted.body.accepted).toEqual([within.id, asClient.id]);
      expect((await api.drain()).map((message) => message.body.id)).toEqual([within.id, asClient.id]);
    });

    it("rejects a server's heartbeat that lists a domain or names a guest's domain outside its grant", async () => {
      const control = await api.agentToken(CONTROL);
      await register(CONTROL, 'control', ['vdisk:t5-control/primary']);
      const beyond = heartbeat(CONTROL, {
        role: 'control',
        serves: ['vdisk:t5-control/primary', 'vdisk:t5-control/alternate'],
        guests: [
          { guest: 'ldg1', disk: 'c0d0', failureDomain: 'vdisk:t5-control/primary' },
          { guest: 'ldg1', disk: 'c0d1', failureDomain: 'vdisk:t5-control/alternate' },
        ],
      });
      const answer = await post([beyond], control);
      expect(answer.status).toBe(400);
      expect(answer.body.error.issues).toEqual([
        expect.objectContaining({ path: [0, 'data', 'serves', 1], code: 'domain-not-granted' }),
        {
          path: [0, 'data', 'guests', 1, 'failureDomain'],
          code: 'domain-not-granted',
          message: `host ${CONTROL} names vdisk:t5-control/alternate for guest ldg1's disk c0d1, but it is registered as control serving vdisk:t5-control/primary`,
        },
      ]);
      const client = heartbeat(AGENT_HOST, {
        guests: [{ guest: 'ldg1', disk: 'c0d0', failureDomain: 'vdisk:t5-control/primary' }],
      });
      expect((await post(client)).body.error.issues).toEqual([
        expect.objectContaining({ path: ['data', 'guests', 0, 'failureDomain'], code: 'domain-not-granted' }),
      ]);
      expect(await api.drain()).toEqual([]);
    });

    it("lets an operator token post any server's events, registered or not, for any domain", async () => {
      await register(VIOS, 'hosting', [VIOS2_DOMAIN]);
      const other = agentEvent('domain.going-down', VIOS);
      other.data = { failureDomain: VIOS1_DOMAIN };
      const posing = heartbeat('vios9', { role: 'hosting', serves: [VIOS1_DOMAIN] });
      const answer = await post([other, posing, agentEvent('ipl.completed', 'vios9')], OPERATOR_SECRET);
      expect(answer.status).toBe(202);
      expect(answer.body.rejected).toEqual([]);
      expect(await api.drain()).toHaveLength(3);
    });

    it('reads the host record once per request, and not at all when no event needs it', async () => {
      const reads: string[] = [];
      const counted = await apiHarness(
        {},
        {
          wrapStore: (store) =>
            new Proxy(store, {
              get: (target, property) => {
                if (property === 'getHostRecord')
                  return (hostId: string) => {
                    reads.push(hostId);
                    return target.getHostRecord(hostId);
                  };
                const value = Reflect.get(target, property, target);
                return typeof value === 'function' ? value.bind(target) : value;
              },
            }),
        },
      );
      try {
        const token = await counted.agentToken(VIOS);
        await counted.store.putHostRecord({
          hostId: VIOS,
          role: 'hosting',
          serves: [VIOS2_DOMAIN],
          registeredAt: new Date(API_NOW).toISOString(),
          registeredBy: 'ops',
        });
        const request = (body: unknown) => counted.request('POST', '/v1/events', { token, body });
        expect((await request(degradedBatch(VIOS, 3))).status).toBe(202);
        expect(reads).toEqual([]);
        const batch = [
          heartbeat(VIOS, { role: 'hosting', serves: [VIOS2_DOMAIN] }),
          agentEvent('domain.going-down', VIOS),
          agentEvent('ipl.completed', VIOS),
          ...degradedBatch(VIOS, 2),
        ];
        const answer = await request(batch);
        expect(answer.status).toBe(202);
        expect(answer.body.accepted).toHaveLength(5);
        expect(reads).toEqual([VIOS]);
      } finally {
        await counted.close();
      }
    });
  });

  it('answers 202 with accepted ids and rejected indexes with their issues for a partly invalid batch', async () => {
    const good = degradedBatch(AGENT_HOST, 3);
    const badTime = { ...agentEvent('mirror.degraded', AGENT_HOST), time: 'yesterday' };
    const unknownType = { ...agentEvent('mirror.degraded', AGENT_HOST), type: 'mirror.exploded' };
    const answer = await post([good[0], badTime, good[1], unknownType, 'not an event', good[2]]);
    expect(answer.status).toBe(202);
    expect(answer.body.accepted).toEqual(good.map((event) => event.id));
    expect(answer.body.rejected.map((entry: { index: number }) => entry.index)).toEqual([1, 3, 4]);
    for (const entry of answer.body.rejected) {
      expect(entry.issues.length).toBeGreaterThan(0);
      for (const issue of entry.issues) {
        expect(issue.path[0]).toBe(entry.index);
        expect(issue.message.length).toBeGreaterThan(0);
      }
    }
    expect(answer.body.rejected[0].issues).toEqual([expect.objectContaining({ path: [1, 'time'] })]);
    expect(await api.drain()).toHaveLength(3);
  });

  it('answers 400 with every issue when no event of a batch is accepted', async () => {
    const answer = await post([{ specversion: '1.0' }, 42]);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('events-rejected');
    const indexes = new Set(answer.body.error.issues.map((issue: { path: unknown[] }) => issue.path[0]));
    expect(indexes).toEqual(new Set([0, 1]));
    expect(await api.drain()).toEqual([]);
  });

  it('refuses a body over 1 MiB with 413 before parsing it', async () => {
    const oversized = `[${' '.repeat(LIMITS.maxBatchBytes)}]`;
    const answer = await post(oversized);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toEqual({
      code: 'payload-too-large',
      message: `the request body may not exceed ${LIMITS.maxBatchBytes} bytes`,
    });
    const unparsable = `{${'x'.repeat(LIMITS.maxBatchBytes)}`;
    expect((await post(unparsable)).status).toBe(413);
  });

  it('refuses a body whose stream runs past 1 MiB even without a Content-Length', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > LIMITS.maxBatchBytes * 2) {
          controller.close();
          return;
        }
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const request = new Request('http://localhost/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    const response = await api.app.request(request);
    expect(response.status).toBe(413);
    expect(sent).toBeLessThan(LIMITS.maxBatchBytes * 2);
  });

  it('refuses a batch of 501 events with 400', async () => {
    const answer = await post(degradedBatch(AGENT_HOST, LIMITS.maxBatchEvents + 1));
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toContain('at most 500 events');
    expect(await api.drain()).toEqual([]);
    expect((await post(degradedBatch(AGENT_HOST, LIMITS.maxBatchEvents))).status).toBe(202);
  });

  it('rejects one event over 64 KiB by its index', async () => {
    const big = agentEvent('command.progress', AGENT_HOST);
    big.data = { ...big.data, detail: 'x'.repeat(4000) };
    const huge = { ...agentEvent('mirror.degraded', AGENT_HOST), padding: 'y'.repeat(LIMITS.maxEventBytes) };
    const answer = await post([big, huge]);
    expect(answer.status).toBe(202);
    expect(answer.body.rejected).toEqual([
      { index: 1, issues: [expect.objectContaining({ code: 'too_big', path: [1] })] },
    ]);
  });

  it('refuses an event that fits 64 KiB as sent but not as queued, instead of queueing what correlate would refuse', async () => {
    // JSON lets a number be written short (9e15); the queued event is stamped and written in full.
    const heartbeat = agentEvent('host.heartbeat', AGENT_HOST);
    const disk = {
      disk: 'sdz',
      hctl: '0:0:1:0',
      scsiHost: 'host0',
      driver: 'ibmvscsi',
      sizeBytes: 1,
      failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios1',
    };
    const textWith = (count: number): string =>
      JSON.stringify([
        heartbeat,
        {
          ...heartbeat,
          id: `${heartbeat.id}-big`,
          data: {
            ...heartbeat.data,
            disks: Array.from({ length: count }, (_, i) => ({ ...disk, disk: `dm-${i}` })),
          },
        },
      ]).replaceAll('"sizeBytes":1', '"sizeBytes":9e15');
    let count = 1;
    while (Buffer.byteLength(textWith(count + 1)) < LIMITS.maxEventBytes) count += 1;
    const answer = await post(textWith(count), agentToken, { 'content-type': 'application/json' });
    expect(answer.status).toBe(202);
    expect(answer.body.accepted).toEqual([heartbeat.id]);
    expect(answer.body.rejected).toEqual([
      { index: 1, issues: [expect.objectContaining({ code: 'too_big', path: [1] })] },
    ]);
    expect(answer.body.rejected[0].issues[0].message).toMatch(/as queued/);
    expect((await api.drain()).map((message) => message.body.id)).toEqual([heartbeat.id]);
  });

  it('answers malformed JSON, an empty body and a non-JSON type with clear errors', async () => {
    const malformed = await post('[{"specversion": "1.0",');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('invalid-json');
    expect(malformed.body.error.message).toMatch(/not valid JSON/);
    const empty = await post('');
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/empty/);
    const text = await post('hello', agentToken, { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    const scalar = await post('"a string"');
    expect(scalar.status).toBe(400);
    expect(scalar.body.error.issues[0].message).toMatch(/JSON object/);
    const notUtf8 = await api.app.request('/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
      body: new Uint8Array([0x5b, 0xff, 0xfe, 0x5d]),
    });
    expect(notUtf8.status).toBe(400);
  });

  it('rejects an event the queue would refuse (a character SQS forbids) by its index', async () => {
    const progress = agentEvent('command.progress', AGENT_HOST);
    progress.data = { ...progress.data, detail: 'bad \uffff char' };
    const good = agentEvent('mirror.degraded', AGENT_HOST);
    const answer = await post([progress, good]);
    expect(answer.status).toBe(202);
    expect(answer.body.accepted).toEqual([good.id]);
    expect(answer.body.rejected).toEqual([
      { index: 0, issues: [expect.objectContaining({ code: 'queue-refused', path: [0] })] },
    ]);
  });

  it('tells an agent that plans wait for it', async () => {
    await api.store.putPlan(await signedPlan(api.folder, { hostId: AGENT_HOST, issuedAt: API_NOW }));
    const answer = await post(agentEvent('host.heartbeat', AGENT_HOST));
    expect(answer.body.plansPending).toBe(true);
  });
});
