import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { incidentRow, minute, putIncident, VIOS1, VIOS2 } from '../../helpers/api-incidents.ts';

const token = OPERATOR_SECRET;

describe('GET /v1/incidents, /v1/incidents/:id and /v1/stats', () => {
  let api: ApiHarness;

  beforeEach(async () => {
    api = await apiHarness();
  });
  afterEach(async () => api.close());

  /** Twelve incidents, one a minute: even ones on vios2, odd ones on vios1; every third resolved. */
  const seed = async (): Promise<void> => {
    for (let index = 0; index < 12; index += 1) {
      const resolved = index % 3 === 0;
      await putIncident(
        api.store,
        incidentRow(`inc-${String(index).padStart(2, '0')}`, {
          failureDomain: index % 2 === 0 ? VIOS2 : VIOS1,
          openedAt: minute(index),
          downAt: minute(index),
          status: resolved ? 'resolved' : 'remediating',
          resolvedAt: resolved ? minute(index + 20) : null,
          upAt: resolved ? minute(index + 10) : null,
        }),
        index < 4 ? ['lnxclient07.example.net'] : ['lnxclient08.example.net'],
      );
    }
  };

  const ids = (answer: { body: { incidents: { id: string }[] } }): string[] =>
    answer.body.incidents.map((incident) => incident.id);

  it('pages through every incident newest first with a cursor', async () => {
    await seed();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const answer = await api.request('GET', `/v1/incidents?limit=5${query}`, { token });
      expect(answer.status).toBe(200);
      seen.push(...ids(answer));
      cursor = answer.body.cursor;
      pages += 1;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(
      Array.from({ length: 12 }, (_, index) => `inc-${String(11 - index).padStart(2, '0')}`),
    );
  });

  it('filters by status, failure domain, host and time', async () => {
    await seed();
    const get = (query: string) => api.request('GET', `/v1/incidents?${query}`, { token });
    expect(ids(await get('status=resolved'))).toEqual(['inc-09', 'inc-06', 'inc-03', 'inc-00']);
    expect(ids(await get(`domain=${encodeURIComponent(VIOS1)}&status=remediating`))).toEqual([
      'inc-11',
      'inc-07',
      'inc-05',
      'inc-01',
    ]);
    expect(ids(await get('host=lnxclient07.example.net'))).toEqual(['inc-03', 'inc-02', 'inc-01', 'inc-00']);
    expect(ids(await get(`since=${minute(4)}&until=${minute(6)}`))).toEqual(['inc-06', 'inc-05', 'inc-04']);
  });

  it('keeps the filters across pages and refuses a cursor used with other filters', async () => {
    await seed();
    const first = await api.request('GET', '/v1/incidents?status=remediating&limit=3', { token });
    expect(ids(first)).toEqual(['inc-11', 'inc-10', 'inc-08']);
    const cursor = encodeURIComponent(first.body.cursor);
    const second = await api.request('GET', `/v1/incidents?status=remediating&limit=3&cursor=${cursor}`, {
      token,
    });
    expect(ids(second)).toEqual(['inc-07', 'inc-05', 'inc-04']);
    const mismatched = await api.request('GET', `/v1/incidents?status=resolved&cursor=${cursor}`, { token });
    expect(mismatched.status).toBe(400);
    expect(mismatched.body.error.issues[0].path).toEqual(['query', 'cursor']);
    const garbage = await api.request('GET', '/v1/incidents?cursor=not-a-cursor', { token });
    expect(garbage.status).toBe(400);
  });

  it('refuses filters that do not parse, naming each', async () => {
    const answer = await api.request(
      'GET',
      '/v1/incidents?status=burning&since=yesterday&limit=0&colour=red',
      {
        token,
      },
    );
    expect(answer.status).toBe(400);
    const paths = answer.body.error.issues.map((issue: { path: unknown[] }) => issue.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['query.status', 'query.since', 'query.limit', 'query']));
  });

  it('shows one incident with its timeline and its affected hosts, paged', async () => {
    await putIncident(api.store, incidentRow('inc-big', { affectedHosts: 3 }), ['h-a', 'h-b', 'h-c']);
    for (let index = 0; index < 3; index += 1) {
      await api.store.putTimeline({
        id: `tln-${index}`,
        incidentId: 'inc-big',
        at: minute(index),
        text: `step ${index}`,
      });
    }
    const first = await api.request('GET', '/v1/incidents/inc-big?limit=2', { token });
    expect(first.status).toBe(200);
    expect(first.body.incident).toMatchObject({ id: 'inc-big', affectedHosts: 3, detectedAt: minute(1) });
    expect(first.body.timeline.items.map((entry: { text: string }) => entry.text)).toEqual([
      'step 0',
      'step 1',
    ]);
    expect(first.body.affectedHosts.items.map((row: { hostId: string }) => row.hostId)).toEqual([
      'h-a',
      'h-b',
    ]);
    const next = await api.request(
      'GET',
      `/v1/incidents/inc-big?limit=2&timelineCursor=${encodeURIComponent(first.body.timeline.cursor)}&hostsCursor=${encodeURIComponent(first.body.affectedHosts.cursor)}`,
      { token },
    );
    expect(next.body.timeline).toEqual({
      items: [expect.objectContaining({ text: 'step 2' })],
      cursor: null,
    });
    expect(next.body.affectedHosts).toEqual({
      items: [expect.objectContaining({ hostId: 'h-c' })],
      cursor: null,
    });
  });

  it('answers 404 for an incident it does not know and 400 for an id that cannot be one', async () => {
    const missing = await api.request('GET', '/v1/incidents/inc-nope', { token });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'not-found', message: 'no incident inc-nope' });
    const invalid = await api.request('GET', `/v1/incidents/${encodeURIComponent('../etc')}`, { token });
    expect(invalid.status).toBe(400);
  });

  it('answers counts, time to detect and time to heal by failure domain', async () => {
    await seed();
    const all = await api.request('GET', '/v1/stats', { token });
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({
      incidents: 12,
      byStatus: { resolved: 4, remediating: 8 },
      byKind: { outage: 12 },
    });
    expect(all.body.timeToDetect).toEqual({ count: 12, meanSeconds: 60, maxSeconds: 60 });
    expect(all.body.timeToHeal).toMatchObject({ count: 4, meanSeconds: 600 });
    expect(all.body.byDomain.map((domain: { failureDomain: string }) => domain.failureDomain).sort()).toEqual(
      [VIOS1, VIOS2].sort(),
    );
    const recent = await api.request('GET', `/v1/stats?since=${minute(10)}`, { token });
    expect(recent.body.incidents).toBe(2);
    expect((await api.request('GET', '/v1/stats?since=tuesday', { token })).status).toBe(400);
  });
});
