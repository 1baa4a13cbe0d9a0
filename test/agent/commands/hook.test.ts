import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { handleHook, parseHookArguments, run } from '../../../agent/commands/hook.ts';
import { resolveAgentConfig } from '../../../agent/config.ts';
import { FileSpool } from '../../../agent/spool/file-spool.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { parseEvent } from '../../../events/index.ts';
import { agentConfigFile } from '../../helpers/agent-config.ts';
import { BOOT_ID, hostSnapshot, member, mirror } from '../../helpers/agent-snapshots.ts';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-hook-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;

/** A configuration whose root has the test boot id and whose state directory is fresh. */
const configInScratch = () => {
  count += 1;
  const root = join(scratch, `root-${count}`);
  mkdirSync(join(root, 'proc', 'sys', 'kernel', 'random'), { recursive: true });
  writeFileSync(join(root, 'proc', 'sys', 'kernel', 'random', 'boot_id'), `${BOOT_ID}\n`);
  const stateDir = join(scratch, `state-${count}`);
  return resolveAgentConfig(
    agentConfigFile({ root, stateDir, fallbackStateDir: join(scratch, `fallback-${count}`) }),
    'agent.json',
  );
};

const degraded = hostSnapshot({
  arrays: [mirror({ state: 'degraded', members: [member('sda1'), member('sdb1', 'faulty')] })],
});
const recovering = hostSnapshot({
  arrays: [mirror({ state: 'recovering', members: [member('sda1'), member('sdb1', 'rebuilding')] })],
});

describe('parseHookArguments', () => {
  it.each([
    [['Fail', '/dev/md0', '/dev/sdb1'], { event: 'Fail', array: 'md0', component: 'sdb1' }],
    [['Fail', 'md0', 'sdb1'], { event: 'Fail', array: 'md0', component: 'sdb1' }],
    [['DegradedArray', '/dev/md127'], { event: 'DegradedArray', array: 'md127' }],
    [['RebuildFinished', '/dev/md/root'], { event: 'RebuildFinished', array: 'md/root' }],
    [['Rebuild20', '/dev/md0', ' 20'], { event: 'Rebuild20', array: 'md0', note: '20' }],
    [
      ['SparesMissing', '/dev/md0', ' expected 1 spare, found 0'],
      { event: 'SparesMissing', array: 'md0', note: 'expected 1 spare, found 0' },
    ],
    [['TestMessage', '/dev/md0', ''], { event: 'TestMessage', array: 'md0' }],
  ])('reads %j', (args, request) => {
    expect(parseHookArguments(args)).toEqual({ ok: true, configPath: '/etc/faultline/agent.json', request });
  });

  it('takes a configuration path before the event', () => {
    expect(parseHookArguments(['--config', '/tmp/a.json', 'Fail', 'md0'])).toMatchObject({
      configPath: '/tmp/a.json',
    });
    expect(parseHookArguments(['--config=/tmp/b.json', 'Fail', 'md0'])).toMatchObject({
      configPath: '/tmp/b.json',
    });
  });

  it.each([
    [[], /usage/],
    [['Fail'], /usage/],
    [['Fail', '/dev/sdb'], /not an md device/],
    [['Fail', '../../etc/passwd'], /not an md device/],
    [['rm -rf /', 'md0'], /not an mdadm event name/],
  ])('refuses %j', (args, reason) => {
    const parsed = parseHookArguments(args);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });
});

