import { INDEX_SHARDS } from '../dynamodb-table.ts';
import { isFinished, isUnfinished } from '../indexes.ts';
import type { DecisionRecord, DecisionStatus, OutboxStore, WriteOutcome } from '../port.ts';
import { RETENTION } from '../projection.ts';
import type { IndexLayout } from './index-layout.ts';
import { decisionKey, decodeJson, encodeJson, HIGH, type Item, padded, shardOf } from './items.ts';
import type { TableClient } from './table-client.ts';

/**
 * The outbox on DynamoDB (`OutboxStore`): one item per decision record, written whole by a
 * conditional put and moved by conditional updates. While unfinished it is in the sharded
 * `UNFINISHED#<n>` partitions of the keys-only `gsi4` (what sweep lists, then reads by key); once
 * done or aborted it leaves that index and gets its TTL. Keys only, because a record is rewritten
 * as it moves and as each effect is marked done (a wave's record holds every plan of the wave),
 * and a keys-only index is written only when its keys change: at the put and when it finishes.
 */

const toRecord = (item: Item): DecisionRecord => {
  const body = decodeJson<Pick<DecisionRecord, 'writes' | 'effects'>>(item, 'body') ?? {
    writes: [],
    effects: [],
  };
  const done = (item.done ?? {}) as Record<string, unknown>;
  return {
    id: String(item.id),
    attempt: Number(item.attempt),
    status: item.status as DecisionStatus,
    at: String(item.at),
    createdAt: Number(item.createdAt),
    about: String(item.about),
    writes: body.writes,
    effects: body.effects,
    done: Object.keys(done)
      .map(Number)
      .sort((a, b) => a - b),
  };
};

export class DynamoDbOutbox implements OutboxStore {
  readonly #table: TableClient;
  readonly #clock: () => number;
  readonly #layout: IndexLayout;

  /**
   * `clock`: the wall clock (ms), for the TTL of finished decisions; `layout`: the index layout,
   * made current before the first read of the unfinished records.
   */
  constructor(table: TableClient, clock: () => number, layout: IndexLayout) {
    this.#table = table;
    this.#layout = layout;
    this.#clock = clock;
  }

  /** When a record finished now may be deleted (epoch seconds). */
  #finishedExpiry(): number {
    return Math.floor(this.#clock() / 1000) + RETENTION.decisionSeconds;
  }

  #decisionItem(record: DecisionRecord): Item {
    return {
      ...decisionKey(record.id),
      id: record.id,
      attempt: record.attempt,
      status: record.status,
      at: record.at,
      createdAt: record.createdAt,
      about: record.about,
      ...encodeJson('body', { writes: record.writes, effects: record.effects }),
      done: Object.fromEntries(record.done.map((index) => [String(index), true])),
      ...(isUnfinished(record.status)
        ? {
            gsi4pk: `UNFINISHED#${shardOf(record.id, INDEX_SHARDS.unfinished)}`,
            gsi4sk: `${padded(record.createdAt)}#${record.id}`,
          }
        : { expiresAt: this.#finishedExpiry() }),
    };
  }

  async putDecision(record: DecisionRecord, replacing?: number): Promise<WriteOutcome> {
    return replacing === undefined
      ? this.#table.put('write a decision', this.#decisionItem(record), 'attribute_not_exists(pk)')
      : this.#table.put(
          'replace a decision',
          this.#decisionItem(record),
          'attempt = :replacing AND #status = :aborted',
          {
            ':replacing': replacing,
            ':aborted': 'aborted',
          },
        );
  }

  async getDecision(id: string): Promise<DecisionRecord | undefined> {
    const item = await this.#table.get('read a decision', decisionKey(id));
    return item === undefined ? undefined : toRecord(item);
  }

  async setDecisionStatus(
    id: string,
    attempt: number,
    from: DecisionStatus,
    to: DecisionStatus,
  ): Promise<WriteOutcome> {
    const finished = isFinished(to);
    return this.#table.update('move a decision', {
      Key: decisionKey(id),
      UpdateExpression: finished
        ? // gsi1: where a record written before the index layout changed was listed (./index-layout.ts).
          'SET #status = :to, expiresAt = :expires REMOVE gsi4pk, gsi4sk, gsi1pk, gsi1sk'
        : 'SET #status = :to',
      ConditionExpression: 'attempt = :attempt AND #status = :from',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':to': to,
        ':from': from,
        ':attempt': attempt,
        ...(finished ? { ':expires': this.#finishedExpiry() } : {}),
      },
    });
  }

  async markEffectDone(id: string, attempt: number, index: number): Promise<void> {
    await this.#table.update('mark an effect done', {
      Key: decisionKey(id),
      UpdateExpression: 'SET done.#index = :true',
      ConditionExpression: 'attempt = :attempt',
      ExpressionAttributeNames: { '#index': String(index) },
      ExpressionAttributeValues: { ':attempt': attempt, ':true': true },
    });
  }

  async unfinishedDecisions(createdBefore: number, limit: number): Promise<DecisionRecord[]> {
    await this.#layout.ready();
    const until = `${padded(createdBefore)}#${HIGH}`;
    const entries = await this.#table.queryShards(
      'read unfinished decisions',
      'gsi4',
      'UNFINISHED#',
      INDEX_SHARDS.unfinished,
      until,
      limit,
    );
    const oldest = entries
      .sort((a, b) => (String(a.gsi4sk) < String(b.gsi4sk) ? -1 : 1))
      .slice(0, limit)
      .map((entry) => decisionKey(String(entry.pk).slice('DECISION#'.length)));
    const found = await this.#table.batchGet('read unfinished decisions', oldest);
    // A record may have finished since its index entry was read.
    return oldest.flatMap((key) => {
      const item = found.get(`${key.pk}|${key.sk}`);
      return item !== undefined && isUnfinished(item.status as DecisionStatus) ? [toRecord(item)] : [];
    });
  }
}
