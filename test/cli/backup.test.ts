import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { runBackup } from '../../cli/backup.ts';
import { RuntimeConfig } from '../../local/config.ts';
import { QUEUES, startControlPlane } from '../../local/control-plane.ts';

/**
 * `faultline backup <file>` while the control plane runs: the store into `<file>` and the queues
 * (with what waits in them) into `<file>.queues`, each a SQLite file that opens on its own.
 */

const folder = mkdtempSync(join(tmpdir(), 'faultline-backup-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

it('backs up the store and the queues of a running control plane, each to its own file', async () => {
  const data = join(folder, 'data');
  const plane = await startControlPlane({
    listen: '127.0.0.1',
    port: 0,
    dataDir: data,
    config: RuntimeConfig.parse({ notify: { destinations: [] } }),
    operatorToken: 'backup-test-operator-token',
    log: () => undefined,
  });
  try {
    const out: string[] = [];
    const file = join(folder, 'copy.db');
    const code = await runBackup([file, '--data', data], {
      stdout: (text) => out.push(text),
      stderr: (text) => out.push(text),
    });
    expect(code).toBe(0);
    expect(out.join('')).toContain(`to ${file}.queues`);
    const store = new Database(file, { readonly: true });
    expect(store.prepare('SELECT count(*) AS n FROM tokens').get()).toEqual({ n: 1 });
    store.close();
    const queues = new Database(`${file}.queues`, { readonly: true });
    const names = queues.prepare('SELECT name FROM work_queues ORDER BY name').all() as { name: string }[];
    expect(names.map((row) => row.name)).toContain(QUEUES.events);
    queues.close();
  } finally {
    await plane.stop();
  }
});