describe('handleHook', () => {
  it('asks the running agent for a scan: a request file and SIGUSR2', async () => {
    const config = configInScratch();
    mkdirSync(config.stateDir, { recursive: true });
    writeFileSync(
      join(config.stateDir, 'agent.lock'),
      JSON.stringify({
        pid: process.pid,
        role: 'agent',
        bootId: BOOT_ID,
        acquiredAt: new Date().toISOString(),
      }),
    );
    const signals: [number, string][] = [];
    const observe = vi.fn();
    const outcome = await handleHook({ event: 'Fail', array: 'md0', component: 'sdb1' }, config, {
      observe,
      log: memoryLog(),
      signal: (pid, signal) => signals.push([pid, signal]),
    });
    expect(outcome).toEqual({ action: 'signalled-agent', pid: process.pid });
    expect(signals).toEqual([[process.pid, 'SIGUSR2']]);
    expect(observe).not.toHaveBeenCalled();
    expect(JSON.parse(readFileSync(join(config.stateDir, 'scan-request.json'), 'utf8'))).toMatchObject({
      event: 'Fail',
      array: 'md0',
      component: 'sdb1',
    });
  });

  it('spools the events itself when no agent runs, diffing against what it saw last', async () => {
    const config = configInScratch();
    const log = memoryLog();
    const first = await handleHook({ event: 'Fail', array: 'md0', component: 'sdb1' }, config, {
      observe: async () => ({ snapshot: degraded, progress: new Map() }),
      log,
    });
    const second = await handleHook({ event: 'RebuildStarted', array: 'md0' }, config, {
      observe: async () => ({ snapshot: recovering, progress: new Map([['md0', { progress: 3.1 }]]) }),
      log,
    });
    expect(first).toEqual({ action: 'spooled', events: 1 });
    expect(second).toEqual({ action: 'spooled', events: 1 });
    const spool = FileSpool.open({ directory: join(config.stateDir, 'spool'), maxBytes: 1 << 24, log });
    const events = spool.peek({ maxEvents: 100, maxBytes: 1 << 24 });
    spool.close();
    expect(events.map((event) => event.type)).toEqual(['mirror.degraded', 'mirror.recovering']);
    expect(events[1]?.seq).toBeGreaterThan(events[0]?.seq as number);
    for (const event of events) expect(parseEvent(event.body).ok).toBe(true);
  });

  it('leaves its request for the agent when another hook holds the lock', async () => {
    const config = configInScratch();
    mkdirSync(config.stateDir, { recursive: true });
    writeFileSync(
      join(config.stateDir, 'agent.lock'),
      JSON.stringify({
        pid: process.pid,
        role: 'hook',
        bootId: BOOT_ID,
        acquiredAt: new Date().toISOString(),
      }),
    );
    let now = 0;
    const outcome = await handleHook({ event: 'Fail', array: 'md0' }, config, {
      observe: vi.fn(),
      log: memoryLog(),
      clock: () => {
        now += 10_000;
        return new Date(now);
      },
    });
    expect(outcome).toEqual({
      action: 'left-request',
      reason: `another hook (pid ${process.pid}) holds the lock`,
    });
    expect(readFileSync(join(config.stateDir, 'scan-request.json'), 'utf8')).toContain('"event":"Fail"');
  });
});

describe('handleHook on a read-only host', () => {
  it('spools nothing it would lose: with no writable state directory it says so and leaves the change to the agent', async () => {
    const config = configInScratch();
    const blocker = join(scratch, `blocker-${count}`);
    writeFileSync(blocker, 'a file where the state directories should be');
    const readOnly = {
      ...config,
      stateDir: join(blocker, 'state'),
      fallbackStateDir: join(blocker, 'fallback'),
    };
    const observe = vi.fn();
    const outcome = await handleHook({ event: 'Fail', array: 'md0' }, readOnly, {
      observe,
      log: memoryLog(),
    });
    expect(outcome).toEqual({ action: 'skipped', reason: 'no writable state directory to spool to' });
    expect(observe).not.toHaveBeenCalled();
  });
});

describe('faultline-mdadm-hook (the PROGRAM of mdadm.conf)', () => {
  const wrapper = join(import.meta.dirname, '..', '..', '..', 'agent', 'dist-files', 'faultline-mdadm-hook');
  const runWrapper = (env: Record<string, string>, args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      execFile(
        '/bin/sh',
        [wrapper, ...args],
        { env: { ...process.env, ...env } },
        (error, _stdout, stderr) => {
          if (error !== null && typeof error.code !== 'number') reject(error);
          else resolve({ code: error === null ? 0 : (error.code as number), stderr });
        },
      );
    });

  it('hands its arguments to `faultline-agent hook` and exits 0', async () => {
    const bin = join(import.meta.dirname, '..', '..', '..', 'bin', 'faultline-agent');
    const absent = join(scratch, 'no-such-config.json');
    const result = await runWrapper({ FAULTLINE_NODE: process.execPath, FAULTLINE_AGENT: bin }, [
      '--config',
      absent,
      'Fail',
      '/dev/md0',
      '/dev/sdb1',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`faultline-agent hook: error: ${absent}: cannot read the file (ENOENT)`);
  });

  it('exits 0 even when Node is missing', async () => {
    const result = await runWrapper({ FAULTLINE_NODE: '/nonexistent/node' }, ['Fail', '/dev/md0']);
    expect(result.code).toBe(0);
  });
});

describe('faultline-agent hook', () => {
  it('never fails mdadm: a bad configuration or bad arguments still exit 0, with the reason on stderr', async () => {
    const written: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      expect(await run(['--config', join(scratch, 'absent.json'), 'Fail', '/dev/md0', '/dev/sdb1'])).toBe(0);
      expect(await run(['Fail'])).toBe(0);
    } finally {
      stderr.mockRestore();
    }
    expect(written.join('')).toMatch(
      /faultline-agent hook: error: .*absent\.json: cannot read the file \(ENOENT\)/,
    );
    expect(written.join('')).toMatch(/faultline-agent hook: warn: usage/);
  });
});
