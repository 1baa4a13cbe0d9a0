import { copyFileSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { fileIdentityOf, INACCESSIBLE } from '../../functions/adapters/store/sqlite/database.ts';
import { DataFolderWatch, faultReason } from '../../local/data-folder-watch.ts';

/**
 * The data folder's watch (issue #18) on files opened as the control plane opens them (WAL, with
 * connections held): the journals count as their files do, a path that cannot be looked at is a
 * fault rather than a throw, and at stop every part that went has its journals set aside.
 */

const folders: string[] = [];
const connections: Database.Database[] = [];
afterEach(() => {
  for (const db of connections.splice(0)) if (db.open) db.close();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A data folder with both files open in WAL mode and written once, as a running control plane holds them. */
const openFolder = () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'faultline-watch-'));
  folders.push(dataDir);
  const paths = {
    dataDir,
    databaseFile: join(dataDir, 'faultline.db'),
    queuesFile: join(dataDir, 'queues.db'),
  };
  for (const file of [paths.databaseFile, paths.queuesFile]) {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x)');
    connections.push(db);
  }
  return { paths, watch: new DataFolderWatch(paths) };
};

describe('the data folder watch', () => {
  it("sees the queue file's write-ahead log deleted, and names it", () => {
    const { paths, watch } = openFolder();
    expect(watch.check()).toBeUndefined();
    unlinkSync(`${paths.queuesFile}-wal`);
    const fault = watch.check();
    expect(fault).toEqual({ part: 'queues', how: 'deleted', journal: '-wal' });
    expect(fault && faultReason(fault, watch)).toBe(
      "the queue file's write-ahead log (queues.db-wal) was deleted",
    );
  });

  it("sees the database's shared-memory index replaced", () => {
    const { paths, watch } = openFolder();
    copyFileSync(`${paths.databaseFile}-shm`, join(paths.dataDir, 'other-shm'));
    renameSync(join(paths.dataDir, 'other-shm'), `${paths.databaseFile}-shm`);
    expect(watch.check()).toEqual({ part: 'database', how: 'replaced', journal: '-shm' });
  });

  it('keeps a write-ahead log through checkpoints while a connection is open', () => {
    // What the journal checks rely on: SQLite deletes a -wal only when the last connection closes.
    const { paths, watch } = openFolder();
    for (const db of connections) db.pragma('wal_checkpoint(TRUNCATE)');
    expect(watch.check()).toBeUndefined();
    expect(readdirSync(paths.dataDir)).toContain('queues.db-wal');
  });

  it('answers a path it cannot look at as inaccessible instead of throwing', () => {
    const { paths, watch } = openFolder();
    // A symbolic link to itself: stat fails with ELOOP, as EACCES would for an unprivileged user.
    rmSync(paths.databaseFile);
    symlinkSync(paths.databaseFile, paths.databaseFile);
    expect(fileIdentityOf(paths.databaseFile)).toBe(INACCESSIBLE);
    expect(watch.check()).toEqual({ part: 'database', how: 'inaccessible' });
  });

  it('sets aside at stop the journals of every file that went, not only the first', () => {
    const { paths, watch } = openFolder();
    for (const file of [paths.databaseFile, paths.queuesFile]) {
      copyFileSync(file, `${file}.other`);
      renameSync(`${file}.other`, file);
    }
    // The first fault seen is the database's; the queue file went too.
    expect(watch.check()).toMatchObject({ part: 'database', how: 'replaced' });
    for (const db of connections.splice(0)) db.close();
    const setAside = watch.setAsideJournals(new Date('2026-12-05T02:00:00.000Z'));
    expect(setAside.sort()).toEqual(
      [
        `${paths.databaseFile}-shm`,
        `${paths.databaseFile}-wal`,
        `${paths.queuesFile}-shm`,
        `${paths.queuesFile}-wal`,
      ].map((journal) => `${journal}.orphaned-2026-12-05T02-00-00.000Z`),
    );
  });
});
