import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentEvent } from '../../helpers/api-events.ts';
import { API_NOW, type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';

const SYSTEM = 'Server-9080-M9S-SN78AB12C';
const VIOS1_DOMAIN = `vscsi:${SYSTEM}/vios1`;
const VIOS2_DOMAIN = `vscsi:${SYSTEM}/vios2`;
const REGISTERED_AT = new Date(API_NOW).toISOString();

/** The registry of servers over the API: `PUT /v1/hosts/:id`, `GET /v1/hosts`, and tokens that register. */
describe('the hosts routes', () => {
  let api: ApiHarness;

  beforeEach(async () => {
    api = await apiHarness();
  });
  afterEach(async () => api.close());

  const register = (hostId: string, body: unknown, token = OPERATOR_SECRET) =>
    api.request('PUT', `/v1/hosts/${hostId}`, { token, body });

  it('registers a server with its grant and lists the servers by host id', async () => {
    const vios2 = await register('vios2', { role: 'hosting', serves: [VIOS2_DOMAIN] });
    expect(vios2.status).toBe(200);
    expect(vios2.body).toEqual({
      hostId: 'vios2',
      role: 'hosting',
      serves: [VIOS2_DOMAIN],
      registeredAt: REGISTERED_AT,
      registeredBy: 'ops',
    });
    const control = { role: 'control', serves: ['vdisk:t5-control/primary', 'vdisk:t5-control/alternate'] };
    expect((await register('t5-control', control)).status).toBe(200);
    expect((await register('vios1', { role: 'hosting', serves: [VIOS1_DOMAIN] })).status).toBe(200);

    const listed = await api.request('GET', '/v1/hosts', { token: OPERATOR_SECRET });
    expect(listed.status).toBe(200);
    expect(listed.body.hosts.map((host: { hostId: string }) => host.hostId)).toEqual([
      't5-control',
      'vios1',
      'vios2',
    ]);
    expect(listed.body.hosts[0]).toEqual({
      hostId: 't5-control',
      ...control,
      registeredAt: REGISTERED_AT,
      registeredBy: 'ops',
    });
    expect(await api.store.getHostRecord('vios2')).toEqual(vios2.body);
  });

  it('replaces a grant whole: a domain taken away may no longer be announced', async () => {
    await register('vios2', { role: 'hosting', serves: [VIOS2_DOMAIN, VIOS1_DOMAIN] });
    api.clock.now += 1000;
    const narrower = await register('vios2', { role: 'hosting', serves: [VIOS2_DOMAIN] });
    expect(narrower.body.serves).toEqual([VIOS2_DOMAIN]);
    expect(narrower.body.registeredAt).toBe(new Date(API_NOW + 1000).toISOString());
    const token = await api.agentToken('vios2');
    const going = agentEvent('domain.going-down', 'vios2');
    going.data = { failureDomain: VIOS1_DOMAIN };
    const answer = await api.request('POST', '/v1/events', { token, body: going });
    expect(answer.status).toBe(400);
    expect(answer.body.error.issues[0].code).toBe('domain-not-granted');
  });

  it('refuses a grant that is not one: a client role, no domain, a domain twice, a malformed domain or host id', async () => {
    const cases: [string, unknown, string][] = [
      ['vios2', { role: 'client', serves: [VIOS2_DOMAIN] }, 'role'],
      ['vios2', { role: 'hosting', serves: [] }, 'serves'],
      ['vios2', { role: 'hosting', serves: [VIOS2_DOMAIN, VIOS2_DOMAIN] }, 'serves'],
      ['vios2', { role: 'hosting', serves: ['vios2'] }, 'serves'],
      ['vios2', { role: 'hosting' }, 'serves'],
      ['vios2', { role: 'hosting', serves: [VIOS2_DOMAIN], label: 'x' }, ''],
      ['not..a.host', { role: 'hosting', serves: [VIOS2_DOMAIN] }, 'params'],
    ];
    for (const [hostId, body, where] of cases) {
      const answer = await register(hostId, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toBe('invalid-request');
      if (where !== '') expect(answer.body.error.issues[0].path[0]).toBe(where);
    }
    expect(await api.store.listHostRecords()).toEqual([]);
  });

  it('needs an operator token: an agent token gets 403 and registers nothing, no token 401', async () => {
    const agent = await api.agentToken('vios2');
    const forbidden = await register('vios2', { role: 'hosting', serves: [VIOS2_DOMAIN] }, agent);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('forbidden');
    expect((await api.request('GET', '/v1/hosts', { token: agent })).status).toBe(403);
    const minted = await api.request('POST', '/v1/tokens', {
      token: agent,
      body: { hostId: 'vios2', role: 'hosting', serves: [VIOS2_DOMAIN] },
    });
    expect(minted.status).toBe(403);
    expect(
      (await api.request('PUT', '/v1/hosts/vios2', { body: { role: 'hosting', serves: [VIOS2_DOMAIN] } }))
        .status,
    ).toBe(401);
    expect(await api.store.getHostRecord('vios2')).toBeUndefined();
  });

  it('registers the host of an agent token minted with role and serves, on the host record', async () => {
    const minted = await api.request('POST', '/v1/tokens', {
      token: OPERATOR_SECRET,
      body: { kind: 'agent', hostId: 'vios2', label: 'vios2 agent', role: 'hosting', serves: [VIOS2_DOMAIN] },
    });
    expect(minted.status).toBe(201);
    expect(minted.body).toMatchObject({ kind: 'agent', hostId: 'vios2', label: 'vios2 agent' });
    expect(minted.body).not.toHaveProperty('role');
    expect(await api.store.getHostRecord('vios2')).toEqual({
      hostId: 'vios2',
      role: 'hosting',
      serves: [VIOS2_DOMAIN],
      registeredAt: REGISTERED_AT,
      registeredBy: 'ops',
    });
    const ipl = agentEvent('ipl.completed', 'vios2');
    const answer = await api.request('POST', '/v1/events', { token: minted.body.token, body: ipl });
    expect(answer.status).toBe(202);

    const plain = await api.request('POST', '/v1/tokens', {
      token: OPERATOR_SECRET,
      body: { hostId: AGENT_HOST },
    });
    expect(plain.status).toBe(201);
    expect(await api.store.getHostRecord(AGENT_HOST)).toBeUndefined();
    const half = await api.request('POST', '/v1/tokens', {
      token: OPERATOR_SECRET,
      body: { hostId: 'vios1', role: 'hosting' },
    });
    expect(half.status).toBe(400);
    expect(half.body.error.issues).toEqual([
      expect.objectContaining({ message: 'role and serves come together: a server is registered with both' }),
    ]);
    expect(await api.store.getHostRecord('vios1')).toBeUndefined();
  });

  it('describes both routes in /openapi.json from the contract schemas', async () => {
    const document = (await api.request('GET', '/openapi.json', { token: OPERATOR_SECRET })).body;
    const put = document.paths['/v1/hosts/{id}'].put;
    expect(put.operationId).toBe('registerHost');
    expect(JSON.stringify(put.requestBody.content['application/json'].schema)).toContain(
      '#/components/schemas/HostGrant',
    );
    expect(JSON.stringify(put.responses['200'])).toContain('#/components/schemas/HostRecord');
    expect(put.responses['403']).toBeDefined();
    expect(JSON.stringify(document.paths['/v1/hosts'].get.responses['200'])).toContain(
      '#/components/schemas/HostList',
    );
  });
});
