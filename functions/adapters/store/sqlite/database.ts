import { AsyncLocalStorage } from 'node:async_hooks';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { AdapterError, messageOf, StoreRejectedError, StoreUnavailableError } from '../../errors.ts';
import type { StoreHealth } from '../port.ts';
import { RETENTION } from '../projection.ts';

/**
 * The SQLite file of the store (better-sqlite3, WAL): its schema, how each port method runs in it
 * (one `BEGIN IMMEDIATE` transaction per write, so it is exactly the single-item conditional write
 * the port promises, even with several processes on the file; SQLite's errors wrapped into store
 * errors; inside a unit, a savepoint of the unit's transaction, with the caches the unit keeps),
 * and what spans every table: the retention purge, the online backup, closing. Tables:
 *
 * - `slices (kind, id)`: `value` JSON, `version`, `lock`, `applied` JSON, and the index columns
 *   derived from the value when it is written (../indexes.ts): `wake_at` (indexed: due timers)
 *   and `open` (a domain with an open episode).
 * - `decisions (id)`: the outbox; `status`, `attempt`, `created_at` (indexed while unfinished),
 *   `body` (writes and effects, emptied once the record is finished) and `done` (indices of the effects performed when it was written);
 *   `effects_done (id, attempt, effect)`: each effect marked done since, one row each, so marking
 *   one never rewrites a record's body (a wave's record holds every plan of the wave). Inside a
 *   unit, a record the unit holds takes its marks in `done` instead, as it is written once.
 * - `incidents (id)` indexed by `opened_at`, by status and by failure domain; `affected
 *   (incident_id, host_id)` indexed by host and, for `waiting` rows, by incident; `timeline (id)`
 *   by incident and time; `plans (id)` by host, with the signature of each plan's lines
 *   (`lines_signature`, for the sh agent); `tokens (hash)`; `hosts (host_id)`: the registry of
 *   servers and their grants (`registered_at` orders two grants of one host); `collects (host_id)`:
 *   what the collect route remembers of each sh agent's host (`boot_id` and `seq` of its last
 *   collect, for the conditional write; purged once a host stayed silent past its retention).
 *
 * Times in indexed columns are normalised ISO strings, so they sort as text. Old rows are
 * deleted by {@link SqliteFile.purgeExpired} (sweep calls it) after the retention of
 * ../projection.ts, as DynamoDB's TTL does in the cloud.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS slices (
  kind TEXT NOT NULL, id TEXT NOT NULL, value TEXT, version INTEGER NOT NULL, lock TEXT,
  applied TEXT NOT NULL DEFAULT '[]', wake_at TEXT, open INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS slices_wake ON slices (wake_at, kind, id) WHERE wake_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS slices_open ON slices (kind, id) WHERE open = 1;
CREATE TABLE IF NOT EXISTS decisions (
  id TEXT PRIMARY KEY, attempt INTEGER NOT NULL, status TEXT NOT NULL, at TEXT NOT NULL,
  created_at INTEGER NOT NULL, about TEXT NOT NULL, body TEXT NOT NULL, done TEXT NOT NULL DEFAULT '[]',
  finished_at INTEGER) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS decisions_unfinished ON decisions (created_at, id) WHERE status IN ('pending', 'committed');
CREATE INDEX IF NOT EXISTS decisions_finished ON decisions (finished_at) WHERE finished_at IS NOT NULL;
-- A record's attempt without its body: a wave's record holds every plan of the wave (MBs).
CREATE INDEX IF NOT EXISTS decisions_attempt ON decisions (id, attempt);
CREATE TABLE IF NOT EXISTS effects_done (
  id TEXT NOT NULL, attempt INTEGER NOT NULL, effect INTEGER NOT NULL,
  PRIMARY KEY (id, attempt, effect)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS incidents (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, failure_domain TEXT NOT NULL, opened_at TEXT NOT NULL,
  resolved_at TEXT, revision INTEGER NOT NULL, detected_at TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS incidents_time ON incidents (opened_at, id);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents (status, opened_at, id);
CREATE INDEX IF NOT EXISTS incidents_domain ON incidents (failure_domain, opened_at, id);
CREATE TABLE IF NOT EXISTS affected (
  incident_id TEXT NOT NULL, host_id TEXT NOT NULL, status TEXT NOT NULL, joined_at TEXT NOT NULL,
  revision INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (incident_id, host_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS affected_waiting ON affected (incident_id, host_id) WHERE status = 'waiting';
CREATE INDEX IF NOT EXISTS affected_host ON affected (host_id, incident_id);
CREATE TABLE IF NOT EXISTS timeline (
  id TEXT PRIMARY KEY, incident_id TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timeline_incident ON timeline (incident_id, at, id);
CREATE TABLE IF NOT EXISTS plans (
  id TEXT PRIMARY KEY, host_id TEXT NOT NULL, issued_at TEXT, expires_at TEXT, body TEXT,
  revoked INTEGER NOT NULL DEFAULT 0, revoked_at TEXT, lines_signature TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS plans_host ON plans (host_id, issued_at, id);
CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, created_at TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hosts (host_id TEXT PRIMARY KEY, registered_at TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS collects (
  host_id TEXT PRIMARY KEY, boot_id TEXT NOT NULL, seq INTEGER NOT NULL, stored_at TEXT NOT NULL,
  body TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS collects_stored ON collects (stored_at);
`;

/**
 * Columns added to a table after files were made with it: `CREATE TABLE IF NOT EXISTS` leaves an
 * older file's table as it was, so each is added when it is missing.
 */
