import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfTokenOf, SESSION_COOKIE } from '../../web/session.ts';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../helpers/api-harness.ts';
import { incidentRow, putIncident } from '../helpers/api-incidents.ts';

/**
 * The web page (web/) through the real API app over SQLite files, in process: sign-in takes only an
 * operator token, its cookie is HttpOnly and SameSite=Strict, every page needs it, every form that
 * changes something needs the session's CSRF token and this origin, and what the store holds is
 * shown escaped. The browser's view of it (headless Chromium, axe) is test/e2e/web-page.test.ts.
 */

const INCIDENT = 'inc-web0000000000000001';
const HOSTILE = 'inc-web0000000000000002';
const HEALED = 'inc-web0000000000000003';
const ORIGIN = 'http://localhost';

let api: ApiHarness;
let agentToken: string;

beforeAll(async () => {
  api = await apiHarness();
  agentToken = await api.agentToken('lnx01');
  await putIncident(
    api.store,
    incidentRow(INCIDENT, { summary: 'vios2 is down (symptoms from 2 clients)' }),
    ['lnx01'],
  );
  await putIncident(
    api.store,
    incidentRow(HOSTILE, {
      summary: '<script>alert(1)</script> "quoted" & <b>bold</b>',
      openedAt: '2026-11-22T03:01:00.000Z',
    }),
  );
});
afterAll(async () => api.close());

beforeAll(async () => {
  await putIncident(
    api.store,
    incidentRow(HEALED, {
      failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios1',
      status: 'resolved',
      openedAt: '2026-11-22T03:00:00.000Z',
      downAt: '2026-11-22T03:00:00.000Z',
      upAt: '2026-11-22T03:20:00.000Z',
      resolvedAt: '2026-11-22T03:22:00.000Z',
    }),
  );
});

const cookie = `${SESSION_COOKIE}=${OPERATOR_SECRET}`;

const get = (path: string, withCookie = true) =>
  api.app.request(path, { headers: withCookie ? { cookie } : {} });

const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
  api.app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: ORIGIN, ...headers },
    body: new URLSearchParams(form).toString(),
  });

