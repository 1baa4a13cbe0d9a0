import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../functions/adapters/store/sqlite-store.ts';
import { DATA_FILES } from '../local/control-plane.ts';
import type { Streams } from './streams.ts';

/**
 * `faultline backup <file> [--data .faultline]`: an online backup of the local runtime's SQLite
 * file (store, queues and delivery log), consistent while the control plane keeps running.
 */
export const runBackup = async (args: readonly string[], streams: Streams): Promise<number> => {
  let parsed: { values: { data?: string | undefined }; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], allowPositionals: true, options: { data: { type: 'string' } } });
  } catch (error) {
    streams.stderr(`faultline backup: ${(error as Error).message}\n`);
    return 2;
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined || extra.length > 0) {
    streams.stderr('usage: faultline backup <file> [--data .faultline]\n');
    return 2;
  }
  const database = join(parsed.values.data ?? '.faultline', DATA_FILES.database);
  if (!existsSync(database)) {
    streams.stderr(`faultline backup: no control plane data at ${database} (see --data)\n`);
    return 1;
  }
  const store = new SqliteStore({ path: database });
  try {
    await store.backup(file);
  } finally {
    await store.close();
  }
  streams.stdout(`backed up ${database} to ${file}\n`);
  return 0;
};
