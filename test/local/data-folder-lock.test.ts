import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataFolderInUseError, LOCK_FILE, lockDataFolder } from '../../local/data-folder-lock.ts';
import {
  FAULTLINE_BIN,
  quickHealingConfig,
  startFaultlineUp,
  writeConfigFile,
} from '../helpers/faultline-up.ts';

/**
 * One `faultline up` per data folder (local/data-folder-lock.ts): a second start on the same folder
 * is refused with the first one's pid, and takes over neither its files nor its `url`; a lock left
 * by a process that is gone is taken over.
 */

const folder = mkdtempSync(join(tmpdir(), 'faultline-lock-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe("the data folder's lock", () => {
  it('refuses a second holder while the first lives, and is free again once given back', () => {
    const dataDir = mkdtempSync(join(folder, 'data-'));
    const unlock = lockDataFolder(dataDir);
    expect(readFileSync(join(dataDir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    expect(() => lockDataFolder(dataDir)).toThrow(DataFolderInUseError);
    expect(() => lockDataFolder(dataDir)).toThrow(
      `another faultline up (pid ${process.pid}) runs on the data folder`,
    );
    unlock();
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
    lockDataFolder(dataDir)();
  });

  it('takes over a lock whose process is gone (a crash, a SIGKILL)', () => {
    const dataDir = mkdtempSync(join(folder, 'data-'));
    // No process has this pid (above Linux's largest).
    writeFileSync(join(dataDir, LOCK_FILE), `${2 ** 22 + 11}\n`);
    const unlock = lockDataFolder(dataDir);
    expect(readFileSync(join(dataDir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    unlock();
  });

  it('makes a second faultline up on the same folder exit with the reason, leaving the first and its url alone', async () => {
    const dataDir = join(folder, 'plane');
    const configFile = writeConfigFile(
      join(folder, 'faultline.json'),
      quickHealingConfig({ maxPlansInFlight: 2, notify: { destinations: [] } }),
    );
    const first = await startFaultlineUp({ dataDir, configFile });
    try {
      const url = readFileSync(join(dataDir, 'url'), 'utf8');
      const second = spawn(FAULTLINE_BIN, ['up', '--port', '0', '--data', dataDir, '--config', configFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      second.stderr?.on('data', (chunk) => {
        stderr += chunk;
      });
      const code = await new Promise<number | null>((done) => second.once('exit', done));
      expect(code).toBe(1);
      expect(stderr).toContain(
        `faultline up: another faultline up (pid ${first.child.pid}) runs on the data folder`,
      );
      expect(readFileSync(join(dataDir, 'url'), 'utf8')).toBe(url);
      expect((await fetch(`${first.url}/v1/health`)).status).toBe(200);
    } finally {
      await first.stop();
    }
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  }, 60_000);
});
