import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PLAN_SIGNING_KEY_FILE } from '../../functions/adapters/signer/local-plan-signer.ts';
import { RuntimeConfig } from '../../local/config.ts';
import { DATA_FILES, startControlPlane } from '../../local/control-plane.ts';
import { LOCK_FILE } from '../../local/data-folder-lock.ts';
import { DataFolderIncompleteError } from '../../local/data-folder-start.ts';
import {
  FAULTLINE_BIN,
  type FaultlineUp,
  quickHealingConfig,
  startFaultlineUp,
  until,
  writeConfigFile,
} from '../helpers/faultline-up.ts';

/**
 * What a start makes of its data folder (local/data-folder-start.ts): a new folder is a first start,
 * announced loudly (a new plan-signing key and operator token, which agents must be given); a
 * folder holding the database without its key, or the key without its database, is refused with
 * what to do, and nothing is made in it.
 */

const folder = mkdtempSync(join(tmpdir(), 'faultline-start-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** Waits for the banner's last line, then stops it (a SIGTERM mid-banner would cut it short). */
const afterBanner = async (plane: FaultlineUp): Promise<void> => {
  await until('the banner', () => (plane.stdout().includes('try it:') ? true : undefined), 30);
  await plane.stop();
};

const config = RuntimeConfig.parse({ notify: { destinations: [] } });
const startIn = (dataDir: string) =>
  startControlPlane({ listen: '127.0.0.1', port: 0, dataDir, config, log: () => undefined });

/** Stops with the files closed, so the folder holds only what a stopped control plane leaves. */
const startedOnce = async (dataDir: string): Promise<void> => {
  const plane = await startIn(dataDir);
  await plane.stop();
};

describe('a start on its data folder', () => {
  it('makes the key and the operator token on a new folder and says it is new; the next start finds them', async () => {
    const dataDir = join(folder, 'new');
    const first = await startIn(dataDir);
    await first.stop();
    expect(first.dataFolder).toBe('new');
    expect(first.mintedOperatorToken).toBeDefined();
    expect(readFileSync(first.planPublicKeyFile, 'utf8')).toContain('BEGIN PUBLIC KEY');

    const second = await startIn(dataDir);
    await second.stop();
    expect(second.dataFolder).toBe('existing');
    expect(second.mintedOperatorToken).toBeUndefined();
    expect(second.planKeyFingerprint).toBe(first.planKeyFingerprint);
  });

  it('refuses a folder whose database lost its signing key, and makes no new key', async () => {
    const dataDir = join(folder, 'no-key');
    await startedOnce(dataDir);
    const key = join(dataDir, PLAN_SIGNING_KEY_FILE);
    renameSync(key, join(folder, 'kept-key.pem'));

    const refused = startIn(dataDir);
    await expect(refused).rejects.toThrow(DataFolderIncompleteError);
    await expect(refused).rejects.toThrow(
      `holds a database (${DATA_FILES.database}) but no plan-signing key (${PLAN_SIGNING_KEY_FILE})`,
    );
    expect(existsSync(key)).toBe(false);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);

    // With the key put back, it starts as before.
    renameSync(join(folder, 'kept-key.pem'), key);
    const plane = await startIn(dataDir);
    await plane.stop();
    expect(plane.dataFolder).toBe('existing');
  });

  it('refuses a folder whose signing key lost its database, and makes no new database', async () => {
    const dataDir = join(folder, 'no-database');
    await startedOnce(dataDir);
    const database = join(dataDir, DATA_FILES.database);
    rmSync(database);

    const refused = startIn(dataDir);
    await expect(refused).rejects.toThrow(
      `holds a plan-signing key (${PLAN_SIGNING_KEY_FILE}) but no database (${DATA_FILES.database})`,
    );
    expect(existsSync(database)).toBe(false);
  });

  it('faultline up says on stderr and in its banner that a new folder got a new key and token', async () => {
    const dataDir = join(folder, 'cli-new');
    const configFile = writeConfigFile(
      join(folder, 'faultline.json'),
      quickHealingConfig({ maxPlansInFlight: 2, notify: { destinations: [] } }),
    );
    const first = await startFaultlineUp({ dataDir, configFile });
    await afterBanner(first);
    expect(first.stderr()).toContain(
      'held no control plane, so this start made a new plan-signing key and a new operator token',
    );
    expect(first.stderr()).toContain(
      `Agents configured with another plan key refuse every plan until given ${join(dataDir, DATA_FILES.planPublicKey)}`,
    );
    expect(first.stdout()).toContain('NEW DATA FOLDER');

    const second = await startFaultlineUp({ dataDir, configFile });
    await afterBanner(second);
    expect(second.stderr()).not.toContain('held no control plane');
    expect(second.stdout()).not.toContain('NEW DATA FOLDER');
    expect(second.stdout()).toContain(`plan key: ${join(dataDir, DATA_FILES.planPublicKey)}`);
  }, 60_000);

  it('faultline up exits 1 with the reason on a folder whose database lost its key', async () => {
    const dataDir = join(folder, 'cli-no-key');
    await startedOnce(dataDir);
    rmSync(join(dataDir, PLAN_SIGNING_KEY_FILE));
    const child = spawn(FAULTLINE_BIN, ['up', '--port', '0', '--data', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    expect(code).toBe(1);
    expect(stderr).toContain(`faultline up: the data folder ${dataDir} holds a database`);
    expect(stderr).toContain('every agent configured with the old one would refuse every plan');
    expect(existsSync(join(dataDir, PLAN_SIGNING_KEY_FILE))).toBe(false);
  }, 60_000);
});
