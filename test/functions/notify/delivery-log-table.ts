import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * The delivery log's table as the CDK app makes it (functions/notify/dynamodb-delivery-log.ts): a
 * partition key `pk` (string) and nothing else; on-demand. Its TTL on `expiresAt` is not set here:
 * dynalite has no `UpdateTimeToLive`, and the adapter enforces expiry itself.
 *
 * Answers once the table is `ACTIVE`, as the store's `createStoreTable` does: a new table is
 * `CREATING` first (for a timer's turn in dynalite, longer under load), and until then every read
 * of it is a `ResourceNotFoundException`.
 */
let tables = 0;
/** How long between two looks at a table being created. */
const ACTIVE_POLL_MS = 20;

export const createDeliveryLogTable = async (client: DynamoDBClient): Promise<string> => {
  tables += 1;
  const tableName = `faultline-deliveries-${process.pid}-${tables}`;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  for (;;) {
    const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (described.Table?.TableStatus === 'ACTIVE') return tableName;
    await new Promise((resolve) => setTimeout(resolve, ACTIVE_POLL_MS));
  }
};
