import { randomUUID } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * One `faultline up` per data folder: a second one on the same folder would answer on another port
 * over the same SQLite files, take over `url` (where the operator commands find the control plane)
 * and run a second correlate and sweep beside the first. The first start takes the folder's lock, a
 * file made only if it is not there, and stopping gives it back. A lock whose holder is gone (a
 * crash, a SIGKILL, an OOM kill, a reboot) is taken over; one whose holder lives refuses the start
 * with its pid.
 *
 * A pid alone does not name a process for long: in a container `faultline up` is often pid 1, so
 * after a SIGKILL the restarted one is pid 1 again and would find "its" lock held by a live pid 1;
 * after a reboot the old pid may be some other daemon's. So the lock holds the pid, the boot id
 * (`/proc/sys/kernel/random/boot_id`) and the process's start time (`/proc/<pid>/stat` field 22),
 * and a lock is stale when its boot is not this one, when its pid now names a process that started
 * at another time, or when it names this very process but this process does not hold it. Where
 * /proc is absent (macOS, AIX) those are not recorded and only the pid is checked, as before.
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

/** What the lock file holds. `token` makes every lock's text unique, so a takeover can tell two apart. */
export const DataFolderLockHolder = z.object({
  pid: z.int().min(1),
  bootId: z.string().min(1).optional(),
  startTime: z.string().min(1).optional(),
  token: z.string().min(1).optional(),
});
export type DataFolderLockHolder = z.infer<typeof DataFolderLockHolder>;

/** This boot's id, where the kernel gives one (Linux). */
export const currentBootId = (): string | undefined => {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return id === '' ? undefined : id;
  } catch {
    return undefined;
  }
};

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
const STAT_START_TIME_FIELD = 22;

/**
 * When the process of that pid started, where /proc tells. The command name (field 2) sits in
 * parentheses and may itself hold spaces and parentheses, so fields are counted after the last ')'.
 */
export const processStartTime = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const afterName = stat
      .slice(stat.lastIndexOf(')') + 1)
      .trim()
      .split(/\s+/);
    // afterName[0] is field 3.
    const value = afterName[STAT_START_TIME_FIELD - 3];
    return value !== undefined && /^\d+$/.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
};

/**
 * The lock files this process holds. A lock naming this process's pid that is not among them was
 * left by an earlier process that had the same pid (a container's pid 1 restarted): stale. The set
 * is per module instance, so only the main thread takes the lock (a worker thread has its own).
 */
const heldLocks = new Set<string>();

/** A lock's text: JSON; a bare pid is what versions before the boot id and start time wrote. */
const parseHolder = (text: string): DataFolderLockHolder | undefined => {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const parsed = DataFolderLockHolder.safeParse({ pid: Number(trimmed) });
    return parsed.success ? parsed.data : undefined;
  }
  try {
    const parsed = DataFolderLockHolder.safeParse(JSON.parse(trimmed));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

const readText = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** How young a lock without a readable holder is still taken to be a start of an older version, mid-write. */
const FRESH_MS = 2_000;

const mtimeOf = (file: string): number => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

/** Whether the holder a lock names is gone: another boot, another process under its pid, or none. */
export const holderIsGone = (file: string, holder: DataFolderLockHolder): boolean => {
  if (holder.pid === process.pid) return !heldLocks.has(resolve(file));
  const bootId = currentBootId();
  if (holder.bootId !== undefined && bootId !== undefined && holder.bootId !== bootId) return true;
  if (!isAlive(holder.pid)) return true;
  const startTime = processStartTime(holder.pid);
  return holder.startTime !== undefined && startTime !== undefined && holder.startTime !== startTime;
};

/**
 * Makes the lock file with `text` only if there is none. The text is written to a file of its own
 * and linked into place (link, like O_EXCL, fails if the name exists), so the lock is never seen
 * empty or half-written by another start judging it.
 */
const createLock = (file: string, text: string): boolean => {
  const scratch = `${file}.new-${process.pid}-${randomUUID()}`;
  const fd = openSync(scratch, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(scratch, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  } finally {
    rmSync(scratch, { force: true });
  }
};

const holderText = (): string =>
  `${JSON.stringify({
    pid: process.pid,
    bootId: currentBootId(),
    startTime: processStartTime(process.pid),
    token: randomUUID(),
  })}\n`;

/** How the lock, once taken, is given back: removed only while it is still this holder's. */
const releaser = (file: string, text: string): (() => void) => {
  heldLocks.add(resolve(file));
  let released = false;
  return () => {
    if (released) return;
    released = true;
    heldLocks.delete(resolve(file));
    if (readText(file) === text) rmSync(file, { force: true });
  };
};

/**
 * Takes over a lock judged stale, whose text was `staleText`, without ever removing a lock that
 * is not that one. Two starts may judge the same stale lock at once: deleting it and then creating
 * a new one would let the slower start delete the faster one's fresh lock, and both would run. So
 * the stale lock is renamed to a name of this attempt's own (of two renamers only one finds it),
 * and the renamed text is checked to be the stale lock judged; only then is the new lock made,
 * again only if there is none. Renamed something else (another start's fresh lock): it is linked
 * back (not over a lock made since) and the takeover is lost. Answers how to give the lock back,
 * or `undefined` when the takeover was lost. Still open, as with any rename-based takeover: a third
 * start that finds no lock in the instant another's fresh lock is aside makes its own beside it.
 */
export const takeOverStaleLock = (file: string, staleText: string): (() => void) | undefined => {
  const aside = `${file}.stale-${process.pid}-${randomUUID()}`;
  try {
    renameSync(file, aside);
  } catch (error) {
    // Gone already: another start took it over (or its holder stopped); the caller looks again.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const renamed = readText(aside);
  if (renamed !== staleText) {
    try {
      linkSync(aside, file);
      rmSync(aside, { force: true });
    } catch (error) {
      // EEXIST: a lock made since stays. Anything else: put it back by name, never lose it.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') rmSync(aside, { force: true });
      else renameSync(aside, file);
    }
    return undefined;
  }
  rmSync(aside, { force: true });
  const text = holderText();
  return createLock(file, text) ? releaser(file, text) : undefined;
};

const ATTEMPTS = 3;

/** Takes the data folder's lock for this process; answers how to give it back. */
export const lockDataFolder = (dataDir: string): (() => void) => {
  const file = join(dataDir, LOCK_FILE);
  let lastPid = 0;
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const text = holderText();
    if (createLock(file, text)) return releaser(file, text);
    const staleText = readText(file);
    // Gone between the two: look again.
    if (staleText === undefined) continue;
    const holder = parseHolder(staleText);
    lastPid = holder?.pid ?? 0;
    if (holder !== undefined && !holderIsGone(file, holder))
      throw new DataFolderInUseError(dataDir, holder.pid);
    // Unreadable and young: an older version's start between making the file and writing its pid.
    if (holder === undefined && Date.now() - mtimeOf(file) < FRESH_MS)
      throw new DataFolderInUseError(dataDir, 0);
    const release = takeOverStaleLock(file, staleText);
    if (release !== undefined) return release;
  }
  throw new DataFolderInUseError(dataDir, lastPid);
};
