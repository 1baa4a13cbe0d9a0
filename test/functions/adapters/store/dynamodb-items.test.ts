import { DeleteItemCommand, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStore } from '../../../../functions/adapters/store/dynamodb-store.ts';
import type { DecisionRecord, SliceRef, SliceWrite } from '../../../../functions/adapters/store/port.ts';
import { freshHost } from '../../../../functions/core/index.ts';
import { type Dynalite, startDynalite } from '../../../helpers/dynalite.ts';
import { openDomain } from './contract.ts';

/**
 * The DynamoDB store's own items, on dynalite, beyond what the store contract can see:
 *
 * - the outbox (functions/adapters/store/dynamodb/outbox.ts): a decision's slice writes and its
 *   marks are items of their own in its partition, so moving or marking a record never rewrites
 *   its slices, and a wave's record is not rewritten once per plan;
 * - a table written before the index layout changed (dynamodb/index-layout.ts): wakes and
 *   unfinished decision records in `gsi1`, open domains in `gsi2`. The items are written by
 *   today's store, then their index attributes put back where the older code put them, as such a
 *   table holds them; the layout mark is deleted. Today's store must still see all of it.
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

describe('JSON payloads on DynamoDB', () => {
  it('stores a payload over 1 KB gzipped, and reads one stored as text before, until it is written again', async () => {
    const { tableName, store, documents } = await setUp();
    const key = { pk: 'HOST#h1', sk: 'SLICE' };
    const item = async () =>
      (await documents.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item ??
      {};
    // A host slice of a few arrays: about 2 KB of JSON, two write units as text.
    const arrays = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [
        `md${i}`,
        {
          array: `md${i}`,
          members: [`sda${i}`, `sdb${i}`],
          failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios2',
        },
      ]),
    );
    const value = { ...freshHost('h1'), arrays } as never;
    const text = JSON.stringify(value);
    expect(Buffer.byteLength(text)).toBeGreaterThan(1024);
    await documents.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...key, payload: text, version: 1, applied: ['dec-1'] },
      }),
    );
    expect(await store.getSlices([{ kind: 'host', id: 'h1' }])).toMatchObject([{ version: 1, value }]);

    expect(
      await store.putSlice({ ref: { kind: 'host', id: 'h1' }, expected: 1, value, applied: ['dec-2'] }),
    ).toBe('ok');
    const written = await item();
    expect(written.payload).toBeUndefined();
    expect(written.payloadGz).toBeInstanceOf(Uint8Array);
    expect((written.payloadGz as Uint8Array).byteLength).toBeLessThan(Buffer.byteLength(text) / 2);
    expect(await store.getSlices([{ kind: 'host', id: 'h1' }])).toMatchObject([{ version: 2, value }]);
  });
});

const D1: SliceRef = { kind: 'domain', id: 'd1' };
const H1: SliceRef = { kind: 'host', id: 'h1' };
const recordBefore: DecisionRecord = {
  id: 'dec-before',
  attempt: 1,
  status: 'committed',
  at: T(5),
  createdAt: 1_000,
  about: 'decided before the upgrade',
  writes: [],
  effects: [{ type: 'timeline', entry: { id: 'tln-1', incidentId: 'inc-1', at: T(5), text: 'x' } }],
  done: [],
};

/** Moves an item's index attributes `from` → `to` (the older layout's place for them). */
const moveBack = async (tableName: string, key: { pk: string; sk: string }, from: string, to: string) => {
  await dynamo.client().send(
    new UpdateItemCommand({
      TableName: tableName,
      Key: { pk: { S: key.pk }, sk: { S: key.sk } },
      UpdateExpression: `SET ${to}pk = ${from}pk, ${to}sk = ${from}sk REMOVE ${from}pk, ${from}sk`,
    }),
  );
};

const attributes = async (tableName: string, key: { pk: string; sk: string }): Promise<string[]> => {
  const answer = await dynamo
    .client()
    .send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }));
  return Object.keys(answer.Item ?? {})
    .filter((name) => name.startsWith('gsi'))
    .sort();
};

