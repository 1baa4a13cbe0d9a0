import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { SqliteStore } from '../../../functions/adapters/store/sqlite-store.ts';
import type { ApiDeps } from '../../../functions/api/app.ts';
import type { HostSlice } from '../../../functions/core/index.ts';
import { impactOf, topologyOf } from '../../../functions/core/topology.ts';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import {
  FC_A,
  FC_B,
  member,
  mirror,
  mirroredClient,
  path,
  storage,
  VIOS1,
  VIOS2,
} from '../../helpers/api-topology.ts';

let api: ApiHarness;
afterEach(async () => api.close());

const get = (url: string) => api.request('GET', url, { token: OPERATOR_SECRET });

/** The store as the app sees it, listing hosts two at a time, so a route must follow the cursor. */
const twoAtATime = (store: SqliteStore): ApiDeps['store'] =>
  new Proxy(store, {
    get(target, key) {
      if (key === 'listHosts')
        return (page: { limit?: number; cursor?: string } = {}) => target.listHosts({ ...page, limit: 2 });
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });

/** A fleet of five: two-domain mirrors, a vios1-only client, a degraded one, and a multipath host. */
const seedFleet = async (): Promise<void> => {
  await api.putHost('lnx01', mirroredClient());
  await api.putHost(
    'lnx02',
    storage([
      mirror('md0', [member('sda2', VIOS1, 'faulty'), member('sdb2', VIOS2)]),
      mirror('md1', [member('sda3', VIOS1), member('sdb3', VIOS2)]),
    ]),
  );
  await api.putHost('lnx03', storage([mirror('md0', [member('sda2', VIOS1), member('sdb2', VIOS1)])]));
  await api.putHost(
    'mpath01',
    storage(
      [],
      [path('mpatha', 'sdc', FC_A), path('mpatha', 'sdd', FC_B), path('mpathb', 'sde', FC_A, 'ghost')],
    ),
  );
  await api.putHost('vios1', { role: 'hosting', platform: 'aix' });
};

describe('GET /v1/topology', () => {
  it("shows each host's arrays and maps with the domain each member and path depends on, by host id", async () => {
    api = await apiHarness();
    await seedFleet();
    const answer = await get('/v1/topology');
    expect(answer.status).toBe(200);
    expect(answer.body.hosts.map((host: { hostId: string }) => host.hostId)).toEqual([
      'lnx01',
      'lnx02',
      'lnx03',
      'mpath01',
      'vios1',
    ]);
    const lnx02 = answer.body.hosts[1];
    expect(lnx02.domains).toEqual([VIOS1, VIOS2]);
    expect(lnx02.arrays[0]).toMatchObject({
      array: 'md0',
      health: 'degraded',
      domains: [VIOS1, VIOS2],
      inSyncDomains: [VIOS2],
      singlePointOfFailure: false,
    });
    expect(
      lnx02.arrays[0].members.map((one: { device: string; failureDomain: string }) => [
        one.device,
        one.failureDomain,
      ]),
    ).toEqual([
      ['sda2', VIOS1],
      ['sdb2', VIOS2],
    ]);
    expect(
      answer.body.hosts[3].maps.map((map: { map: string; domains: string[] }) => [map.map, map.domains]),
    ).toEqual([
      ['mpatha', [FC_A, FC_B]],
      ['mpathb', [FC_A]],
    ]);
    expect(answer.body.hosts[4]).toMatchObject({ hostId: 'vios1', role: 'hosting', domains: [], arrays: [] });
    expect(answer.body.cursor).toBeNull();
  });

  it('lists as single points of failure the arrays and maps whose halves all sit on one domain, and no real mirror', async () => {
    api = await apiHarness();
    await seedFleet();
    const answer = await get('/v1/topology');
    expect(answer.body.singlePointsOfFailure).toEqual([
      { hostId: 'lnx03', kind: 'array', name: 'md0', failureDomain: VIOS1 },
      { hostId: 'mpath01', kind: 'map', name: 'mpathb', failureDomain: FC_A },
    ]);
  });

  it('with a domain, shows only the hosts that depend on it and the single points of failure on it', async () => {
    api = await apiHarness();
    await seedFleet();
    const onVios1 = await get(`/v1/topology?domain=${encodeURIComponent(VIOS1)}`);
    expect(onVios1.body.hosts.map((host: { hostId: string }) => host.hostId)).toEqual([
      'lnx01',
      'lnx02',
      'lnx03',
    ]);
    expect(onVios1.body.singlePointsOfFailure).toEqual([
      { hostId: 'lnx03', kind: 'array', name: 'md0', failureDomain: VIOS1 },
    ]);
    const onVios2 = await get(`/v1/topology?domain=${encodeURIComponent(VIOS2)}`);
    expect(onVios2.body.hosts.map((host: { hostId: string }) => host.hostId)).toEqual(['lnx01', 'lnx02']);
    expect(onVios2.body.singlePointsOfFailure).toEqual([]);
  });

  it('pages the fleet by host id with a cursor, and refuses a cursor it did not issue', async () => {
    api = await apiHarness();
    await seedFleet();
    const first = await get('/v1/topology?limit=2');
    expect(first.body.hosts.map((host: { hostId: string }) => host.hostId)).toEqual(['lnx01', 'lnx02']);
    const second = await get(`/v1/topology?limit=2&cursor=${first.body.cursor}`);
    expect(second.body.hosts.map((host: { hostId: string }) => host.hostId)).toEqual(['lnx03', 'mpath01']);
    expect(second.body.singlePointsOfFailure.map((spof: { hostId: string }) => spof.hostId)).toEqual([
      'lnx03',
      'mpath01',
    ]);
    const last = await get(`/v1/topology?limit=2&cursor=${second.body.cursor}`);
    expect(last.body.hosts.map((host: { hostId: string }) => host.hostId)).toEqual(['vios1']);
    expect(last.body.cursor).toBeNull();

    const foreign = await get('/v1/topology?cursor=bm90LW1pbmU');
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.issues[0].path).toEqual(['query', 'cursor']);
    expect((await get('/v1/topology?domain=vios1')).status).toBe(400);
  });
});

