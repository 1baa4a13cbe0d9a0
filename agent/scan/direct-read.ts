import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Platform } from '../../events/index.ts';

/**
 * A direct read of a disk's first block, the test of `readable` in `disk.probed` and in heartbeat
 * `disks` (§3): does the disk answer, not the page cache. Node cannot do it itself: its buffers are
 * not aligned, so an O_DIRECT read fails with EINVAL, and a read of a dead disk can block in the
 * kernel (D state) with the thread that issued it. So the read is `dd` in a child process:
 * `dd if=/dev/<disk> of=/dev/null bs=4096 count=1 iflag=direct` on Linux (dd aligns its buffer),
 * `dd if=/dev/rdsk/<disk>s2 of=/dev/null bs=4096 count=1` on Solaris (the raw device is uncached).
 * After the timeout the child is killed and the read is "not readable, timed out"; a child blocked
 * in the kernel may outlive the kill, so `exited` says when it is really gone, and the caller must
 * not start another read of that disk before (one read per disk in flight).
 */

/** What one read found. */
export type DirectRead = {
  /** True when the block was read; null when the read could not even be tried (no `dd`). */
  readable: boolean | null;
  timedOut: boolean;
  /** What dd said, in a line: `dd: failed to open '/dev/sdc': No such device or address`, `timed out after 10 s`. */
  detail: string;
};

/** A read in flight: its answer (at the latest at the timeout) and the end of its process. */
export type DirectReadStart = { result: Promise<DirectRead>; exited: Promise<void> };

/** Starts a direct read of a disk's first block (`sdb`, `c0d1`). */
export type DirectReader = (disk: string) => DirectReadStart;

export const DIRECT_READ_DEFAULTS = {
  /** Longest a read may take; a healthy disk answers in milliseconds. */
  timeoutMs: 10_000,
  /** Bytes read: one page, the first block of any sector size, aligned for O_DIRECT. */
  blockBytes: 4096,
  /** Kept of dd's stderr: its first lines say everything. */
  maxStderrBytes: 4096,
} as const;

/** dd's argument vector for a disk on a platform, or null where the agent has no direct read. */
export const directReadArguments = (platform: Platform, disk: string): string[] | null => {
  const block = `bs=${DIRECT_READ_DEFAULTS.blockBytes}`;
  if (platform === 'linux') return [`if=/dev/${disk}`, 'of=/dev/null', block, 'count=1', 'iflag=direct'];
  if (platform === 'solaris') return [`if=/dev/rdsk/${disk}s2`, 'of=/dev/null', block, 'count=1'];
  return null;
};

/**
 * Whether dd's exit and stderr say a block was read: exit 0 and `1+0 records in` (GNU and SVR4 dd
 * print it alike); `0+0 records in` is an empty device.
 */
export const ddRead = (exitCode: number | null, stderr: string): boolean => {
  if (exitCode !== 0) return false;
  const records = /^(\d+)\+(\d+) records in$/m.exec(stderr);
  return records !== null && Number(records[1]) + Number(records[2]) > 0;
};

/** The line of dd's stderr worth reporting: its error, else its first line. */
const ddDetail = (stderr: string): string => {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  return (lines.find((line) => /^(dd: |read: )/.test(line)) ?? lines[0] ?? '').slice(0, 256);
};

const findDd = async (searchPath: readonly string[]): Promise<string | null> => {
  for (const directory of searchPath) {
    const candidate = join(directory, 'dd');
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return null;
};

export type DdReaderOptions = {
  platform: Platform;
  /** Where `dd` is looked for, and nowhere else (the agent's PATH and the sbin folders; tests put their fake first). */
  searchPath: readonly string[];
  timeoutMs?: number;
};

/** Reads through `dd` in a child process, killed at the timeout. */
export const createDdReader = (options: DdReaderOptions): DirectReader => {
  const timeoutMs = options.timeoutMs ?? DIRECT_READ_DEFAULTS.timeoutMs;
  const searchPath = [...options.searchPath];
  return (disk) => {
    let markExited: () => void = () => undefined;
    const exited = new Promise<void>((resolve) => {
      markExited = resolve;
    });
    const result = (async (): Promise<DirectRead> => {
      const args = directReadArguments(options.platform, disk);
      const program = args === null ? null : await findDd(searchPath);
      if (args === null || program === null) {
        markExited();
        return {
          readable: null,
          timedOut: false,
          detail: args === null ? `no direct read on ${options.platform}` : 'dd not found',
        };
      }
      return new Promise<DirectRead>((resolve) => {
        let stderr = '';
        let settled = false;
        const settle = (read: DirectRead) => {
          if (settled) return;
          settled = true;
          resolve(read);
        };
        const child = spawn(program, args, {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { LC_ALL: 'C', LANG: 'C', PATH: searchPath.join(delimiter) },
          windowsHide: true,
        });
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          settle({ readable: false, timedOut: true, detail: `timed out after ${timeoutMs / 1000} s` });
        }, timeoutMs);
        // Neither a hung child, its pipe nor its timer keeps a short-lived process (the mdadm hook) alive.
        timer.unref();
        child.unref();
        (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
        child.stderr?.setEncoding('utf8');
        child.stderr?.on('data', (chunk: string) => {
          if (stderr.length < DIRECT_READ_DEFAULTS.maxStderrBytes) stderr += chunk;
        });
        child.on('error', (error) => {
          clearTimeout(timer);
          settle({ readable: false, timedOut: false, detail: `dd: ${error.message}` });
          markExited();
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          settle({ readable: ddRead(code, stderr), timedOut: false, detail: ddDetail(stderr) });
          markExited();
        });
      });
    })();
    return { result, exited };
  };
};

/**
 * Reads a tree laid out like a host (a fixture, a simulated host): its `dev/<disk>` (or Solaris
 * `dev/rdsk/<disk>s2`) is a plain file there, read at once; a directory or a missing node is not
 * readable. Never used on `/`, where the nodes are real devices.
 */
export const createTreeReader =
  (root: string, platform: Platform): DirectReader =>
  (disk) => {
    const result = (async (): Promise<DirectRead> => {
      const node = platform === 'solaris' ? join(root, 'dev', 'rdsk', `${disk}s2`) : join(root, 'dev', disk);
      let handle: Awaited<ReturnType<typeof open>> | undefined;
      try {
        handle = await open(node, 'r');
        const { bytesRead } = await handle.read(
          Buffer.alloc(DIRECT_READ_DEFAULTS.blockBytes),
          0,
          DIRECT_READ_DEFAULTS.blockBytes,
          0,
        );
        return bytesRead > 0
          ? { readable: true, timedOut: false, detail: '1+0 records in' }
          : { readable: false, timedOut: false, detail: 'empty' };
      } catch (error) {
        return { readable: false, timedOut: false, detail: (error as NodeJS.ErrnoException).code ?? 'error' };
      } finally {
        await handle?.close();
      }
    })();
    return { result, exited: result.then(() => undefined) };
  };
