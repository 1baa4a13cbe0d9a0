import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../../functions/adapters/store/sqlite-store.ts';
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
});
