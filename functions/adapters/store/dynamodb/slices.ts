import { hostListingKeys, INDEX_SHARDS } from '../dynamodb-table.ts';
import { sliceIndexOf } from '../indexes.ts';
import type {
  SliceRef,
  SliceStore,
  SliceValue,
  SliceWrite,
  StoredSlice,
  Wake,
  WriteOutcome,
} from '../port.ts';
import { sortableTime } from '../projection.ts';
import { type IndexLayout, LEGACY_SLICE_INDEX_ATTRIBUTES } from './index-layout.ts';
import { decodeJson, HIGH, payloadUpdate, shardOf, sliceKeyOf, updateExpression } from './items.ts';
import type { TableClient } from './table-client.ts';

/**
 * The slices on DynamoDB (`SliceStore`): one item each (`payload`, `version`, `lock`, `applied`),
 * read strongly consistent in batches and written by conditional updates on the version and the
 * lock, with the wake (`gsi5`, sharded), open-domain and host-listing (`gsi4`, the host listing
 * sharded) index keys set or removed in the same update. Both are keys-only indexes: a slice is
 * rewritten on most of its events, and a keys-only index is written only when its keys change.
 */

/** The update of a slice write: its payload, version, applied list and index attributes. */
const sliceUpdate = (
  write: SliceWrite,
): { set: string[]; remove: string[]; values: Record<string, unknown> } => {
  const values: Record<string, unknown> = { ':next': write.expected + 1, ':applied': [...write.applied] };
  const payload = payloadUpdate('payload', write.value, values);
  const set = [...payload.set, 'version = :next', 'applied = :applied'];
  // A slice written before the index layout changed loses its legacy entries here (./index-layout.ts).
  const remove = [...payload.remove, ...LEGACY_SLICE_INDEX_ATTRIBUTES];
  const index = sliceIndexOf(write.ref, write.value);
  if (write.ref.kind !== 'control') {
    if (index.wakeAt === undefined) remove.push('gsi5pk', 'gsi5sk');
    else {
      values[':wakePk'] = `WAKE#${shardOf(`${write.ref.kind}:${write.ref.id}`, INDEX_SHARDS.wake)}`;
      values[':wakeSk'] = `${index.wakeAt}#${write.ref.kind}#${write.ref.id}`;
      set.push('gsi5pk = :wakePk', 'gsi5sk = :wakeSk');
    }
  }
  if (index.listedHost !== undefined) {
    const listing = hostListingKeys(index.listedHost);
    values[':hostsPk'] = listing.gsi4pk;
    values[':hostsSk'] = listing.gsi4sk;
    set.push('gsi4pk = :hostsPk', 'gsi4sk = :hostsSk');
  }
  if (write.ref.kind === 'domain') {
    if (index.openDomain) {
      values[':openPk'] = 'OPEN_DOMAINS';
      values[':openSk'] = write.ref.id;
      set.push('gsi4pk = :openPk', 'gsi4sk = :openSk');
    } else remove.push('gsi4pk', 'gsi4sk');
  }
  return { set, remove, values };
};

/** The condition that a slice is at version `:expected` (an absent one is at version 0). */
const versionCondition = (expected: number): string =>
  expected === 0 ? '(attribute_not_exists(version) OR version = :expected)' : 'version = :expected';

export class DynamoDbSlices implements SliceStore {
  readonly #table: TableClient;
  readonly #layout: IndexLayout;

  /** `layout`: the index layout, made current before the first read of the wake and open-domain entries. */
  constructor(table: TableClient, layout: IndexLayout) {
    this.#table = table;
    this.#layout = layout;
  }

  async getSlices(refs: readonly SliceRef[]): Promise<StoredSlice[]> {
    const found = await this.#table.batchGet(
      'read slices',
      refs.map((ref) => sliceKeyOf(ref)),
    );
    return refs.map((ref): StoredSlice => {
      const key = sliceKeyOf(ref);
      const item = found.get(`${key.pk}|${key.sk}`);
      return {
        ref,
        value: item === undefined ? undefined : decodeJson<SliceValue>(item, 'payload'),
        version: item === undefined ? 0 : Number(item.version ?? 0),
        lock: typeof item?.lock === 'string' ? item.lock : undefined,
        applied: Array.isArray(item?.applied) ? (item.applied as string[]) : [],
      };
    });
  }

  async putSlice(write: SliceWrite): Promise<WriteOutcome> {
    const { set, remove, values } = sliceUpdate(write);
    values[':expected'] = write.expected;
    return this.#table.update('write a slice', {
      Key: sliceKeyOf(write.ref),
      UpdateExpression: updateExpression(set, remove),
      ConditionExpression: `${versionCondition(write.expected)} AND attribute_not_exists(#lock)`,
      ExpressionAttributeNames: { '#lock': 'lock' },
      ExpressionAttributeValues: values,
    });
  }

  async lockSlice(ref: SliceRef, expected: number, token: string): Promise<WriteOutcome> {
    return this.#table.update('lock a slice', {
      Key: sliceKeyOf(ref),
      UpdateExpression: 'SET #lock = :token, version = if_not_exists(version, :zero)',
      ConditionExpression: `${versionCondition(expected)} AND (attribute_not_exists(#lock) OR #lock = :token)`,
      ExpressionAttributeNames: { '#lock': 'lock' },
      ExpressionAttributeValues: { ':token': token, ':expected': expected, ':zero': 0 },
    });
  }

  async applyLocked(write: SliceWrite, token: string): Promise<WriteOutcome> {
    const { set, remove, values } = sliceUpdate(write);
    values[':token'] = token;
    return this.#table.update('write a locked slice', {
      Key: sliceKeyOf(write.ref),
      UpdateExpression: updateExpression(set, [...remove, '#lock']),
      ConditionExpression: '#lock = :token',
      ExpressionAttributeNames: { '#lock': 'lock' },
      ExpressionAttributeValues: values,
    });
  }

  async unlockSlice(ref: SliceRef, token: string): Promise<void> {
    await this.#table.update('unlock a slice', {
      Key: sliceKeyOf(ref),
      UpdateExpression: 'REMOVE #lock',
      ConditionExpression: '#lock = :token',
      ExpressionAttributeNames: { '#lock': 'lock' },
      ExpressionAttributeValues: { ':token': token },
    });
  }

  async waitingHosts(incidentId: string, limit: number): Promise<string[]> {
    const page = await this.#table.query('read waiting hosts', {
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :pk',
      ExpressionAttributeValues: { ':pk': `WAITING#${incidentId}` },
      Limit: limit,
    });
    return page.items.map((item) => String(item.gsi2sk));
  }

  async openDomains(): Promise<string[]> {
    await this.#layout.ready();
    const items = await this.#table.queryAll('read open domains', {
      IndexName: 'gsi4',
      KeyConditionExpression: 'gsi4pk = :pk',
      ExpressionAttributeValues: { ':pk': 'OPEN_DOMAINS' },
    });
    return items.map((item) => String(item.gsi4sk));
  }

  async dueWakes(now: string, limit: number): Promise<Wake[]> {
    await this.#layout.ready();
    const until = `${sortableTime(now)}#${HIGH}`;
    const items = await this.#table.queryShards(
      'read due wakes',
      'gsi5',
      'WAKE#',
      INDEX_SHARDS.wake,
      until,
      limit,
    );
    return items
      .map((item) => String(item.gsi5sk))
      .sort()
      .slice(0, limit)
      .map((sortKey) => {
        const [at = '', kind = '', ...id] = sortKey.split('#');
        return { kind: kind as Wake['kind'], id: id.join('#'), at };
      });
  }
}