describe('the web page', () => {
  it('sends a visitor without a session to the sign-in page, and serves it with a strict policy', async () => {
    const list = await get('/', false);
    expect(list.status).toBe(303);
    expect(list.headers.get('location')).toBe('/sign-in?next=%2F');
    const signIn = await get('/sign-in', false);
    expect(signIn.status).toBe(200);
    expect(signIn.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(signIn.headers.get('x-frame-options')).toBe('DENY');
    expect(await signIn.text()).toContain('name="token"');
  });

  it('signs an operator in with an HttpOnly, SameSite=Strict cookie, and goes back where it was asked', async () => {
    const answer = await post('/sign-in', { token: OPERATOR_SECRET, next: `/incidents/${INCIDENT}` });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe(`/incidents/${INCIDENT}`);
    const set = answer.headers.get('set-cookie') ?? '';
    expect(set).toContain(`${SESSION_COOKIE}=${OPERATOR_SECRET}`);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
  });

  it("refuses an agent's token and an unknown one, setting no cookie", async () => {
    const agent = await post('/sign-in', { token: agentToken, next: '/' });
    expect(agent.status).toBe(403);
    expect(agent.headers.get('set-cookie')).toBeNull();
    expect(await agent.text()).toContain('only an operator token may sign in');
    const unknown = await post('/sign-in', { token: 'flt_nobody-knows-this-one', next: '/' });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('set-cookie')).toBeNull();
  });

  it('never sends a signed-in operator off the site after signing in', async () => {
    for (const next of [
      'https://evil.example/',
      '//evil.example/',
      '/\\evil.example',
      '/\t/evil.example/x',
      '/\n/evil.example/x',
      '/%0a/x\r\nSet-Cookie: a=b',
    ]) {
      const answer = await post('/sign-in', { token: OPERATOR_SECRET, next });
      expect(answer.headers.get('location'), next).toBe('/');
    }
  });

  it('refuses a form larger than any of its own before reading it whole', async () => {
    const answer = await post('/sign-in', { token: 'a'.repeat(200_000), next: '/' });
    expect(answer.status).toBe(413);
    expect(answer.headers.get('set-cookie')).toBeNull();
  });

  it('lists the incidents with the filters, and shows what the store holds escaped', async () => {
    const page = await (await get('/')).text();
    expect(page).toContain(INCIDENT);
    expect(page).toContain('vios2 is down (symptoms from 2 clients)');
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const filtered = await (await get(`/?status=resolved`)).text();
    expect(filtered).not.toContain(INCIDENT);
    expect(filtered).toContain(HEALED);
    const none = await (await get(`/?status=halted`)).text();
    expect(none).toContain('No incident matches.');
  });

  it('shows one incident with its timeline drawn, its hosts and its actions', async () => {
    const answer = await get(`/incidents/${INCIDENT}`);
    expect(answer.status).toBe(200);
    const page = await answer.text();
    expect(page).toContain('<svg role="img"');
    expect(page).toContain('lnx01');
    expect(page).toContain(`action="/incidents/${INCIDENT}/approve"`);
    expect(page).toContain(`name="csrf" value="${csrfTokenOf(OPERATOR_SECRET)}"`);
    expect((await get('/incidents/inc-web0000000000000404')).status).toBe(404);
  });

  it("shows an incident's time to heal as the time-to-heal page counts it: from its server back", async () => {
    const incident = await (await get(`/incidents/${HEALED}`)).text();
    expect(incident).toContain('<dt>Time to heal</dt><dd>2.0 min</dd>');
    const stats = await (await get('/stats')).text();
    expect(stats).toMatch(
      /vscsi:Server-9080-M9S-SN78AB12C\/vios1<\/a><\/td>(<td>[^<]*<\/td>){4}<td>2\.0 min<\/td>/,
    );
  });

  it('queues an action sent with the CSRF token from this origin', async () => {
    await api.drain();
    const answer = await post('/control/pause', { csrf: csrfTokenOf(OPERATOR_SECRET) });
    expect(answer.status).toBe(303);
    const location = answer.headers.get('location') ?? '';
    expect(location).toMatch(/^\/\?said=/);
    // The line the redirect asks for is shown to the session that made it.
    expect(await (await get(location)).text()).toContain('Pause queued');
    const queued = await api.drain();
    expect(queued.map((message) => message.body.type)).toEqual(['operator.pause']);
  });

  it('refuses a form without the CSRF token, with another session’s, or from another site', async () => {
    await api.drain();
    const refusals = [
      await post('/control/pause', {}),
      await post('/control/pause', { csrf: csrfTokenOf('flt_some-other-session') }),
      await post(
        '/control/pause',
        { csrf: csrfTokenOf(OPERATOR_SECRET) },
        { origin: 'https://evil.example' },
      ),
      await post(
        `/incidents/${INCIDENT}/resolve`,
        { csrf: csrfTokenOf(OPERATOR_SECRET) },
        { origin: ORIGIN, 'sec-fetch-site': 'cross-site' },
      ),
    ];
    expect(refusals.map((answer) => answer.status)).toEqual([403, 403, 403, 403]);
    expect(await api.drain()).toEqual([]);
  });

  it('shows no line a link made elsewhere asks for: only its own redirects, sealed for the session', async () => {
    const crafted = `/?said=${encodeURIComponent('Session expired: sign in again at evil.example')}&error=1&seal=AAAA`;
    expect(await (await get(crafted)).text()).not.toContain('evil.example');
    const unsealed = `/?said=${encodeURIComponent('Session expired: sign in again at evil.example')}`;
    expect(await (await get(unsealed)).text()).not.toContain('evil.example');
  });

  it('answers a link followed from another site (no SameSite=Strict cookie) with one click on its own link', async () => {
    const answer = await api.app.request(`/incidents/${INCIDENT}`, {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain(
      `<a href="/incidents/${INCIDENT}">Continue to /incidents/${INCIDENT}</a>`,
    );
  });

  it('says so when a time filter cannot be read, instead of dropping it silently', async () => {
    const page = await (await get('/?since=yesterday')).text();
    expect(page).toContain('Not filtered by since: a time is YYYY-MM-DDTHH:MM, in UTC.');
  });

  it('sends a revoked or unknown session back to sign in', async () => {
    const answer = await api.app.request('/', {
      headers: { cookie: `${SESSION_COOKIE}=flt_not-a-token-at-all` },
    });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toMatch(/^\/sign-in/);
  });

  it('serves its stylesheet and script from itself, and leaves the JSON API as it was', async () => {
    const css = await get('/assets/faultline.css', false);
    expect(css.headers.get('content-type')).toContain('text/css');
    const js = await get('/assets/refresh.js', false);
    expect(js.headers.get('content-type')).toContain('text/javascript');
    const apiAnswer = await api.app.request('/v1/incidents', { headers: { cookie } });
    expect(apiAnswer.status).toBe(401);
  });
});
