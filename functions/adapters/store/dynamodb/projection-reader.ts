import type { QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Plan } from '../../../../events/index.ts';
import type { HostSlice, Incident, TimelineEntry } from '../../../core/index.ts';
import { StoreRejectedError } from '../../errors.ts';
import { hostListingPartition, INDEX_SHARDS } from '../dynamodb-table.ts';
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
  matchesQuery,
  queryFingerprint,
  sortableTime,
} from '../projection.ts';
import { decodeJson, HIGH, type Item, incidentKey, planKey, sliceKeyOf } from './items.ts';
import type { TableClient } from './table-client.ts';

/**
 * The projections as the API, the CLI and the agents read them on DynamoDB (`ProjectionReader`,
 * but for `getControl`, which ../composed-store.ts reads from the control slice). Incident lists
 * query the GSI of the most selective filter (`gsi1` by host or all, `gsi2` by status, `gsi3` by
 * domain) and filter the rest; an incident's rows are one partition read with a consistent query;
 * a cursor is the `LastEvaluatedKey` it stopped at. Hosts are listed from the keys-only `gsi4`,
 * every shard read from the last host id given and merged in id order (the cursor is that id),
 * then their slices read by key.
 */

const toIncident = (item: Item): IncidentRecord => ({
  ...(decodeJson<Incident>(item, 'body') as Incident),
  detectedAt: String(item.detectedAt),
  revision: Number(item.revision),
});

export class DynamoDbProjectionReader implements Omit<ProjectionReader, 'getControl' | 'plansForHost'> {
  readonly #table: TableClient;

  constructor(table: TableClient) {
    this.#table = table;
  }

