import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DERIVED_BOOT_ID_GRANULARITY_SECONDS } from '../identity.ts';
import { STATE_FILES } from './state-directory.ts';

/**
 * One process at a time emits events for a host: the agent, or the hook or `announce` when no
 * agent runs. Each hands out `seq` numbers and append to the spool, so they must never overlap. The lock is a
 * file created with O_EXCL holding the holder's pid and boot id; a lock whose process is gone, or
 * that was taken in an earlier boot, is stale and taken over. The running agent's lock is also how
 * the hook finds it to ask for a scan, and `announce` to ask for an announcement.
 */

export const LockHolder = z.object({
  pid: z.int().min(1),
  role: z.enum(['agent', 'hook', 'announce']),
  bootId: z.string(),
  acquiredAt: z.string(),
});
export type LockHolder = z.infer<typeof LockHolder>;

export type LockAttempt = { acquired: true; release: () => void } | { acquired: false; holder: LockHolder };

/**
 * Whether two boot ids name the same boot. Linux's are compared exactly. Where the kernel gives
 * none, identity.ts derives `boot-<seconds>` from the clock minus uptime, rounded to the minute:
 * two processes of one boot can land on neighbouring minutes (a boot time near the rounding edge,
 * uptime counted in whole seconds), while a reboot moves it by the whole downtime. Neighbouring
 * minutes are one boot, so an `announce` on AIX never takes a running agent's lock for a stale one.
 */
export const sameBoot = (left: string, right: string): boolean => {
  if (left === right) return true;
  const a = derivedSeconds(left);
  const b = derivedSeconds(right);
  return a !== undefined && b !== undefined && Math.abs(a - b) <= DERIVED_BOOT_ID_GRANULARITY_SECONDS;
};

const derivedSeconds = (bootId: string): number | undefined => {
  const seconds = /^boot-(\d{1,15})$/.exec(bootId)?.[1];
  if (seconds === undefined) return undefined;
  const value = Number(seconds);
  return value % DERIVED_BOOT_ID_GRANULARITY_SECONDS === 0 ? value : undefined;
};

/** Whether a process runs (EPERM: it runs under another user). */
export const processIsAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The holder of the lock in a directory, if the lock is live (its process runs in this boot). */
export const liveLockHolder = (
  directory: string,
  bootId: string,
  isAlive: (pid: number) => boolean = processIsAlive,
): LockHolder | undefined => {
  const holder = readHolder(join(directory, STATE_FILES.lock));
  if (holder === undefined) return undefined;
  return sameBoot(holder.bootId, bootId) && isAlive(holder.pid) ? holder : undefined;
};

const readHolder = (path: string): LockHolder | undefined => {
  try {
    const parsed = LockHolder.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Takes the lock in a state directory, or reports its live holder. A stale or unreadable lock is
 * replaced. A lock half-written by a crash reads as unreadable, hence stale.
 */
export const acquireAgentLock = (
  directory: string,
  holder: Omit<LockHolder, 'acquiredAt' | 'pid'> & { pid?: number },
  options: { now?: Date; isAlive?: (pid: number) => boolean } = {},
): LockAttempt => {
  const path = join(directory, STATE_FILES.lock);
  const record: LockHolder = {
    pid: holder.pid ?? process.pid,
    role: holder.role,
    bootId: holder.bootId,
    acquiredAt: (options.now ?? new Date()).toISOString(),
  };
  const isAlive = options.isAlive ?? processIsAlive;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const current = readHolder(path);
      if (current !== undefined && sameBoot(current.bootId, record.bootId) && isAlive(current.pid)) {
        return { acquired: false, holder: current };
      }
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(record));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return {
      acquired: true,
      release: () => {
        const current = readHolder(path);
        if (current?.pid === record.pid) rmSync(path, { force: true });
      },
    };
  }
  const current = readHolder(path);
  if (current !== undefined) return { acquired: false, holder: current };
  throw new Error(`cannot take the agent lock ${path}`);
};
