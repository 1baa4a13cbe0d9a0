import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { DynamoDbStore } from '../adapters/store/dynamodb-store.ts';
import type { Store } from '../adapters/store/port.ts';
import { SqliteStore } from '../adapters/store/sqlite-store.ts';
import {
  AWS_HTTP_TIMEOUTS,
  type AwsHttpTimeouts,
  afterColon,
  awsClientConfig,
  httpUrl,
  prefixed,
} from './environment.ts';

/**
 * The store of the functions that have one (api, correlate, sweep), from:
 * - `FAULTLINE_STORE`: `dynamodb:<table name>` (the cloud) or `sqlite:<path>` (one machine);
 * - `FAULTLINE_DYNAMODB_ENDPOINT`: optional, for DynamoDB Local or an emulator;
 * - `AWS_REGION`: set by Lambda.
 */
export const StoreEnv = z.object({
  FAULTLINE_STORE: prefixed(['dynamodb', 'sqlite'], 'dynamodb:<table> or sqlite:<path>'),
  FAULTLINE_DYNAMODB_ENDPOINT: httpUrl().optional(),
  AWS_REGION: z.string().min(1).optional(),
});

/** Where the store lives, and the region every client of one function shares. */
export interface StoreSettings {
  readonly store:
    | { readonly kind: 'dynamodb'; readonly table: string }
    | { readonly kind: 'sqlite'; readonly path: string };
  readonly dynamodbEndpoint: string | undefined;
  readonly region: string | undefined;
}

export const storeSettings = (parsed: z.infer<typeof StoreEnv>): StoreSettings => ({
  store: parsed.FAULTLINE_STORE.startsWith('dynamodb:')
    ? { kind: 'dynamodb', table: afterColon(parsed.FAULTLINE_STORE) }
    : { kind: 'sqlite', path: afterColon(parsed.FAULTLINE_STORE) },
  dynamodbEndpoint: parsed.FAULTLINE_DYNAMODB_ENDPOINT,
  region: parsed.AWS_REGION,
});

/**
 * A DynamoDB client in the function's region, or on `FAULTLINE_DYNAMODB_ENDPOINT` (an emulator),
 * with the timeouts every AWS client has on Lambda (environment.ts): the store of every function
 * and notify's delivery log use it, so a hung call fails its batch instead of holding it.
 */
export const dynamoDbClientOf = (
  settings: Pick<StoreSettings, 'dynamodbEndpoint' | 'region'>,
  timeouts: AwsHttpTimeouts = AWS_HTTP_TIMEOUTS,
): DynamoDBClient =>
  new DynamoDBClient({
    ...awsClientConfig(settings.region, timeouts),
    ...(settings.dynamodbEndpoint === undefined ? {} : { endpoint: settings.dynamodbEndpoint }),
  });

/** The store the settings name: DynamoDB in the cloud, or one SQLite file. */
export const storeFrom = (settings: StoreSettings, timeouts: AwsHttpTimeouts = AWS_HTTP_TIMEOUTS): Store => {
  const { store } = settings;
  if (store.kind === 'sqlite') return new SqliteStore({ path: store.path });
  return new DynamoDbStore({ client: dynamoDbClientOf(settings, timeouts), tableName: store.table });
};
