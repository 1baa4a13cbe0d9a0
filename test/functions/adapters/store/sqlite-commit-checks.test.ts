import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../../../functions/adapters/errors.ts';
import { SqliteStore } from '../../../../functions/adapters/store/sqlite-store.ts';

/**
 * What the SQLite store looks at just before each commit (issue #18: none acknowledges an event it
 * then loses): its file's `-wal` and `-shm` as much as the file (a deleted `-wal` takes every
 * commit not yet checkpointed with it, and SQLite goes on appending to the unlinked one), and the
 * caller's guard (the local runtime's decider refuses while its queue file went), asked inside the
 * transaction, so a fault that comes while a unit runs rolls the unit back.
 */

const folders: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

const openStore = (commitGuard?: () => string | undefined): { store: SqliteStore; file: string } => {
  const folder = mkdtempSync(join(tmpdir(), 'faultline-commit-checks-'));
  folders.push(folder);
  const file = join(folder, 'faultline.db');
  const store = new SqliteStore({ path: file, ...(commitGuard === undefined ? {} : { commitGuard }) });
  stores.push(store);
  return { store, file };
};

const token = (label: string) => ({
  hash: `hash-${label}`,
  kind: 'operator' as const,
  label,
  createdAt: '2026-12-05T01:00:00.000Z',
});

describe('the SQLite store before each commit', () => {
  it('refuses to write, and says so in health, once its write-ahead log is deleted', async () => {
    const { store, file } = openStore();
    await store.putToken(token('before'));
    unlinkSync(`${file}-wal`);
    await expect(store.putToken(token('after'))).rejects.toThrow(StoreUnavailableError);
    await expect(store.putToken(token('after'))).rejects.toThrow(
      `the database file's journal ${file}-wal was deleted`,
    );
    await expect(store.unit(() => store.putToken(token('in-unit')))).rejects.toThrow('was deleted');
    expect(await store.health()).toEqual({
      status: 'unavailable',
      detail: "the database file's write-ahead log was deleted",
    });
  });

  it('refuses to write once its shared-memory index is deleted', async () => {
    const { store, file } = openStore();
    unlinkSync(`${file}-shm`);
    await expect(store.putToken(token('after'))).rejects.toThrow(`${file}-shm was deleted`);
  });

  it('rolls a unit back when its guard refuses while the unit runs', async () => {
    let refused: string | undefined;
    const { store } = openStore(() => refused);
    await expect(
      store.unit(async () => {
        await store.putToken(token('in-flight'));
        // The fault comes while the unit is open: its writes are already made in the transaction.
        refused = 'the queue file was deleted';
        return 'done';
      }),
    ).rejects.toThrow('the queue file was deleted');
    refused = undefined;
    expect(await store.getToken('hash-in-flight')).toBeUndefined();
  });

  it('rolls a single write back when its guard refuses', async () => {
    let refused: string | undefined;
    const { store } = openStore(() => refused);
    await store.putToken(token('allowed'));
    refused = 'the queue file was replaced';
    await expect(store.putToken(token('refused'))).rejects.toThrow('the queue file was replaced');
    refused = undefined;
    expect(await store.getToken('hash-allowed')).toBeDefined();
    expect(await store.getToken('hash-refused')).toBeUndefined();
  });

  it('probes a write that commits and changes nothing', async () => {
    const { store } = openStore();
    await store.probeWrite();
    expect(await store.health()).toEqual({ status: 'ok' });
  });
});
