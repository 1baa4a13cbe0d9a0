import type { HostRecord, HostRegistry, WriteOutcome } from '../port.ts';
import { hostRecordKey } from './items.ts';
import type { TableClient } from './table-client.ts';

/** The `gsi1` partition that lists every registered server, by host id. */
export const SERVERS_PARTITION = 'SERVERS';

/**
 * The registry of servers on DynamoDB (`HostRegistry`): one item per registered host, put whole
 * only while no later grant is stored, listed from the `SERVERS` partition of `gsi1` by host id
 * (servers are few: a fleet's VIOS, IBM i hosting partitions and control domains, not its clients).
 */
export class DynamoDbHosts implements HostRegistry {
  readonly #table: TableClient;

  constructor(table: TableClient) {
    this.#table = table;
  }

  async putHostRecord(record: HostRecord): Promise<WriteOutcome> {
    return this.#table.put(
      'register a host',
      {
        ...hostRecordKey(record.hostId),
        body: JSON.stringify(record),
        registeredAt: record.registeredAt,
        gsi1pk: SERVERS_PARTITION,
        gsi1sk: record.hostId,
      },
      'attribute_not_exists(pk) OR registeredAt <= :registeredAt',
      { ':registeredAt': record.registeredAt },
    );
  }

  async getHostRecord(hostId: string): Promise<HostRecord | undefined> {
    const item = await this.#table.get('read a host record', hostRecordKey(hostId));
    return item === undefined ? undefined : (JSON.parse(String(item.body)) as HostRecord);
  }

  async listHostRecords(): Promise<HostRecord[]> {
    const items = await this.#table.queryAll('list host records', {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': SERVERS_PARTITION },
    });
    return items.map((item) => JSON.parse(String(item.body)) as HostRecord);
  }
}
