import type { CollectMark, CollectRecord, CollectStore, WriteOutcome } from '../port.ts';
import { expiryOf, RETENTION, sortableTime } from '../projection.ts';
import { collectKey, decodeJson, encodeJson } from './items.ts';
import type { TableClient } from './table-client.ts';

/**
 * What the collect route remembers of each sh agent's host, on DynamoDB (`CollectStore`): one item
 * per host (`COLLECT#<host id>`), put whole on the condition that the stored item is the collect
 * the writer read (`bootId` and `seq`), or that there is none. The body is JSON, gzipped above
 * 32 KiB like every payload of the table (a host's last snapshot, twice: before and after the
 * collect). Its TTL moves with every collect: a host silent past its retention is forgotten.
 */
export class DynamoDbCollects implements CollectStore {
  readonly #table: TableClient;

  constructor(table: TableClient) {
    this.#table = table;
  }

  async getCollect(hostId: string): Promise<CollectRecord | undefined> {
    const item = await this.#table.get('read a collect record', collectKey(hostId));
    if (item === undefined) return undefined;
    const body = decodeJson<unknown>(item, 'body');
    if (typeof item.bootId !== 'string' || typeof item.seq !== 'number' || body === undefined)
      return undefined;
    return {
      hostId,
      bootId: item.bootId,
      seq: item.seq,
      storedAt: String(item.storedAt),
      body,
    };
  }

  async putCollect(record: CollectRecord, expected: CollectMark | undefined): Promise<WriteOutcome> {
    const storedAt = sortableTime(record.storedAt);
    return this.#table.put(
      'write a collect record',
      {
        ...collectKey(record.hostId),
        bootId: record.bootId,
        seq: record.seq,
        storedAt,
        ...encodeJson('body', record.body),
        expiresAt: expiryOf(storedAt, RETENTION.collectSeconds),
      },
      expected === undefined ? 'attribute_not_exists(pk)' : 'bootId = :bootId AND seq = :seq',
      expected === undefined ? undefined : { ':bootId': expected.bootId, ':seq': expected.seq },
    );
  }
}