const ADDED_COLUMNS: readonly { table: string; column: string; definition: string }[] = [
  { table: 'plans', column: 'lines_signature', definition: 'TEXT' },
];

/** What a projection row stores to order its writes (see `OutboxEffect` in ../port.ts). */
export type RevisionRow = { revision: number; detected_at?: string };

/**
 * What a sub-port keeps in memory only while a unit is open, instead of reading and writing the
 * file each time (the unit's rows of ./unit-rows.ts). The file drives it: it is written back
 * before the unit commits and before a statement that reads its table by other than its key
 * ({@link SqliteFile.writeBack}), undone with a savepoint of the unit that fails, and cleared when
 * the unit ends, committed or not.
 */
export interface UnitCache {
  /** A savepoint of the unit begins: from now on, remember how to undo each change. */
  savepoint(): void;
  /** The savepoint was released: keep what changed and stop remembering. */
  release(): void;
  /** The savepoint was rolled back: undo what changed since it began. */
  rollback(): void;
  /** Writes what it holds back to the file, in the unit's transaction. */
  writeBack(): void;
  /** Forgets everything: the unit has ended. */
  clear(): void;
}

/** A unit while it is open ({@link SqliteFile.unit}): its code runs with it as its async context's store. */
interface OpenUnit {
  readonly ended: Promise<void>;
}

const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT']);
const isBusy = (error: unknown): boolean => {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && BUSY_CODES.has(code);
};

/**
 * The longest one attempt blocks its thread in SQLite's busy handler, waiting for another
 * connection's write lock (the decider thread's unit, while the API writes): the rest of the wait
 * is made between attempts, asynchronously, so the thread keeps serving meanwhile.
 */
const BLOCKING_BUSY_MS = 20;

/**
 * The page size of a new file. A row of a `WITHOUT ROWID` table keeps at most about a sixteenth of
 * a page in its leaf (about 1 KB of a 4 KiB page) and spills the rest to overflow pages; host
 * slices and decision records are larger than that. Measured on a 20,000-event storm through
 * correlate: 16 KiB pages cut the commits' time by half (1,000 → 550 ms) and the batch's by 13 %.
 */
const PAGE_SIZE = 16_384;

/**
 * A file's identity: its device and inode, as text (inode numbers may pass 2^53 on some file
 * systems). Two paths name the same file exactly when their identities are equal.
 */
export const fileIdentityOf = (path: string): string | undefined => {
  try {
    const stats = statSync(path, { bigint: true, throwIfNoEntry: false });
    return stats === undefined ? undefined : `${stats.dev}:${stats.ino}`;
  } catch {
    // EACCES, ELOOP, EIO...: a path that cannot be looked at is not the file opened either, and a
    // throw here would escape the watch's timer and end the process instead of refusing writes.
    return INACCESSIBLE;
  }
};

/** The identity {@link fileIdentityOf} answers for a path it cannot look at: equal to no file's. */
export const INACCESSIBLE = 'inaccessible';

/**
 * Why the file at `path` is no longer the one opened as `identity`, or undefined while it is.
 * better-sqlite3 keeps writing to the inode it opened after the file is unlinked or renamed over,
 * and every commit then goes where no later start will find it: the store refuses to write, and
 * says so, instead.
 */
