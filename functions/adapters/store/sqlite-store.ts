import { ComposedStore } from './composed-store.ts';
import type { StoreHealth } from './port.ts';
import { SqliteCollects } from './sqlite/collects.ts';
import { SqliteFile } from './sqlite/database.ts';
import { SqliteHosts } from './sqlite/hosts.ts';
import { SqliteOutbox } from './sqlite/outbox.ts';
import { SqliteProjectionReader } from './sqlite/projection-reader.ts';
import { SqliteProjectionWriter } from './sqlite/projection-writer.ts';
import { SqliteSlices } from './sqlite/slices.ts';
import { SqliteTokens } from './sqlite/tokens.ts';

/**
 * The store in one SQLite file, for the local runtime (`faultline up`): the sub-ports of ./sqlite/
 * over one {@link SqliteFile} (its TSDoc has the tables), composed into the whole `Store`. Each
 * port method is one SQLite transaction (a savepoint inside a {@link SqliteStore.unit}), so the
 * decision protocol above the port (functions/outbox/) is the one DynamoDB has, except that a
 * decision commits in one step (`commitDecision`). Inside a unit, the control and domain slices,
 * the decision records and the incident rows come from and go to the unit's rows
 * (./sqlite/unit-rows.ts) and reach the file when the unit commits.
 */

export interface SqliteStoreOptions {
  /** The database file (created when absent), or `:memory:`. */
  readonly path: string;
  /** How long a call waits for another process's write lock (default 5 s). */
  readonly busyTimeoutMs?: number;
  /** The wall clock, for `finished_at` (ms). */
  readonly clock?: () => number;
  /** Why no write may commit now (see `SqliteFileOptions.commitGuard`). */
  readonly commitGuard?: () => string | undefined;
}

/** The store on one SQLite file; also what `faultline backup` copies and sweep purges. */
export class SqliteStore extends ComposedStore {
  readonly path: string;
  readonly #file: SqliteFile;

  constructor(options: SqliteStoreOptions) {
    const file = new SqliteFile(
      options.path,
      options.busyTimeoutMs ?? 5000,
      options.commitGuard === undefined ? {} : { commitGuard: options.commitGuard },
    );
    const slices = new SqliteSlices(file);
    super({
      slices,
      outbox: new SqliteOutbox(file, options.clock ?? Date.now, slices),
      projections: new SqliteProjectionWriter(file),
      reader: new SqliteProjectionReader(file),
      tokens: new SqliteTokens(file),
      hosts: new SqliteHosts(file),
      collects: new SqliteCollects(file),
    });
    this.path = options.path;
    this.#file = file;
  }

  /**
   * Deletes what DynamoDB's TTL would: finished decision records, resolved incidents with their
   * rows, and expired plans, past the retention of projection.ts. Answers how many rows went.
   */
  async purgeExpired(nowMs: number): Promise<number> {
    return this.#file.purgeExpired(nowMs);
  }

  /**
   * Runs `work` with every store call it makes in one SQLite transaction, committed when it ends
   * ({@link SqliteFile.unit}): the local runtime runs each correlate batch so, one commit per batch.
   * Within it, a slice once read or written in the unit is served from memory (the control and
   * domain slices as the same deeply frozen value to every reader, a host's as the text the file
   * would hold, parsed on each read), each conditional write is checked against them, and each
   * changed one is written to the file once, as the unit commits (or before a query by wake time
   * or open episode, which must see it). Decision records and the incident, affected-host and
   * timeline rows are held so too: a record committed, performed and finished in the unit is
   * written once, finished. Every call outside a unit reads and writes the file.
   */
  unit<T>(work: () => Promise<T>): Promise<T> {
    return this.#file.unit('commit a batch', work);
  }

  /**
   * An online backup of the whole store into `file` (SQLite's backup API: consistent while
   * correlate and the API keep writing). What `faultline backup <file>` runs.
   */
  backup(file: string): Promise<void> {
    return this.#file.backup(file);
  }

  /**
   * Whether the file can take writes ({@link SqliteFile.health}): still the file opened (not
   * deleted or replaced under the running process), writable, and its last write not refused by
   * the file or the disk. No SQL runs: `GET /v1/health` is polled.
   */
  async health(): Promise<StoreHealth> {
    return this.#file.health();
  }

  /**
   * Makes one write, a real commit that changes nothing (the header's `user_version` set to what it
   * is), so a caller that stopped after a storage failure learns whether writes commit again; its
   * success clears the failure {@link health} reports. Throws as any write does.
   */
  async probeWrite(): Promise<void> {
    await this.#file.write('probe a write', () => {
      const version = this.#file.db.pragma('user_version', { simple: true }) as number;
      this.#file.db.pragma(`user_version = ${version}`);
    });
  }

  async close(): Promise<void> {
    this.#file.close();
  }
}
