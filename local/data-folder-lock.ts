import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One `faultline up` per data folder: a second one on the same folder would answer on another port
 * over the same SQLite files, take over `url` (where the operator commands find the control plane)
 * and run a second correlate and sweep beside the first. The first start takes the folder's lock, a
 * file made only if it is not there (`O_EXCL`) holding its pid, and stopping gives it back. A lock
 * whose process is gone (a crash, a SIGKILL) is taken over; one whose process lives refuses the
 * start with its pid.
 */

export const LOCK_FILE = 'faultline.lock';

/** Another live process holds the data folder. */
export class DataFolderInUseError extends Error {
  readonly code = 'data-folder-in-use';

  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `another faultline up (${pid > 0 ? `pid ${pid}` : 'starting now'}) runs on the data folder ${dataDir}: stop it first, or give this one its own --data (if no such process runs, remove ${join(dataDir, LOCK_FILE)})`,
    );
    this.name = 'DataFolderInUseError';
  }
}

/** Whether a process of that pid exists (EPERM: it does, under another user). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const holderOf = (file: string): number | undefined => {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
};

/** How young a lock without its pid is still taken to be another start's. */
const FRESH_MS = 2_000;

const mtimeOf = (file: string): number => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

/** Takes the data folder's lock for this process; answers how to give it back. */
export const lockDataFolder = (dataDir: string): (() => void) => {
  const file = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (holderOf(file) === process.pid) rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = holderOf(file);
    if (holder !== undefined && isAlive(holder)) throw new DataFolderInUseError(dataDir, holder);
    // A lock without its pid yet is another start between making the file and writing it.
    if (holder === undefined && Date.now() - mtimeOf(file) < FRESH_MS)
      throw new DataFolderInUseError(dataDir, 0);
    // Its process is gone (or it was never whole): the lock is stale.
    rmSync(file, { force: true });
  }
  throw new DataFolderInUseError(dataDir, holderOf(file) ?? 0);
};
