import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { PLAN_SIGNING_KEY_FILE } from '../functions/adapters/signer/local-plan-signer.ts';
import { SqliteStore } from '../functions/adapters/store/sqlite-store.ts';
import { DATA_FILES } from '../local/control-plane.ts';
import type { Streams } from './streams.ts';

/**
 * `faultline backup <file> [--data .faultline]`: a backup of what makes the local control plane
 * what its fleet knows, taken while it keeps running. The SQLite files are copied with SQLite's
 * online backup (consistent while correlate and the API write): the store into `<file>`, the queues
 * with notify's delivery log into `<file>.queues`. The plan-signing private key goes into
 * `<file>.key`: a start refuses a database without its key (local/data-folder-start.ts), and a new
 * key would make every agent refuse every plan, so a backup without it cannot be restored. The
 * operator token goes into `<file>.operator-token`, where there is one, so the operator commands on
 * the restored machine find it as before. Files beside one another, each named after `<file>`, keep
 * the store a SQLite file that opens on its own; the secrets are written mode 0600 and atomically
 * (a scratch file renamed into place), so a crash never leaves half a key under the backup's name.
 * The output says which file goes where on a restore.
 */
const USAGE = `usage: faultline backup <file> [--data .faultline]
  an online backup of the running control plane: its store into <file>, its queues into
  <file>.queues, its plan-signing key into <file>.key (mode 0600) and its operator token into
  <file>.operator-token (mode 0600); the output says how to restore them
`;

/** The names of the backup's files beside `<file>` (the store's copy is `<file>` itself). */
const BACKUP_SUFFIXES = {
  queues: '.queues',
  signingKey: '.key',
  operatorToken: '.operator-token',
} as const;

const SECRET_FILE_MODE = 0o600;

/** Writes a secret with mode 0600 from the first byte, and only whole: a scratch file renamed over `file`. */
const writeSecretAtomically = (file: string, contents: Buffer): void => {
  const scratch = `${file}.tmp-${process.pid}-${randomUUID()}`;
  const fd = openSync(scratch, 'wx', SECRET_FILE_MODE);
  try {
    try {
      writeSync(fd, contents);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(scratch, file);
  } catch (error) {
    rmSync(scratch, { force: true });
    throw error;
  }
};

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
  const dataDir = parsed.values.data ?? '.faultline';
  const database = join(dataDir, DATA_FILES.database);
  if (!existsSync(database)) {
    streams.stderr(`faultline backup: no control plane data at ${database} (see --data)\n`);
    return 1;
  }
  const signingKey = join(dataDir, PLAN_SIGNING_KEY_FILE);
  if (!existsSync(signingKey)) {
    // A backup without the key restores into a folder no start accepts: say so before copying anything.
    streams.stderr(
      `faultline backup: no plan-signing key at ${signingKey}: a backup without it cannot be restored (a start refuses a database without its key)\n`,
    );
    return 1;
  }
  const store = new SqliteStore({ path: database });
  try {
    await store.backup(file);
  } finally {
    await store.close();
  }
  streams.stdout(`backed up ${database} to ${file}\n`);
  const restore = [`  ${file} -> ${database}`];
  const queues = join(dataDir, DATA_FILES.queues);
  if (existsSync(queues)) {
    const queuesCopy = `${file}${BACKUP_SUFFIXES.queues}`;
    const db = new Database(queues, { readonly: true, fileMustExist: true });
    try {
      await db.backup(queuesCopy);
    } finally {
      db.close();
    }
    streams.stdout(`backed up ${queues} to ${queuesCopy}\n`);
    restore.push(`  ${queuesCopy} -> ${queues}`);
  }
  const keyCopy = `${file}${BACKUP_SUFFIXES.signingKey}`;
  writeSecretAtomically(keyCopy, readFileSync(signingKey));
  streams.stdout(
    `backed up the plan-signing private key ${signingKey} to ${keyCopy} (mode 0600: keep it as secret as the folder)\n`,
  );
  restore.push(`  ${keyCopy} -> ${signingKey} (mode 0600)`);
  const operatorToken = join(dataDir, DATA_FILES.operatorToken);
  if (existsSync(operatorToken)) {
    const tokenCopy = `${file}${BACKUP_SUFFIXES.operatorToken}`;
    writeSecretAtomically(tokenCopy, readFileSync(operatorToken));
    streams.stdout(`backed up the operator token ${operatorToken} to ${tokenCopy} (mode 0600)\n`);
    restore.push(`  ${tokenCopy} -> ${operatorToken} (mode 0600)`);
  }
  // A -wal or -shm file left from another database would be replayed into the restored one.
  streams.stdout(
    `to restore: stop faultline up, empty the data folder (the -wal and -shm files too) or make a new one, copy each file to its name in it (shown here in the folder backed up), then start faultline up on it:\n${restore.join('\n')}\n`,
  );
  return 0;
};