describe('GET /v1/domains/:id/impact', () => {
  it('names the clients that lose a half, and those whose other half is already gone lose their last', async () => {
    api = await apiHarness();
    await seedFleet();
    const answer = await get(`/v1/domains/${VIOS2}/impact`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      failureDomain: VIOS2,
      hosts: [
        {
          hostId: 'lnx01',
          losesLast: false,
          resources: [
            { kind: 'array', name: 'md0', degraded: false, remainingDomains: [VIOS1], losesLast: false },
          ],
        },
        {
          hostId: 'lnx02',
          losesLast: true,
          resources: [
            { kind: 'array', name: 'md0', degraded: true, remainingDomains: [], losesLast: true },
            { kind: 'array', name: 'md1', degraded: false, remainingDomains: [VIOS1], losesLast: false },
          ],
        },
      ],
      losingHalf: 1,
      losingLast: 1,
    });
  });

  it('counts a client whose both halves sit on the domain as losing its last, and leaves it out of the other domain', async () => {
    api = await apiHarness();
    await seedFleet();
    const vios1 = await get(`/v1/domains/${encodeURIComponent(VIOS1)}/impact`);
    expect(
      vios1.body.hosts.map((host: { hostId: string; losesLast: boolean }) => [host.hostId, host.losesLast]),
    ).toEqual([
      ['lnx01', false],
      ['lnx02', false],
      ['lnx03', true],
    ]);
    expect([vios1.body.losingHalf, vios1.body.losingLast]).toEqual([2, 1]);
    const fabric = await get(`/v1/domains/${FC_A}/impact`);
    expect(fabric.body.hosts).toEqual([
      {
        hostId: 'mpath01',
        losesLast: true,
        resources: [
          { kind: 'map', name: 'mpatha', degraded: false, remainingDomains: [FC_B], losesLast: false },
          { kind: 'map', name: 'mpathb', degraded: false, remainingDomains: [], losesLast: true },
        ],
      },
    ]);
  });

  it('reads the whole fleet, page after page', async () => {
    api = await apiHarness({}, { wrapStore: twoAtATime });
    for (const id of ['c1', 'c2', 'c3', 'c4', 'c5']) await api.putHost(id, mirroredClient());
    const answer = await get(`/v1/domains/${VIOS1}/impact`);
    expect(answer.body.hosts.map((host: { hostId: string }) => host.hostId)).toEqual([
      'c1',
      'c2',
      'c3',
      'c4',
      'c5',
    ]);
    expect(answer.body.losingHalf).toBe(5);
  });

  it('answers 404 for a domain nothing depends on and no server serves, so a typo never reads as safe', async () => {
    api = await apiHarness();
    await seedFleet();
    const unknown = await get('/v1/domains/vscsi:Server-X/vios9/impact');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain('no host Faultline knows depends on vscsi:Server-X/vios9');
    // A registered server with no client yet is known: its impact is empty, not an error.
    const registered = await api.request('PUT', '/v1/hosts/vios9', {
      token: OPERATOR_SECRET,
      body: { role: 'hosting', serves: ['vscsi:Server-X/vios9'] },
    });
    expect(registered.status).toBe(200);
    const none = await get('/v1/domains/vscsi:Server-X/vios9/impact');
    expect(none.status).toBe(200);
    expect(none.body).toEqual({
      failureDomain: 'vscsi:Server-X/vios9',
      hosts: [],
      losingHalf: 0,
      losingLast: 0,
    });
  });

  it('refuses what is not a failure domain', async () => {
    api = await apiHarness();
    await seedFleet();
    const invalid = await get('/v1/domains/vios2/impact');
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.issues[0].path).toEqual(['params', 'id']);
  });
});

