import { DynamoDbStore } from '../../functions/adapters/store/dynamodb-store.ts';
import type { Dynalite } from './dynalite.ts';

/** A DynamoDB store on a fresh table of a running dynalite. */
export const dynamoStore = async (
  dynamo: Dynalite,
  options: { readonly clock?: () => number } = {},
): Promise<{ store: DynamoDbStore; tableName: string; cleanup: () => Promise<void> }> => {
  const tableName = await dynamo.createTable();
  const store = new DynamoDbStore({
    client: dynamo.client(),
    tableName,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  return { store, tableName, cleanup: () => store.close() };
};
