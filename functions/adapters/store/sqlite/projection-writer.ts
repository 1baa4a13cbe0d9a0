import type { Plan } from '../../../../events/index.ts';
import type { Incident, TimelineEntry } from '../../../core/index.ts';
import type { AffectedHost, IncidentRecord, ProjectionWriter } from '../port.ts';
import { planValidUntil, sortableTime } from '../projection.ts';
import type { RevisionRow, SqliteFile } from './database.ts';
import { UnitRows } from './unit-rows.ts';

/**
 * An incident's row as a unit holds it: its revision and first detection, and, once written in
 * the unit, its record serialised (when it is set, so that one that cannot be written fails its
 * own call).
 */
type HeldIncident = {
  readonly revision: number;
  readonly detectedAt: string | undefined;
  readonly incident?: Incident;
  readonly body?: string;
};

/** An affected host's row as a unit holds it: its revision, and once written in the unit, the row serialised. */
type HeldAffected = {
  readonly revision: number;
  readonly row?: AffectedHost;
  readonly body?: string;
};

/** A timeline row a unit inserts, serialised. */
type HeldEntry = { readonly entry: TimelineEntry; readonly body: string };

/**
 * The projections as the outbox writes them on SQLite (`ProjectionWriter`): incidents and
 * affected-host rows upserted unless the stored revision is not older, timeline rows and plans
 * (with the signature of their lines) inserted once, a revoke recorded whether or not its plan is stored yet.
 *
 * Inside a unit (database.ts), incident, affected-host and timeline rows are kept in the unit's
 * rows (./unit-rows.ts) and written once, as it ends: every event of a storm's batch moves its
 * incident's count, and a decision that changes no page of the file has nothing for its savepoint
 * to copy to SQLite's statement journal (./slices.ts). ./projection-reader.ts, and a query of
 * waiting hosts, write them back before they read.
 */
export class SqliteProjectionWriter implements ProjectionWriter {
  readonly #file: SqliteFile;
  readonly #incidents: UnitRows<string, HeldIncident>;
  readonly #affected: UnitRows<Pick<AffectedHost, 'incidentId' | 'hostId'>, HeldAffected>;
  readonly #timeline: UnitRows<string, HeldEntry>;

