import Database from 'better-sqlite3';
import {
  type ClaimOptions,
  DELIVERY_PRUNE_INTERVAL_MS,
  DELIVERY_RETENTION_MS,
  type DeliveryClaim,
  type DeliveryKey,
  type DeliveryLane,
  isLaneExpired,
  type LaneChange,
  LaneDeliveryLog,
  type LaneId,
  laneOfJson,
} from './delivery-log.ts';
import { DeliveryLogUnavailableError } from './errors.ts';

/**
 * The delivery log in SQLite, for the local runtime: a `notify_lanes` table (one row per incident
 * and destination, the lane as JSON: see delivery-log.ts), in its own file or in the runtime's
 * shared database (WAL).
 * Every change of a lane is an immediate transaction (read, decide, write), so several consumers
 * (or processes) on one file never both claim a lane.
 *
 * A file written before lanes existed has a `notify_deliveries` table (one row per notification
 * and destination): its deliveries are still answered `delivered` until they age out, so a record
 * redelivered across the upgrade is not sent twice. Nothing new is written there.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS notify_lanes (
  incident_id TEXT NOT NULL,
  destination TEXT NOT NULL,
  lane TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (incident_id, destination)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notify_lanes_by_age ON notify_lanes (at);
`;

const LEGACY_TABLE = 'notify_deliveries';
const BUSY_TIMEOUT_MS = 5_000;

const prepare = (db: Database.Database) => ({
  get: db.prepare<[string, string], { lane: string }>(
    'SELECT lane FROM notify_lanes WHERE incident_id = ? AND destination = ?',
  ),
  put: db.prepare<[string, string, string, number]>(
    `INSERT INTO notify_lanes (incident_id, destination, lane, at) VALUES (?, ?, ?, ?)
     ON CONFLICT (incident_id, destination) DO UPDATE SET lane = excluded.lane, at = excluded.at`,
  ),
  prune: db.prepare<[number]>('DELETE FROM notify_lanes WHERE at < ?'),
});

/** The table of a file from before lanes, if it has one: read only, and swept. */
const prepareLegacy = (db: Database.Database) => {
  const exists = db
    .prepare<[string], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?")
    .get(LEGACY_TABLE);
  if (exists === undefined) return undefined;
  return {
    delivered: db.prepare<[string, string, number], { found: number }>(
      `SELECT 1 AS found FROM ${LEGACY_TABLE}
        WHERE notification_id = ? AND destination = ? AND state = 'delivered' AND at >= ?`,
    ),
    prune: db.prepare<[number]>(`DELETE FROM ${LEGACY_TABLE} WHERE at < ?`),
  };
};

export class SqliteDeliveryLog extends LaneDeliveryLog {
  readonly #db: Database.Database;
  /** One transaction function for every write (better-sqlite3 builds a wrapper per `transaction` call). */
  #immediate: Database.Transaction<(work: () => unknown) => unknown> | undefined;
  readonly #ownsDb: boolean;
  readonly #statements: ReturnType<typeof prepare>;
  readonly #legacy: ReturnType<typeof prepareLegacy>;
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
    super(options.retentionMs ?? DELIVERY_RETENTION_MS);
    this.#db = db;
    this.#ownsDb = ownsDb;
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.exec(SCHEMA);
      this.#statements = prepare(db);
      this.#legacy = prepareLegacy(db);
    } catch (error) {
      if (ownsDb) db.close();
      throw new DeliveryLogUnavailableError(`cannot prepare the delivery log: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  override async claim(key: DeliveryKey, options: ClaimOptions): Promise<DeliveryClaim> {
    if (this.#deliveredBeforeLanes(key, options.now)) return { status: 'delivered' };
    return super.claim(key, options);
  }

  close(): void {
    if (this.#ownsDb && this.#db.open) this.#db.close();
  }

  protected async changeLane<T>(
    lane: LaneId,
    now: number | undefined,
    change: (current: DeliveryLane | undefined) => LaneChange<T>,
  ): Promise<T> {
    return this.#transaction(() => {
      if (now !== undefined) this.#pruneIfDue(now);
      const row = this.#statements.get.get(lane.incidentId, lane.destination);
      const stored = row === undefined ? undefined : laneOfJson(row.lane);
      const current =
        stored === undefined || (now !== undefined && isLaneExpired(stored, now, this.retentionMs))
          ? undefined
          : stored;
      const { answer, next } = change(current);
      if (next !== undefined) {
        this.#statements.put.run(lane.incidentId, lane.destination, JSON.stringify(next), next.at);
      }
      return answer;
    });
  }

  #deliveredBeforeLanes(key: DeliveryKey, now: number): boolean {
    const legacy = this.#legacy;
    if (legacy === undefined) return false;
    return this.#transaction(
      () => legacy.delivered.get(key.notificationId, key.destination, now - this.retentionMs) !== undefined,
    );
  }

  #pruneIfDue(now: number): void {
    if (now - this.#lastPruneAt < DELIVERY_PRUNE_INTERVAL_MS) return;
    this.#lastPruneAt = now;
    // A second more than the retention: reads count expiry in whole seconds (isLaneExpired).
    this.#statements.prune.run(now - this.retentionMs - 1_000);
    this.#legacy?.prune.run(now - this.retentionMs);
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