export const orphanedFile = (
  path: string,
  identity: string,
): 'deleted' | 'replaced' | 'inaccessible' | undefined => howGone(fileIdentityOf(path), identity);

/** How a file whose identity is `now` differs from the one opened as `opened`, or undefined when it is the same. */
export const howGone = (
  now: string | undefined,
  opened: string,
): 'deleted' | 'replaced' | 'inaccessible' | undefined => {
  // First: a path that could not be looked at when it was opened either is no proof it is the same.
  if (now === INACCESSIBLE) return 'inaccessible';
  if (now === opened) return undefined;
  return now === undefined ? 'deleted' : 'replaced';
};

/**
 * SQLite's failures that mean the file cannot take writes until someone acts (a permission, the
 * disk, the file itself), by the prefix of their code, with the short phrase health gives for each.
 */
const STORAGE_FAILURES: readonly (readonly [prefix: string, phrase: string])[] = [
  ['SQLITE_READONLY', 'the file is read-only'],
  ['SQLITE_FULL', 'the disk is full'],
  ['SQLITE_IOERR', 'the disk refused a write'],
  ['SQLITE_CANTOPEN', 'the file cannot be opened'],
  ['SQLITE_CORRUPT', 'the file is corrupt'],
  ['SQLITE_NOTADB', 'the file is not a database'],
  ['SQLITE_PERM', 'the file may not be written'],
];

/**
 * The phrase of a storage failure (see {@link STORAGE_FAILURES}), or undefined for any other error:
 * SQLite's own failure, of any SQLite file (the local runtime's queue file too).
 */
export const storageFailureOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string') return undefined;
  return STORAGE_FAILURES.find(([prefix]) => code.startsWith(prefix))?.[1];
};

/** A busy or locked file is `store-unavailable` (retryable); anything else SQLite refuses, `store-rejected`. */
const wrap = (what: string, error: unknown): AdapterError => {
  if (error instanceof AdapterError) return error;
  if (isBusy(error)) {
    return new StoreUnavailableError(`${what}: ${messageOf(error)}`, { cause: error });
  }
  return new StoreRejectedError(`${what}: ${messageOf(error)}`, { cause: error });
};

/** The journals SQLite keeps beside a file in WAL mode. */
const JOURNAL_SUFFIXES = ['-wal', '-shm'] as const;

export interface SqliteFileOptions {
  /**
   * Why no commit may be made now, or undefined when one may, asked inside each transaction just
   * before it commits (a reason rolls it back, `store-unavailable`). The local runtime's decider
   * refuses while any part of its data folder went (the queue file too): a unit whose outbox sent
   * a page into a deleted queue file must not then record the page as sent.
   */
  readonly commitGuard?: () => string | undefined;
}

/** The open database file that every SQLite sub-port runs its statements in. */
export class SqliteFile {
  /** The connection, for statements run inside {@link write} or {@link read}. */
  readonly db: Database.Database;
  /** Each statement prepared once (by its text): preparing costs more than most statements run. */
  readonly #statements = new Map<string, Database.Statement>();
  /** One transaction function for every write (better-sqlite3 builds a wrapper per `transaction` call). */
  #transaction: Database.Transaction<(work: () => unknown) => unknown> | undefined;
  /** Which unit of this file the running code is inside ({@link unit}). */
  readonly #units = new AsyncLocalStorage<OpenUnit>();
  /** The unit now open. */
  #openUnit: OpenUnit | undefined;
  /** What the sub-ports keep only while a unit is open. */
  readonly #caches: UnitCache[] = [];

  /** How long a write waits for another connection's lock before it fails `store-unavailable`. */
  readonly #busyTimeoutMs: number;

  /** The file's path, and its identity when it was opened (none in memory). */
  readonly #path: string;
  readonly #identity: string | undefined;
  /**
   * The `-wal` and `-shm` as opened, by path: SQLite keeps both at their paths, the same files,
   * while any connection is open (it deletes them when the last one closes), so one deleted or
   * replaced took with it what the file's commits wrote there, and what the next commits write.
   */
  readonly #journals: readonly (readonly [path: string, identity: string])[];
  /** Why no commit may be made now, besides this file's own identity (see {@link SqliteFileOptions}). */
  readonly #commitGuard: (() => string | undefined) | undefined;
  /** Why the last write failed, while it stays the last (a later write that commits clears it). */
  #lastWriteFailure: string | undefined;

