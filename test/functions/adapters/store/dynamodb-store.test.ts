import { afterAll, beforeAll } from 'vitest';
import { type Dynalite, startDynalite } from '../../../helpers/dynalite.ts';
import { dynamoStore } from '../../../helpers/store-dynamodb.ts';
import { storeContract } from './contract.ts';

let dynamo: Dynalite;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

storeContract('DynamoDB (dynalite on loopback)', () => dynamoStore(dynamo));
