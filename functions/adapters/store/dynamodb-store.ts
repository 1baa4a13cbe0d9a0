import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { StoreUnavailableError, sdkErrorName } from '../errors.ts';
import { ComposedStore } from './composed-store.ts';
import { DynamoDbCollects } from './dynamodb/collects.ts';
import { DynamoDbHosts } from './dynamodb/hosts.ts';
import { IndexLayout } from './dynamodb/index-layout.ts';
import { DynamoDbOutbox } from './dynamodb/outbox.ts';
import { DynamoDbProjectionReader } from './dynamodb/projection-reader.ts';
import { DynamoDbProjectionWriter } from './dynamodb/projection-writer.ts';
import { DynamoDbSlices } from './dynamodb/slices.ts';
import { TableClient } from './dynamodb/table-client.ts';
import { DynamoDbTokens } from './dynamodb/tokens.ts';
import type { StoreHealth } from './port.ts';

/**
 * The store on DynamoDB, one table laid out as dynamodb-table.ts describes (its TSDoc has the
 * item and index layout; `STORE_TABLE` is what infra creates): the sub-ports of ./dynamodb/ over
 * one {@link TableClient} (every call the store makes, in ./dynamodb/table-client.ts), composed
 * into the whole `Store`. Every method is one single-item conditional write or a read: no
 * transactions; the decision protocol of functions/outbox/ makes multi-slice decisions atomic
 * above this port.
 *
 * - Slices and decision records are read with strongly consistent reads; GSI queries (waiting
 *   hosts, due wakes, open domains, incident lists) are eventually consistent in DynamoDB, which
 *   the port allows: an index only says which slices to load.
 * - A JSON payload over {@link GZIP_ABOVE_BYTES} (1 KB) is stored gzipped (`payloadGz`/`bodyGz`,
 *   Binary): a host slice then costs one write unit instead of three, and a host with many arrays
 *   or a decision that dispatches a wave stays far below the 400 KB item limit. An item the table
 *   still refuses is a `StoreRejectedError`.
 * - A failed condition is the `conflict` answer, never an error; throttling, 5xx and network
 *   failures are `StoreUnavailableError` (retryable); the rest `StoreRejectedError`.
 *
 * The client is passed in (built by the function's composition root in functions/lambda/, never at module
 * scope).
 */

export { GZIP_ABOVE_BYTES } from './dynamodb/items.ts';

/** DynamoDB's names for a request refused for the rate, not for what it asked. */
const THROTTLED = /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded/;

export interface DynamoDbStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** The wall clock (ms), for the TTL of finished decisions. */
  readonly clock?: () => number;
}

/** The store on one DynamoDB table; its TTL purges history, so it has no `purgeExpired`. */
export class DynamoDbStore extends ComposedStore {
  readonly tableName: string;

  constructor(options: DynamoDbStoreOptions) {
    const table = new TableClient(options.client, options.tableName);
    const layout = new IndexLayout(table);
    super({
      slices: new DynamoDbSlices(table, layout),
      outbox: new DynamoDbOutbox(table, options.clock ?? Date.now, layout),
      projections: new DynamoDbProjectionWriter(table),
      reader: new DynamoDbProjectionReader(table),
      tokens: new DynamoDbTokens(table),
      hosts: new DynamoDbHosts(table),
      collects: new DynamoDbCollects(table),
    });
    this.tableName = options.tableName;
  }

  /**
   * One strongly consistent read of the control item (the same read `GET /v1/health` makes for the
   * pause): it proves the table exists and answers this function's role, at one read unit (the
   * item is far below 4 KB). It does not write: DynamoDB has no cheap way to ask whether a write would succeed (no
   * write test without a write), and a write that fails answers 503 itself. Throttling is
   * `degraded` (writes are retried), any other failure `unavailable`; the SDK's text goes to the
   * logs through the error, never into the answer.
   */
  async health(): Promise<StoreHealth> {
    try {
      await this.getControl();
      return { status: 'ok' };
    } catch (error) {
      if (error instanceof StoreUnavailableError && THROTTLED.test(sdkErrorName(error.cause)))
        return { status: 'degraded', detail: 'the table is throttling requests' };
      return {
        status: 'unavailable',
        detail:
          error instanceof StoreUnavailableError ? 'the table did not answer' : 'the table refused the read',
      };
    }
  }

  async close(): Promise<void> {
    // The client belongs to whoever passed it in.
  }
}
