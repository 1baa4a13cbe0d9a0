import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStore } from '../../../../functions/adapters/store/dynamodb-store.ts';
import type { DecisionRecord, SliceWrite } from '../../../../functions/adapters/store/port.ts';
import { freshHost } from '../../../../functions/core/index.ts';
import { type Dynalite, startDynalite } from '../../../helpers/dynalite.ts';

/**
 * The outbox's items on DynamoDB (functions/adapters/store/dynamodb/outbox.ts): a decision's slice
 * writes and its marks are items of their own in its partition, so moving or marking a record
 * never rewrites its slices, and a wave's record is not rewritten once per plan.
 */

let dynamo: Dynalite;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

const T = (seconds: number): string => new Date(Date.UTC(2026, 10, 22, 3, 0, seconds)).toISOString();
const hostWrite = (lastSeq: number): SliceWrite => ({
  ref: { kind: 'host', id: 'h1' },
  expected: 0,
  value: { ...freshHost('h1'), lastSeq },
  applied: ['dec-1'],
});
const record = (overrides: Partial<DecisionRecord> = {}): DecisionRecord => ({
  id: 'dec-1',
  attempt: 1,
  status: 'pending',
  at: T(5),
  createdAt: 1_000,
  about: 'a test decision',
  writes: [hostWrite(1)],
  effects: [
    { type: 'timeline', entry: { id: 'tln-1', incidentId: 'inc-1', at: T(5), text: 'x' } },
    { type: 'timeline', entry: { id: 'tln-2', incidentId: 'inc-1', at: T(6), text: 'y' } },
  ],
  done: [],
  ...overrides,
});

const setUp = async () => {
  const tableName = await dynamo.createTable();
  const store = new DynamoDbStore({ client: dynamo.client(), tableName, clock: () => 1_000 });
  const documents = DynamoDBDocumentClient.from(dynamo.client());
  const partition = async (): Promise<Record<string, unknown>[]> =>
    (
      await documents.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': 'DECISION#dec-1' },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];
  const recordItem = async (): Promise<Record<string, unknown> | undefined> =>
    (
      await documents.send(
        new GetCommand({
          TableName: tableName,
          Key: { pk: 'DECISION#dec-1', sk: 'DECISION' },
          ConsistentRead: true,
        }),
      )
    ).Item;
  return { tableName, store, documents, partition, recordItem };
};

describe('the outbox on DynamoDB', () => {
  it("keeps a decision's slice writes and its marks in items of their own, beside the record", async () => {
    const { store, partition, recordItem } = await setUp();
    expect(await store.putDecision(record())).toBe('ok');
    const written = await recordItem();
    expect(Object.keys(written ?? {})).not.toContain('writes');
    const writes = (await partition()).filter((item) => String(item.sk).startsWith('WRITES#1#'));
    expect(writes).toHaveLength(1);
    expect(written?.writesAt).toBe(writes[0]?.sk);
    await store.markEffectDone('dec-1', 1, 1);
    await store.markEffectDone('dec-1', 1, 1);
    await store.markEffectDone('dec-1', 2, 0);
    // Marking wrote items of its own; the record is as it was.
    expect(await recordItem()).toEqual(written);
    expect((await partition()).map((item) => item.sk).filter((sk) => String(sk).startsWith('DONE#'))).toEqual(
      ['DONE#1#1', 'DONE#2#0'],
    );
    expect(await store.getDecision('dec-1')).toEqual({ ...record(), done: [1] });
  });

  it("never lets a put that loses replace the winner's writes", async () => {
    const { store } = await setUp();
    expect(await store.putDecision(record())).toBe('ok');
    expect(await store.putDecision(record({ writes: [hostWrite(9)] }))).toBe('conflict');
    expect((await store.getDecision('dec-1'))?.writes).toEqual([hostWrite(1)]);
    expect(await store.setDecisionStatus('dec-1', 1, 'pending', 'aborted')).toBe('ok');
    expect(await store.putDecision(record({ attempt: 2, writes: [hostWrite(2)] }), 1)).toBe('ok');
    expect(await store.getDecision('dec-1')).toEqual(record({ attempt: 2, writes: [hostWrite(2)] }));
  });

  it('reads a record written before writes and marks had items of their own', async () => {
    const { tableName, store, documents } = await setUp();
    const older = record({ status: 'committed' });
    await documents.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          pk: 'DECISION#dec-1',
          sk: 'DECISION',
          id: older.id,
          attempt: older.attempt,
          status: older.status,
          at: older.at,
          createdAt: older.createdAt,
          about: older.about,
          body: JSON.stringify({ writes: older.writes, effects: older.effects }),
          done: { '0': true },
        },
      }),
    );
    expect(await store.getDecision('dec-1')).toEqual({ ...older, done: [0] });
    await store.markEffectDone('dec-1', 1, 1);
    expect((await store.getDecision('dec-1'))?.done).toEqual([0, 1]);
  });
});
