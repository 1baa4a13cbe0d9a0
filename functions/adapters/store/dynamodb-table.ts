import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import {
  isTransientSdkError,
  messageOf,
  StoreRejectedError,
  StoreUnavailableError,
  sdkErrorName,
} from '../errors.ts';
import { shardOf } from './dynamodb/items.ts';
import storeTableJson from './dynamodb/store-table.json' with { type: 'json' };

/**
 * The DynamoDB table of the store, as data in ./dynamodb/store-table.json: the CDK app (infra/)
 * reads that file by its path (infra imports no code of functions/) and creates the table from it
 * as {@link STORE_TABLE} (on-demand, point-in-time recovery, retained, TTL on
 * `timeToLiveAttribute`), and the tests create the same table on dynalite with
 * {@link createStoreTable}. One table, three overloaded GSIs with `ProjectionType: ALL`, for the
 * rows readers list with their bodies, and two keys-only (`gsi4`, `gsi5`) for what is rewritten
 * on most events (slices, decision records) and listed by key only:
 *
 * | item | `pk` | `sk` | `gsi1` (pk / sk) | `gsi2` (pk / sk) | `gsi3` (pk / sk) | `gsi4` (pk / sk, keys only) | `gsi5` (pk / sk, keys only) |
 * |---|---|---|---|---|---|---|---|
 * | control slice | `CONTROL` | `SLICE` | | | | | |
 * | domain slice | `DOMAIN#<failure domain>` | `SLICE` | | | | `OPEN_DOMAINS` / `<failure domain>` (while an episode is open) | `WAKE#<0-7>` / `<wakeAt>#domain#<id>` (while a timer is set) |
 * | host slice | `HOST#<host id>` | `SLICE` | | | | `HOSTS#<0-7>` / `<host id>` | `WAKE#<0-7>` / `<wakeAt>#host#<id>` |
 * | decision record (outbox) | `DECISION#<id>` | `DECISION` | | | | `UNFINISHED#<0-3>` / `<createdAt>#<id>` (while pending or committed) | |
 * | a decision's slice writes, and a mark per effect performed | `DECISION#<id>` | `WRITES#<attempt>#<token>`, `DONE#<attempt>#<index>` | | | | | |
 * | incident | `INCIDENT#<id>` | `INCIDENT` | `INCIDENTS` / `<openedAt>#<id>` | `STATUS#<status>` / `<openedAt>#<id>` | `DOMAIN#<failure domain>` / `<openedAt>#<id>` | | |
 * | affected-host row | `INCIDENT#<id>` | `HOST#<host id>` | `AFFECTED#<host id>` / `<joinedAt>#<incident id>` | `WAITING#<incident id>` / `<host id>` (while waiting) | | | |
 * | timeline row | `INCIDENT#<id>` | `TL#<at>#<row id>` | | | | | |
 * | plan (and the signature of its lines) | `PLAN#<id>` | `PLAN` | `PLANS#<host id>` / `<issuedAt>#<id>` | | | | |
 * | token | `TOKEN#<sha-256>` | `TOKEN` | `TOKENS` / `<createdAt>#<sha-256>` | | | | |
 * | host record (a server's grant) | `SERVER#<host id>` | `GRANT` | `SERVERS` / `<host id>` | | | | |
 * | collect record (what the collect route remembers of an sh agent's host) | `COLLECT#<host id>` | `COLLECT` | | | | | |
 *
 * Nothing grows with the fleet inside an item: a slice is bounded by the core, and what grows
 * (affected hosts, timeline, plans, decisions) is an item each. The wake, unfinished-decision and
 * host-listing index keys are sharded so no single GSI partition takes every write of its kind.
 * The keys-only indexes: a slice is rewritten on most of its events and a decision record as it
 * moves and as each effect is marked done, and a keys-only index is written only when its keys
 * change (a host's listing once per host; a wake when its time moves; a record when it is put and
 * when it finishes), where an `ALL` index rewrites its copy of the whole item on every write. What
 * lists them reads the keys, then the items by key where it needs them (`listHosts`, sweep's
 * unfinished records). Measured by `npm run bench` (cost section) on dynalite: moving the decision
 * records, the wakes and the open domains from the `ALL` indexes took the write units of a
 * symptom event from 77.8 to 47.9 (the indexes: 36.9 to 7.0); the decision's writes and marks in
 * items of their own (./dynamodb/outbox.ts), to 37.0. Times in keys are normalised ISO
 * strings, which sort as text.
 *
 * TTL (`expiresAt`, epoch seconds) is set on rows that became history: a finished decision
 * record after 15 days (longer than SQS keeps a message), a resolved incident and its
 * affected-host and timeline rows after 400 days, a plan 30 days after its own TTL, a collect
 * record 400 days after its host's last collect. dynalite
 * ignores TTL; DynamoDB deletes within a few days of the time.
 */
