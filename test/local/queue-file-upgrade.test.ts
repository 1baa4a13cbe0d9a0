import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { SqliteQueueStore } from '../../functions/adapters/queue/sqlite-queue.ts';
import { LocalPlanSigner } from '../../functions/adapters/signer/local-plan-signer.ts';
import { RuntimeConfig } from '../../local/config.ts';
import { DATA_FILES, QUEUES, startControlPlane } from '../../local/control-plane.ts';

/**
 * A data folder from before the queues had their own file kept them in `faultline.db`: on start
 * their messages move to `queues.db`, none lost, and the old tables go.
 */

const folder = mkdtempSync(join(tmpdir(), 'faultline-upgrade-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

it('moves the messages an older data folder queued in the store file into the queues file', async () => {
  const data = join(folder, 'data');
  mkdirSync(data);
  const old = SqliteQueueStore.open(join(data, DATA_FILES.database));
  await old.queue(QUEUES.notifyDeadLetter).send({ body: '{"kept":true}' });
  old.close();
  // Such a folder had its plan-signing key beside the database (a start refuses one without it).
  await new LocalPlanSigner({ dataDir: data }).publicKeyPem();

  const plane = await startControlPlane({
    listen: '127.0.0.1',
    port: 0,
    dataDir: data,
    config: RuntimeConfig.parse({ notify: { destinations: [] } }),
    operatorToken: 'upgrade-test-operator-token',
    log: () => undefined,
  });
  await plane.stop();

  const store = new Database(join(data, DATA_FILES.database), { readonly: true });
  const tables = store
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'work_queue%'")
    .all();
  store.close();
  expect(tables).toEqual([]);
  const queues = SqliteQueueStore.open(join(data, DATA_FILES.queues));
  const [message] = await queues.queue(QUEUES.notifyDeadLetter).receive({ waitTimeSeconds: 0 });
  queues.close();
  expect(message?.body).toBe('{"kept":true}');
});
