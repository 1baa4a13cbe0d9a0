import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../../../functions/adapters/errors.ts';
import { DynamoDbStore } from '../../../../functions/adapters/store/dynamodb-store.ts';
import { SqliteStore } from '../../../../functions/adapters/store/sqlite-store.ts';
import { DYNALITE_REGION, type Dynalite, startDynalite } from '../../../helpers/dynalite.ts';
import { dynamoStore } from '../../../helpers/store-dynamodb.ts';

/**
 * What each store says of itself to `GET /v1/health` (`Store.health`), and the SQLite store's
 * refusal to write to a file that is no longer at its path (issue #18: better-sqlite3 goes on
 * committing to an unlinked or replaced file, where no later start finds what it wrote).
 *
 * The unwritable file is made with `chattr +i`, which refuses writes to a file already open, even
 * to root (a `chmod` does not): these tests run as root on ext4 or xfs, as the development machine.
 */

const folders: string[] = [];
const stores: { close(): Promise<void> }[] = [];
const immutable: string[] = [];
afterEach(async () => {
  for (const file of immutable.splice(0)) execFileSync('chattr', ['-i', file]);
  for (const store of stores.splice(0)) await store.close();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

const openStore = (): { store: SqliteStore; file: string; folder: string } => {
  const folder = mkdtempSync(join(tmpdir(), 'faultline-health-'));
  folders.push(folder);
  const file = join(folder, 'faultline.db');
  const store = new SqliteStore({ path: file });
  stores.push(store);
  return { store, file, folder };
};

const token = (label: string) => ({
  hash: `hash-${label}`,
  kind: 'operator' as const,
  label,
  createdAt: '2026-12-05T01:00:00.000Z',
});

describe('the SQLite store’s health', () => {
  it('is ok on a file it opened and writes', async () => {
    const { store } = openStore();
    await store.putToken(token('first'));
    expect(await store.health()).toEqual({ status: 'ok' });
  });

  it('says the file was deleted, and refuses to write to it', async () => {
    const { store, file } = openStore();
    unlinkSync(file);
    expect(await store.health()).toEqual({ status: 'unavailable', detail: 'the database file was deleted' });
    const write = store.putToken(token('orphaned'));
    await expect(write).rejects.toThrow(StoreUnavailableError);
    await expect(write).rejects.toThrow('was deleted while this process had it open');
  });

  it('says the file was replaced, and rolls back a unit whose file was replaced while it ran', async () => {
    const { store, file, folder } = openStore();
    copyFileSync(file, join(folder, 'other.db'));
    const unit = store.unit(async () => {
      await store.putToken(token('in-the-unit'));
      renameSync(join(folder, 'other.db'), file);
    });
    await expect(unit).rejects.toThrow('was replaced while this process had it open');
    expect(await store.health()).toEqual({ status: 'unavailable', detail: 'the database file was replaced' });
    // Its own connection still reads the file it opened: the unit left nothing there.
    expect(await store.getToken('hash-in-the-unit')).toBeUndefined();
  });

  it('says the file is not writable, then what the last write met, until a write commits', async () => {
    const { store, file } = openStore();
    await store.putToken(token('before'));
    for (const part of [file, `${file}-wal`]) {
      execFileSync('chattr', ['+i', part]);
      immutable.push(part);
    }
    expect(await store.health()).toEqual({
      status: 'unavailable',
      detail: 'the database file is not writable',
    });
    await expect(store.putToken(token('refused'))).rejects.toThrow();

    for (const part of immutable.splice(0)) execFileSync('chattr', ['-i', part]);
    expect(await store.health()).toEqual({
      status: 'unavailable',
      detail: 'the last write failed: the disk refused a write',
    });
    await store.putToken(token('after'));
    expect(await store.health()).toEqual({ status: 'ok' });
  });

  it('is ok in memory, where no file can go', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    stores.push(store);
    expect(await store.health()).toEqual({ status: 'ok' });
  });
});

describe('the DynamoDB store’s health', () => {
  let dynamo: Dynalite;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo.stop();
  });

  it('is ok when the table answers a read', async () => {
    const { store } = await dynamoStore(dynamo);
    expect(await store.health()).toEqual({ status: 'ok' });
  });

  it('is unavailable, without the SDK’s words, when the table does not exist', async () => {
    const store = new DynamoDbStore({ client: dynamo.client(), tableName: 'faultline-no-such-table' });
    expect(await store.health()).toEqual({ status: 'unavailable', detail: 'the table refused the read' });
  });

  it('is unavailable when DynamoDB does not answer', async () => {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    const client = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: DYNALITE_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    try {
      const store = new DynamoDbStore({ client, tableName: 'faultline-unreachable' });
      expect(await store.health()).toEqual({ status: 'unavailable', detail: 'the table did not answer' });
    } finally {
      client.destroy();
    }
  });
});
