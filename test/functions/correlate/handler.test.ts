import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FaultlineEvent, HostHeartbeat } from '../../../events/index.ts';
import type { QueueRecord } from '../../../functions/adapters/queue/batch.ts';
import { DEAD_LETTER_ATTRIBUTES, type OutgoingMessage } from '../../../functions/adapters/queue/port.ts';
import type { SqliteStore } from '../../../functions/adapters/store/sqlite-store.ts';
import { CoreConfig, type DomainSlice, type HostSlice } from '../../../functions/core/index.ts';
import { createHandler } from '../../../functions/correlate/handler.ts';
import { SENDER_ATTRIBUTE } from '../../../functions/correlate/messages.ts';
import { parseRecord } from '../../../functions/correlate/records.ts';
import { correlateFromEnv as fromEnv } from '../../../functions/lambda/correlate.ts';
import { at, HostingPartition, random, T0, VscsiClient, vscsi } from '../../helpers/core-fleet.ts';
import { API_SENDER, correlateSettings, queueRecord, stampedRecord } from '../../helpers/store-correlate.ts';
import { capturingQueue, testSigner } from '../../helpers/store-fleet.ts';
import { tempSqliteStore } from '../../helpers/store-sqlite.ts';

/** An agent's IAM Roles Anywhere session: `<role id>:<host id>`. */
const roleSession = (hostId: string): string => `AROAEXAMPLEAGENTROLE:${hostId}`;

const direct = (
  event: FaultlineEvent,
  messageId: string,
  receiveCount = 1,
  senderId = roleSession(event.hostid),
) => queueRecord(event, { messageId, sentAt: Date.parse(event.time) + 500, receiveCount, senderId });

const again = (record: QueueRecord, receiveCount: number): QueueRecord => ({
  ...record,
  attributes: { ...record.attributes, ApproximateReceiveCount: String(receiveCount) },
});

