import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { AGENT_HOST, ROUTES } from '../../helpers/api-routes.ts';

describe('API authentication', () => {
  let api: ApiHarness;
  let agentToken: string;

  beforeEach(async () => {
    api = await apiHarness();
    agentToken = await api.agentToken(AGENT_HOST);
  });
  afterEach(async () => api.close());

  it('answers no route but health without a token (401 with WWW-Authenticate)', async () => {
    for (const route of ROUTES) {
      const answer = await api.request(route.method, route.path, { body: route.body });
      if (route.access === 'public') {
        expect(answer.status, `${route.method} ${route.path}`).toBe(200);
        continue;
      }
      expect(answer.status, `${route.method} ${route.path}`).toBe(401);
      expect(answer.body.error.code).toBe('unauthorized');
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="faultline"/);
    }
  });

  it('answers 401, not 404, for an unknown route without a token', async () => {
    expect((await api.request('GET', '/v1/nowhere')).status).toBe(401);
    expect((await api.request('GET', '/v1/nowhere', { token: OPERATOR_SECRET })).status).toBe(404);
  });

  it('refuses a token it does not know, and a header that is not a bearer token', async () => {
    const unknown = await api.request('GET', '/v1/incidents', { token: 'flt_not-a-token-we-minted' });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toContain('error="invalid_token"');
    for (const authorization of [
      `Basic ${OPERATOR_SECRET}`,
      'Bearer',
      `Bearer ${OPERATOR_SECRET} extra`,
      'Bearer \u00e9',
    ]) {
      const answer = await api.request('GET', '/v1/incidents', { headers: { authorization } });
      expect(answer.status, authorization).toBe(401);
      expect(answer.body.error.message).toMatch(/bearer token/);
    }
  });

  it('refuses an agent token on every operator route (403)', async () => {
    for (const route of ROUTES.filter((entry) => entry.access === 'operator')) {
      const answer = await api.request(route.method, route.path, { token: agentToken, body: route.body });
      expect(answer.status, `${route.method} ${route.path}`).toBe(403);
      expect(answer.body.error.code).toBe('forbidden');
    }
  });

  it("refuses an agent token another host's plans (403) and answers its own", async () => {
    const other = await api.request('GET', '/v1/agents/lnxclient08.example.net/plans', { token: agentToken });
    expect(other.status).toBe(403);
    expect(other.body.error.message).toContain(AGENT_HOST);
    const own = await api.request('GET', `/v1/agents/${AGENT_HOST}/plans`, { token: agentToken });
    expect(own.status).toBe(200);
    expect(own.body).toEqual({ plans: [], nextPollSeconds: 60 });
  });

  it('lets an operator token read any host plans', async () => {
    const answer = await api.request('GET', '/v1/agents/lnxclient08.example.net/plans', {
      token: OPERATOR_SECRET,
    });
    expect(answer.status).toBe(200);
  });

  it('mints tokens that are stored only as their SHA-256 and work at once', async () => {
    const minted = await api.request('POST', '/v1/tokens', {
      token: OPERATOR_SECRET,
      body: { hostId: 'lnxclient09.example.net', label: 'rack 4' },
    });
    expect(minted.status).toBe(201);
    expect(minted.body).toMatchObject({ kind: 'agent', hostId: 'lnxclient09.example.net', label: 'rack 4' });
    expect(minted.body.token).toMatch(/^flt_[A-Za-z0-9_-]{43}$/);
    const stored = await api.store.listTokens();
    expect(JSON.stringify(stored)).not.toContain(minted.body.token);
    const plans = await api.request('GET', '/v1/agents/lnxclient09.example.net/plans', {
      token: minted.body.token,
    });
    expect(plans.status).toBe(200);
    const forbidden = await api.request('GET', '/v1/incidents', { token: minted.body.token });
    expect(forbidden.status).toBe(403);

    const operator = await api.request('POST', '/v1/tokens', {
      token: OPERATOR_SECRET,
      body: { kind: 'operator' },
    });
    expect(operator.status).toBe(201);
    expect(operator.body.kind).toBe('operator');
    expect((await api.request('GET', '/v1/incidents', { token: operator.body.token })).status).toBe(200);
  });

  it('refuses a token request that names neither a host nor an operator', async () => {
    for (const body of [
      {},
      { hostId: 'not a host' },
      { kind: 'operator', hostId: 'h1' },
      { kind: 'admin' },
    ]) {
      const answer = await api.request('POST', '/v1/tokens', { token: OPERATOR_SECRET, body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.issues.length).toBeGreaterThan(0);
    }
  });
});
