import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutgoingMessage } from '../../../functions/adapters/queue/port.ts';
import { hashToken, tokenIdOf } from '../../../functions/adapters/store/tokens.ts';
import { queueCommand } from '../../../functions/api/commands.ts';
import { OperatorCommand } from '../../../functions/core/index.ts';
import { parseSenderStamp, SENDER_ATTRIBUTE } from '../../../functions/correlate/messages.ts';
import { API_NOW, type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { incidentRow, putIncident, VIOS2 } from '../../helpers/api-incidents.ts';

const token = OPERATOR_SECRET;
const OPS = { tokenId: tokenIdOf(hashToken(OPERATOR_SECRET)), label: 'ops' };
const AT = new Date(API_NOW).toISOString();

describe('operator commands', () => {
  let api: ApiHarness;
  let ids: number;

  beforeEach(async () => {
    ids = 0;
    api = await apiHarness({
      newCommandId: () => {
        ids += 1;
        return `cmd-${ids}`;
      },
    });
  });
  afterEach(async () => api.close());

  /** The one command queued since the last call, checked against the core's schema. */
  const queuedCommand = async (): Promise<OperatorCommand> => {
    const queued = await api.drain();
    expect(queued).toHaveLength(1);
    expect(queued[0]?.sender).toEqual({ kind: 'operator', label: 'ops' });
    return OperatorCommand.parse(queued[0]?.body);
  };

  it('queues an approval naming the incident failure domain, answering 202 with the command id', async () => {
    await putIncident(api.store, incidentRow('inc-1'));
    const answer = await api.request('POST', '/v1/incidents/inc-1/approve', { token });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ commandId: 'cmd-1', type: 'operator.approve' });
    expect(await queuedCommand()).toEqual({
      type: 'operator.approve',
      id: 'cmd-1',
      at: AT,
      by: OPS,
      incidentId: 'inc-1',
      failureDomain: VIOS2,
    });
    const canary = await api.request('POST', '/v1/incidents/inc-1/approve', {
      token,
      body: { canaryHost: 'lnxclient12.example.net' },
    });
    expect(canary.status).toBe(202);
    expect(await queuedCommand()).toMatchObject({ canaryHost: 'lnxclient12.example.net' });
  });

  it('refuses to approve what does not exist, is resolved or is not an outage', async () => {
    await putIncident(api.store, incidentRow('inc-done', { status: 'resolved', resolvedAt: AT }));
    await putIncident(
      api.store,
      incidentRow('inc-local', { kind: 'local', hostId: 'lnxclient07.example.net' }),
    );
    expect((await api.request('POST', '/v1/incidents/inc-none/approve', { token })).status).toBe(404);
    expect((await api.request('POST', '/v1/incidents/inc-done/approve', { token })).status).toBe(409);
    const local = await api.request('POST', '/v1/incidents/inc-local/approve', { token });
    expect(local.status).toBe(409);
    expect(local.body.error.message).toMatch(/only an outage/);
    const badCanary = await api.request('POST', '/v1/incidents/inc-local/approve', {
      token,
      body: { canaryHost: 'no such host!' },
    });
    expect(badCanary.status).toBe(400);
    expect(await api.drain()).toEqual([]);
  });

  it('queues a resolution naming the domain of an outage and the host of a local incident', async () => {
    await putIncident(api.store, incidentRow('inc-outage'));
    await putIncident(
      api.store,
      incidentRow('inc-local', { kind: 'local', hostId: 'lnxclient07.example.net', resource: 'md0' }),
    );
    expect((await api.request('POST', '/v1/incidents/inc-outage/resolve', { token })).status).toBe(202);
    expect(await queuedCommand()).toEqual({
      type: 'operator.resolve',
      id: 'cmd-1',
      at: AT,
      by: OPS,
      incidentId: 'inc-outage',
      failureDomain: VIOS2,
    });
    expect((await api.request('POST', '/v1/incidents/inc-local/resolve', { token })).status).toBe(202);
    expect(await queuedCommand()).toEqual({
      type: 'operator.resolve',
      id: 'cmd-2',
      at: AT,
      by: OPS,
      incidentId: 'inc-local',
      hostId: 'lnxclient07.example.net',
    });
  });

  it("names the sending operator token's label in the command, for the timeline", async () => {
    const minted = await api.request('POST', '/v1/tokens', {
      token,
      body: { kind: 'operator', label: 'alice@ops' },
    });
    expect((await api.request('POST', '/v1/control/pause', { token: minted.body.token })).status).toBe(202);
    const [queued] = await api.drain();
    expect(queued?.sender).toEqual({ kind: 'operator', label: 'alice@ops' });
    expect(OperatorCommand.parse(queued?.body)).toMatchObject({
      type: 'operator.pause',
      by: { tokenId: tokenIdOf(hashToken(minted.body.token)), label: 'alice@ops' },
    });

    // A label stored before labels were checked is left out rather than failing the command; the id stays.
    await api.store.putToken({
      hash: hashToken('flt_legacy'),
      kind: 'operator',
      label: '<b>',
      createdAt: AT,
    });
    expect((await api.request('POST', '/v1/control/pause', { token: 'flt_legacy' })).status).toBe(202);
    const [legacy] = await api.drain();
    expect(OperatorCommand.parse(legacy?.body).by).toEqual({ tokenId: tokenIdOf(hashToken('flt_legacy')) });
  });

  it('queues pause, resume and a domain resume', async () => {
    expect((await api.request('POST', '/v1/control/pause', { token })).body).toEqual({
      commandId: 'cmd-1',
      type: 'operator.pause',
    });
    expect(await queuedCommand()).toEqual({ type: 'operator.pause', id: 'cmd-1', at: AT, by: OPS });
    expect((await api.request('POST', '/v1/control/resume', { token })).status).toBe(202);
    expect(await queuedCommand()).toEqual({ type: 'operator.resume', id: 'cmd-2', at: AT, by: OPS });
    expect(
      (await api.request('POST', '/v1/control/resume', { token, body: { failureDomain: VIOS2 } })).status,
    ).toBe(202);
    expect(await queuedCommand()).toEqual({
      type: 'operator.resume',
      id: 'cmd-3',
      at: AT,
      by: OPS,
      failureDomain: VIOS2,
    });
    const bad = await api.request('POST', '/v1/control/resume', { token, body: { failureDomain: 'vios2' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toEqual(['failureDomain']);
    const extra = await api.request('POST', '/v1/control/pause', { token, body: { forever: true } });
    expect(extra.status).toBe(400);
  });

  it('queues maintenance of a host or of a failure domain, its slash sent as is or encoded', async () => {
    const host = await api.request('PUT', '/v1/maintenance/host/lnxclient07.example.net', {
      token,
      body: { on: true },
    });
    expect(host.status).toBe(202);
    expect(await queuedCommand()).toEqual({
      type: 'operator.maintenance',
      id: 'cmd-1',
      at: AT,
      by: OPS,
      target: 'host',
      name: 'lnxclient07.example.net',
      on: true,
    });
    for (const path of [
      `/v1/maintenance/domain/${VIOS2}`,
      `/v1/maintenance/domain/${encodeURIComponent(VIOS2)}`,
    ]) {
      expect((await api.request('PUT', path, { token, body: { on: false } })).status, path).toBe(202);
      expect(await queuedCommand()).toMatchObject({ target: 'domain', name: VIOS2, on: false });
    }
  });

  it('refuses maintenance of an unknown kind, a malformed name or without on', async () => {
    const cases: [string, unknown][] = [
      ['/v1/maintenance/rack/r1', { on: true }],
      ['/v1/maintenance/domain/vios2', { on: true }],
      ['/v1/maintenance/host/bad%20host', { on: true }],
      ['/v1/maintenance/host/h1', {}],
      ['/v1/maintenance/host/h1', { on: 'yes' }],
    ];
    for (const [path, body] of cases) {
      const answer = await api.request('PUT', path, { token, body });
      expect(answer.status, path).toBe(400);
      expect(answer.body.error.issues.length).toBeGreaterThan(0);
    }
    expect(await api.drain()).toEqual([]);
  });
});

describe('queueCommand', () => {
  /** A queue that keeps what it is sent, and deps whose clock and ids are fixed. */
  const recording = () => {
    const sent: OutgoingMessage[] = [];
    const deps = {
      queue: {
        send: async (message: OutgoingMessage) => {
          sent.push(message);
          return { messageId: `m-${sent.length}` };
        },
      },
      now: () => API_NOW,
      newId: () => 'cmd-1',
    };
    return { sent, deps };
  };
  const ALICE_ID = tokenIdOf(hashToken('flt_alice'));
  const IMPOSTOR_ID = tokenIdOf(hashToken('flt_impostor'));

  it("stamps the sending token's id beside its label, so two tokens labelled alike stay apart", async () => {
    const { sent, deps } = recording();
    const alice = await queueCommand(
      deps,
      { type: 'operator.pause' },
      { kind: 'operator', label: 'alice', tokenId: ALICE_ID },
    );
    const impostor = await queueCommand(
      deps,
      { type: 'operator.pause' },
      { kind: 'operator', label: 'alice', tokenId: IMPOSTOR_ID },
    );
    expect(alice).toEqual({
      type: 'operator.pause',
      id: 'cmd-1',
      at: AT,
      by: { tokenId: ALICE_ID, label: 'alice' },
    });
    expect(impostor.by).toEqual({ tokenId: IMPOSTOR_ID, label: 'alice' });
    expect(ALICE_ID).not.toBe(IMPOSTOR_ID);
    // What correlate reads off the queue: the same command, and the label in the sender stamp.
    const [message] = sent;
    expect(OperatorCommand.parse(JSON.parse(message?.body ?? ''))).toEqual(alice);
    const stamp = message?.attributes?.[SENDER_ATTRIBUTE];
    expect(parseSenderStamp(stamp?.type === 'String' ? stamp.value : undefined)).toEqual({
      kind: 'operator',
      label: 'alice',
    });
  });

  it('keeps the token id when the stored label fails the check', async () => {
    const { deps } = recording();
    const legacy = await queueCommand(
      deps,
      { type: 'operator.resume' },
      { kind: 'operator', label: '<b>', tokenId: ALICE_ID },
    );
    expect(legacy.by).toEqual({ tokenId: ALICE_ID });
  });
});
