import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import {
  DELIVERY_PRUNE_INTERVAL_MS,
  DELIVERY_RETENTION_MS,
  type DeliveryClaim,
  type DeliveryKey,
  type DeliveryLog,
} from './delivery-log.ts';
import { DeliveryLogUnavailableError } from './errors.ts';

/**
 * The delivery log in SQLite, for the local runtime: a `notify_deliveries` table, in its own file
 * or in the runtime's shared database (WAL). Claims are immediate transactions, so several
 * consumers (or processes) on one file never both claim a delivery.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS notify_deliveries (
  notification_id TEXT NOT NULL,
  destination TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('in-progress', 'delivered')),
  token TEXT,
  lease_until INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (notification_id, destination)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notify_deliveries_by_age ON notify_deliveries (at);
`;

const BUSY_TIMEOUT_MS = 5_000;

interface Row {
  state: 'in-progress' | 'delivered';
  token: string | null;
  lease_until: number;
}

const prepare = (db: Database.Database) => ({
  get: db.prepare<[string, string], Row>(
    'SELECT state, token, lease_until FROM notify_deliveries WHERE notification_id = ? AND destination = ?',
  ),
  claim: db.prepare<[string, string, string, number, number]>(
    `INSERT INTO notify_deliveries (notification_id, destination, state, token, lease_until, at)
     VALUES (?, ?, 'in-progress', ?, ?, ?)
     ON CONFLICT (notification_id, destination) DO UPDATE SET
       state = 'in-progress', token = excluded.token, lease_until = excluded.lease_until, at = excluded.at`,
  ),
  delivered: db.prepare<[string, string, number]>(
    `INSERT INTO notify_deliveries (notification_id, destination, state, token, lease_until, at)
     VALUES (?, ?, 'delivered', NULL, 0, ?)
     ON CONFLICT (notification_id, destination) DO UPDATE SET
       state = 'delivered', token = NULL, lease_until = 0, at = excluded.at`,
  ),
  release: db.prepare<[string, string, string]>(
    `DELETE FROM notify_deliveries
      WHERE notification_id = ? AND destination = ? AND state = 'in-progress' AND token = ?`,
  ),
  prune: db.prepare<[number]>('DELETE FROM notify_deliveries WHERE at < ?'),
});

export class SqliteDeliveryLog implements DeliveryLog {
  readonly #db: Database.Database;
  /** One transaction function for every write (better-sqlite3 builds a wrapper per `transaction` call). */
  #immediate: Database.Transaction<(work: () => unknown) => unknown> | undefined;
  readonly #ownsDb: boolean;
  readonly #retentionMs: number;
  readonly #statements: ReturnType<typeof prepare>;
  #lastPruneAt = Number.NEGATIVE_INFINITY;

  /** Opens (creating if needed) the log at `path`. */
  static open(path: string, options: { retentionMs?: number } = {}): SqliteDeliveryLog {
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (error) {
      throw new DeliveryLogUnavailableError(`cannot open ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return new SqliteDeliveryLog(db, options, true);
  }

  /** Uses an open database (the local runtime's); closes it on `close()` only when it opened it. */
  constructor(db: Database.Database, options: { retentionMs?: number } = {}, ownsDb = false) {
    this.#db = db;
    this.#ownsDb = ownsDb;
    this.#retentionMs = options.retentionMs ?? DELIVERY_RETENTION_MS;
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.exec(SCHEMA);
      this.#statements = prepare(db);
    } catch (error) {
      if (ownsDb) db.close();
      throw new DeliveryLogUnavailableError(`cannot prepare the delivery log: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async claim(key: DeliveryKey, options: { now: number; leaseMs: number }): Promise<DeliveryClaim> {
    return this.#transaction(() => {
      this.#pruneIfDue(options.now);
      const row = this.#statements.get.get(key.notificationId, key.destination);
      if (row?.state === 'delivered') return { status: 'delivered' } as const;
      if (row?.state === 'in-progress' && row.lease_until > options.now)
        return { status: 'in-progress' } as const;
      const token = randomUUID();
      this.#statements.claim.run(
        key.notificationId,
        key.destination,
        token,
        options.now + options.leaseMs,
        options.now,
      );
      return { status: 'claimed', token } as const;
    });
  }

  async markDelivered(key: DeliveryKey, options: { now: number }): Promise<void> {
    this.#transaction(() => this.#statements.delivered.run(key.notificationId, key.destination, options.now));
  }

  async release(key: DeliveryKey, token: string): Promise<void> {
    this.#transaction(() => this.#statements.release.run(key.notificationId, key.destination, token));
  }

  close(): void {
    if (this.#ownsDb && this.#db.open) this.#db.close();
  }

  #pruneIfDue(now: number): void {
    if (now - this.#lastPruneAt < DELIVERY_PRUNE_INTERVAL_MS) return;
    this.#lastPruneAt = now;
    this.#statements.prune.run(now - this.#retentionMs);
  }

  #transaction<T>(work: () => T): T {
    try {
      this.#immediate ??= this.#db.transaction((inner: () => unknown) => inner());
      return this.#immediate.immediate(work) as T;
    } catch (error) {
      throw new DeliveryLogUnavailableError((error as Error).message, { cause: error });
    }
  }
}
