import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteDeliveryLog } from '../../../functions/notify/sqlite-delivery-log.ts';
import { temporaryFolder } from '../../helpers/queue-files.ts';
import { describeDeliveryLogContract } from './delivery-log-contract.ts';

const folder = temporaryFolder('faultline-deliveries-');
const opened: SqliteDeliveryLog[] = [];
let files = 0;

afterAll(() => {
  for (const log of opened) log.close();
  folder.remove();
});

describeDeliveryLogContract('SQLite', () => {
  files += 1;
  const log = SqliteDeliveryLog.open(folder.file(`deliveries-${files}.sqlite`));
  opened.push(log);
  return log;
});

describe('SqliteDeliveryLog', () => {
  const key = { notificationId: 'ntf-1', incidentId: 'inc-1', destination: 'webhook', sequence: 2 };

  it('remembers what was delivered, and in which order, across a restart', async () => {
    const file = folder.file('restart.sqlite');
    const before = SqliteDeliveryLog.open(file);
    const claim = await before.claim(key, { now: 0, leaseMs: 1_000 });
    if (claim.status !== 'claimed') expect.fail('expected a claim');
    await before.markDelivered(key, { now: 1, token: claim.token });
    before.close();
    const after = SqliteDeliveryLog.open(file);
    opened.push(after);
    expect(await after.claim(key, { now: 2, leaseMs: 1_000 })).toEqual({ status: 'delivered' });
    expect(
      await after.claim({ ...key, notificationId: 'ntf-0', sequence: 1 }, { now: 2, leaseMs: 1_000 }),
    ).toEqual({ status: 'superseded', deliveredSequence: 2 });
  });

  it('still answers delivered for what a file from before lanes recorded, and nothing else', async () => {
    // The table as the previous release wrote it: one row per notification and destination.
    const file = folder.file('before-lanes.sqlite');
    const db = new Database(file);
    db.exec(`CREATE TABLE notify_deliveries (
      notification_id TEXT NOT NULL, destination TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('in-progress', 'delivered')), token TEXT,
      lease_until INTEGER NOT NULL, at INTEGER NOT NULL,
      PRIMARY KEY (notification_id, destination)) STRICT, WITHOUT ROWID`);
    db.prepare("INSERT INTO notify_deliveries VALUES ('ntf-1', 'webhook', 'delivered', NULL, 0, 1000)").run();
    db.close();
    const log = SqliteDeliveryLog.open(file);
    opened.push(log);
    expect(await log.claim(key, { now: 2_000, leaseMs: 1_000 })).toEqual({ status: 'delivered' });
    expect((await log.claim({ ...key, destination: 'slack' }, { now: 2_000, leaseMs: 1_000 })).status).toBe(
      'claimed',
    );
  });
});