const KeyAttribute = z.strictObject({ name: z.string().min(1), type: z.literal('S') });

/** The layout of the store's table, as store-table.json holds it. */
const StoreTableLayout = z.strictObject({
  partitionKey: KeyAttribute,
  sortKey: KeyAttribute,
  billingMode: z.literal('PAY_PER_REQUEST'),
  timeToLiveAttribute: z.string().min(1),
  globalSecondaryIndexes: z.array(
    z.strictObject({
      indexName: z.string().min(1),
      partitionKey: KeyAttribute,
      sortKey: KeyAttribute,
      projectionType: z.enum(['ALL', 'KEYS_ONLY']),
    }),
  ),
});

export const STORE_TABLE = StoreTableLayout.parse(storeTableJson);

/** How many GSI partitions timers, unfinished decisions and listed hosts are spread over. */
export const INDEX_SHARDS = { wake: 8, unfinished: 4, hosts: 8 } as const;

/**
 * The `gsi4` keys of a host slice (`SliceIndex.listedHost` in ./indexes.ts): the shard of its host
 * id, then the host id, so that each shard lists its hosts in id order.
 */
export const hostListingKeys = (hostId: string): { readonly gsi4pk: string; readonly gsi4sk: string } => ({
  gsi4pk: hostListingPartition(shardOf(hostId, INDEX_SHARDS.hosts)),
  gsi4sk: hostId,
});

/** The `gsi4` partition of one shard of the listed hosts (0 to `INDEX_SHARDS.hosts - 1`). */
export const hostListingPartition = (shard: number): string => `HOSTS#${shard}`;

/**
 * Creates the store table as {@link STORE_TABLE} describes it and waits until it is active (tests,
 * and a developer's own DynamoDB Local). TTL is left to infra: dynalite has no `UpdateTimeToLive`.
 */
export const createStoreTable = async (client: DynamoDBClient, tableName: string): Promise<void> => {
  const attributes = new Map<string, 'S'>([
    [STORE_TABLE.partitionKey.name, 'S'],
    [STORE_TABLE.sortKey.name, 'S'],
  ]);
  for (const index of STORE_TABLE.globalSecondaryIndexes) {
    attributes.set(index.partitionKey.name, 'S');
    attributes.set(index.sortKey.name, 'S');
  }
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: STORE_TABLE.billingMode,
        AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({
          AttributeName,
          AttributeType,
        })),
        KeySchema: [
          { AttributeName: STORE_TABLE.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: STORE_TABLE.sortKey.name, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: STORE_TABLE.globalSecondaryIndexes.map((index) => ({
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: index.projectionType },
        })),
      }),
    );
    for (;;) {
      const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (described.Table?.TableStatus === 'ACTIVE') return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (error) {
    const detail = `cannot create table ${tableName}: ${sdkErrorName(error)}: ${messageOf(error)}`;
    throw isTransientSdkError(error)
      ? new StoreUnavailableError(detail, { cause: error })
      : new StoreRejectedError(detail, { cause: error });
  }
};
