import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { AgentStateStore } from '../../../agent/state/agent-state.ts';
import { MemoryStateDirectory, openStateDirectory } from '../../../agent/state/state-directory.ts';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-state-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;
const unique = (prefix: string): string => {
  counter += 1;
  return join(scratch, `${prefix}-${counter}`);
};
const freshDir = (): string => unique('state');

const HOST = { hostId: 'lnxclient07.example.net', machineId: '0f1e2d3c4b5a69788796a5b4c3d2e1f0' };
const now = new Date('2026-11-22T03:12:09.412Z');

const open = (stateDir: string, observed = HOST, block = 16) => {
  const log = memoryLog();
  const directory = openStateDirectory({ stateDir, fallbackStateDir: join(stateDir, 'fallback') }, log);
  const store = AgentStateStore.open(directory, observed, { log, clock: () => now, block });
  return { store, log, directory };
};

describe('AgentStateStore', () => {
  it('continues seq after a restart, from the last reservation', () => {
    const stateDir = freshDir();
    const first = open(stateDir).store;
    const before = Array.from({ length: 20 }, () => first.nextSeq());
    const after = open(stateDir).store.nextSeq();
    expect(after).toBeGreaterThan(before.at(-1) as number);
    expect(before[0]).toBe(now.getTime() * 1000);
  });

  it('skips ahead rather than repeating after a crash that lost the in-memory counter', () => {
    const stateDir = freshDir();
    const first = open(stateDir).store;
    const used = [first.nextSeq(), first.nextSeq(), first.nextSeq()];
    // no flush, no close: a kill -9
    const recorded = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8'));
    expect(recorded.seqReservedThrough).toBe((used[0] as number) + 16);
    expect(open(stateDir).store.nextSeq()).toBe((used[0] as number) + 16);
  });

  it('keeps its instance id across restarts and makes a new one when the machine id changes (a clone)', () => {
    const stateDir = freshDir();
    const original = open(stateDir).store.instanceId;
    expect(open(stateDir).store.instanceId).toBe(original);
    const clone = open(stateDir, { ...HOST, machineId: 'ffffffffffffffffffffffffffffffff' });
    expect(clone.store.instanceId).not.toBe(original);
    expect(clone.store.instance).toMatchObject({
      regenerated: true,
      reason: 'machine-id-changed',
      inheritedState: true,
    });
    expect(clone.log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'this host looks cloned: new agent instance id' }),
    );
  });

  it('makes a new instance id when the host id no longer matches the state', () => {
    const stateDir = freshDir();
    open(stateDir);
    const renamed = open(stateDir, { ...HOST, hostId: 'lnxclient08.example.net' });
    expect(renamed.store.instance).toMatchObject({ regenerated: true, reason: 'host-id-changed' });
  });

  it('starts from the clock, and says so, when the state file is damaged', () => {
    const stateDir = freshDir();
    open(stateDir).store.nextSeq();
    writeFileSync(join(stateDir, 'state.json'), '{"version":1,"hostId":');
    const reopened = open(stateDir);
    expect(reopened.store.nextSeq()).toBe(now.getTime() * 1000);
    expect(reopened.log.lines.map((line) => line.message)).toContain(
      'state.json is not JSON; starting afresh, seq from the clock',
    );
  });

  it('falls back to the second directory when the first is not writable, and says so', () => {
    const blocker = unique('a-file');
    writeFileSync(blocker, 'not a directory');
    const fallbackStateDir = freshDir();
    const log = memoryLog();
    const directory = openStateDirectory({ stateDir: join(blocker, 'state'), fallbackStateDir }, log);
    const store = AgentStateStore.open(directory, HOST, { log, clock: () => now });
    store.nextSeq();
    expect(store.storage).toBe('fallback');
    expect(store.degradedReason).toMatch(/state directory not writable .*ENOTDIR/);
    expect(log.lines[0]).toMatchObject({ level: 'warn', fields: { storage: 'fallback' } });
    expect(readFileSync(join(fallbackStateDir, 'state.json'), 'utf8')).toContain('seqReservedThrough');
  });

  it('keeps state in memory when no directory is writable, and says so', () => {
    const blocker = unique('a-file');
    writeFileSync(blocker, 'not a directory');
    const log = memoryLog();
    const directory = openStateDirectory(
      { stateDir: join(blocker, 'state'), fallbackStateDir: join(blocker, 'fallback') },
      log,
    );
    const store = AgentStateStore.open(directory, HOST, { log, clock: () => now });
    expect(directory).toBeInstanceOf(MemoryStateDirectory);
    expect(store.storage).toBe('memory');
    expect(store.nextSeq()).toBe(now.getTime() * 1000);
    expect(log.lines[0]?.message).toMatch(/keeping state in memory/);
  });

  it('never repeats a number after a run whose reservation could not be written', () => {
    const directory = new MemoryStateDirectory();
    const log = memoryLog();
    const first = AgentStateStore.open(directory, HOST, { log, clock: () => now, block: 2 });
    const write = directory.writeAtomic.bind(directory);
    directory.writeAtomic = () => {
      throw Object.assign(new Error('read-only file system'), { code: 'EROFS' });
    };
    const used = Array.from({ length: 50 }, () => first.nextSeq());
    directory.writeAtomic = write;
    const later = new Date(now.getTime() + 1000);
    const restarted = AgentStateStore.open(directory, HOST, { log, clock: () => later, block: 2 });
    expect(restarted.nextSeq()).toBeGreaterThan(used.at(-1) as number);
  });

  it('switches to memory, and says so, when a write fails while running', () => {
    const log = memoryLog();
    const directory = new MemoryStateDirectory();
    const store = AgentStateStore.open(directory, HOST, { log, clock: () => now, block: 2 });
    directory.writeAtomic = () => {
      throw Object.assign(new Error('read-only file system'), { code: 'EROFS' });
    };
    const numbers = [store.nextSeq(), store.nextSeq(), store.nextSeq(), store.nextSeq()];
    expect(numbers).toEqual([0, 1, 2, 3].map((offset) => now.getTime() * 1000 + offset));
    expect(store.storage).toBe('memory');
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: expect.stringMatching(/EROFS; keeping state in memory/),
      }),
    );
  });
});
