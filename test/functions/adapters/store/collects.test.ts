import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../../functions/adapters/store/sqlite-store.ts';
import { type Dynalite, startDynalite } from '../../../helpers/dynalite.ts';
import { dynamoStore } from '../../../helpers/store-dynamodb.ts';
import { tempSqliteStore } from '../../../helpers/store-sqlite.ts';
import { collectStoreContract } from './collect-contract.ts';

let dynamo: Dynalite;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

collectStoreContract('SQLite (a temporary file)', async () => tempSqliteStore());
collectStoreContract('DynamoDB (dynalite on loopback)', () => dynamoStore(dynamo));

describe('the SQLite store, for the collect route', () => {
  it('adds the lines signature column to a file made before it, keeping its plans', async () => {
    const { store, path, cleanup } = await tempSqliteStore();
    await store.close();
    const db = new Database(path);
    db.exec('DROP TABLE plans');
    db.exec(
      `CREATE TABLE plans (id TEXT PRIMARY KEY, host_id TEXT NOT NULL, issued_at TEXT, expires_at TEXT, body TEXT,
        revoked INTEGER NOT NULL DEFAULT 0, revoked_at TEXT) WITHOUT ROWID`,
    );
    db.prepare('INSERT INTO plans (id, host_id, issued_at, expires_at, body) VALUES (?, ?, ?, ?, ?)').run(
      'pln-old',
      'ldg1',
      '2026-11-22T03:00:00.000Z',
      '2026-11-22T03:15:00.000Z',
      JSON.stringify({ id: 'pln-old', hostId: 'ldg1' }),
    );
    db.close();
    const reopened = new SqliteStore({ path });
    expect(await reopened.hostPlans('ldg1', '2026-11-22T03:01:00.000Z')).toEqual([
      { plan: { id: 'pln-old', hostId: 'ldg1' } },
    ]);
    await reopened.close();
    await cleanup();
  });

  it('forgets a host whose last collect is past its retention', async () => {
    const { store, cleanup } = await tempSqliteStore();
    const record = (hostId: string, storedAt: string) => ({
      hostId,
      bootId: 'b',
      seq: 1,
      storedAt,
      body: {},
    });
    await store.putCollect(record('gone', '2025-01-01T00:00:00.000Z'), undefined);
    await store.putCollect(record('here', '2026-11-01T00:00:00.000Z'), undefined);
    expect(await store.purgeExpired(Date.parse('2026-11-22T00:00:00Z'))).toBe(1);
    expect(await store.getCollect('gone')).toBeUndefined();
    expect(await store.getCollect('here')).toBeDefined();
    await cleanup();
  });
});
