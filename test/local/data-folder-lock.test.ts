import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  currentBootId,
  DataFolderInUseError,
  LOCK_FILE,
  lockDataFolder,
  processStartTime,
  takeOverStaleLock,
} from '../../local/data-folder-lock.ts';
import {
  FAULTLINE_BIN,
  quickHealingConfig,
  startFaultlineUp,
  writeConfigFile,
} from '../helpers/faultline-up.ts';

/**
 * One `faultline up` per data folder (local/data-folder-lock.ts): a second start on the same folder
 * is refused with the first one's pid, and takes over neither its files nor its `url`; a lock left
 * by a process that is gone is taken over, and so is one whose pid now names another process (pid
 * reuse: a container's pid 1 restarted, a reboot), by exactly one of two starts that race for it.
 */

const folder = mkdtempSync(join(tmpdir(), 'faultline-lock-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const lockIn = (dataDir: string): string => join(dataDir, LOCK_FILE);
const holderPid = (dataDir: string): number =>
  (JSON.parse(readFileSync(lockIn(dataDir), 'utf8')) as { pid: number }).pid;
const writeLock = (dataDir: string, holder: Record<string, unknown>): string => {
  const text = `${JSON.stringify(holder)}\n`;
  writeFileSync(lockIn(dataDir), text);
  return text;
};

/** A process that lives while the test runs and is not this one: the test runner's parent. */
const otherLivePid = process.ppid;

describe("the data folder's lock", () => {
  it('refuses a second holder while the first lives, and is free again once given back', () => {
    const dataDir = mkdtempSync(join(folder, 'data-'));
    const unlock = lockDataFolder(dataDir);
    expect(holderPid(dataDir)).toBe(process.pid);
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
    expect(holderPid(dataDir)).toBe(process.pid);
    unlock();
  });

  it('records the boot and the start time of its holder (where /proc tells)', () => {
    const dataDir = mkdtempSync(join(folder, 'data-'));
    const unlock = lockDataFolder(dataDir);
    const holder = JSON.parse(readFileSync(lockIn(dataDir), 'utf8')) as Record<string, unknown>;
    expect(holder).toMatchObject({
      pid: process.pid,
      bootId: currentBootId(),
      startTime: processStartTime(process.pid),
    });
    unlock();
  });

  it('refuses a lock whose pid lives and is the same process (same boot, same start time)', () => {
    const dataDir = mkdtempSync(join(folder, 'data-'));
    writeLock(dataDir, {
      pid: otherLivePid,
      bootId: currentBootId(),
      startTime: processStartTime(otherLivePid),
      token: 'live',
    });
    expect(() => lockDataFolder(dataDir)).toThrow(`another faultline up (pid ${otherLivePid})`);
  });

  it('takes over a lock whose pid lives but names a process started at another time (pid reuse)', () => {
    const dataDir = mkdtempSync(join(folder, 'data-'));
    expect(processStartTime(otherLivePid)).toMatch(/^\d+$/);
    writeLock(dataDir, { pid: otherLivePid, bootId: currentBootId(), startTime: '1', token: 'gone' });
    const unlock = lockDataFolder(dataDir);
    expect(holderPid(dataDir)).toBe(process.pid);
    unlock();
  });

  it('takes over a lock whose pid lives but was taken in another boot', () => {
    const dataDir = mkdtempSync(join(folder, 'data-'));
    expect(currentBootId()).toBeDefined();
    writeLock(dataDir, {
      pid: otherLivePid,
      bootId: 'an-earlier-boot',
      startTime: processStartTime(otherLivePid),
      token: 'gone',
    });
    const unlock = lockDataFolder(dataDir);
    expect(holderPid(dataDir)).toBe(process.pid);
    unlock();
  });

  it("takes over a lock naming this process's own pid that it does not hold (a container's pid 1 restarted)", () => {
    const dataDir = mkdtempSync(join(folder, 'data-'));
    // What a SIGKILLed pid 1 leaves for the next pid 1; the bare pid is the older versions' form.
    writeFileSync(lockIn(dataDir), `${process.pid}\n`);
    const unlock = lockDataFolder(dataDir);
    expect(holderPid(dataDir)).toBe(process.pid);
    expect(() => lockDataFolder(dataDir)).toThrow(DataFolderInUseError);
    unlock();
    expect(existsSync(lockIn(dataDir))).toBe(false);
  });

  it('lets exactly one of two starts that judged the same lock stale take it over', () => {
    const dataDir = mkdtempSync(join(folder, 'data-'));
    const stale = writeLock(dataDir, { pid: 2 ** 22 + 11, token: 'stale' });
    // Both read the stale lock before either acts: the slower must not remove the faster's lock.
    const first = takeOverStaleLock(lockIn(dataDir), stale);
    const second = takeOverStaleLock(lockIn(dataDir), stale);
    expect(first).toBeDefined();
    expect(second).toBeUndefined();
    const held = readFileSync(lockIn(dataDir), 'utf8');
    expect(held).not.toBe(stale);
    expect(holderPid(dataDir)).toBe(process.pid);
    expect(readdirSync(dataDir)).toEqual([LOCK_FILE]);
    first?.();
    expect(existsSync(lockIn(dataDir))).toBe(false);
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