describe('correlate', () => {
  let fixture: Awaited<ReturnType<typeof tempSqliteStore>>;
  let store: SqliteStore;
  let deadLetters: OutgoingMessage[];
  let notifyQueue: ReturnType<typeof capturingQueue>;
  let now: number;
  let correlate: ReturnType<typeof createHandler>;
  const rng = random(7);

  beforeEach(async () => {
    fixture = await tempSqliteStore();
    store = fixture.store;
    deadLetters = [];
    notifyQueue = capturingQueue();
    now = T0 + 60_000;
    correlate = createHandler({
      settings: correlateSettings(CoreConfig.parse({})),
      store,
      signer: testSigner(),
      notifyQueue,
      deadLetterQueue: {
        send: async (message) => {
          deadLetters.push(message);
          return { messageId: `dlq-${deadLetters.length}` };
        },
      },
      clock: () => now,
      log: () => undefined,
    });
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  const host = async (hostId: string): Promise<{ version: number; value: HostSlice | undefined }> => {
    const [slice] = await store.getSlices([{ kind: 'host', id: hostId }]);
    return { version: slice?.version ?? 0, value: slice?.value as HostSlice | undefined };
  };
  const reasons = () => deadLetters.map((message) => message.attributes?.[DEAD_LETTER_ATTRIBUTES.reason]);

  it('applies the 7 good records of a batch of 10 and reports the 3 malformed ones until their last receive, then dead-letters them with their reasons', async () => {
    const clients = Array.from({ length: 7 }, (_, index) => new VscsiClient(`client${index}`, rng));
    const good = clients.map((client, index) => direct(client.heartbeat(at(1)), `good-${index}`));
    const notJson = queueRecord('{"specversion": "1.0",', {
      messageId: 'bad-json',
      sentAt: T0,
      senderId: roleSession('x'),
    });
    const { data: _data, ...withoutData } = (clients[0] as VscsiClient).heartbeat(at(2));
    const noData = queueRecord(withoutData, {
      messageId: 'bad-data',
      sentAt: T0,
      senderId: roleSession('client0'),
    });
    const unknownType = queueRecord(
      { ...(clients[1] as VscsiClient).heartbeat(at(2)), type: 'mirror.exploded' },
      { messageId: 'bad-type', sentAt: T0, senderId: roleSession('client1') },
    );
    const batch = [...good.slice(0, 3), notJson, ...good.slice(3, 5), noData, ...good.slice(5), unknownType];
    expect(batch).toHaveLength(10);

    const first = await correlate({ Records: batch });
    expect(first.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual([
      'bad-json',
      'bad-data',
      'bad-type',
    ]);
    for (const client of clients) expect((await host(client.hostId)).version).toBe(1);
    expect(deadLetters).toHaveLength(0);

    const bad = [notJson, noData, unknownType];
    const second = await correlate({ Records: bad.map((record) => again(record, 2)) });
    expect(second.batchItemFailures).toHaveLength(3);
    expect(deadLetters).toHaveLength(0);

    const last = await correlate({ Records: bad.map((record) => again(record, 3)) });
    expect(last.batchItemFailures).toEqual([]);
    expect(
      deadLetters.map((message) => message.attributes?.[DEAD_LETTER_ATTRIBUTES.sourceMessageId]),
    ).toEqual([
      { type: 'String', value: 'bad-json' },
      { type: 'String', value: 'bad-data' },
      { type: 'String', value: 'bad-type' },
    ]);
    expect(reasons()).toEqual([
      { type: 'String', value: expect.stringContaining('not JSON') },
      { type: 'String', value: expect.stringMatching(/^not a Faultline event: .*data/) },
      { type: 'String', value: expect.stringMatching(/^not a Faultline event: .*type/) },
    ]);
    expect(deadLetters[0]?.body).toBe(notJson.body);
  });

  it('refuses an event whose hostid is not the host its SenderId names', async () => {
    const client = new VscsiClient('client1', rng);
    const record = direct(client.heartbeat(at(1)), 'spoof', 3, roleSession('client2'));
    expect((await correlate({ Records: [record] })).batchItemFailures).toEqual([]);
    expect(reasons()).toEqual([{ type: 'String', value: 'hostid client1 is not its sender client2' }]);
    expect((await host('client1')).version).toBe(0);
  });

  const register = (hostId: string, role: 'hosting' | 'control', serves: string[]) =>
    store.putHostRecord({ hostId, role, serves, registeredAt: at(0), registeredBy: 'ops' });
  const domain = async (name: string) =>
    (await store.getSlices([{ kind: 'domain', id: name }]))[0]?.value as DomainSlice | undefined;

  it('refuses ipl.completed sent straight to SQS by a host not registered as a server, or for a domain not granted, whatever its heartbeats claim; takes it within the grant or from an operator', async () => {
    const client = new VscsiClient('client1', rng);
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    await register('vios2', 'hosting', [vscsi('vios2')]);
    await correlate({
      Records: [direct(client.heartbeat(at(1)), 'hb-client'), direct(vios2.heartbeat(at(1)), 'hb-vios2')],
    });

    const posing = client.event(
      'ipl.completed',
      client.hostId,
      { partition: 'vios2', system: 'sys', failureDomain: vscsi('vios2'), bootedAt: at(2) },
      at(3),
    );
    const unregistered = new HostingPartition('vios3', vscsi('vios3'));
    await correlate({ Records: [direct(unregistered.heartbeat(at(1)), 'hb-vios3', 3)] });
    const beyond = vios2.event(
      'ipl.completed',
      vios2.hostId,
      { partition: 'vios1', system: 'sys', failureDomain: vscsi('vios1'), bootedAt: at(2) },
      at(3),
    );
    const answer = await correlate({
      Records: [
        direct(posing, 'ipl-client', 3),
        direct(unregistered.iplCompleted(at(3), at(2)), 'ipl-unregistered', 3),
        direct(beyond, 'ipl-beyond', 3),
      ],
    });
    expect(answer.batchItemFailures).toEqual([]);
    expect(reasons()).toEqual([
      {
        type: 'String',
        value: expect.stringMatching(
          /^role-not-granted: host vios3 claims role hosting in its heartbeat, but it is not registered as a server/,
        ),
      },
      {
        type: 'String',
        value: expect.stringMatching(
          /^role-not-granted: ipl\.completed for \S+ is accepted only from a server granted that domain, or an operator token; host client1 is not registered as a server/,
        ),
      },
      { type: 'String', value: expect.stringContaining('host vios3 is not registered as a server') },
      {
        type: 'String',
        value: `domain-not-granted: ipl.completed for ${vscsi('vios1')} is accepted only from a server granted that domain, or an operator token; host vios2 is registered as hosting serving ${vscsi('vios2')}`,
      },
    ]);
    expect((await domain(vscsi('vios2')))?.lastUpAt).toBeUndefined();
    expect((await domain(vscsi('vios1')))?.lastUpAt).toBeUndefined();
    expect((await host('vios3')).version).toBe(0);

    expect(
      (await correlate({ Records: [direct(vios2.iplCompleted(at(4), at(3)), 'ipl-vios2')] }))
        .batchItemFailures,
    ).toEqual([]);
    expect((await domain(vscsi('vios2')))?.lastUpAt).toBe(at(4.5));
    const hmc = {
      ...stampedRecord(unregistered.iplCompleted(at(5), at(4)), 'ipl-hmc', T0),
      messageAttributes: { [SENDER_ATTRIBUTE]: { dataType: 'String', stringValue: 'operator:hmc' } },
    };
    expect((await correlate({ Records: [hmc] })).batchItemFailures).toEqual([]);
    expect((await domain(vscsi('vios3')))?.lastUpAt).toBe(at(5));
    expect(deadLetters).toHaveLength(4);
  });

  it('retries a record beyond its grant until its last receive, so a server registered meanwhile is accepted', async () => {
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const record = direct(vios2.goingDown(at(2)), 'early');
    const first = await correlate({ Records: [record] });
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'early' }]);
    expect(deadLetters).toEqual([]);
    expect((await domain(vscsi('vios2')))?.episode).toBeUndefined();
    await register('vios2', 'hosting', [vscsi('vios2')]);
    expect((await correlate({ Records: [again(record, 2)] })).batchItemFailures).toEqual([]);
    expect((await domain(vscsi('vios2')))?.episode).toBeDefined();
    expect(deadLetters).toEqual([]);
  });

  it("dead-letters a heartbeat sent straight to SQS whose serves or guests reach beyond its host's grant, and takes one within it", async () => {
    const control = new HostingPartition('t5-control', 'vdisk:t5-control/primary');
    await register('t5-control', 'control', ['vdisk:t5-control/primary']);
    const beat = control.heartbeat(at(1)) as HostHeartbeat;
    const beyond = {
      ...beat,
      data: {
        ...beat.data,
        role: 'control' as const,
        serves: ['vdisk:t5-control/primary', 'vdisk:t5-control/alternate'],
        guests: [{ guest: 'ldg1', disk: 'c0d1', failureDomain: 'vdisk:t5-control/alternate' }],
      },
    } as FaultlineEvent;
    await correlate({ Records: [direct(beyond, 'beyond', 3)] });
    expect(reasons()).toEqual([
      {
        type: 'String',
        value:
          "domain-not-granted: host t5-control lists vdisk:t5-control/alternate in its heartbeat's serves, but it is registered as control serving vdisk:t5-control/primary; domain-not-granted: host t5-control names vdisk:t5-control/alternate for guest ldg1's disk c0d1, but it is registered as control serving vdisk:t5-control/primary",
      },
    ]);
    expect((await host('t5-control')).version).toBe(0);

    const within = {
      ...control.heartbeat(at(2)),
      data: { ...beat.data, role: 'control' as const, serves: ['vdisk:t5-control/primary'] },
    } as FaultlineEvent;
    expect((await correlate({ Records: [direct(within, 'within')] })).batchItemFailures).toEqual([]);
    expect((await host('t5-control')).value?.role).toBe('control');
  });

  it('reads each host record once per batch, only for the records that need it', async () => {
    const reads: string[] = [];
    const counting = createHandler({
      settings: correlateSettings(CoreConfig.parse({})),
      store: new Proxy(store, {
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
      signer: testSigner(),
      notifyQueue,
      deadLetterQueue: { send: async () => ({ messageId: 'dlq' }) },
      clock: () => now,
      log: () => undefined,
    });
    const vios1 = new HostingPartition('vios1', vscsi('vios1'));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const client = new VscsiClient('client1', rng);
    await register('vios1', 'hosting', [vscsi('vios1')]);
    await register('vios2', 'hosting', [vscsi('vios2')]);
    const answer = await counting({
      Records: [
        direct(vios1.heartbeat(at(1)), 'a'),
        direct(client.heartbeat(at(1)), 'b'),
        direct(vios2.heartbeat(at(1)), 'c'),
        direct(vios1.goingDown(at(2)), 'd'),
        direct(vios2.goingDown(at(2)), 'e'),
        stampedRecord(vios1.iplCompleted(at(3), at(2.5)), 'f', T0),
      ],
    });
    expect(answer.batchItemFailures).toEqual([]);
    expect(reads).toEqual(['vios1', 'vios2']);
  });

  it('stamps sentby from the authenticated sender, whatever the record says', () => {
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const policy = correlateSettings(CoreConfig.parse({}));
    const forged = parseRecord(
      direct({ ...vios2.goingDown(at(2)), sentby: 'operator:ops' }, 'forged'),
      policy,
    );
    const hmc = parseRecord(
      {
        ...stampedRecord({ ...vios2.iplCompleted(at(5), at(4)), sentby: 'agent:vios2' }, 'hmc', T0),
        messageAttributes: { [SENDER_ATTRIBUTE]: { dataType: 'String', stringValue: 'operator:hmc' } },
      },
      policy,
    );
    const api = parseRecord(stampedRecord(vios2.heartbeat(at(6)), 'api', T0), policy);
    expect([forged, hmc, api]).toEqual([
      expect.objectContaining({
        ok: true,
        checkGrant: true,
        input: expect.objectContaining({ sentby: 'agent:vios2' }),
      }),
      expect.objectContaining({
        ok: true,
        checkGrant: false,
        input: expect.objectContaining({ sentby: 'operator:hmc' }),
      }),
      expect.objectContaining({
        ok: true,
        checkGrant: false,
        input: expect.objectContaining({ sentby: 'agent:vios2' }),
      }),
    ]);
  });

  it('believes the FaultlineSender stamp only from a trusted sender: an agent cannot pose as an operator', async () => {
    const pause = { type: 'operator.pause', id: 'cmd-1', at: at(1) };
    const forged = queueRecord(pause, {
      messageId: 'forged',
      sentAt: T0,
      receiveCount: 3,
      senderId: roleSession('client1'),
      stamp: 'operator:root',
    });
    await correlate({ Records: [forged] });
    expect(reasons()).toEqual([
      { type: 'String', value: 'operator.pause is accepted only from an operator' },
    ]);
    expect(await store.getControl()).toEqual({ paused: false });

    const genuine = stampedRecord({ type: 'operator.pause', id: 'cmd-2', at: at(1) }, 'genuine', T0);
    expect(genuine.attributes.SenderId).toBe(API_SENDER);
    expect((await correlate({ Records: [genuine] })).batchItemFailures).toEqual([]);
    expect(await store.getControl()).toEqual({ paused: true, pausedAt: at(1) });
    const unstamped = queueRecord(pause, {
      messageId: 'unstamped',
      sentAt: T0,
      receiveCount: 3,
      senderId: API_SENDER,
    });
    await correlate({ Records: [unstamped] });
    expect(reasons()[1]).toEqual({
      type: 'String',
      value: expect.stringContaining('without a valid FaultlineSender stamp'),
    });
  });

  it('stamps receivedat from SentTimestamp on a record an agent sent itself, whatever the agent put there', async () => {
    const client = new VscsiClient('client1', rng);
    const event = { ...client.heartbeat(at(10)), receivedat: at(9999) };
    await correlate({
      Records: [
        queueRecord(event, { messageId: 'm', sentAt: T0 + 12_000, senderId: roleSession('client1') }),
      ],
    });
    expect((await host('client1')).value?.lastSeenAt).toBe(at(12));
  });

  it('applies a redelivered record once', async () => {
    const client = new VscsiClient('client1', rng);
    const record = direct(client.heartbeat(at(1)), 'hb');
    await correlate({ Records: [record] });
    await correlate({ Records: [again(record, 2), again(record, 3)] });
    expect((await host('client1')).version).toBe(1);
  });

  it('fires the timers due after each batch: a lone symptom is paged as a local fault once its hold-down ran out', async () => {
    const lone = new VscsiClient('client1', rng);
    const other = new VscsiClient('client2', rng);
    await correlate({
      Records: [direct(lone.heartbeat(at(1)), 'hb1'), direct(other.heartbeat(at(1)), 'hb2')],
    });
    now = T0 + 100_000;
    await correlate({ Records: [direct(lone.rootDegraded(at(100)), 'degraded')] });
    expect((await store.listIncidents({})).items).toEqual([]);
    now = T0 + 400_000;
    await correlate({ Records: [direct(other.heartbeat(at(400)), 'hb3')] });
    const incidents = (await store.listIncidents({})).items;
    expect(incidents).toEqual([
      expect.objectContaining({ kind: 'local', hostId: 'client1', status: 'open' }),
    ]);
    expect(notifyQueue.sent).toEqual([
      expect.objectContaining({ action: 'trigger', dedupKey: incidents[0]?.id }),
    ]);
    expect((await store.listIncidents({ host: 'client1' })).items).toHaveLength(1);
  });

  it('fails every batch, naming each problem, while its environment is invalid', async () => {
    const broken = createHandler(
      fromEnv({ FAULTLINE_STORE: 'postgres:x', FAULTLINE_CORE_CONFIG: '{"maxPlansInFlight":0}' }),
    );
    await expect(broken({ Records: [] })).rejects.toMatchObject({
      code: 'config-invalid',
      message: expect.stringMatching(/FAULTLINE_STORE.*FAULTLINE_PLAN_SIGNER.*FAULTLINE_NOTIFY_QUEUE_URL/),
    });
  });
});
