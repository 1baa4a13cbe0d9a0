import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireAgentLock, liveLockHolder, sameBoot } from '../../../agent/state/agent-lock.ts';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-lock-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('acquireAgentLock', () => {
  it('lets one process hold the lock and names it to the next', () => {
    const first = acquireAgentLock(scratch, { role: 'agent', bootId: 'boot-1' });
    expect(first.acquired).toBe(true);
    const second = acquireAgentLock(scratch, { role: 'hook', bootId: 'boot-1', pid: 1 });
    expect(second).toEqual({
      acquired: false,
      holder: expect.objectContaining({ pid: process.pid, role: 'agent' }),
    });
    expect(liveLockHolder(scratch, 'boot-1')?.role).toBe('agent');
    if (first.acquired) first.release();
    expect(liveLockHolder(scratch, 'boot-1')).toBeUndefined();
  });

  it('takes over a lock whose process is gone, or that an earlier boot left', () => {
    const lock = join(scratch, 'agent.lock');
    writeFileSync(
      lock,
      JSON.stringify({ pid: 4242, role: 'agent', bootId: 'boot-1', acquiredAt: '2026-11-22T03:00:00Z' }),
    );
    const afterDeath = acquireAgentLock(
      scratch,
      { role: 'hook', bootId: 'boot-1' },
      { isAlive: () => false },
    );
    expect(afterDeath.acquired).toBe(true);
    if (afterDeath.acquired) afterDeath.release();
    writeFileSync(
      lock,
      JSON.stringify({
        pid: process.pid,
        role: 'agent',
        bootId: 'boot-0',
        acquiredAt: '2026-11-22T03:00:00Z',
      }),
    );
    const afterReboot = acquireAgentLock(scratch, { role: 'agent', bootId: 'boot-1' });
    expect(afterReboot.acquired).toBe(true);
    expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ bootId: 'boot-1' });
    if (afterReboot.acquired) afterReboot.release();
  });

  it('takes over a lock a crash left half written', () => {
    writeFileSync(join(scratch, 'agent.lock'), '{"pid":');
    const attempt = acquireAgentLock(scratch, { role: 'agent', bootId: 'boot-1' });
    expect(attempt.acquired).toBe(true);
    if (attempt.acquired) attempt.release();
  });
});

describe('sameBoot', () => {
  it('compares kernel boot ids exactly, and takes neighbouring minutes of a derived one for one boot', () => {
    expect(sameBoot('6a1f3c2e-5b4d-4e8f-9a0b-1c2d3e4f5a6b', '6a1f3c2e-5b4d-4e8f-9a0b-1c2d3e4f5a6b')).toBe(
      true,
    );
    expect(sameBoot('6a1f3c2e-5b4d-4e8f-9a0b-1c2d3e4f5a6b', '7b2e4d3f-6c5e-4f90-8b1c-2d3e4f5a6b7c')).toBe(
      false,
    );
    expect(sameBoot('boot-1763808120', 'boot-1763808180')).toBe(true);
    expect(sameBoot('boot-1763808120', 'boot-1763808480')).toBe(false);
    expect(sameBoot('boot-0', 'boot-1')).toBe(false);
  });

  it('keeps a running agent on AIX from losing its lock to an announce a minute of rounding away', () => {
    const directory = mkdtempSync(join(scratch, 'aix-'));
    const agent = acquireAgentLock(directory, { role: 'agent', bootId: 'boot-1763808120' });
    expect(agent.acquired).toBe(true);
    expect(liveLockHolder(directory, 'boot-1763808180')?.role).toBe('agent');
    expect(acquireAgentLock(directory, { role: 'announce', bootId: 'boot-1763808180' })).toMatchObject({
      acquired: false,
    });
    if (agent.acquired) agent.release();
  });
});
