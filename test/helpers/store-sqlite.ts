import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../functions/adapters/store/sqlite-store.ts';

/** A SQLite store on a file in a fresh temporary folder; `cleanup` closes it and removes the folder. */
export const tempSqliteStore = async (
  options: { readonly clock?: () => number } = {},
): Promise<{ store: SqliteStore; path: string; cleanup: () => Promise<void> }> => {
  const folder = await mkdtemp(join(tmpdir(), 'faultline-store-'));
  const path = join(folder, 'faultline.db');
  const store = new SqliteStore({ path, ...(options.clock === undefined ? {} : { clock: options.clock }) });
  return {
    store,
    path,
    cleanup: async () => {
      await store.close();
      await rm(folder, { recursive: true, force: true });
    },
  };
};

/**
 * Everything a SQLite store holds that must not depend on how it got there (crashes, retries,
 * redeliveries): slices with their versions, finished decisions, projections, plans without their
 * (randomised) signatures; and what must never be left behind: locks and unfinished decisions.
 */
export const dumpSqliteStore = (path: string): Record<string, unknown> => {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const all = (sql: string) => db.prepare(sql).all();
    return {
      slices: all(
        'SELECT kind, id, version, value, applied, wake_at, open FROM slices WHERE value IS NOT NULL ORDER BY kind, id',
      ),
      locks: all('SELECT kind, id, lock FROM slices WHERE lock IS NOT NULL'),
      unfinished: all(
        "SELECT id, status, about FROM decisions WHERE status IN ('pending', 'committed') ORDER BY id",
      ),
      done: all("SELECT id FROM decisions WHERE status = 'done' ORDER BY id"),
      incidents: all('SELECT id, body FROM incidents ORDER BY id'),
      affected: all(
        'SELECT incident_id, host_id, status, revision, body FROM affected ORDER BY incident_id, host_id',
      ),
      timeline: all('SELECT id, incident_id, at, body FROM timeline ORDER BY id'),
      plans: (
        all('SELECT id, host_id, body, revoked FROM plans ORDER BY id') as { body: string | null }[]
      ).map((row) => {
        if (row.body === null) return row;
        const { signature: _signature, ...plan } = JSON.parse(row.body) as { signature?: string };
        return { ...row, body: plan };
      }),
    };
  } finally {
    db.close();
  }
};