  constructor(file: SqliteFile) {
    this.#file = file;
    this.#incidents = new UnitRows<string, HeldIncident>(
      (id) => id,
      (id) => this.#storedIncident(id),
      (_id, held) => {
        if (held.incident !== undefined && held.body !== undefined)
          this.#writeIncident(held.incident, held.revision, held.detectedAt ?? '', held.body);
      },
    );
    this.#affected = new UnitRows<Pick<AffectedHost, 'incidentId' | 'hostId'>, HeldAffected>(
      (key) => `${key.incidentId}\n${key.hostId}`,
      (key) => this.#storedAffected(key.incidentId, key.hostId),
      (_key, held) => {
        if (held.row !== undefined && held.body !== undefined)
          this.#writeAffected(held.row, held.revision, held.body);
      },
    );
    // Inserted once: the file's row, if there is one, wins at write-back (INSERT OR IGNORE), as it
    // would have at once; within the unit, the first entry put under an id.
    this.#timeline = new UnitRows<string, HeldEntry>(
      (id) => id,
      () => undefined,
      (_id, held) => this.#insertTimeline(held.entry, held.body),
    );
    file.keepInUnits(this.#incidents);
    file.keepInUnits(this.#affected);
    file.keepInUnits(this.#timeline);
  }

  /** What an incident's conditional write reads of its row in the file. */
  #storedIncident(id: string): HeldIncident | undefined {
    const row = this.#file
      .statement<[string], RevisionRow>('SELECT revision, detected_at FROM incidents WHERE id = ?')
      .get(id);
    return row === undefined ? undefined : { revision: row.revision, detectedAt: row.detected_at };
  }

  async putIncident(incident: Incident, revision: number, detectedAt: string): Promise<void> {
    await this.#file.write('write an incident', () => {
      const rows = this.#file.inUnit ? this.#incidents : undefined;
      const stored = rows === undefined ? this.#storedIncident(incident.id) : rows.current(incident.id);
      if (stored !== undefined && stored.revision >= revision) return;
      const first = stored?.detectedAt ?? detectedAt;
      const body = JSON.stringify({ ...incident, detectedAt: first, revision } satisfies IncidentRecord);
      if (rows === undefined) this.#writeIncident(incident, revision, first, body);
      else rows.change(incident.id, { revision, detectedAt: first, incident, body });
    });
  }

  #writeIncident(incident: Incident, revision: number, detectedAt: string, body: string): void {
    this.#file
      .statement(
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
        detectedAt,
        body,
      );
  }

  #storedAffected(incidentId: string, hostId: string): HeldAffected | undefined {
    const row = this.#file
      .statement<[string, string], RevisionRow>(
        'SELECT revision FROM affected WHERE incident_id = ? AND host_id = ?',
      )
      .get(incidentId, hostId);
    return row === undefined ? undefined : { revision: row.revision };
  }

  async putAffectedHost(row: AffectedHost, revision: number): Promise<void> {
    await this.#file.write('write an affected host', () => {
      const rows = this.#file.inUnit ? this.#affected : undefined;
      const stored =
        rows === undefined ? this.#storedAffected(row.incidentId, row.hostId) : rows.current(row);
      if (stored !== undefined && stored.revision >= revision) return;
      const body = JSON.stringify(row);
      if (rows === undefined) this.#writeAffected(row, revision, body);
      else rows.change(row, { revision, row, body });
    });
  }

  #writeAffected(row: AffectedHost, revision: number, body: string): void {
    this.#file
      .statement(
        `INSERT INTO affected (incident_id, host_id, status, joined_at, revision, body) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (incident_id, host_id) DO UPDATE SET status = excluded.status, joined_at = excluded.joined_at,
             revision = excluded.revision, body = excluded.body`,
      )
      .run(row.incidentId, row.hostId, row.status, sortableTime(row.joinedAt), revision, body);
  }

  async putTimeline(entry: TimelineEntry): Promise<void> {
    await this.#file.write('write a timeline row', () => {
      const body = JSON.stringify(entry);
      if (!this.#file.inUnit) this.#insertTimeline(entry, body);
      else if (this.#timeline.current(entry.id) === undefined)
        this.#timeline.change(entry.id, { entry, body });
    });
  }

  #insertTimeline(entry: TimelineEntry, body: string): void {
    this.#file
      .statement('INSERT OR IGNORE INTO timeline (id, incident_id, at, body) VALUES (?, ?, ?, ?)')
      .run(entry.id, entry.incidentId, sortableTime(entry.at), body);
  }

  async putPlan(plan: Plan, linesSignature?: string): Promise<void> {
    const expiresAt = planValidUntil(plan);
    await this.#file.write('write a plan', () => {
      this.#file
        .statement(
          `INSERT INTO plans (id, host_id, issued_at, expires_at, body, lines_signature) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET issued_at = excluded.issued_at, expires_at = excluded.expires_at,
             body = excluded.body, lines_signature = excluded.lines_signature WHERE plans.body IS NULL`,
        )
        .run(
          plan.id,
          plan.hostId,
          sortableTime(plan.issuedAt),
          expiresAt,
          JSON.stringify(plan),
          linesSignature ?? null,
        );
    });
  }

  async revokePlan(planId: string, hostId: string, at: string): Promise<void> {
    await this.#file.write('revoke a plan', () => {
      this.#file
        .statement(
          `INSERT INTO plans (id, host_id, revoked, revoked_at) VALUES (?, ?, 1, ?)
           ON CONFLICT (id) DO UPDATE SET revoked = 1, revoked_at = COALESCE(plans.revoked_at, excluded.revoked_at)`,
        )
        .run(planId, hostId, at);
    });
  }
}
