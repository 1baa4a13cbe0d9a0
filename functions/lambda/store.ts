import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { DynamoDbStore } from '../adapters/store/dynamodb-store.ts';
import type { Store } from '../adapters/store/port.ts';
import { SqliteStore } from '../adapters/store/sqlite-store.ts';
import { afterColon, httpUrl, prefixed, regionOf } from './environment.ts';

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

/** The store the settings name: DynamoDB in the cloud, or one SQLite file. */
export const storeFrom = (settings: StoreSettings): Store => {
  const { store, dynamodbEndpoint, region } = settings;
  if (store.kind === 'sqlite') return new SqliteStore({ path: store.path });
  return new DynamoDbStore({
    client: new DynamoDBClient({
      ...regionOf(region),
      ...(dynamodbEndpoint === undefined ? {} : { endpoint: dynamodbEndpoint }),
    }),
    tableName: store.table,
  });
};
