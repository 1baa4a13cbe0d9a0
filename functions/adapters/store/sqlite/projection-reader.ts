import type { Plan } from '../../../../events/index.ts';
import type { HostSlice, TimelineEntry } from '../../../core/index.ts';
import type {
  AffectedHost,
  HostPlan,
  IncidentDetail,
  IncidentQuery,
  IncidentRecord,
  IncidentStats,
  Page,
  PageRequest,
  ProjectionReader,
  StoredPlan,
} from '../port.ts';
import {
  clampLimit,
  computeStats,
  decodeCursor,
  encodeCursor,
  LIMITS,
  queryFingerprint,
  sortableTime,
} from '../projection.ts';
import type { SqliteFile } from './database.ts';

/**
 * The projections as the API, the CLI and the agents read them on SQLite (`ProjectionReader`,
 * but for `getControl`, which ../composed-store.ts reads from the control slice, and
 * `plansForHost`, which it reads from `hostPlans`), and the host
 * slices listed by their primary key for the topology (`listHosts`). A page reads
 * one row more than it gives: that row only says there is a next page, whose cursor is the
 * position of the last row given.
 */

/** A page of `limit` rows from the up to `limit + 1` read, each row's `body` the JSON of an item. */
const pageOf = <Row extends { body: string }, T>(
  rows: readonly Row[],
  limit: number,
  position: (row: Row) => unknown,
  fingerprint: string,
): Page<T> => {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items: items.map((row) => JSON.parse(row.body) as T),
    ...(rows.length > limit && last !== undefined
      ? { cursor: encodeCursor(position(last), fingerprint) }
      : {}),
  };
};

export class SqliteProjectionReader implements Omit<ProjectionReader, 'getControl' | 'plansForHost'> {
  readonly #file: SqliteFile;

  constructor(file: SqliteFile) {
    this.#file = file;
  }

  /**
   * Reads in the file; inside a unit, once what the unit holds back (incident rows, decisions,
   * slices: ./unit-rows.ts) is written to it, since these queries read by other than their keys.
   */
  #read<T>(what: string, work: () => T): Promise<T> {
    return this.#file.read(what, () => {
      this.#file.writeBack();
      return work();
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
    const rows = await this.#read('list incidents', () =>
      this.#file
        .statement<(string | number)[], { id: string; opened_at: string; body: string }>(sql)
        .all(...args, limit + 1),
    );
    return pageOf(rows, limit, (row) => [row.opened_at, row.id], fingerprint);
  }

  async getIncident(id: string, page: { readonly limit?: number } = {}): Promise<IncidentDetail | undefined> {
    const row = await this.#read('read an incident', () =>
      this.#file.statement<[string], { body: string }>('SELECT body FROM incidents WHERE id = ?').get(id),
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
    const rows = await this.#read('list a timeline', () =>
      after === undefined
        ? this.#file
            .statement<[string, number], { id: string; at: string; body: string }>(
              'SELECT id, at, body FROM timeline WHERE incident_id = ? ORDER BY at, id LIMIT ?',
            )
            .all(incidentId, limit + 1)
        : this.#file
            .statement<[string, string, string, string, number], { id: string; at: string; body: string }>(
              'SELECT id, at, body FROM timeline WHERE incident_id = ? AND (at > ? OR (at = ? AND id > ?)) ORDER BY at, id LIMIT ?',
            )
            .all(incidentId, after[0], after[0], after[1], limit + 1),
    );
    return pageOf(rows, limit, (row) => [row.at, row.id], fingerprint);
  }

  async listAffectedHosts(incidentId: string, page: PageRequest = {}): Promise<Page<AffectedHost>> {
    const limit = clampLimit(page.limit, LIMITS.defaultPage, LIMITS.maxPage);
    const fingerprint = queryFingerprint(`affected:${incidentId}`);
    const after = page.cursor === undefined ? '' : (decodeCursor(page.cursor, fingerprint) as string);
    const rows = await this.#read('list affected hosts', () =>
      this.#file
        .statement<[string, string, number], { host_id: string; body: string }>(
          'SELECT host_id, body FROM affected WHERE incident_id = ? AND host_id > ? ORDER BY host_id LIMIT ?',
        )
        .all(incidentId, after, limit + 1),
    );
    return pageOf(rows, limit, (row) => row.host_id, fingerprint);
  }

  async getPlan(planId: string): Promise<StoredPlan | undefined> {
    const row = await this.#read('read a plan', () =>
      this.#file
        .statement<
          [string],
          { body: string | null; revoked: number; revoked_at: string | null; lines_signature: string | null }
        >('SELECT body, revoked, revoked_at, lines_signature FROM plans WHERE id = ?')
        .get(planId),
    );
    if (row === undefined || row.body === null) return undefined;
    return {
      plan: JSON.parse(row.body) as Plan,
      revoked: row.revoked === 1,
      ...(row.revoked_at === null ? {} : { revokedAt: row.revoked_at }),
      ...(row.lines_signature === null ? {} : { linesSignature: row.lines_signature }),
    };
  }

  async hostPlans(hostId: string, now: string): Promise<HostPlan[]> {
    const at = sortableTime(now);
    return this.#read('read a host plans', () =>
      this.#file
        .statement<[string, string], { body: string; lines_signature: string | null }>(
          'SELECT body, lines_signature FROM plans WHERE host_id = ? AND revoked = 0 AND body IS NOT NULL AND expires_at > ? ORDER BY issued_at, id',
        )
        .all(hostId, at)
        .map((row) => ({
          plan: JSON.parse(row.body) as Plan,
          ...(row.lines_signature === null ? {} : { linesSignature: row.lines_signature }),
        })),
    );
  }

  async listHosts(page: PageRequest = {}): Promise<Page<HostSlice>> {
    const limit = clampLimit(page.limit, LIMITS.defaultPage, LIMITS.maxPage);
    const fingerprint = queryFingerprint('hosts');
    const after = page.cursor === undefined ? '' : (decodeCursor(page.cursor, fingerprint) as string);
    const rows = await this.#read('list hosts', () =>
      this.#file
        .statement<[string, number], { id: string; body: string }>(
          "SELECT id, value AS body FROM slices WHERE kind = 'host' AND id > ? AND value IS NOT NULL ORDER BY id LIMIT ?",
        )
        .all(after, limit + 1),
    );
    return pageOf(rows, limit, (row) => row.id, fingerprint);
  }

  async stats(window: { readonly since?: string; readonly until?: string } = {}): Promise<IncidentStats> {
    const since = window.since === undefined ? '' : sortableTime(window.since);
    const until = window.until === undefined ? '\uffff' : sortableTime(window.until);
    const rows = await this.#read('read stats', () =>
      this.#file
        .statement<[string, string], { body: string }>(
          'SELECT body FROM incidents WHERE opened_at >= ? AND opened_at <= ? ORDER BY opened_at, id',
        )
        .all(since, until),
    );
    return computeStats(
      rows.map((row) => JSON.parse(row.body) as IncidentRecord),
      window,
    );
  }
}
