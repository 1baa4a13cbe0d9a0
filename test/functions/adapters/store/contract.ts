import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Plan } from '../../../../events/index.ts';
import type {
  AffectedHost,
  DecisionRecord,
  SliceWrite,
  Store,
} from '../../../../functions/adapters/store/port.ts';
import { type DomainSlice, freshDomain, freshHost, type Incident } from '../../../../functions/core/index.ts';

/**
 * The store contract (functions/adapters/store/port.ts): every adapter runs this suite, so the
 * decision protocol above the port and the API reading through it behave the same on DynamoDB
 * and on one SQLite file.
 */

export interface StoreFixture {
  readonly store: Store;
  readonly cleanup: () => Promise<void>;
}

const T = (seconds: number): string => new Date(Date.UTC(2026, 10, 22, 3, 0, seconds)).toISOString();

export const incidentRow = (id: string, overrides: Partial<Incident> = {}): Incident => ({
  id,
  kind: 'outage',
  failureDomain: 'vscsi:sys/vios2',
  status: 'awaiting-recovery',
  escalated: false,
  affectedHosts: 1,
  openedAt: T(0),
  resolvedAt: null,
  summary: `incident ${id}`,
  paged: true,
  downAt: T(0),
  upAt: null,
  ...overrides,
});

const affected = (incidentId: string, hostId: string, status: AffectedHost['status']): AffectedHost => ({
  incidentId,
  hostId,
  failureDomain: 'vscsi:sys/vios2',
  status,
  joinedAt: T(1),
  attempt: 0,
});

const hostWrite = (id: string, expected: number, wakeAt?: string): SliceWrite => ({
  ref: { kind: 'host', id },
  expected,
  value: { ...freshHost(id), ...(wakeAt === undefined ? {} : { wakeAt }) },
  applied: [`dec-${expected + 1}`],
});

const plan = (id: string, hostId: string, issuedAt: string, ttlSeconds = 900): Plan => ({
  id,
  incidentId: 'inc-1',
  hostId,
  attempt: 1,
  wave: 0,
  issuedAt,
  ttlSeconds,
  mode: 'execute',
  steps: [{ action: 'disk.probe', disk: 'sdb', failureDomain: 'vscsi:sys/vios2' }],
  signature: 'MEUCIQDabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH==',
});

const record = (id: string, overrides: Partial<DecisionRecord> = {}): DecisionRecord => ({
  id,
  attempt: 1,
  status: 'pending',
  at: T(5),
  createdAt: 1_000,
  about: 'a test decision',
  writes: [hostWrite('h1', 0)],
  effects: [{ type: 'timeline', entry: { id: 'tln-1', incidentId: 'inc-1', at: T(5), text: 'x' } }],
  done: [],
  ...overrides,
});

/** A failure domain that is down, with an open episode of incident `inc-1`. */
export const openDomain = (id: string): DomainSlice => ({
  ...freshDomain(id),
  state: 'down',
  episode: {
    incident: incidentRow('inc-1'),
    downAt: T(0),
    lastDownAt: T(0),
    downReason: 'x',
    unhealthy: 0,
    waiting: 0,
    wave: 0,
    dispatched: 0,
    canaryDone: false,
    approvedWave: -1,
    slots: {},
    flaps: [],
    hasPaths: false,
  },
});

