import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import {
  AdapterError,
  isTransientSdkError,
  messageOf,
  StoreRejectedError,
  StoreUnavailableError,
  sdkErrorName,
} from '../../errors.ts';
import type { WriteOutcome } from '../port.ts';
import type { Item, Key } from './items.ts';

/**
 * Every call the DynamoDB store makes, on its one table: single-item conditional writes (update,
 * put, delete), strongly consistent gets, queries and batch gets. No transactions (dynalite, the
 * emulator the tests use, has none, and they cost double). A failed condition is the `conflict`
 * answer, never an error; throttling, 5xx and network failures are `StoreUnavailableError`
 * (retryable); the rest, an item the table refuses included, `StoreRejectedError`. The sub-ports
 * of this folder build their requests on these calls and never send a command themselves.
 */

const MAX_BATCH_GET = 100;

const isConditionFailure = (error: unknown): boolean =>
  sdkErrorName(error) === 'ConditionalCheckFailedException';

const wrap = (what: string, error: unknown): AdapterError => {
  if (error instanceof AdapterError) return error;
  const detail = `${what}: ${sdkErrorName(error)}: ${messageOf(error)}`;
  if (sdkErrorName(error) === 'ValidationException' || sdkErrorName(error) === 'ResourceNotFoundException') {
    return new StoreRejectedError(detail, { cause: error });
  }
  return isTransientSdkError(error)
    ? new StoreUnavailableError(detail, { cause: error })
    : new StoreRejectedError(detail, { cause: error });
};

/** The store's table, through a document client over the client passed in (never built at module scope). */
export class TableClient {
  readonly tableName: string;
  readonly #documents: DynamoDBDocumentClient;

  constructor(client: DynamoDBClient, tableName: string) {
    this.tableName = tableName;
    this.#documents = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    });
  }

  /** One conditional update: `ok`, or `conflict` when the condition failed. */
  async update(what: string, input: Omit<UpdateCommandInput, 'TableName'>): Promise<WriteOutcome> {
    try {
      await this.#documents.send(new UpdateCommand({ TableName: this.tableName, ...input }));
      return 'ok';
    } catch (error) {
      if (isConditionFailure(error)) return 'conflict';
      throw wrap(what, error);
    }
  }

  /** One put of a whole item, conditional when `condition` is given: `ok`, or `conflict` when the condition failed. */
  async put(
    what: string,
    item: Item,
    condition?: string,
    values?: Record<string, unknown>,
  ): Promise<WriteOutcome> {
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ...(condition === undefined ? {} : { ConditionExpression: condition }),
          ...(values === undefined ? {} : { ExpressionAttributeValues: values }),
          ...(condition?.includes('#status') === true
            ? { ExpressionAttributeNames: { '#status': 'status' } }
            : {}),
        }),
      );
      return 'ok';
    } catch (error) {
      if (isConditionFailure(error)) return 'conflict';
      throw wrap(what, error);
    }
  }

  /** Deletes an item, whether or not it exists. */
  async delete(what: string, key: Key): Promise<void> {
    try {
      await this.#documents.send(new DeleteCommand({ TableName: this.tableName, Key: key }));
    } catch (error) {
      throw wrap(what, error);
    }
  }

  /** One item by its key, strongly consistent. */
  async get(what: string, key: Key): Promise<Item | undefined> {
    try {
      const answer = await this.#documents.send(
        new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
      );
      return answer.Item;
    } catch (error) {
      throw wrap(what, error);
    }
  }

  /** One page of a query, and the key to start the next one from when there is more. */
  async query(
    what: string,
    input: Omit<QueryCommandInput, 'TableName'>,
  ): Promise<{ items: Item[]; next?: Item }> {
    try {
      const answer = await this.#documents.send(new QueryCommand({ TableName: this.tableName, ...input }));
      return {
        items: answer.Items ?? [],
        ...(answer.LastEvaluatedKey === undefined ? {} : { next: answer.LastEvaluatedKey }),
      };
    } catch (error) {
      throw wrap(what, error);
    }
  }

  /** Every item of a query, page after page (for small result sets: a host's plans, open domains, stats). */
  async queryAll(what: string, input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.query(what, {
        ...input,
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      });
      items.push(...page.items);
      start = page.next;
    } while (start !== undefined);
    return items;
  }

  /**
   * The first `limit` entries, by sort key, of each of the `shards` partitions `<prefix><n>` of the
   * sharded index `indexName` (due wakes, unfinished decisions) whose sort key is at or before
   * `until`, all shards read at once; merging them in order is the caller's.
   */
  async queryShards(
    what: string,
    indexName: 'gsi4' | 'gsi5',
    prefix: string,
    shards: number,
    until: string,
    limit: number,
  ): Promise<Item[]> {
    const pages = await Promise.all(
      Array.from({ length: shards }, (_, shard) =>
        this.query(what, {
          IndexName: indexName,
          KeyConditionExpression: `${indexName}pk = :pk AND ${indexName}sk <= :until`,
          ExpressionAttributeValues: { ':pk': `${prefix}${shard}`, ':until': until },
          Limit: limit,
        }),
      ),
    );
    return pages.flatMap((page) => page.items);
  }

  /**
   * The items of `keys`, strongly consistent, by `${pk}|${sk}` (absent ones missing): batches of
   * {@link MAX_BATCH_GET}, unprocessed keys retried a few rounds before `store-unavailable`.
   */
  async batchGet(what: string, keys: readonly Key[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    for (let start = 0; start < keys.length; start += MAX_BATCH_GET) {
      let pending: Key[] = [
        ...new Map(keys.slice(start, start + MAX_BATCH_GET).map((key) => [key.pk, key])).values(),
      ];
      for (let round = 0; pending.length > 0; round += 1) {
        if (round > 8) throw new StoreUnavailableError(`${what}: keys left unprocessed`);
        try {
          const answer = await this.#documents.send(
            new BatchGetCommand({
              RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
            }),
          );
          for (const item of answer.Responses?.[this.tableName] ?? [])
            found.set(`${item.pk}|${item.sk}`, item);
          pending = (answer.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Key[];
        } catch (error) {
          throw wrap(what, error);
        }
      }
    }
    return found;
  }
}
