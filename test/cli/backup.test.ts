import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../cli/backup.ts';
import { PLAN_SIGNING_KEY_FILE } from '../../functions/adapters/signer/local-plan-signer.ts';
import { RuntimeConfig } from '../../local/config.ts';
import { DATA_FILES, QUEUES, startControlPlane } from '../../local/control-plane.ts';

/**
 * `faultline backup <file>` while the control plane runs: the store into `<file>` and the queues
 * (with what waits in them) into `<file>.queues`, each a SQLite file that opens on its own, and the
 * plan-signing key into `<file>.key` (mode 0600), without which no start accepts the restored
 * database. Restored into a new folder, the files make the same control plane: same key, same tokens.
 */

const folder = mkdtempSync(join(tmpdir(), 'faultline-backup-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const config = RuntimeConfig.parse({ notify: { destinations: [] } });
const startIn = (dataDir: string) =>
  startControlPlane({
    listen: '127.0.0.1',
    port: 0,
    dataDir,
    config,
    operatorToken: 'backup-test-operator-token',
    log: () => undefined,
  });

const backUp = async (file: string, dataDir: string): Promise<{ code: number; out: string }> => {
  const out: string[] = [];
  const code = await runBackup([file, '--data', dataDir], {
    stdout: (text) => out.push(text),
    stderr: (text) => out.push(text),
  });
  return { code, out: out.join('') };
};

describe('faultline backup', () => {
  it('backs up the store and the queues of a running control plane, each to its own file', async () => {
    const data = join(folder, 'data');
    const plane = await startIn(data);
    try {
      const file = join(folder, 'copy.db');
      const { code, out } = await backUp(file, data);
      expect(code).toBe(0);
      expect(out).toContain(`to ${file}.queues`);
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

  it('backs up the signing key too, so a restore into a new folder starts as the same control plane', async () => {
    const data = join(folder, 'original');
    const original = await startIn(data);
    const file = join(folder, 'full.db');
    let backup: { code: number; out: string };
    try {
      backup = await backUp(file, data);
    } finally {
      await original.stop();
    }
    expect(backup.code).toBe(0);
    expect(backup.out).toContain(`to ${file}.key`);
    expect(backup.out).toContain(`${file}.key -> ${join(data, PLAN_SIGNING_KEY_FILE)}`);
    expect(backup.out).toContain(`${file}.queues -> ${join(data, DATA_FILES.queues)}`);
    expect(backup.out).toContain(`${file} -> ${join(data, DATA_FILES.database)}`);
    expect(statSync(`${file}.key`).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}.operator-token`).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${file}.key`, 'utf8')).toBe(readFileSync(join(data, PLAN_SIGNING_KEY_FILE), 'utf8'));

    // The restore the output describes, into a folder that never held a control plane.
    const restored = join(folder, 'restored');
    mkdirSync(restored, { mode: 0o700 });
    copyFileSync(file, join(restored, DATA_FILES.database));
    copyFileSync(`${file}.queues`, join(restored, DATA_FILES.queues));
    copyFileSync(`${file}.key`, join(restored, PLAN_SIGNING_KEY_FILE));
    const plane = await startIn(restored);
    await plane.stop();
    expect(plane.dataFolder).toBe('existing');
    expect(plane.mintedOperatorToken).toBeUndefined();
    expect(plane.planKeyFingerprint).toBe(original.planKeyFingerprint);
    expect(readFileSync(plane.planPublicKeyFile, 'utf8')).toBe(
      readFileSync(original.planPublicKeyFile, 'utf8'),
    );
  });

  it('refuses, copying nothing, a data folder whose signing key is missing', async () => {
    const data = join(folder, 'keyless');
    const plane = await startIn(data);
    await plane.stop();
    rmSync(join(data, PLAN_SIGNING_KEY_FILE));
    const file = join(folder, 'keyless.db');
    const { code, out } = await backUp(file, data);
    expect(code).toBe(1);
    expect(out).toContain(`no plan-signing key at ${join(data, PLAN_SIGNING_KEY_FILE)}`);
    expect(() => statSync(file)).toThrow();
  });
});
