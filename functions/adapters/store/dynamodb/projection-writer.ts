import type { Plan } from '../../../../events/index.ts';
import type { Incident, TimelineEntry } from '../../../core/index.ts';
import type { AffectedHost, ProjectionWriter } from '../port.ts';
import { expiryOf, planValidUntil, RETENTION, sortableTime } from '../projection.ts';
import { affectedKey, incidentKey, payloadUpdate, planKey, updateExpression } from './items.ts';
import type { TableClient } from './table-client.ts';

/**
 * The projections as the outbox writes them on DynamoDB (`ProjectionWriter`): incidents and
 * affected-host rows by updates conditional on an older revision (a failed condition is the
 * ignored stale write), timeline rows and plans only when absent, a revoke whether or not its plan
 * is stored yet; each with its index keys and, once it is history, its TTL.
 */

/** The condition of a projection write carrying `:revision`: nothing newer is stored. */
const OLDER_REVISION = 'attribute_not_exists(revision) OR revision < :revision';

export class DynamoDbProjectionWriter implements ProjectionWriter {
  readonly #table: TableClient;

  constructor(table: TableClient) {
    this.#table = table;
  }

  async putIncident(incident: Incident, revision: number, detectedAt: string): Promise<void> {
    const opened = sortableTime(incident.openedAt);
    const values: Record<string, unknown> = {
      ':revision': revision,
      ':detectedAt': detectedAt,
      ':all': 'INCIDENTS',
      ':status': `STATUS#${incident.status}`,
      ':domain': `DOMAIN#${incident.failureDomain}`,
      ':opened': `${opened}#${incident.id}`,
    };
    const payload = payloadUpdate('body', incident, values);
    const expires =
      incident.status === 'resolved' ? expiryOf(incident.resolvedAt, RETENTION.incidentSeconds) : undefined;
    const set = [
      ...payload.set,
      'revision = :revision',
      'detectedAt = if_not_exists(detectedAt, :detectedAt)',
      'gsi1pk = :all',
      'gsi1sk = :opened',
      'gsi2pk = :status',
      'gsi2sk = :opened',
      'gsi3pk = :domain',
      'gsi3sk = :opened',
    ];
    const remove = [...payload.remove];
    if (expires === undefined) remove.push('expiresAt');
    else {
      values[':expires'] = expires;
      set.push('expiresAt = :expires');
    }
    await this.#table.update('write an incident', {
      Key: incidentKey(incident.id),
      UpdateExpression: updateExpression(set, remove),
      ConditionExpression: OLDER_REVISION,
      ExpressionAttributeValues: values,
    });
  }

  async putAffectedHost(row: AffectedHost, revision: number): Promise<void> {
    const values: Record<string, unknown> = {
      ':revision': revision,
      ':body': JSON.stringify(row),
      ':hostPk': `AFFECTED#${row.hostId}`,
      ':hostSk': `${sortableTime(row.joinedAt)}#${row.incidentId}`,
      ':expires': expiryOf(row.joinedAt, RETENTION.incidentSeconds),
    };
    const set = [
      'body = :body',
      'revision = :revision',
      'gsi1pk = :hostPk',
      'gsi1sk = :hostSk',
      'expiresAt = :expires',
    ];
    const remove: string[] = [];
    if (row.status === 'waiting') {
      values[':waitingPk'] = `WAITING#${row.incidentId}`;
      values[':waitingSk'] = row.hostId;
      set.push('gsi2pk = :waitingPk', 'gsi2sk = :waitingSk');
    } else remove.push('gsi2pk', 'gsi2sk');
    await this.#table.update('write an affected host', {
      Key: affectedKey(row.incidentId, row.hostId),
      UpdateExpression: updateExpression(set, remove),
      ConditionExpression: OLDER_REVISION,
      ExpressionAttributeValues: values,
    });
  }

  async putTimeline(entry: TimelineEntry): Promise<void> {
    const at = sortableTime(entry.at);
    await this.#table.put(
      'write a timeline row',
      {
        pk: `INCIDENT#${entry.incidentId}`,
        sk: `TL#${at}#${entry.id}`,
        body: JSON.stringify(entry),
        expiresAt: expiryOf(at, RETENTION.incidentSeconds),
      },
      'attribute_not_exists(pk)',
    );
  }

  async putPlan(plan: Plan, linesSignature?: string): Promise<void> {
    const validUntil = planValidUntil(plan);
    const values: Record<string, unknown> = {
      ':hostId': plan.hostId,
      ':validUntil': validUntil,
      ':plansPk': `PLANS#${plan.hostId}`,
      ':plansSk': `${sortableTime(plan.issuedAt)}#${plan.id}`,
      ':expires': expiryOf(validUntil, RETENTION.planSeconds),
      ...(linesSignature === undefined ? {} : { ':linesSignature': linesSignature }),
    };
    const payload = payloadUpdate('body', plan, values);
    await this.#table.update('write a plan', {
      Key: planKey(plan.id),
      UpdateExpression: updateExpression(
        [
          ...payload.set,
          'hostId = :hostId',
          'validUntil = :validUntil',
          'gsi1pk = :plansPk',
          'gsi1sk = :plansSk',
          'expiresAt = :expires',
          ...(linesSignature === undefined ? [] : ['linesSignature = :linesSignature']),
        ],
        [],
      ),
      ConditionExpression: 'attribute_not_exists(body) AND attribute_not_exists(bodyGz)',
      ExpressionAttributeValues: values,
    });
  }

  async revokePlan(planId: string, hostId: string, at: string): Promise<void> {
    await this.#table.update('revoke a plan', {
      Key: planKey(planId),
      UpdateExpression:
        'SET revoked = :true, revokedAt = if_not_exists(revokedAt, :at), hostId = if_not_exists(hostId, :hostId), expiresAt = if_not_exists(expiresAt, :expires)',
      ExpressionAttributeValues: {
        ':true': true,
        ':at': at,
        ':hostId': hostId,
        ':expires': expiryOf(at, RETENTION.planSeconds),
      },
    });
  }
}