  /** Opens (or creates) the file in WAL mode and creates the tables that are missing. */
  constructor(path: string, busyTimeoutMs: number, options: SqliteFileOptions = {}) {
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#path = path;
    this.#commitGuard = options.commitGuard;
    try {
      this.db = new Database(path);
      // A new file only (a file's page size is fixed once it has tables): 16 KiB pages hold a host
      // slice (2-3 KB) in its leaf, where 4 KiB pages spill it to an overflow page.
      this.db.pragma(`page_size = ${PAGE_SIZE}`);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma(`busy_timeout = ${Math.min(busyTimeoutMs, BLOCKING_BUSY_MS)}`);
      this.db.exec(SCHEMA);
      for (const { table, column, definition } of ADDED_COLUMNS) {
        const columns = this.db.prepare<[], { name: string }>(`PRAGMA table_info(${table})`).all();
        if (!columns.some((known) => known.name === column)) {
          this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
        }
      }
    } catch (error) {
      throw wrap(`cannot open the store ${path}`, error);
    }
    this.#identity = this.db.memory ? undefined : fileIdentityOf(path);
    this.#journals = this.db.memory
      ? []
      : JOURNAL_SUFFIXES.flatMap((suffix) => {
          const identity = fileIdentityOf(`${path}${suffix}`);
          return identity === undefined || identity === INACCESSIBLE
            ? []
            : [[`${path}${suffix}`, identity] as const];
        });
  }

