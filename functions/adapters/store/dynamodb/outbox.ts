import { randomUUID } from 'node:crypto';
import { INDEX_SHARDS } from '../dynamodb-table.ts';
import { isFinished, isUnfinished } from '../indexes.ts';
import type {
  DecisionRecord,
  DecisionStatus,
  OutboxEffect,
  OutboxStore,
  SliceWrite,
  WriteOutcome,
} from '../port.ts';
import { RETENTION } from '../projection.ts';
import type { IndexLayout } from './index-layout.ts';
import { decisionKey, decodeJson, encodeJson, HIGH, type Item, padded, shardOf } from './items.ts';
import type { TableClient } from './table-client.ts';

/**
 * The outbox on DynamoDB (`OutboxStore`): the items of one decision share its partition
 * (`DECISION#<id>`), so one consistent query reads them all:
 *
 * - the record (`DECISION`): its status, attempt, times and effects, written by a conditional put
 *   and moved by conditional updates. While unfinished it is in the sharded `UNFINISHED#<n>`
 *   partitions of the keys-only `gsi4` (what sweep lists, then reads by key); once done or aborted
 *   it leaves that index and gets its TTL. Keys only, because a record is rewritten as it moves,
 *   and a keys-only index is written only when its keys change: at the put and when it finishes.
 * - its slice writes (`WRITES#<attempt>#<token>`, named by the record's `writesAt`), put once
 *   before the record: the largest part of a decision (whole slices) is not written again each
 *   time the record moves. The token is fresh for each put, so a put that loses to another
 *   delivery's never overwrites the winner's writes; what it leaves behind expires.
 * - a mark per effect performed (`DONE#<attempt>#<index>`), a small put each, instead of an
 *   update of the record: a wave's record holds every plan of the wave, and rewriting it once per
 *   plan made a wave cost the square of its size. Only the marks of the record's attempt count.
 *
 * Records written before writes and marks had items of their own keep them in `body` and `done`,
 * which are still read. Writes and marks expire with the decision retention from when they were
 * put (long after sweep finishes any decision).
 */

const WRITES_PREFIX = 'WRITES#';
const DONE_PREFIX = 'DONE#';

/** A record from the items of its partition (the record, its writes, its marks). */
const toRecord = (item: Item, partition: readonly Item[]): DecisionRecord => {
  const attempt = Number(item.attempt);
  // Older records kept their writes and effects together in `body`.
  const body = decodeJson<Pick<DecisionRecord, 'writes' | 'effects'>>(item, 'body');
  const writesItem =
    typeof item.writesAt === 'string' ? partition.find((part) => part.sk === item.writesAt) : undefined;
  const marks = new Set(Object.keys((item.done ?? {}) as Record<string, unknown>).map(Number));
  const markPrefix = `${DONE_PREFIX}${attempt}#`;
  for (const part of partition) {
    const sk = String(part.sk);
    if (sk.startsWith(markPrefix)) marks.add(Number(sk.slice(markPrefix.length)));
  }
  return {
    id: String(item.id),
    attempt,
    status: item.status as DecisionStatus,
    at: String(item.at),
    createdAt: Number(item.createdAt),
    about: String(item.about),
    writes:
      (writesItem === undefined ? undefined : decodeJson<SliceWrite[]>(writesItem, 'writes')) ??
      body?.writes ??
      [],
    effects: decodeJson<OutboxEffect[]>(item, 'effects') ?? body?.effects ?? [],
    done: [...marks].sort((a, b) => a - b),
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

  #decisionItem(record: DecisionRecord, writesAt: string | undefined): Item {
    return {
      ...decisionKey(record.id),
      id: record.id,
      attempt: record.attempt,
      status: record.status,
      at: record.at,
      createdAt: record.createdAt,
      about: record.about,
      ...encodeJson('effects', record.effects),
      ...(writesAt === undefined ? {} : { writesAt }),
      ...(isUnfinished(record.status)
        ? {
            gsi4pk: `UNFINISHED#${shardOf(record.id, INDEX_SHARDS.unfinished)}`,
            gsi4sk: `${padded(record.createdAt)}#${record.id}`,
          }
        : { expiresAt: this.#finishedExpiry() }),
    };
  }

  async putDecision(record: DecisionRecord, replacing?: number): Promise<WriteOutcome> {
    let writesAt: string | undefined;
    if (record.writes.length > 0) {
      writesAt = `${WRITES_PREFIX}${record.attempt}#${randomUUID()}`;
      // A fresh key: nothing else ever writes it.
      await this.#table.put('write a decision', {
        pk: decisionKey(record.id).pk,
        sk: writesAt,
        ...encodeJson('writes', record.writes),
        expiresAt: this.#finishedExpiry(),
      });
    }
    const item = this.#decisionItem(record, writesAt);
    return replacing === undefined
      ? this.#table.put('write a decision', item, 'attribute_not_exists(pk)')
      : this.#table.put('replace a decision', item, 'attempt = :replacing AND #status = :aborted', {
          ':replacing': replacing,
          ':aborted': 'aborted',
        });
  }

  async getDecision(id: string): Promise<DecisionRecord | undefined> {
    const key = decisionKey(id);
    const partition = await this.#table.queryAll('read a decision', {
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': key.pk },
      ConsistentRead: true,
    });
    const item = partition.find((part) => part.sk === key.sk);
    return item === undefined ? undefined : toRecord(item, partition);
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
    // Idempotent: the same item each time.
    await this.#table.put('mark an effect done', {
      pk: decisionKey(id).pk,
      sk: `${DONE_PREFIX}${attempt}#${index}`,
      expiresAt: this.#finishedExpiry(),
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
    // A keys-only entry holds the keys only: the id is in the partition key (`DECISION#<id>`).
    const oldest = entries
      .sort((a, b) => (String(a.gsi4sk) < String(b.gsi4sk) ? -1 : 1))
      .slice(0, limit)
      .map((entry) => String(entry.pk).slice('DECISION#'.length));
    // One consistent query each (a record with its writes and marks); sweep reads a few.
    const records = await Promise.all(oldest.map((id) => this.getDecision(id)));
    // A record may have finished since its index entry was read.
    return records.filter(
      (record): record is DecisionRecord => record !== undefined && isUnfinished(record.status),
    );
  }
}
