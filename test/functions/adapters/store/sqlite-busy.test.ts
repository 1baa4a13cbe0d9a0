import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../../functions/adapters/store/sqlite-store.ts';

/**
 * Another connection holding the store file's write lock, as the local runtime's decider thread
 * does for a whole correlate batch while the API writes a token, a host or a collect: the write
 * waits without blocking its thread (the API keeps serving), then goes through, or fails
 * `store-unavailable` once the busy timeout has passed.
 */

const folders: string[] = [];
const opened: { close(): unknown }[] = [];
afterEach(() => {
  for (const handle of opened.splice(0)) handle.close();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

const storeFile = (): string => {
  const folder = mkdtempSync(join(tmpdir(), 'faultline-busy-'));
  folders.push(folder);
  return join(folder, 'faultline.db');
};

const token = (label: string) => ({
  hash: `hash-${label}`,
  kind: 'operator' as const,
  label,
  createdAt: '2026-12-03T12:00:00.000Z',
});

/** A second connection that takes the write lock now and keeps it `ms`. */
const holdWriteLock = (file: string, ms: number): Promise<void> => {
  const other = new Database(file);
  opened.push(other);
  other.exec('BEGIN IMMEDIATE');
  return new Promise((released) =>
    setTimeout(() => {
      other.exec('COMMIT');
      released();
    }, ms),
  );
};

describe('the SQLite store under another connection’s write lock', () => {
  it.each([
    ['a write', (store: SqliteStore) => store.putToken(token('waited'))],
    ['a unit', (store: SqliteStore) => store.unit(() => store.putToken(token('waited')))],
  ])('%s waits without blocking its thread, then goes through', async (_name, write) => {
    const file = storeFile();
    const store = new SqliteStore({ path: file });
    opened.push({ close: () => store.close() });
    const released = holdWriteLock(file, 300);
    let ticks = 0;
    const ticker = setInterval(() => {
      ticks += 1;
    }, 5);
    // Blocked in SQLite's busy handler, this thread could not even run the timer that releases the lock.
    await write(store);
    clearInterval(ticker);
    await released;
    expect(ticks).toBeGreaterThan(0);
    expect((await store.listTokens()).map((stored) => stored.label)).toEqual(['waited']);
  });

  it('fails store-unavailable once its busy timeout has passed, having written nothing', async () => {
    const file = storeFile();
    const store = new SqliteStore({ path: file, busyTimeoutMs: 200 });
    opened.push({ close: () => store.close() });
    const released = holdWriteLock(file, 1_000);
    await expect(store.putToken(token('late'))).rejects.toMatchObject({ code: 'store-unavailable' });
    await released;
    expect(await store.listTokens()).toEqual([]);
  });
});
