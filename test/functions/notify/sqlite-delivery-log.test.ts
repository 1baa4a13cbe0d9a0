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
  it('remembers what was delivered across a restart', async () => {
    const file = folder.file('restart.sqlite');
    const key = { notificationId: 'ntf-1', destination: 'webhook' };
    const before = SqliteDeliveryLog.open(file);
    await before.claim(key, { now: 0, leaseMs: 1_000 });
    await before.markDelivered(key, { now: 1 });
    before.close();
    const after = SqliteDeliveryLog.open(file);
    opened.push(after);
    expect(await after.claim(key, { now: 2, leaseMs: 1_000 })).toEqual({ status: 'delivered' });
  });
});
