import type { Plan } from '../../../../events/index.ts';
import type { Incident, TimelineEntry } from '../../../core/index.ts';
import type { AffectedHost, IncidentRecord, ProjectionWriter } from '../port.ts';
import { planValidUntil, sortableTime } from '../projection.ts';
import type { RevisionRow, SqliteFile } from './database.ts';

/**
 * The projections as the outbox writes them on SQLite (`ProjectionWriter`): incidents and
 * affected-host rows upserted unless the stored revision is not older, timeline rows and plans
 * (with the signature of their lines) inserted once, a revoke recorded whether or not its plan is stored yet.
 */
export class SqliteProjectionWriter implements ProjectionWriter {
  readonly #file: SqliteFile;

  constructor(file: SqliteFile) {
    this.#file = file;
  }

  async putIncident(incident: Incident, revision: number, detectedAt: string): Promise<void> {
    await this.#file.write('write an incident', () => {
      const row = this.#file
        .statement<[string], RevisionRow>('SELECT revision, detected_at FROM incidents WHERE id = ?')
        .get(incident.id);
      if (row !== undefined && row.revision >= revision) return;
      const record: IncidentRecord = { ...incident, detectedAt: row?.detected_at ?? detectedAt, revision };
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
          record.detectedAt,
          JSON.stringify(record),
        );
    });
  }

  async putAffectedHost(row: AffectedHost, revision: number): Promise<void> {
    await this.#file.write('write an affected host', () => {
      const stored = this.#file
        .statement<[string, string], RevisionRow>(
          'SELECT revision FROM affected WHERE incident_id = ? AND host_id = ?',
        )
        .get(row.incidentId, row.hostId);
      if (stored !== undefined && stored.revision >= revision) return;
      this.#file
        .statement(
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
    await this.#file.write('write a timeline row', () => {
      this.#file
        .statement('INSERT OR IGNORE INTO timeline (id, incident_id, at, body) VALUES (?, ?, ?, ?)')
        .run(entry.id, entry.incidentId, sortableTime(entry.at), JSON.stringify(entry));
    });
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