describe('the impact the routes compute', () => {
  const domains = [VIOS1, VIOS2, FC_A];
  const states = ['in-sync', 'faulty', 'rebuilding', 'spare'] as const;
  const host = fc
    .record({
      id: fc.integer({ min: 0, max: 40 }),
      arrays: fc.array(
        fc.array(fc.tuple(fc.constantFrom(...domains), fc.constantFrom(...states)), {
          minLength: 1,
          maxLength: 3,
        }),
        {
          maxLength: 3,
        },
      ),
    })
    .map(
      ({ id, arrays }): HostSlice => ({
        ...(storage(
          arrays.map((members, index) =>
            mirror(
              `md${index}`,
              members.map(([domain, state], slot) => member(`sd${'abc'[slot]}${index + 1}`, domain, state)),
            ),
          ),
        ) as HostSlice),
        hostId: `h${id}`,
      }),
    );

  it('loses the last copy exactly where every in-sync member sits on the domain, and never lists a host it spares', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(host, { selector: (one) => one.hostId, maxLength: 8 }),
        fc.constantFrom(...domains),
        (hosts, domain) => {
          const impact = impactOf(hosts, domain);
          for (const one of hosts) {
            const inSync = Object.values(one.arrays).map((array) =>
              array.members.filter((m) => m.state === 'in-sync').map((m) => m.failureDomain),
            );
            const hit = inSync.some((copies) => copies.includes(domain));
            const last = inSync.some((copies) => copies.length > 0 && copies.every((d) => d === domain));
            const listed = impact.hosts.find((entry) => entry.hostId === one.hostId);
            expect(listed !== undefined).toBe(hit);
            expect(listed?.losesLast ?? false).toBe(last);
          }
          expect(impact.losingHalf + impact.losingLast).toBe(impact.hosts.length);
          const spofs = topologyOf(hosts).singlePointsOfFailure;
          for (const spof of spofs) {
            const array = hosts.find((one) => one.hostId === spof.hostId)?.arrays[spof.name];
            expect(new Set(array?.members.map((m) => m.failureDomain))).toEqual(
              new Set([spof.failureDomain]),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
