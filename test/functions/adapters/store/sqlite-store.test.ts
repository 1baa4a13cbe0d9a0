import { describe, expect, it } from 'vitest';
import type { DecisionRecord, SliceWrite } from '../../../../functions/adapters/store/port.ts';
import { SqliteStore } from '../../../../functions/adapters/store/sqlite-store.ts';
import { freshDomain, freshHost } from '../../../../functions/core/index.ts';
import { tempSqliteStore } from '../../../helpers/store-sqlite.ts';
import { incidentRow, storeContract } from './contract.ts';

storeContract('SQLite (a temporary file)', async () => tempSqliteStore());

describe('the SQLite store', () => {
  it('keeps its state in the file across a reopen', async () => {
    const { store, path, cleanup } = await tempSqliteStore();
    await store.putIncident(incidentRow('inc-1'), 1, '2026-11-22T03:00:00.000Z');
    await store.close();
    const reopened = new SqliteStore({ path });
    expect((await reopened.getIncident('inc-1'))?.incident.id).toBe('inc-1');
    await reopened.close();
    await cleanup();
  });

  it('purges finished decisions and resolved incidents past their retention, and keeps the rest', async () => {
    const { store, cleanup } = await tempSqliteStore({ clock: () => Date.parse('2026-01-01T00:00:00Z') });
    await store.putIncident(
      incidentRow('inc-old', { status: 'resolved', resolvedAt: '2026-01-01T00:00:00.000Z' }),
      1,
      '2026-01-01T00:00:00.000Z',
    );
    await store.putTimeline({
      id: 'tln-1',
      incidentId: 'inc-old',
      at: '2026-01-01T00:00:00.000Z',
      text: 'x',
    });
    await store.putIncident(incidentRow('inc-open'), 1, '2026-01-01T00:00:00.000Z');
    await store.putDecision({
      id: 'd1',
      attempt: 1,
      status: 'committed',
      at: '2026-01-01T00:00:00.000Z',
      createdAt: 0,
      about: 'x',
      writes: [],
      effects: [],
      done: [],
    });
    await store.setDecisionStatus('d1', 1, 'committed', 'done');
    const removed = await store.purgeExpired(Date.parse('2027-06-01T00:00:00Z'));
    expect(removed).toBe(3);
    expect(await store.getIncident('inc-old')).toBeUndefined();
    expect(await store.getDecision('d1')).toBeUndefined();
    expect(await store.getIncident('inc-open')).toBeDefined();
    await cleanup();
  });

  it('wraps what SQLite throws into store errors', async () => {
    expect(() => new SqliteStore({ path: '/nonexistent-folder/x/faultline.db' })).toThrow(
      expect.objectContaining({ code: 'store-rejected' }),
    );
  });

  describe('an atomic commit of a decision and its slices', () => {
    const write = (ref: SliceWrite['ref'], expected: number): SliceWrite => ({
      ref,
      expected,
      value: ref.kind === 'host' ? freshHost(ref.id) : freshDomain(ref.kind === 'domain' ? ref.id : ''),
      applied: ['d1'],
    });
    const decision = (overrides: Partial<DecisionRecord> = {}): DecisionRecord => ({
      id: 'd1',
      attempt: 1,
      status: 'pending',
      at: '2026-01-01T00:00:00.000Z',
      createdAt: 0,
      about: 'x',
      writes: [write({ kind: 'host', id: 'h1' }, 0), write({ kind: 'domain', id: 'vscsi:sys/vios2' }, 0)],
      effects: [{ type: 'timeline', entry: { id: 'tln-1', incidentId: 'inc-1', at: 'x', text: 'x' } }],
      done: [],
      ...overrides,
    });
    const versions = async (store: SqliteStore) =>
      (
        await store.getSlices([
          { kind: 'host', id: 'h1' },
          { kind: 'domain', id: 'vscsi:sys/vios2' },
        ])
      ).map((slice) => slice.version);

    it('writes the record as committed, with its effects, and every slice, in one step', async () => {
      const { store, cleanup } = await tempSqliteStore();
      expect(await store.commitDecision?.(decision())).toBe('ok');
      expect(await versions(store)).toEqual([1, 1]);
      const stored = await store.getDecision('d1');
      expect(stored).toMatchObject({ status: 'committed', writes: [], effects: decision().effects });
      await cleanup();
    });

    it('writes nothing when one slice moved on or is locked, or the record exists', async () => {
      const { store, cleanup } = await tempSqliteStore();
      expect(await store.putSlice(write({ kind: 'domain', id: 'vscsi:sys/vios2' }, 0))).toBe('ok');
      expect(await store.commitDecision?.(decision())).toBe('conflict');
      expect(await versions(store)).toEqual([0, 1]);
      expect(await store.getDecision('d1')).toBeUndefined();

      expect(await store.lockSlice({ kind: 'host', id: 'h1' }, 0, 'other#1')).toBe('ok');
      const fresh = decision({
        writes: [write({ kind: 'host', id: 'h1' }, 0), write({ kind: 'domain', id: 'vscsi:sys/vios2' }, 1)],
      });
      expect(await store.commitDecision?.(fresh)).toBe('conflict');
      await store.unlockSlice({ kind: 'host', id: 'h1' }, 'other#1');
      expect(await store.commitDecision?.(fresh)).toBe('ok');
      expect(await store.commitDecision?.(fresh)).toBe('conflict');
      expect(await versions(store)).toEqual([1, 2]);
      await cleanup();
    });

    it('replaces only the aborted attempt it names', async () => {
      const { store, cleanup } = await tempSqliteStore();
      expect(await store.putDecision(decision({ writes: [] }))).toBe('ok');
      expect(await store.commitDecision?.(decision({ attempt: 2 }), 1)).toBe('conflict');
      await store.setDecisionStatus('d1', 1, 'pending', 'aborted');
      expect(await store.commitDecision?.(decision({ attempt: 2 }))).toBe('conflict');
      expect(await store.commitDecision?.(decision({ attempt: 2 }), 1)).toBe('ok');
      expect(await store.getDecision('d1')).toMatchObject({ attempt: 2, status: 'committed' });
      await cleanup();
    });
  });

  describe('a unit of many store calls in one transaction', () => {
    it('commits them together when it ends, and others read and write only once it has', async () => {
      const { store, path, cleanup } = await tempSqliteStore();
      const other = new SqliteStore({ path });
      let release: () => void = () => undefined;
      const held = new Promise<void>((done) => {
        release = done;
      });
      const order: string[] = [];
      const unit = store.unit(async () => {
        await store.putIncident(incidentRow('inc-1'), 1, '2026-11-22T03:00:00.000Z');
        order.push('unit wrote');
        await held;
        order.push('unit ends');
      });
      // Another connection does not see it before the commit; this one waits for it.
      await new Promise((done) => setTimeout(done, 20));
      expect(await other.getIncident('inc-1')).toBeUndefined();
      const outside = store.getIncident('inc-1').then((found) => {
        order.push('outside read');
        return found;
      });
      await new Promise((done) => setTimeout(done, 20));
      expect(order).toEqual(['unit wrote']);
      release();
      await unit;
      expect((await outside)?.incident.id).toBe('inc-1');
      expect(order).toEqual(['unit wrote', 'unit ends', 'outside read']);
      expect((await other.getIncident('inc-1'))?.incident.id).toBe('inc-1');
      await other.close();
      await cleanup();
    });

    it('rolls everything back when it throws, and the file takes writes again', async () => {
      const { store, cleanup } = await tempSqliteStore();
      await expect(
        store.unit(async () => {
          await store.putIncident(incidentRow('inc-1'), 1, '2026-11-22T03:00:00.000Z');
          throw new Error('crash');
        }),
      ).rejects.toThrow('crash');
      expect(await store.getIncident('inc-1')).toBeUndefined();
      await store.putIncident(incidentRow('inc-2'), 1, '2026-11-22T03:00:00.000Z');
      expect((await store.getIncident('inc-2'))?.incident.id).toBe('inc-2');
      await cleanup();
    });
  });
});
