/**
 * Every route of the API (docs/architecture.md §6) with a request that would succeed for the right token,
 * for the tests that walk all of them (auth, fuzzing, the OpenAPI listing).
 */

export interface RouteCase {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The OpenAPI path, as `/openapi.json` lists it. */
  readonly template: string;
  /** A concrete path for the agent host `AGENT_HOST`. */
  readonly path: string;
  readonly access: 'public' | 'authenticated' | 'operator';
  readonly body?: unknown;
}

export const AGENT_HOST = 'lnxclient07.example.net';
export const INCIDENT_ID = 'inc-2c9e7b41a0d35f86';
/** A well-formed token id no stored token has: revoking it is a 404, so walking the routes revokes nothing. */
export const UNKNOWN_TOKEN_ID = 'tok-0000000000000000';

export const ROUTES: readonly RouteCase[] = [
  { method: 'POST', template: '/v1/events', path: '/v1/events', access: 'authenticated', body: [] },
  {
    method: 'GET',
    template: '/v1/agents/{hostId}/plans',
    path: `/v1/agents/${AGENT_HOST}/plans`,
    access: 'authenticated',
  },
  {
    method: 'POST',
    template: '/v1/agents/{hostId}/collect',
    path: `/v1/agents/${AGENT_HOST}/collect`,
    access: 'authenticated',
    body: '#faultline host\nplatform=solaris\nrole=client\nagentVersion=0.1.0\nintervalSeconds=60\nbootid=boot-1\nseq=1\ntime=2026-11-22T03:40:00Z\n',
  },
  { method: 'GET', template: '/v1/incidents', path: '/v1/incidents', access: 'operator' },
  { method: 'GET', template: '/v1/incidents/{id}', path: `/v1/incidents/${INCIDENT_ID}`, access: 'operator' },
  { method: 'GET', template: '/v1/stats', path: '/v1/stats', access: 'operator' },
  { method: 'GET', template: '/v1/topology', path: '/v1/topology', access: 'operator' },
  {
    method: 'GET',
    template: '/v1/domains/{id}/impact',
    path: '/v1/domains/vscsi:Server-9080-M9S-SN78AB12C/vios2/impact',
    access: 'operator',
  },
  {
    method: 'POST',
    template: '/v1/incidents/{id}/approve',
    path: `/v1/incidents/${INCIDENT_ID}/approve`,
    access: 'operator',
    body: {},
  },
  {
    method: 'POST',
    template: '/v1/incidents/{id}/resolve',
    path: `/v1/incidents/${INCIDENT_ID}/resolve`,
    access: 'operator',
  },
  { method: 'POST', template: '/v1/control/pause', path: '/v1/control/pause', access: 'operator' },
  { method: 'POST', template: '/v1/control/resume', path: '/v1/control/resume', access: 'operator' },
  {
    method: 'PUT',
    template: '/v1/maintenance/{kind}/{id}',
    path: `/v1/maintenance/host/${AGENT_HOST}`,
    access: 'operator',
    body: { on: true },
  },
  { method: 'POST', template: '/v1/tokens', path: '/v1/tokens', access: 'operator', body: { hostId: 'h2' } },
  { method: 'GET', template: '/v1/tokens', path: '/v1/tokens', access: 'operator' },
  {
    method: 'DELETE',
    template: '/v1/tokens/{id}',
    path: `/v1/tokens/${UNKNOWN_TOKEN_ID}`,
    access: 'operator',
  },
  { method: 'GET', template: '/v1/hosts', path: '/v1/hosts', access: 'operator' },
  {
    method: 'PUT',
    template: '/v1/hosts/{id}',
    path: '/v1/hosts/vios2',
    access: 'operator',
    body: { role: 'hosting', serves: ['vscsi:Server-9080-M9S-SN78AB12C/vios2'] },
  },
  { method: 'GET', template: '/v1/health', path: '/v1/health', access: 'public' },
  { method: 'GET', template: '/openapi.json', path: '/openapi.json', access: 'authenticated' },
];