  /**
   * Throws `store-unavailable` when the file at the path is no longer the one this connection
   * writes (deleted, or another renamed over it): one `stat`, before each write outside a unit and
   * before a unit begins and commits.
   */
  #checkNotOrphaned(what: string): void {
    const orphaned = this.#orphaned();
    if (orphaned === undefined) return;
    throw new StoreUnavailableError(
      `${what}: ${orphaned} while this process had it open; nothing more is written to it (stop faultline up, put the file back or restore a backup, and start again)`,
    );
  }

  /** What of the file went (it, or its `-wal` or `-shm`), as a phrase, or undefined while none did. */
  #orphaned(): string | undefined {
    if (this.#identity === undefined) return undefined;
    const orphaned = orphanedFile(this.#path, this.#identity);
    if (orphaned !== undefined) return `the database file ${this.#path} was ${orphaned}`;
    for (const [journal, identity] of this.#journals) {
      const gone = orphanedFile(journal, identity);
      if (gone !== undefined) return `the database file's journal ${journal} was ${gone}`;
    }
    return undefined;
  }

  /**
   * Just before a commit, inside its transaction (a throw rolls it back): the file and its journals
   * are still the ones opened, and the caller's guard allows it.
   */
  #checkCommit(what: string): void {
    this.#checkNotOrphaned(what);
    const refused = this.#commitGuard?.();
    if (refused !== undefined) throw new StoreUnavailableError(`${what}: ${refused}`);
  }

  /** Remembers how a write ended, for {@link health}: its storage failure, or none once one commits. */
  #noteWrite(error: unknown): void {
    this.#lastWriteFailure =
      error === undefined ? undefined : (storageFailureOf(error) ?? this.#lastWriteFailure);
  }

  /**
   * Whether this file can take writes now, cheaply (a `stat` and an `access` call, no SQL): the file
   * at the path is still the one opened, it is writable, the connection is not read-only, and the
   * last write did not fail for a reason of the file or the disk (read-only, full, I/O error).
   * A file busy with another writer's lock is not unhealthy: the write waits.
   */
  health(): StoreHealth {
    if (this.#identity === undefined) return { status: 'ok' };
    const orphaned = orphanedFile(this.#path, this.#identity);
    if (orphaned !== undefined) return { status: 'unavailable', detail: `the database file was ${orphaned}` };
    for (const [journal, identity] of this.#journals) {
      const gone = orphanedFile(journal, identity);
      if (gone !== undefined)
        return {
          status: 'unavailable',
          detail: `the database file's ${journal.endsWith('-wal') ? 'write-ahead log' : 'shared-memory index'} was ${gone}`,
        };
    }
    try {
      accessSync(this.#path, fsConstants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return {
        status: 'unavailable',
        detail:
          code === 'EROFS'
            ? 'the database file is on a read-only file system'
            : 'the database file is not writable',
      };
    }
    if (this.db.readonly) return { status: 'unavailable', detail: 'the database file was opened read-only' };
    if (this.#lastWriteFailure !== undefined)
      return { status: 'unavailable', detail: `the last write failed: ${this.#lastWriteFailure}` };
    return { status: 'ok' };
  }

  /** The prepared statement of `sql`, prepared on its first use and kept. */
  statement<P extends unknown[] = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement as unknown as Database.Statement<P, R>;
  }

  /** Registers a cache that lives only inside units (see {@link UnitCache}). */
  keepInUnits(cache: UnitCache): void {
    this.#caches.push(cache);
  }

  /** Whether the running code is inside this file's open unit, where its caches serve. */
  get inUnit(): boolean {
    return this.#openUnit !== undefined && this.#units.getStore() === this.#openUnit;
  }

  /**
   * Inside a unit, writes what its caches hold back to the file, so that the statement about to
   * run sees it (one that reads a cached table by other than its key); outside one, nothing.
   */
  writeBack(): void {
    if (this.inUnit) for (const cache of this.#caches) cache.writeBack();
  }

  /**
   * Runs `work` in one `BEGIN IMMEDIATE` transaction, errors wrapped. Inside a {@link unit} it is
   * a savepoint of the unit's transaction, and when it throws the unit's caches are taken back to
   * what they held before it; outside one, it waits until the open unit has ended, and refuses
   * (`store-unavailable`) when the file is no longer at its path.
   */
  async write<T>(what: string, work: () => T): Promise<T> {
    await this.#outsideUnits();
    try {
      this.#transaction ??= this.db.transaction((inner: () => unknown) => inner());
      const transaction = this.#transaction;
      if (!this.inUnit) {
        // Looked at just before each attempt: a wait for another writer's lock may be long.
        const result = await this.#whenFree(
          () => {
            this.#checkNotOrphaned(what);
            return transaction.immediate(() => {
              const result = work();
              // What the work did (an outbox's effect sent to another file) may need the whole
              // folder: looked at again last, so a fault during the work rolls it back.
              this.#checkCommit(what);
              return result;
            }) as T;
          },
          () => this.#outsideUnits(),
        );
        this.#noteWrite(undefined);
        return result;
      }
      for (const cache of this.#caches) cache.savepoint();
      try {
        const result = this.#transaction.immediate(work) as T;
        for (const cache of this.#caches) cache.release();
        return result;
      } catch (error) {
        for (const cache of this.#caches) cache.rollback();
        throw error;
      }
    } catch (error) {
      this.#noteWrite(error);
      throw wrap(what, error);
    }
  }

  /**
   * Runs `work` outside a transaction (one statement reads a consistent snapshot), errors wrapped;
   * outside a {@link unit}, once the open unit has ended, so nothing reads what a unit has not
   * committed.
   */
  async read<T>(what: string, work: () => T): Promise<T> {
    await this.#outsideUnits();
    try {
      return work();
    } catch (error) {
      throw wrap(what, error);
    }
  }

  /**
   * Runs `work`, and every write and read it makes on this file, in one transaction committed when
   * it ends (rolled back when it throws): a group commit of many port calls, each a savepoint of
   * it, so they cost one commit instead of one each. The port's promise holds unchanged: each
   * write is still its own conditional write, and a crash before the commit loses the whole unit,
   * which is only ever a batch its caller has not yet acknowledged (the local runtime's correlate
   * batch: its messages are deleted from the queue after the commit, so they come back). Calls
   * from outside the unit on this connection wait until it has ended; units run one at a time.
   * Another connection (the API's, in another thread) waits for the unit's write lock without
   * blocking its thread, up to the busy timeout, and reads only what was committed (WAL).
   *
   * While it is open, the sub-ports' caches ({@link UnitCache}) serve what the unit already read or
   * wrote (the control and domain slices: a batch's events mostly share one failure domain's slice)
   * and hold its writes back until the end, when they are written once each, before the COMMIT. Each write
   * still checks its condition against what the unit holds, so its outcome is the one the file
   * would give; a call that throws leaves the caches as they were before it, as its savepoint
   * leaves the file; a unit that throws, or fails to commit, leaves nothing in either.
   */
  async unit<T>(what: string, work: () => Promise<T>): Promise<T> {
    if (this.inUnit) return work();
    await this.#outsideUnits();
    let end: () => void = () => undefined;
    const unit: OpenUnit = {
      ended: new Promise<void>((ended) => {
        end = ended;
      }),
    };
    this.#openUnit = unit;
    try {
      try {
        this.#checkNotOrphaned(what);
        await this.#whenFree(() => this.db.exec('BEGIN IMMEDIATE'));
      } catch (error) {
        this.#noteWrite(error);
        throw wrap(what, error);
      }
      let result: T;
      try {
        result = await this.#units.run(unit, work);
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
      try {
        for (const cache of this.#caches) cache.writeBack();
        // The file may have gone while the unit ran: its work is rolled back, not committed where
        // no one will find it, and the caller (correlate's batch) keeps its messages for later.
        this.#checkCommit(what);
        this.db.exec('COMMIT');
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        this.#noteWrite(error);
        throw wrap(what, error);
      }
      this.#noteWrite(undefined);
      return result;
    } finally {
      for (const cache of this.#caches) cache.clear();
      this.#openUnit = undefined;
      end();
    }
  }

  /**
   * Runs `attempt` (a transaction, whole), again while another connection holds the write lock,
   * waiting between attempts without blocking the thread, until the busy timeout has passed
   * (`before` runs before each attempt). A transaction that failed busy was rolled back, so running
   * it again is running it once.
   */
  async #whenFree<T>(attempt: () => T, before?: () => Promise<void>): Promise<T> {
    const deadline = performance.now() + this.#busyTimeoutMs;
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      // A unit of this connection may have begun during the wait: its transaction is not ours.
      await before?.();
      try {
        return attempt();
      } catch (error) {
        if (!isBusy(error) || performance.now() + pause >= deadline) throw error;
      }
      await new Promise((resume) => setTimeout(resume, pause));
    }
  }

  /** Waits, unless called from inside it, until the open unit (and any that follows it) has ended. */
  async #outsideUnits(): Promise<void> {
    while (this.#openUnit !== undefined && !this.inUnit) await this.#openUnit.ended;
  }

  /**
   * Deletes what DynamoDB's TTL would: finished decision records, resolved incidents with their
   * rows, and expired plans, past the retention of ../projection.ts. Answers how many rows went.
   */
  purgeExpired(nowMs: number): Promise<number> {
    return this.write('purge old rows', () => {
      // Inside a unit, what it holds reaches the file first, so a row it holds is purged with its peers.
      this.writeBack();
      let removed = 0;
      const decidedBefore = nowMs - RETENTION.decisionSeconds * 1000;
      this.statement(
        'DELETE FROM effects_done WHERE id IN (SELECT id FROM decisions WHERE finished_at IS NOT NULL AND finished_at <= ?)',
      ).run(decidedBefore);
      removed += this.statement(
        'DELETE FROM decisions WHERE finished_at IS NOT NULL AND finished_at <= ?',
      ).run(decidedBefore).changes;
      const before = new Date(nowMs - RETENTION.incidentSeconds * 1000).toISOString();
      const old = this.statement<[string], { id: string }>(
        "SELECT id FROM incidents WHERE status = 'resolved' AND resolved_at <= ?",
      ).all(before);
      for (const { id } of old) {
        removed += this.statement('DELETE FROM timeline WHERE incident_id = ?').run(id).changes;
        removed += this.statement('DELETE FROM affected WHERE incident_id = ?').run(id).changes;
        removed += this.statement('DELETE FROM incidents WHERE id = ?').run(id).changes;
      }
      removed += this.statement('DELETE FROM collects WHERE stored_at <= ?').run(
        new Date(nowMs - RETENTION.collectSeconds * 1000).toISOString(),
      ).changes;
      removed += this.statement(
        'DELETE FROM plans WHERE (expires_at IS NOT NULL AND expires_at <= ?) OR (expires_at IS NULL AND revoked_at <= ?)',
      ).run(
        new Date(nowMs - RETENTION.planSeconds * 1000).toISOString(),
        new Date(nowMs - RETENTION.planSeconds * 1000).toISOString(),
      ).changes;
      return removed;
    });
  }

  /** An online backup of the whole file into `file` (SQLite's backup API: consistent while others write). */
  async backup(file: string): Promise<void> {
    try {
      await this.db.backup(file);
    } catch (error) {
      throw wrap(`back up the store to ${file}`, error);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
