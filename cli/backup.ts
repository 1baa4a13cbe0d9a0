import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { SqliteStore } from '../functions/adapters/store/sqlite-store.ts';
import { DATA_FILES } from '../local/control-plane.ts';
import type { Streams } from './streams.ts';

/**
 * `faultline backup <file> [--data .faultline]`: an online backup of the local runtime's SQLite
 * files, consistent while the control plane keeps running: the store into `<file>`, and the queues
 * with notify's delivery log into `<file>.queues` (restore them as `faultline.db` and `queues.db`).
 */
const USAGE = `usage: faultline backup <file> [--data .faultline]
  an online backup of the running control plane's store into <file>, its queues into <file>.queues
`;

export const runBackup = async (args: readonly string[], streams: Streams): Promise<number> => {
  let parsed: { values: { data?: string | undefined; help?: boolean | undefined }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { data: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    streams.stderr(`faultline backup: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help === true) {
    streams.stdout(USAGE);
    return 0;
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined || extra.length > 0) {
    streams.stderr(USAGE);
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
  const queues = join(parsed.values.data ?? '.faultline', DATA_FILES.queues);
  if (existsSync(queues)) {
    const db = new Database(queues, { readonly: true, fileMustExist: true });
    try {
      await db.backup(`${file}.queues`);
    } finally {
      db.close();
    }
    streams.stdout(`backed up ${queues} to ${file}.queues\n`);
  }
  return 0;
};