export const storeContract = (name: string, make: () => Promise<StoreFixture>): void => {
  describe(`the store contract on ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;
    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('slices', () => {
      it('reads a slice never written as version 0 with no value, and writes it once at version 1', async () => {
        const [absent] = await store.getSlices([{ kind: 'host', id: 'h1' }]);
        expect(absent).toMatchObject({ version: 0, value: undefined, lock: undefined, applied: [] });
        expect(await store.putSlice(hostWrite('h1', 0))).toBe('ok');
        expect(await store.putSlice(hostWrite('h1', 0))).toBe('conflict');
        const [written] = await store.getSlices([{ kind: 'host', id: 'h1' }]);
        expect(written).toMatchObject({ version: 1, value: freshHost('h1'), applied: ['dec-1'] });
        expect(await store.putSlice(hostWrite('h1', 1))).toBe('ok');
        expect((await store.getSlices([{ kind: 'host', id: 'h1' }]))[0]?.version).toBe(2);
      });

      it('keeps the control, domain and host slices apart and answers in the order asked', async () => {
        await store.putSlice({ ref: { kind: 'control' }, expected: 0, value: { paused: true }, applied: [] });
        await store.putSlice({
          ref: { kind: 'domain', id: 'h1' },
          expected: 0,
          value: freshDomain('h1'),
          applied: [],
        });
        const slices = await store.getSlices([
          { kind: 'host', id: 'h1' },
          { kind: 'domain', id: 'h1' },
          { kind: 'control' },
        ]);
        expect(slices.map((slice) => [slice.ref.kind, slice.version])).toEqual([
          ['host', 0],
          ['domain', 1],
          ['control', 1],
        ]);
        expect(await store.getControl()).toEqual({ paused: true });
      });

      it('locks a slice at its version for one token: others cannot write it until it is applied or unlocked', async () => {
        await store.putSlice(hostWrite('h1', 0));
        expect(await store.lockSlice({ kind: 'host', id: 'h1' }, 0, 'a#1')).toBe('conflict');
        expect(await store.lockSlice({ kind: 'host', id: 'h1' }, 1, 'a#1')).toBe('ok');
        expect(await store.lockSlice({ kind: 'host', id: 'h1' }, 1, 'a#1')).toBe('ok');
        expect(await store.lockSlice({ kind: 'host', id: 'h1' }, 1, 'b#1')).toBe('conflict');
        expect(await store.putSlice(hostWrite('h1', 1))).toBe('conflict');
        expect(await store.applyLocked(hostWrite('h1', 1), 'b#1')).toBe('conflict');
        await store.unlockSlice({ kind: 'host', id: 'h1' }, 'b#1');
        expect((await store.getSlices([{ kind: 'host', id: 'h1' }]))[0]?.lock).toBe('a#1');
        expect(await store.applyLocked(hostWrite('h1', 1), 'a#1')).toBe('ok');
        expect(await store.applyLocked(hostWrite('h1', 1), 'a#1')).toBe('conflict');
        const [applied] = await store.getSlices([{ kind: 'host', id: 'h1' }]);
        expect(applied).toMatchObject({ version: 2, lock: undefined });
      });

      it('locks an absent slice with a placeholder that reads as never written, and unlocks it', async () => {
        expect(await store.lockSlice({ kind: 'domain', id: 'd1' }, 0, 'a#1')).toBe('ok');
        expect((await store.getSlices([{ kind: 'domain', id: 'd1' }]))[0]).toMatchObject({
          version: 0,
          value: undefined,
          lock: 'a#1',
        });
        await store.unlockSlice({ kind: 'domain', id: 'd1' }, 'a#1');
        expect((await store.getSlices([{ kind: 'domain', id: 'd1' }]))[0]?.lock).toBeUndefined();
        expect(
          await store.putSlice({
            ref: { kind: 'domain', id: 'd1' },
            expected: 0,
            value: freshDomain('d1'),
            applied: [],
          }),
        ).toBe('ok');
      });

      it('indexes due wakes from the values written, earliest first, and forgets a wake that was cleared', async () => {
        await store.putSlice(hostWrite('h2', 0, T(30)));
        await store.putSlice(hostWrite('h1', 0, T(10)));
        await store.putSlice({
          ref: { kind: 'domain', id: 'd1' },
          expected: 0,
          value: { ...freshDomain('d1'), wakeAt: T(20) },
          applied: [],
        });
        expect(await store.dueWakes(T(25), 10)).toEqual([
          { kind: 'host', id: 'h1', at: T(10) },
          { kind: 'domain', id: 'd1', at: T(20) },
        ]);
        expect(await store.dueWakes(T(25), 1)).toHaveLength(1);
        await store.putSlice(hostWrite('h1', 1));
        expect((await store.dueWakes(T(60), 10)).map((wake) => wake.id)).toEqual(['d1', 'h2']);
      });

      it('lists the domains with an open episode', async () => {
        await store.putSlice({
          ref: { kind: 'domain', id: 'd1' },
          expected: 0,
          value: openDomain('d1'),
          applied: [],
        });
        await store.putSlice({
          ref: { kind: 'domain', id: 'd2' },
          expected: 0,
          value: freshDomain('d2'),
          applied: [],
        });
        expect(await store.openDomains()).toEqual(['d1']);
        await store.putSlice({
          ref: { kind: 'domain', id: 'd1' },
          expected: 1,
          value: freshDomain('d1'),
          applied: [],
        });
        expect(await store.openDomains()).toEqual([]);
      });
    });

    describe('the outbox', () => {
      it('writes a decision record once, and replaces it only when that attempt was aborted', async () => {
        expect(await store.putDecision(record('d1'))).toBe('ok');
        expect(await store.putDecision(record('d1'))).toBe('conflict');
        expect(await store.putDecision(record('d1', { attempt: 2 }), 1)).toBe('conflict');
        expect(await store.setDecisionStatus('d1', 1, 'pending', 'aborted')).toBe('ok');
        expect(await store.putDecision(record('d1', { attempt: 2 }), 2)).toBe('conflict');
        expect(await store.putDecision(record('d1', { attempt: 2 }), 1)).toBe('ok');
        expect(await store.getDecision('d1')).toEqual(record('d1', { attempt: 2 }));
        expect(await store.getDecision('nope')).toBeUndefined();
      });

      it('moves a record between statuses only from the status and attempt given', async () => {
        await store.putDecision(record('d1'));
        expect(await store.setDecisionStatus('d1', 2, 'pending', 'committed')).toBe('conflict');
        expect(await store.setDecisionStatus('d1', 1, 'committed', 'done')).toBe('conflict');
        expect(await store.setDecisionStatus('d1', 1, 'pending', 'committed')).toBe('ok');
        expect(await store.setDecisionStatus('d1', 1, 'pending', 'aborted')).toBe('conflict');
        expect((await store.getDecision('d1'))?.status).toBe('committed');
      });

      it('marks effects done one by one, idempotently', async () => {
        await store.putDecision(record('d1'));
        await store.markEffectDone('d1', 1, 0);
        await store.markEffectDone('d1', 1, 0);
        await store.markEffectDone('d1', 1, 2);
        await store.markEffectDone('d1', 9, 1);
        expect((await store.getDecision('d1'))?.done).toEqual([0, 2]);
      });

      it('lists the unfinished records created before a time, oldest first', async () => {
        await store.putDecision(record('d1', { createdAt: 3_000 }));
        await store.putDecision(record('d2', { createdAt: 1_000, status: 'committed' }));
        await store.putDecision(record('d3', { createdAt: 2_000 }));
        await store.putDecision(record('d4', { createdAt: 9_000 }));
        await store.setDecisionStatus('d3', 1, 'pending', 'aborted');
        await store.putDecision(record('d5', { createdAt: 500 }));
        await store.setDecisionStatus('d5', 1, 'pending', 'committed');
        await store.setDecisionStatus('d5', 1, 'committed', 'done');
        const unfinished = await store.unfinishedDecisions(5_000, 10);
        expect(unfinished.map((entry) => entry.id)).toEqual(['d2', 'd1']);
        expect(await store.unfinishedDecisions(5_000, 1)).toHaveLength(1);
      });
    });

    describe('projections', () => {
      it('keeps the newest revision of an incident and the time it was first detected', async () => {
        await store.putIncident(incidentRow('inc-1'), 2, T(3));
        await store.putIncident(incidentRow('inc-1', { status: 'remediating' }), 4, T(9));
        await store.putIncident(incidentRow('inc-1', { status: 'open' }), 3, T(9));
        await store.putIncident(incidentRow('inc-1', { status: 'open' }), 4, T(9));
        const detail = await store.getIncident('inc-1');
        expect(detail?.incident).toMatchObject({ status: 'remediating', revision: 4, detectedAt: T(3) });
        expect(await store.getIncident('inc-2')).toBeUndefined();
      });

      it('lists incidents newest first, by status, domain, host and time, a page at a time', async () => {
        for (let index = 0; index < 12; index += 1) {
          await store.putIncident(
            incidentRow(`inc-${String(index).padStart(2, '0')}`, {
              openedAt: T(index * 10),
              status: index % 3 === 0 ? 'resolved' : 'awaiting-recovery',
              failureDomain: index % 2 === 0 ? 'vscsi:sys/vios2' : 'fc:5005076801234567',
            }),
            1,
            T(index * 10 + 1),
          );
          if (index % 4 === 0)
            await store.putAffectedHost(
              affected(`inc-${String(index).padStart(2, '0')}`, 'h7', 'waiting'),
              1,
            );
        }
        const all = await store.listIncidents({});
        expect(all.items.map((incident) => incident.id)).toEqual(
          Array.from({ length: 12 }, (_, index) => `inc-${String(11 - index).padStart(2, '0')}`),
        );
        expect(all.cursor).toBeUndefined();
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listIncidents({ limit: 5, ...(cursor === undefined ? {} : { cursor }) });
          expect(page.items.length).toBeLessThanOrEqual(5);
          seen.push(...page.items.map((incident) => incident.id));
          cursor = page.cursor;
        } while (cursor !== undefined);
        expect(seen).toEqual(all.items.map((incident) => incident.id));
        expect(
          (await store.listIncidents({ status: 'resolved' })).items.map((incident) => incident.id),
        ).toEqual(['inc-09', 'inc-06', 'inc-03', 'inc-00']);
        expect(
          (await store.listIncidents({ domain: 'fc:5005076801234567', limit: 2 })).items.map((i) => i.id),
        ).toEqual(['inc-11', 'inc-09']);
        expect((await store.listIncidents({ host: 'h7' })).items.map((incident) => incident.id)).toEqual([
          'inc-08',
          'inc-04',
          'inc-00',
        ]);
        expect(
          (await store.listIncidents({ since: T(30), until: T(60), status: 'awaiting-recovery' })).items.map(
            (i) => i.id,
          ),
        ).toEqual(['inc-05', 'inc-04']);
        const filtered = await store.listIncidents({ status: 'awaiting-recovery', limit: 3 });
        expect(filtered.items).toHaveLength(3);
        const next = await store.listIncidents({
          status: 'awaiting-recovery',
          limit: 3,
          cursor: filtered.cursor ?? '',
        });
        expect(next.items.map((incident) => incident.id)).toEqual(['inc-07', 'inc-05', 'inc-04']);
        await expect(
          store.listIncidents({ status: 'resolved', cursor: filtered.cursor ?? '' }),
        ).rejects.toMatchObject({
          code: 'store-rejected',
        });
        await expect(store.listIncidents({ cursor: 'garbage' })).rejects.toMatchObject({
          code: 'store-rejected',
        });
      });

      it('gives one incident with its timeline, oldest first, and its affected hosts, a page at a time', async () => {
        await store.putIncident(incidentRow('inc-1'), 1, T(1));
        for (const [index, at] of [T(9), T(3), T(6)].entries()) {
          const entry = { id: `tln-${index}`, incidentId: 'inc-1', at, text: `entry ${index}` };
          await store.putTimeline(entry);
          await store.putTimeline(entry);
        }
        await store.putTimeline({ id: 'tln-other', incidentId: 'inc-2', at: T(1), text: 'elsewhere' });
        for (const host of ['h3', 'h1', 'h2'])
          await store.putAffectedHost(affected('inc-1', host, 'waiting'), 1);
        const detail = await store.getIncident('inc-1', { limit: 2 });
        expect(detail?.timeline.items.map((entry) => entry.text)).toEqual(['entry 1', 'entry 2']);
        expect(detail?.affectedHosts.items.map((row) => row.hostId)).toEqual(['h1', 'h2']);
        const rest = await store.listTimeline('inc-1', { cursor: detail?.timeline.cursor ?? '' });
        expect(rest.items.map((entry) => entry.text)).toEqual(['entry 0']);
        expect(rest.cursor).toBeUndefined();
        const hosts = await store.listAffectedHosts('inc-1', { cursor: detail?.affectedHosts.cursor ?? '' });
        expect(hosts.items.map((row) => row.hostId)).toEqual(['h3']);
      });

      it('lists every host slice by host id, a page at a time, as last written, without placeholders or other slices', async () => {
        const ids = Array.from({ length: 23 }, (_, index) => `host-${String(22 - index).padStart(2, '0')}`);
        for (const id of ids) expect(await store.putSlice(hostWrite(id, 0))).toBe('ok');
        await store.putSlice({
          ref: { kind: 'domain', id: 'vscsi:sys/vios1' },
          expected: 0,
          value: freshDomain('vscsi:sys/vios1'),
          applied: ['d1'],
        });
        expect(await store.lockSlice({ kind: 'host', id: 'host-05a' }, 0, 'tok')).toBe('ok');
        expect(await store.lockSlice({ kind: 'host', id: 'host-07' }, 1, 'tok')).toBe('ok');
        expect(
          await store.applyLocked(
            { ...hostWrite('host-07', 1), value: { ...freshHost('host-07'), platform: 'linux' } },
            'tok',
          ),
        ).toBe('ok');

        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listHosts({ limit: 10, ...(cursor === undefined ? {} : { cursor }) });
          expect(page.items.length).toBeLessThanOrEqual(10);
          seen.push(...page.items.map((host) => host.hostId));
          if (page.items.some((host) => host.hostId === 'host-07'))
            expect(page.items.find((host) => host.hostId === 'host-07')?.platform).toBe('linux');
          cursor = page.cursor;
          pages += 1;
        } while (cursor !== undefined && pages < 10);
        expect(seen).toEqual([...ids].sort());
        expect(pages).toBe(3);

        const first = await store.listHosts({ limit: 10 });
        await expect(store.listTimeline('inc-1', { cursor: first.cursor ?? '' })).rejects.toMatchObject({
          code: 'store-rejected',
        });
        await expect(store.listHosts({ cursor: 'not-a-cursor' })).rejects.toMatchObject({
          code: 'store-rejected',
        });
      });

      it('indexes the hosts waiting in an incident by host id, as their rows change', async () => {
        for (const host of ['h4', 'h2', 'h3', 'h1'])
          await store.putAffectedHost(affected('inc-1', host, 'waiting'), 1);
        await store.putAffectedHost(affected('inc-2', 'h0', 'waiting'), 1);
        expect(await store.waitingHosts('inc-1', 3)).toEqual(['h1', 'h2', 'h3']);
        await store.putAffectedHost(affected('inc-1', 'h2', 'planned'), 2);
        await store.putAffectedHost(affected('inc-1', 'h3', 'waiting'), 3);
        await store.putAffectedHost(affected('inc-1', 'h3', 'healthy'), 2);
        expect(await store.waitingHosts('inc-1', 3)).toEqual(['h1', 'h3', 'h4']);
      });

      it('stores a plan once, by id, and gives an agent its own plans until they expire or are revoked', async () => {
        await store.putPlan(plan('p1', 'h1', T(0)));
        await store.putPlan({
          ...plan('p1', 'h1', T(0)),
          signature: 'MEUCIQDzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz==',
        });
        await store.putPlan(plan('p2', 'h1', T(10), 60));
        await store.putPlan(plan('p3', 'h2', T(0)));
        expect((await store.getPlan('p1'))?.plan.signature).toBe(plan('p1', 'h1', T(0)).signature);
        expect((await store.plansForHost('h1', T(20))).map((p) => p.id)).toEqual(['p1', 'p2']);
        expect((await store.plansForHost('h1', T(80))).map((p) => p.id)).toEqual(['p1']);
        await store.revokePlan('p1', 'h1', T(30));
        expect(await store.getPlan('p1')).toMatchObject({ revoked: true, revokedAt: T(30) });
        expect((await store.plansForHost('h1', T(40))).map((p) => p.id)).toEqual(['p2']);
        await store.revokePlan('p4', 'h2', T(30));
        await store.putPlan(plan('p4', 'h2', T(0)));
        expect(await store.getPlan('p4')).toMatchObject({ revoked: true });
        expect((await store.plansForHost('h2', T(40))).map((p) => p.id)).toEqual(['p3']);
        expect(await store.getPlan('p9')).toBeUndefined();
      });

      it('counts incidents and their times to detect and to heal, by domain', async () => {
        await store.putIncident(
          incidentRow('inc-1', {
            status: 'resolved',
            downAt: T(0),
            openedAt: T(0),
            upAt: T(100),
            resolvedAt: T(400),
          }),
          5,
          T(20),
        );
        await store.putIncident(incidentRow('inc-2', { openedAt: T(50), downAt: T(50) }), 1, T(60));
        await store.putIncident(
          incidentRow('inc-3', {
            kind: 'local',
            failureDomain: 'fc:5005076801234567',
            openedAt: T(500),
            hostId: 'h1',
          }),
          1,
          T(500),
        );
        const stats = await store.stats({ until: T(100) });
        expect(stats).toMatchObject({
          incidents: 2,
          byStatus: { resolved: 1, 'awaiting-recovery': 1 },
          byKind: { outage: 2 },
          timeToDetect: { count: 2, meanSeconds: 15, maxSeconds: 20 },
          timeToHeal: { count: 1, meanSeconds: 300, maxSeconds: 300 },
        });
        expect(stats.byDomain).toEqual([
          expect.objectContaining({ failureDomain: 'vscsi:sys/vios2', incidents: 2, open: 1, resolved: 1 }),
        ]);
        expect((await store.stats()).byDomain.map((domain) => domain.failureDomain)).toEqual([
          'fc:5005076801234567',
          'vscsi:sys/vios2',
        ]);
      });
    });

    describe('tokens', () => {
      it('stores tokens by hash, once, and finds, lists and deletes them', async () => {
        const agent = { hash: 'a'.repeat(64), kind: 'agent' as const, hostId: 'h1', createdAt: T(0) };
        const operator = { hash: 'b'.repeat(64), kind: 'operator' as const, createdAt: T(1), label: 'ops' };
        expect(await store.putToken(agent)).toBe('ok');
        expect(await store.putToken(agent)).toBe('conflict');
        expect(await store.putToken(operator)).toBe('ok');
        expect(await store.getToken('a'.repeat(64))).toEqual(agent);
        expect(await store.listTokens()).toEqual([agent, operator]);
        await store.deleteToken('a'.repeat(64));
        expect(await store.getToken('a'.repeat(64))).toBeUndefined();
        expect(await store.listTokens()).toEqual([operator]);
      });

      it('lists every token oldest first (ties by hash), whatever order they were stored in', async () => {
        const hex = (n: number) => n.toString(16).padStart(64, '0');
        const tokens = Array.from({ length: 40 }, (_, n) => ({
          hash: hex(n),
          kind: 'agent' as const,
          hostId: `h${n}`,
          // Two tokens a second: each pair shares its creation time.
          createdAt: T(Math.floor(n / 2)),
        }));
        for (const token of [...tokens].reverse()) expect(await store.putToken(token)).toBe('ok');
        expect(await store.listTokens()).toEqual(tokens);
        // Revoking a token twice, or one never stored, changes nothing else.
        await store.deleteToken(hex(7));
        await store.deleteToken(hex(7));
        await store.deleteToken('f'.repeat(64));
        expect(await store.listTokens()).toEqual(tokens.filter((token) => token.hash !== hex(7)));
      });
    });

    describe('the host registry', () => {
      const grant = (hostId: string, registeredAt: string, serves = [`vscsi:sys/${hostId}`]) => ({
        hostId,
        role: 'hosting' as const,
        serves,
        registeredAt,
        registeredBy: 'ops',
      });

      it('registers servers, finds each by host id and lists them by host id; a host never registered has no record', async () => {
        expect(await store.getHostRecord('vios1')).toBeUndefined();
        expect(await store.listHostRecords()).toEqual([]);
        const control = {
          hostId: 'primary.example.net',
          role: 'control' as const,
          serves: ['vdisk:primary/primary', 'vdisk:primary/alternate'],
          registeredAt: T(2),
          registeredBy: 'hmc script',
        };
        for (const record of [grant('vios2', T(1)), control, grant('vios1', T(3))])
          expect(await store.putHostRecord(record)).toBe('ok');
        expect(await store.getHostRecord('primary.example.net')).toEqual(control);
        expect(await store.getHostRecord('vios3')).toBeUndefined();
        expect((await store.listHostRecords()).map((record) => record.hostId)).toEqual([
          'primary.example.net',
          'vios1',
          'vios2',
        ]);
      });

      it('replaces a grant whole with a later one, and never with an older one', async () => {
        expect(await store.putHostRecord(grant('vios2', T(10)))).toBe('ok');
        const widened = grant('vios2', T(20), ['vscsi:sys/vios2', 'vscsi:sys/vios2b']);
        expect(await store.putHostRecord(widened)).toBe('ok');
        expect(await store.getHostRecord('vios2')).toEqual(widened);
        expect(await store.putHostRecord(grant('vios2', T(15)))).toBe('conflict');
        expect(await store.getHostRecord('vios2')).toEqual(widened);
        const again = {
          ...grant('vios2', T(20)),
          role: 'control' as const,
          serves: ['vdisk:vios2/alternate'],
        };
        expect(await store.putHostRecord(again)).toBe('ok');
        expect(await store.listHostRecords()).toEqual([again]);
      });

      it('keeps host records apart from host slices and tokens', async () => {
        expect(await store.putHostRecord(grant('vios1', T(1)))).toBe('ok');
        expect((await store.listHosts()).items).toEqual([]);
        const [slice] = await store.getSlices([{ kind: 'host', id: 'vios1' }]);
        expect(slice?.version).toBe(0);
        expect(await store.listTokens()).toEqual([]);
        expect(await store.putSlice(hostWrite('vios1', 0))).toBe('ok');
        expect(await store.getHostRecord('vios1')).toEqual(grant('vios1', T(1)));
        expect((await store.listHosts()).items.map((host) => host.hostId)).toEqual(['vios1']);
      });
    });
  });
};
