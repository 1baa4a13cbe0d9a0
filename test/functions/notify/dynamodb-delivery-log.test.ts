import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbDeliveryLog } from '../../../functions/notify/dynamodb-delivery-log.ts';
import { DYNALITE_REGION, type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { describeDeliveryLogContract } from './delivery-log-contract.ts';
import { createDeliveryLogTable } from './delivery-log-table.ts';

let dynamo: Dynalite;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(() => dynamo.stop());

const freshLog = async (): Promise<{ log: DynamoDbDeliveryLog; tableName: string }> => {
  const client = dynamo.client();
  const tableName = await createDeliveryLogTable(client);
  return { log: new DynamoDbDeliveryLog(client, tableName), tableName };
};

describeDeliveryLogContract('DynamoDB (dynalite)', async () => (await freshLog()).log);

describe('DynamoDbDeliveryLog', () => {
  const key = { notificationId: 'ntf-1', incidentId: 'inc-1', destination: 'slack', sequence: 1 };
  const now = Date.parse('2025-03-01T12:00:00.000Z');

  it('hands a lane to exactly one of many consumers claiming it at once (conditional writes)', async () => {
    const { tableName } = await freshLog();
    // Each consumer its own client and log, as separate Lambda instances are.
    const consumers = Array.from({ length: 8 }, () => new DynamoDbDeliveryLog(dynamo.client(), tableName));
    const claims = await Promise.all(
      consumers.map((log, index) =>
        log.claim({ ...key, notificationId: `ntf-${index}` }, { now, leaseMs: 30_000 }),
      ),
    );
    expect(claims.filter((claim) => claim.status === 'claimed')).toHaveLength(1);
    expect(claims.filter((claim) => claim.status !== 'claimed')).toEqual(
      Array.from({ length: 7 }, () => ({ status: 'in-progress', reason: 'held' })),
    );
  });

  it('treats an item whose expiresAt has passed as absent, though nothing deleted it (dynalite has no TTL)', async () => {
    const client = dynamo.client();
    const tableName = await createDeliveryLogTable(client);
    // What an old lane looks like once its TTL is due: delivered, and claimed by a lease long over.
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          pk: { S: 'lane#slack#inc-1' },
          deliveredSequence: { N: '5' },
          delivered: { L: [{ S: 'ntf-1' }] },
          at: { N: String(now - 40 * 86_400_000) },
          expiresAt: { N: String(Math.floor(now / 1_000) - 1) },
          revision: { N: '3' },
        },
      }),
    );
    const log = new DynamoDbDeliveryLog(client, tableName);
    expect((await log.claim(key, { now, leaseMs: 30_000 })).status).toBe('claimed');
  });

  it('says the table is refused for good when it does not exist, and unavailable when DynamoDB does not answer', async () => {
    const missing = new DynamoDbDeliveryLog(dynamo.client(), 'no-such-table');
    await expect(missing.claim(key, { now, leaseMs: 30_000 })).rejects.toMatchObject({
      code: 'delivery-log-rejected',
      retryable: false,
    });
    const nowhere = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    try {
      await expect(
        new DynamoDbDeliveryLog(nowhere, 'faultline-deliveries').claim(key, { now, leaseMs: 30_000 }),
      ).rejects.toMatchObject({ code: 'delivery-log-unavailable', retryable: true });
    } finally {
      nowhere.destroy();
    }
  });

  it('has its test table ACTIVE before a test reads it, however long dynalite keeps it CREATING', async () => {
    // dynalite as it is by default (500 ms in CREATING), where the shared one makes tables at once:
    // under load, the shared one's timer can be late just the same.
    const slowToCreate = (createRequire(import.meta.url)('dynalite') as (options: object) => Server)({
      createTableMs: 500,
    });
    await new Promise<void>((listening) => slowToCreate.listen(0, '127.0.0.1', () => listening()));
    const client = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${(slowToCreate.address() as AddressInfo).port}`,
      region: DYNALITE_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    try {
      const log = new DynamoDbDeliveryLog(client, await createDeliveryLogTable(client));
      expect((await log.claim(key, { now, leaseMs: 30_000 })).status).toBe('claimed');
    } finally {
      client.destroy();
      slowToCreate.closeAllConnections();
      await new Promise((closed) => slowToCreate.close(closed));
    }
  });
});
