import Database from 'better-sqlite3';
import type { Plan } from '../../../events/index.ts';
import type { ControlSlice, DomainSlice, HostSlice, Incident, TimelineEntry } from '../../core/index.ts';
import { AdapterError, messageOf, StoreRejectedError, StoreUnavailableError } from '../errors.ts';
import type {
  AffectedHost,
  DecisionRecord,
  DecisionStatus,
  IncidentDetail,
  IncidentQuery,
  IncidentRecord,
  IncidentStats,
  Page,
  PageRequest,
  SliceRef,
  SliceValue,
  SliceWrite,
  Store,
  StoredPlan,
  StoredSlice,
  StoredToken,
  Wake,
  WriteOutcome,
} from './port.ts';
import {
  clampLimit,
  computeStats,
  decodeCursor,
  encodeCursor,
  LIMITS,
  queryFingerprint,
  RETENTION,
  sortableTime,
} from './projection.ts';

/**
 * The store in one SQLite file (better-sqlite3, WAL), for the local runtime (`faultline up`).
 *
 * Each port method is one SQLite transaction (`BEGIN IMMEDIATE`), so it is exactly the single-item
 * conditional write the port promises, even with several processes on the file; the decision
 * protocol above it (functions/outbox/) is the same as on DynamoDB. Tables:
 *
 * - `slices (kind, id)`: `value` JSON, `version`, `lock`, `applied` JSON, and the index columns
 *   derived from the value when it is written: `wake_at` (indexed: due timers) and `open` (a
 *   domain with an open episode).
 * - `decisions (id)`: the outbox; `status`, `attempt`, `created_at` (indexed while unfinished),
 *   `body` (writes and effects) and `done` (indices of the effects performed).
 * - `incidents (id)` indexed by `opened_at`, by status and by failure domain; `affected
 *   (incident_id, host_id)` indexed by host and, for `waiting` rows, by incident; `timeline (id)`
 *   by incident and time; `plans (id)` by host; `tokens (hash)`.
 *
 * Times in indexed columns are normalised ISO strings, so they sort as text. Old rows are
 * deleted by {@link SqliteStore.purgeExpired} (sweep calls it) after the retention of
 * projection.ts, as DynamoDB's TTL does in the cloud.
 */
export interface SqliteStoreOptions {
  /** The database file (created when absent), or `:memory:`. */
  readonly path: string;
  /** How long a call waits for another process's write lock (default 5 s). */
  readonly busyTimeoutMs?: number;
  /** The wall clock, for `finished_at` (ms). */
  readonly clock?: () => number;
}

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
  revoked INTEGER NOT NULL DEFAULT 0, revoked_at TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS plans_host ON plans (host_id, issued_at, id);
CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, created_at TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
`;

type SliceRow = {
  kind: string;
  id: string;
  value: string | null;
  version: number;
  lock: string | null;
  applied: string;
};
type DecisionRow = {
  id: string;
  attempt: number;
  status: DecisionStatus;
  at: string;
  created_at: number;
  about: string;
  body: string;
  done: string;
};
type RevisionRow = { revision: number; detected_at?: string };

const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT']);

const wrap = (what: string, error: unknown): AdapterError => {
  if (error instanceof AdapterError) return error;
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && BUSY_CODES.has(code)) {
    return new StoreUnavailableError(`${what}: ${messageOf(error)}`, { cause: error });
  }
  return new StoreRejectedError(`${what}: ${messageOf(error)}`, { cause: error });
};

const refKind = (ref: SliceRef): string => ref.kind;
const refId = (ref: SliceRef): string => (ref.kind === 'control' ? '' : ref.id);

/** The index columns a slice's value implies. */
const indexColumns = (ref: SliceRef, value: SliceValue): { wakeAt: string | null; open: number } => {
  if (ref.kind === 'control') return { wakeAt: null, open: 0 };
  const wakeAt = (value as DomainSlice | HostSlice).wakeAt;
  const episode = ref.kind === 'domain' ? (value as DomainSlice).episode : undefined;
  return {
    wakeAt: wakeAt === undefined ? null : sortableTime(wakeAt),
    open: episode !== undefined && episode.incident.status !== 'resolved' ? 1 : 0,
  };
};

const toRecord = (row: DecisionRow): DecisionRecord => {
  const body = JSON.parse(row.body) as Pick<DecisionRecord, 'writes' | 'effects'>;
  return {
    id: row.id,
    attempt: row.attempt,
    status: row.status,
    at: row.at,
    createdAt: row.created_at,
    about: row.about,
    writes: body.writes,
    effects: body.effects,
    done: JSON.parse(row.done) as number[],
  };
};

export class SqliteStore implements Store {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #clock: () => number;

  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    this.#clock = options.clock ?? Date.now;
    try {
      this.#db = new Database(options.path);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = NORMAL');
      this.#db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      this.#db.exec(SCHEMA);
    } catch (error) {
      throw wrap(`cannot open the store ${options.path}`, error);
    }
  }

  /** Runs `work` in one `BEGIN IMMEDIATE` transaction, errors wrapped. */
  #write<T>(what: string, work: () => T): T {
    try {
      return this.#db.transaction(work).immediate();
    } catch (error) {
      throw wrap(what, error);
    }
  }

  #read<T>(what: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw wrap(what, error);
    }
  }

  #sliceRow(ref: SliceRef): SliceRow | undefined {
    return this.#db
      .prepare<[string, string], SliceRow>('SELECT * FROM slices WHERE kind = ? AND id = ?')
      .get(refKind(ref), refId(ref));
  }

  async getSlices(refs: readonly SliceRef[]): Promise<StoredSlice[]> {
    return this.#read('read slices', () =>
      refs.map((ref): StoredSlice => {
        const row = this.#sliceRow(ref);
        return {
          ref,
          value: row?.value == null ? undefined : (JSON.parse(row.value) as SliceValue),
          version: row?.version ?? 0,
          lock: row?.lock ?? undefined,
          applied: row === undefined ? [] : (JSON.parse(row.applied) as string[]),
        };
      }),
    );
  }

  #writeSlice(write: SliceWrite, exists: boolean): void {
    const { wakeAt, open } = indexColumns(write.ref, write.value);
    const values = [
      JSON.stringify(write.value),
      write.expected + 1,
      JSON.stringify(write.applied),
      wakeAt,
      open,
    ];
    if (exists) {
      this.#db
        .prepare(
          'UPDATE slices SET value = ?, version = ?, applied = ?, wake_at = ?, open = ?, lock = NULL WHERE kind = ? AND id = ?',
        )
        .run(...values, refKind(write.ref), refId(write.ref));
    } else {
      this.#db
        .prepare(
          'INSERT INTO slices (value, version, applied, wake_at, open, kind, id) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(...values, refKind(write.ref), refId(write.ref));
    }
  }

  async putSlice(write: SliceWrite): Promise<WriteOutcome> {
    return this.#write('write a slice', () => {
      const row = this.#sliceRow(write.ref);
      if ((row?.version ?? 0) !== write.expected || (row?.lock ?? null) !== null) return 'conflict';
      this.#writeSlice(write, row !== undefined);
      return 'ok';
    });
  }

  async lockSlice(ref: SliceRef, expected: number, token: string): Promise<WriteOutcome> {
    return this.#write('lock a slice', () => {
      const row = this.#sliceRow(ref);
      if ((row?.version ?? 0) !== expected) return 'conflict';
      if (row === undefined) {
        this.#db
          .prepare(
            "INSERT INTO slices (kind, id, value, version, lock, applied) VALUES (?, ?, NULL, 0, ?, '[]')",
          )
          .run(refKind(ref), refId(ref), token);
        return 'ok';
      }
      if (row.lock !== null && row.lock !== token) return 'conflict';
      this.#db
        .prepare('UPDATE slices SET lock = ? WHERE kind = ? AND id = ?')
        .run(token, refKind(ref), refId(ref));
      return 'ok';
    });
  }

  async applyLocked(write: SliceWrite, token: string): Promise<WriteOutcome> {
    return this.#write('write a locked slice', () => {
      const row = this.#sliceRow(write.ref);
      if (row?.lock !== token) return 'conflict';
      this.#writeSlice(write, true);
      return 'ok';
    });
  }

  async unlockSlice(ref: SliceRef, token: string): Promise<void> {
    this.#write('unlock a slice', () => {
      this.#db
        .prepare('UPDATE slices SET lock = NULL WHERE kind = ? AND id = ? AND lock = ?')
        .run(refKind(ref), refId(ref), token);
    });
  }

  async waitingHosts(incidentId: string, limit: number): Promise<string[]> {
    return this.#read('read waiting hosts', () =>
      this.#db
        .prepare<[string, number], { host_id: string }>(
          "SELECT host_id FROM affected WHERE incident_id = ? AND status = 'waiting' ORDER BY host_id LIMIT ?",
        )
        .all(incidentId, limit)
        .map((row) => row.host_id),
    );
  }

  async openDomains(): Promise<string[]> {
    return this.#read('read open domains', () =>
      this.#db
        .prepare<[], { id: string }>("SELECT id FROM slices WHERE kind = 'domain' AND open = 1 ORDER BY id")
        .all()
        .map((row) => row.id),
    );
  }

  async dueWakes(now: string, limit: number): Promise<Wake[]> {
    const until = sortableTime(now);
    return this.#read('read due wakes', () =>
      this.#db
        .prepare<[string, number], { kind: 'domain' | 'host'; id: string; wake_at: string }>(
          'SELECT kind, id, wake_at FROM slices WHERE wake_at IS NOT NULL AND wake_at <= ? ORDER BY wake_at, kind, id LIMIT ?',
        )
        .all(until, limit)
        .map((row) => ({ kind: row.kind, id: row.id, at: row.wake_at })),
    );
  }

  #decisionRow(id: string): DecisionRow | undefined {
    return this.#db.prepare<[string], DecisionRow>('SELECT * FROM decisions WHERE id = ?').get(id);
  }

  async putDecision(record: DecisionRecord, replacing?: number): Promise<WriteOutcome> {
    return this.#write('write a decision', () => {
      const row = this.#decisionRow(record.id);
      const values = [
        record.attempt,
        record.status,
        record.at,
        record.createdAt,
        record.about,
        JSON.stringify({ writes: record.writes, effects: record.effects }),
        JSON.stringify(record.done),
        record.id,
      ];
      if (row === undefined) {
        if (replacing !== undefined) return 'conflict';
        this.#db
          .prepare(
            'INSERT INTO decisions (attempt, status, at, created_at, about, body, done, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(...values);
        return 'ok';
      }
      if (replacing === undefined || row.attempt !== replacing || row.status !== 'aborted') return 'conflict';
      this.#db
        .prepare(
          'UPDATE decisions SET attempt = ?, status = ?, at = ?, created_at = ?, about = ?, body = ?, done = ?, finished_at = NULL WHERE id = ?',
        )
        .run(...values);
      return 'ok';
    });
  }

  async getDecision(id: string): Promise<DecisionRecord | undefined> {
    return this.#read('read a decision', () => {
      const row = this.#decisionRow(id);
      return row === undefined ? undefined : toRecord(row);
    });
  }

  async setDecisionStatus(
    id: string,
    attempt: number,
    from: DecisionStatus,
    to: DecisionStatus,
  ): Promise<WriteOutcome> {
    return this.#write('move a decision', () => {
      const finished = to === 'done' || to === 'aborted' ? this.#clock() : null;
      const changed = this.#db
        .prepare(
          'UPDATE decisions SET status = ?, finished_at = ? WHERE id = ? AND attempt = ? AND status = ?',
        )
        .run(to, finished, id, attempt, from);
      return changed.changes === 1 ? 'ok' : 'conflict';
    });
  }

  async markEffectDone(id: string, attempt: number, index: number): Promise<void> {
    this.#write('mark an effect done', () => {
      const row = this.#decisionRow(id);
      if (row === undefined || row.attempt !== attempt) return;
      const done = JSON.parse(row.done) as number[];
      if (done.includes(index)) return;
      this.#db
        .prepare('UPDATE decisions SET done = ? WHERE id = ?')
        .run(JSON.stringify([...done, index]), id);
    });
  }

  async unfinishedDecisions(createdBefore: number, limit: number): Promise<DecisionRecord[]> {
    return this.#read('read unfinished decisions', () =>
      this.#db
        .prepare<[number, number], DecisionRow>(
          "SELECT * FROM decisions WHERE status IN ('pending', 'committed') AND created_at <= ? ORDER BY created_at, id LIMIT ?",
        )
        .all(createdBefore, limit)
        .map(toRecord),
    );
  }

  async putIncident(incident: Incident, revision: number, detectedAt: string): Promise<void> {
    this.#write('write an incident', () => {
      const row = this.#db
        .prepare<[string], RevisionRow>('SELECT revision, detected_at FROM incidents WHERE id = ?')
        .get(incident.id);
      if (row !== undefined && row.revision >= revision) return;
      const record: IncidentRecord = { ...incident, detectedAt: row?.detected_at ?? detectedAt, revision };
      this.#db
        .prepare(
          `INSERT INTO incidents (id, status, failure_domain, opened_at, resolved_at, revision, detected_at, body)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET status = excluded.status, failure_domain = excluded.failure_domain,
             opened_at = excluded.opened_at, resolved_at = excluded.resolved_at, revision = excluded.revision,
             body = excluded.body`,
        )
        .run(
          incident.id,
          incident.status,
          incident.failureDomain,
          sortableTime(incident.openedAt),
          incident.resolvedAt === null ? null : sortableTime(incident.resolvedAt),
          revision,
          record.detectedAt,
          JSON.stringify(record),
        );
    });
  }

  async putAffectedHost(row: AffectedHost, revision: number): Promise<void> {
    this.#write('write an affected host', () => {
      const stored = this.#db
        .prepare<[string, string], RevisionRow>(
          'SELECT revision FROM affected WHERE incident_id = ? AND host_id = ?',
        )
        .get(row.incidentId, row.hostId);
      if (stored !== undefined && stored.revision >= revision) return;
      this.#db
        .prepare(
          `INSERT INTO affected (incident_id, host_id, status, joined_at, revision, body) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (incident_id, host_id) DO UPDATE SET status = excluded.status, joined_at = excluded.joined_at,
             revision = excluded.revision, body = excluded.body`,
        )
        .run(
          row.incidentId,
          row.hostId,
          row.status,
          sortableTime(row.joinedAt),
          revision,
          JSON.stringify(row),
        );
    });
  }

  async putTimeline(entry: TimelineEntry): Promise<void> {
    this.#write('write a timeline row', () => {
      this.#db
        .prepare('INSERT OR IGNORE INTO timeline (id, incident_id, at, body) VALUES (?, ?, ?, ?)')
        .run(entry.id, entry.incidentId, sortableTime(entry.at), JSON.stringify(entry));
    });
  }

  async putPlan(plan: Plan): Promise<void> {
    const expiresAt = new Date(Date.parse(plan.issuedAt) + plan.ttlSeconds * 1000).toISOString();
    this.#write('write a plan', () => {
      this.#db
        .prepare(
          `INSERT INTO plans (id, host_id, issued_at, expires_at, body) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET issued_at = excluded.issued_at, expires_at = excluded.expires_at,
             body = excluded.body WHERE plans.body IS NULL`,
        )
        .run(plan.id, plan.hostId, sortableTime(plan.issuedAt), expiresAt, JSON.stringify(plan));
    });
  }

  async revokePlan(planId: string, hostId: string, at: string): Promise<void> {
    this.#write('revoke a plan', () => {
      this.#db
        .prepare(
          `INSERT INTO plans (id, host_id, revoked, revoked_at) VALUES (?, ?, 1, ?)
           ON CONFLICT (id) DO UPDATE SET revoked = 1, revoked_at = COALESCE(plans.revoked_at, excluded.revoked_at)`,
        )
        .run(planId, hostId, at);
    });
  }

  async listIncidents(query: IncidentQuery): Promise<Page<IncidentRecord>> {
    const limit = clampLimit(query.limit, LIMITS.defaultIncidents, LIMITS.maxIncidents);
    const fingerprint = queryFingerprint(query);
    const after =
      query.cursor === undefined ? undefined : (decodeCursor(query.cursor, fingerprint) as [string, string]);
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.host !== undefined) {
      where.push('i.id IN (SELECT incident_id FROM affected WHERE host_id = ?)');
      args.push(query.host);
    }
    if (query.status !== undefined) {
      where.push('i.status = ?');
      args.push(query.status);
    }
    if (query.domain !== undefined) {
      where.push('i.failure_domain = ?');
      args.push(query.domain);
    }
    if (query.since !== undefined) {
      where.push('i.opened_at >= ?');
      args.push(sortableTime(query.since));
    }
    if (query.until !== undefined) {
      where.push('i.opened_at <= ?');
      args.push(sortableTime(query.until));
    }
    if (after !== undefined) {
      where.push('(i.opened_at < ? OR (i.opened_at = ? AND i.id < ?))');
      args.push(after[0], after[0], after[1]);
    }
    const sql = `SELECT i.id, i.opened_at, i.body FROM incidents i ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
      ORDER BY i.opened_at DESC, i.id DESC LIMIT ?`;
    const rows = this.#read('list incidents', () =>
      this.#db
        .prepare<(string | number)[], { id: string; opened_at: string; body: string }>(sql)
        .all(...args, limit + 1),
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((row) => JSON.parse(row.body) as IncidentRecord),
      ...(rows.length > limit && last !== undefined
        ? { cursor: encodeCursor([last.opened_at, last.id], fingerprint) }
        : {}),
    };
  }

  async getIncident(id: string, page: { readonly limit?: number } = {}): Promise<IncidentDetail | undefined> {
    const row = this.#read('read an incident', () =>
      this.#db.prepare<[string], { body: string }>('SELECT body FROM incidents WHERE id = ?').get(id),
    );
    if (row === undefined) return undefined;
    const request = page.limit === undefined ? {} : { limit: page.limit };
    return {
      incident: JSON.parse(row.body) as IncidentRecord,
      timeline: await this.listTimeline(id, request),
      affectedHosts: await this.listAffectedHosts(id, request),
    };
  }

  async listTimeline(incidentId: string, page: PageRequest = {}): Promise<Page<TimelineEntry>> {
    const limit = clampLimit(page.limit, LIMITS.defaultPage, LIMITS.maxPage);
    const fingerprint = queryFingerprint(`timeline:${incidentId}`);
    const after =
      page.cursor === undefined ? undefined : (decodeCursor(page.cursor, fingerprint) as [string, string]);
    const rows = this.#read('list a timeline', () =>
      after === undefined
        ? this.#db
            .prepare<[string, number], { id: string; at: string; body: string }>(
              'SELECT id, at, body FROM timeline WHERE incident_id = ? ORDER BY at, id LIMIT ?',
            )
            .all(incidentId, limit + 1)
        : this.#db
            .prepare<[string, string, string, string, number], { id: string; at: string; body: string }>(
              'SELECT id, at, body FROM timeline WHERE incident_id = ? AND (at > ? OR (at = ? AND id > ?)) ORDER BY at, id LIMIT ?',
            )
            .all(incidentId, after[0], after[0], after[1], limit + 1),
    );
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items: items.map((row) => JSON.parse(row.body) as TimelineEntry),
      ...(rows.length > limit && last !== undefined
        ? { cursor: encodeCursor([last.at, last.id], fingerprint) }
        : {}),
    };
  }

  async listAffectedHosts(incidentId: string, page: PageRequest = {}): Promise<Page<AffectedHost>> {
    const limit = clampLimit(page.limit, LIMITS.defaultPage, LIMITS.maxPage);
    const fingerprint = queryFingerprint(`affected:${incidentId}`);
    const after = page.cursor === undefined ? '' : (decodeCursor(page.cursor, fingerprint) as string);
    const rows = this.#read('list affected hosts', () =>
      this.#db
        .prepare<[string, string, number], { host_id: string; body: string }>(
          'SELECT host_id, body FROM affected WHERE incident_id = ? AND host_id > ? ORDER BY host_id LIMIT ?',
        )
        .all(incidentId, after, limit + 1),
    );
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items: items.map((row) => JSON.parse(row.body) as AffectedHost),
      ...(rows.length > limit && last !== undefined
        ? { cursor: encodeCursor(last.host_id, fingerprint) }
        : {}),
    };
  }

  async getPlan(planId: string): Promise<StoredPlan | undefined> {
    const row = this.#read('read a plan', () =>
      this.#db
        .prepare<[string], { body: string | null; revoked: number; revoked_at: string | null }>(
          'SELECT body, revoked, revoked_at FROM plans WHERE id = ?',
        )
        .get(planId),
    );
    if (row === undefined || row.body === null) return undefined;
    return {
      plan: JSON.parse(row.body) as Plan,
      revoked: row.revoked === 1,
      ...(row.revoked_at === null ? {} : { revokedAt: row.revoked_at }),
    };
  }

  async plansForHost(hostId: string, now: string): Promise<Plan[]> {
    const at = sortableTime(now);
    return this.#read('read a host plans', () =>
      this.#db
        .prepare<[string, string], { body: string }>(
          'SELECT body FROM plans WHERE host_id = ? AND revoked = 0 AND body IS NOT NULL AND expires_at > ? ORDER BY issued_at, id',
        )
        .all(hostId, at)
        .map((row) => JSON.parse(row.body) as Plan),
    );
  }

  async stats(window: { readonly since?: string; readonly until?: string } = {}): Promise<IncidentStats> {
    const since = window.since === undefined ? '' : sortableTime(window.since);
    const until = window.until === undefined ? '\uffff' : sortableTime(window.until);
    const rows = this.#read('read stats', () =>
      this.#db
        .prepare<[string, string], { body: string }>(
          'SELECT body FROM incidents WHERE opened_at >= ? AND opened_at <= ? ORDER BY opened_at, id',
        )
        .all(since, until),
    );
    return computeStats(
      rows.map((row) => JSON.parse(row.body) as IncidentRecord),
      window,
    );
  }

  async getControl(): Promise<ControlSlice> {
    const [control] = await this.getSlices([{ kind: 'control' }]);
    return (control?.value as ControlSlice | undefined) ?? { paused: false };
  }

  async putToken(token: StoredToken): Promise<WriteOutcome> {
    return this.#write('write a token', () => {
      const changed = this.#db
        .prepare('INSERT OR IGNORE INTO tokens (hash, created_at, body) VALUES (?, ?, ?)')
        .run(token.hash, token.createdAt, JSON.stringify(token));
      return changed.changes === 1 ? 'ok' : 'conflict';
    });
  }

  async getToken(hash: string): Promise<StoredToken | undefined> {
    const row = this.#read('read a token', () =>
      this.#db.prepare<[string], { body: string }>('SELECT body FROM tokens WHERE hash = ?').get(hash),
    );
    return row === undefined ? undefined : (JSON.parse(row.body) as StoredToken);
  }

  async deleteToken(hash: string): Promise<void> {
    this.#write('delete a token', () => {
      this.#db.prepare('DELETE FROM tokens WHERE hash = ?').run(hash);
    });
  }

  async listTokens(): Promise<StoredToken[]> {
    return this.#read('list tokens', () =>
      this.#db
        .prepare<[], { body: string }>('SELECT body FROM tokens ORDER BY created_at, hash')
        .all()
        .map((row) => JSON.parse(row.body) as StoredToken),
    );
  }

  /**
   * Deletes what DynamoDB's TTL would: finished decision records, resolved incidents with their
   * rows, and expired plans, past the retention of projection.ts. Answers how many rows went.
   */
  async purgeExpired(nowMs: number): Promise<number> {
    return this.#write('purge old rows', () => {
      let removed = 0;
      removed += this.#db
        .prepare('DELETE FROM decisions WHERE finished_at IS NOT NULL AND finished_at <= ?')
        .run(nowMs - RETENTION.decisionSeconds * 1000).changes;
      const before = new Date(nowMs - RETENTION.incidentSeconds * 1000).toISOString();
      const old = this.#db
        .prepare<[string], { id: string }>(
          "SELECT id FROM incidents WHERE status = 'resolved' AND resolved_at <= ?",
        )
        .all(before);
      for (const { id } of old) {
        removed += this.#db.prepare('DELETE FROM timeline WHERE incident_id = ?').run(id).changes;
        removed += this.#db.prepare('DELETE FROM affected WHERE incident_id = ?').run(id).changes;
        removed += this.#db.prepare('DELETE FROM incidents WHERE id = ?').run(id).changes;
      }
      removed += this.#db
        .prepare(
          'DELETE FROM plans WHERE (expires_at IS NOT NULL AND expires_at <= ?) OR (expires_at IS NULL AND revoked_at <= ?)',
        )
        .run(
          new Date(nowMs - RETENTION.planSeconds * 1000).toISOString(),
          new Date(nowMs - RETENTION.planSeconds * 1000).toISOString(),
        ).changes;
      return removed;
    });
  }

  /**
   * An online backup of the whole store into `file` (SQLite's backup API: consistent while
   * correlate and the API keep writing). What `faultline backup <file>` runs.
   */
  async backup(file: string): Promise<void> {
    try {
      await this.#db.backup(file);
    } catch (error) {
      throw wrap(`back up the store to ${file}`, error);
    }
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