  async listIncidents(query: IncidentQuery): Promise<Page<IncidentRecord>> {
    const limit = clampLimit(query.limit, LIMITS.defaultIncidents, LIMITS.maxIncidents);
    const fingerprint = queryFingerprint(query);
    let start = query.cursor === undefined ? undefined : (decodeCursor(query.cursor, fingerprint) as Item);
    const from = query.since === undefined ? '' : sortableTime(query.since);
    const to = query.until === undefined ? HIGH : `${sortableTime(query.until)}#${HIGH}`;
    const byTime = (
      indexName: string,
      pkName: string,
      skName: string,
      pk: string,
    ): Omit<QueryCommandInput, 'TableName'> => ({
      IndexName: indexName,
      KeyConditionExpression: `${pkName} = :pk AND ${skName} BETWEEN :from AND :to`,
      ExpressionAttributeValues: { ':pk': pk, ':from': from, ':to': to },
      ScanIndexForward: false,
    });
    const input =
      query.host !== undefined
        ? {
            IndexName: 'gsi1',
            KeyConditionExpression: 'gsi1pk = :pk',
            ExpressionAttributeValues: { ':pk': `AFFECTED#${query.host}` },
            ScanIndexForward: false,
          }
        : query.domain !== undefined
          ? byTime('gsi3', 'gsi3pk', 'gsi3sk', `DOMAIN#${query.domain}`)
          : query.status !== undefined
            ? byTime('gsi2', 'gsi2pk', 'gsi2sk', `STATUS#${query.status}`)
            : byTime('gsi1', 'gsi1pk', 'gsi1sk', 'INCIDENTS');
    const items: IncidentRecord[] = [];
    do {
      const page = await this.#table.query('list incidents', {
        ...input,
        Limit: limit - items.length,
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      });
      let incidents: IncidentRecord[];
      if (query.host === undefined) incidents = page.items.map(toIncident);
      else {
        const found = await this.#table.batchGet(
          'read incidents',
          page.items.map((item) => incidentKey(String(item.pk).slice('INCIDENT#'.length))),
        );
        incidents = page.items.flatMap((item) => {
          const incident = found.get(`${item.pk}|INCIDENT`);
          return incident === undefined ? [] : [toIncident(incident)];
        });
      }
      items.push(...incidents.filter((incident) => matchesQuery(incident, query)));
      start = page.next;
    } while (start !== undefined && items.length < limit);
    return { items, ...(start === undefined ? {} : { cursor: encodeCursor(start, fingerprint) }) };
  }

  async getIncident(id: string, page: { readonly limit?: number } = {}): Promise<IncidentDetail | undefined> {
    const item = await this.#table.get('read an incident', incidentKey(id));
    if (item === undefined) return undefined;
    const request = page.limit === undefined ? {} : { limit: page.limit };
    const [timeline, affectedHosts] = await Promise.all([
      this.listTimeline(id, request),
      this.listAffectedHosts(id, request),
    ]);
    return { incident: toIncident(item), timeline, affectedHosts };
  }

  /** A page of the rows of an incident's partition whose sort key starts with `prefix`. */
  async #incidentRows<T>(incidentId: string, prefix: string, page: PageRequest): Promise<Page<T>> {
    const limit = clampLimit(page.limit, LIMITS.defaultPage, LIMITS.maxPage);
    const fingerprint = queryFingerprint(`${prefix}:${incidentId}`);
    const start = page.cursor === undefined ? undefined : (decodeCursor(page.cursor, fingerprint) as Item);
    const answer = await this.#table.query('read incident rows', {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `INCIDENT#${incidentId}`, ':prefix': prefix },
      ConsistentRead: true,
      Limit: limit,
      ...(start === undefined ? {} : { ExclusiveStartKey: start }),
    });
    return {
      items: answer.items.map((item) => JSON.parse(String(item.body)) as T),
      ...(answer.next === undefined ? {} : { cursor: encodeCursor(answer.next, fingerprint) }),
    };
  }

  listTimeline(incidentId: string, page: PageRequest = {}): Promise<Page<TimelineEntry>> {
    return this.#incidentRows<TimelineEntry>(incidentId, 'TL#', page);
  }

  listAffectedHosts(incidentId: string, page: PageRequest = {}): Promise<Page<AffectedHost>> {
    return this.#incidentRows<AffectedHost>(incidentId, 'HOST#', page);
  }

  async getPlan(planId: string): Promise<StoredPlan | undefined> {
    const item = await this.#table.get('read a plan', planKey(planId));
    const plan = item === undefined ? undefined : decodeJson<Plan>(item, 'body');
    if (item === undefined || plan === undefined) return undefined;
    return {
      plan,
      revoked: item.revoked === true,
      ...(typeof item.revokedAt === 'string' ? { revokedAt: item.revokedAt } : {}),
      ...(typeof item.linesSignature === 'string' ? { linesSignature: item.linesSignature } : {}),
    };
  }

  async hostPlans(hostId: string, now: string): Promise<HostPlan[]> {
    const at = sortableTime(now);
    const items = await this.#table.queryAll("read a host's plans", {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': `PLANS#${hostId}` },
    });
    return items.flatMap((item) => {
      if (item.revoked === true || typeof item.validUntil !== 'string' || item.validUntil <= at) return [];
      const plan = decodeJson<Plan>(item, 'body');
      if (plan === undefined) return [];
      return [
        {
          plan,
          ...(typeof item.linesSignature === 'string' ? { linesSignature: item.linesSignature } : {}),
        },
      ];
    });
  }

  async listHosts(page: PageRequest = {}): Promise<Page<HostSlice>> {
    const limit = clampLimit(page.limit, LIMITS.defaultPage, LIMITS.maxPage);
    const fingerprint = queryFingerprint('hosts');
    const after = page.cursor === undefined ? '' : decodeCursor(page.cursor, fingerprint);
    if (typeof after !== 'string') throw new StoreRejectedError('the cursor is not one this store issued');
    const shards = await Promise.all(
      Array.from({ length: INDEX_SHARDS.hosts }, (_, shard) =>
        this.#table.query('list hosts', {
          IndexName: 'gsi4',
          KeyConditionExpression: 'gsi4pk = :pk AND gsi4sk > :after',
          ExpressionAttributeValues: {
            ':pk': hostListingPartition(shard),
            ':after': after,
          },
          Limit: limit,
        }),
      ),
    );
    const ids = shards.flatMap((answer) => answer.items.map((item) => String(item.gsi4sk))).sort();
    const more = ids.length > limit || shards.some((answer) => answer.next !== undefined);
    const chosen = ids.slice(0, limit);
    const found = await this.#table.batchGet(
      'read host slices',
      chosen.map((id) => sliceKeyOf({ kind: 'host', id })),
    );
    const items = chosen.flatMap((id) => {
      const key = sliceKeyOf({ kind: 'host', id });
      const item = found.get(`${key.pk}|${key.sk}`);
      const slice = item === undefined ? undefined : decodeJson<HostSlice>(item, 'payload');
      return slice === undefined ? [] : [slice];
    });
    const last = chosen.at(-1);
    return { items, ...(more && last !== undefined ? { cursor: encodeCursor(last, fingerprint) } : {}) };
  }

  async stats(window: { readonly since?: string; readonly until?: string } = {}): Promise<IncidentStats> {
    const items = await this.#table.queryAll('read stats', {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': 'INCIDENTS',
        ':from': window.since === undefined ? '' : sortableTime(window.since),
        ':to': window.until === undefined ? HIGH : `${sortableTime(window.until)}#${HIGH}`,
      },
    });
    return computeStats(items.map(toIncident), window);
  }
}
