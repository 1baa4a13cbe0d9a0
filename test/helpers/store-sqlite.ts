import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