describe('the DynamoDB store on a table of the older index layout', () => {
  it('moves the wakes, open domains and unfinished records to the keys-only indexes before it reads them', async () => {
    const tableName = await dynamo.createTable();
    const before = new DynamoDbStore({ client: dynamo.client(), tableName, clock: () => 1_000 });
    const waking = { ...openDomain('d1'), wakeAt: T(30) };
    expect(await before.putSlice({ ref: D1, expected: 0, value: waking, applied: ['a'] })).toBe('ok');
    expect(
      await before.putSlice({
        ref: H1,
        expected: 0,
        value: { ...freshHost('h1'), wakeAt: T(40) },
        applied: ['b'],
      }),
    ).toBe('ok');
    expect(await before.putDecision(recordBefore)).toBe('ok');
    const domainKey = { pk: 'DOMAIN#d1', sk: 'SLICE' };
    const hostKey = { pk: 'HOST#h1', sk: 'SLICE' };
    const decisionKey = { pk: 'DECISION#dec-before', sk: 'DECISION' };
    // As the older code left them: wakes and unfinished records in gsi1, the open domain in gsi2.
    await moveBack(tableName, domainKey, 'gsi5', 'gsi1');
    await moveBack(tableName, domainKey, 'gsi4', 'gsi2');
    await moveBack(tableName, hostKey, 'gsi5', 'gsi1');
    await moveBack(tableName, decisionKey, 'gsi4', 'gsi1');
    await dynamo.client().send(
      new DeleteItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'META#index-layout' }, sk: { S: 'META' } },
      }),
    );
    expect(await attributes(tableName, domainKey)).toEqual(['gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk']);

    const after = new DynamoDbStore({ client: dynamo.client(), tableName, clock: () => 2_000 });
    expect(await after.dueWakes(T(60), 10)).toEqual([
      { kind: 'domain', id: 'd1', at: T(30) },
      { kind: 'host', id: 'h1', at: T(40) },
    ]);
    expect(await after.openDomains()).toEqual(['d1']);
    expect((await after.unfinishedDecisions(5_000, 10)).map((found) => found.id)).toEqual(['dec-before']);
    expect(await attributes(tableName, domainKey)).toEqual(['gsi4pk', 'gsi4sk', 'gsi5pk', 'gsi5sk']);
    expect(await attributes(tableName, hostKey)).toEqual(['gsi4pk', 'gsi4sk', 'gsi5pk', 'gsi5sk']);
    expect(await attributes(tableName, decisionKey)).toEqual(['gsi4pk', 'gsi4sk']);
  });

  it('drops the older entries of what it writes, so nothing stays listed where the older code looked', async () => {
    const tableName = await dynamo.createTable();
    const store = new DynamoDbStore({ client: dynamo.client(), tableName, clock: () => 1_000 });
    expect(
      await store.putSlice({
        ref: D1,
        expected: 0,
        value: { ...openDomain('d1'), wakeAt: T(30) },
        applied: [],
      }),
    ).toBe('ok');
    expect(await store.putDecision(recordBefore)).toBe('ok');
    const domainKey = { pk: 'DOMAIN#d1', sk: 'SLICE' };
    const decisionKey = { pk: 'DECISION#dec-before', sk: 'DECISION' };
    // Written by the older code while the newer one ran elsewhere (a rollout): the layout mark is already there.
    expect(await store.dueWakes(T(60), 10)).toHaveLength(1);
    await moveBack(tableName, domainKey, 'gsi5', 'gsi1');
    await moveBack(tableName, domainKey, 'gsi4', 'gsi2');
    await moveBack(tableName, decisionKey, 'gsi4', 'gsi1');
    expect(await store.putSlice({ ref: D1, expected: 1, value: openDomain('d1'), applied: [] })).toBe('ok');
    expect(await store.setDecisionStatus('dec-before', 1, 'committed', 'done')).toBe('ok');
    expect(await attributes(tableName, domainKey)).toEqual(['gsi4pk', 'gsi4sk']);
    expect(await attributes(tableName, decisionKey)).toEqual([]);
  });
});
