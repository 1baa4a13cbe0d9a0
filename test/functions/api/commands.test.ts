import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OperatorCommand } from '../../../functions/core/index.ts';
import { API_NOW, type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { incidentRow, putIncident, VIOS2 } from '../../helpers/api-incidents.ts';

const token = OPERATOR_SECRET;
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
      incidentId: 'inc-outage',
      failureDomain: VIOS2,
    });
    expect((await api.request('POST', '/v1/incidents/inc-local/resolve', { token })).status).toBe(202);
    expect(await queuedCommand()).toEqual({
      type: 'operator.resolve',
      id: 'cmd-2',
      at: AT,
      incidentId: 'inc-local',
      hostId: 'lnxclient07.example.net',
    });
  });

  it('queues pause, resume and a domain resume', async () => {
    expect((await api.request('POST', '/v1/control/pause', { token })).body).toEqual({
      commandId: 'cmd-1',
      type: 'operator.pause',
    });
    expect(await queuedCommand()).toEqual({ type: 'operator.pause', id: 'cmd-1', at: AT });
    expect((await api.request('POST', '/v1/control/resume', { token })).status).toBe(202);
    expect(await queuedCommand()).toEqual({ type: 'operator.resume', id: 'cmd-2', at: AT });
    expect(
      (await api.request('POST', '/v1/control/resume', { token, body: { failureDomain: VIOS2 } })).status,
    ).toBe(202);
    expect(await queuedCommand()).toEqual({
      type: 'operator.resume',
      id: 'cmd-3',
      at: AT,
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
