import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { AgentLog } from './agent-log.ts';
import { writeFileAtomic } from './atomic-file.ts';

/**
 * Where the agent keeps what must survive a restart: its `seq` reservation, its instance id, the
 * last snapshot it diffed, its spool. A client partition whose root went read-only (an ext4
 * `errors=remount-ro` after the very storage fault it must report) still has to report, so the
 * agent falls back to a second directory (tmpfs under `/run` by default), then to memory, and
 * says which one it uses in a log line and in its heartbeats.
 */

/** `disk` is the configured directory; `fallback` the second one; `memory` survives nothing. */
export type StateStorage = 'disk' | 'fallback' | 'memory';

/** The agent's state files, by name, wherever they live. */
export interface StateDirectory {
  readonly storage: StateStorage;
  /** The directory on disk; undefined in memory. */
  readonly path: string | undefined;
  /** Why the agent is not using its configured directory, when it is not. */
  readonly degradedReason: string | undefined;
  read(name: string): string | undefined;
  /** Durable when it returns: temp file, fsync, rename, fsync of the directory. */
  writeAtomic(name: string, content: string): void;
  remove(name: string): void;
}

/** The names of the files in a state directory. */
export const STATE_FILES = {
  state: 'state.json',
  detection: 'detection.json',
  lock: 'agent.lock',
  scanRequest: 'scan-request.json',
  spool: 'spool',
  /** A server's memory: the boot it last announced, its own domains, its service domains (agent/serve/). */
  serve: 'serve.json',
} as const;

/** `announce` leaves `announce-<id>.request.json` for the running agent, which answers in `announce-<id>.result.json`. */
export const ANNOUNCE_FILES = {
  prefix: 'announce-',
  request: '.request.json',
  result: '.result.json',
} as const;

const PROBE_FILE = '.write-probe';

class DiskStateDirectory implements StateDirectory {
  constructor(
    readonly storage: 'disk' | 'fallback',
    readonly path: string,
    readonly degradedReason: string | undefined,
  ) {}

  read(name: string): string | undefined {
    try {
      return readFileSync(join(this.path, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  writeAtomic(name: string, content: string): void {
    writeFileAtomic(join(this.path, name), content);
  }

  remove(name: string): void {
    rmSync(join(this.path, name), { force: true, recursive: true });
  }
}

/** State kept in memory only: used when no directory is writable, and by tests. */
export class MemoryStateDirectory implements StateDirectory {
  readonly storage = 'memory' as const;
  readonly path = undefined;
  private readonly files = new Map<string, string>();
  constructor(readonly degradedReason: string | undefined = undefined) {}

  read(name: string): string | undefined {
    return this.files.get(name);
  }

  writeAtomic(name: string, content: string): void {
    this.files.set(name, content);
  }

  remove(name: string): void {
    this.files.delete(name);
  }
}

/**
 * Whether a directory can hold state: created if missing, and a probe file written, fsync'd and
 * removed. A read-only mount fails here (EROFS), not at the first `seq` reservation.
 */
export const probeWritable = (directory: string): { ok: true } | { ok: false; reason: string } => {
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const probe = join(directory, PROBE_FILE);
    const fd = openSync(probe, 'w', 0o600);
    try {
      writeSync(fd, 'ok');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    unlinkSync(probe);
    return { ok: true };
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    return { ok: false, reason: `${directory}: ${failure.code ?? failure.message}` };
  }
};

/**
 * Opens the first usable state directory: the configured one, then the fallback, then memory.
 * Logs a warning whenever it is not the configured one.
 */
export const openStateDirectory = (
  options: { stateDir: string; fallbackStateDir: string },
  log: AgentLog,
): StateDirectory => {
  const preferred = probeWritable(options.stateDir);
  if (preferred.ok) return new DiskStateDirectory('disk', options.stateDir, undefined);
  const fallback = probeWritable(options.fallbackStateDir);
  if (fallback.ok) {
    const reason = `state directory not writable (${preferred.reason})`;
    log.warn(`${reason}; keeping state in the fallback directory ${options.fallbackStateDir}`, {
      storage: 'fallback',
    });
    return new DiskStateDirectory('fallback', options.fallbackStateDir, reason);
  }
  const reason = `no writable state directory (${preferred.reason}; ${fallback.reason})`;
  log.warn(
    `${reason}; keeping state in memory: seq restarts from the clock and the spool dies with the process`,
    {
      storage: 'memory',
    },
  );
  return new MemoryStateDirectory(reason);
};

/**
 * The state directories a short-lived process (the hook) should look in for a running agent, in
 * the order the agent picks them, without creating anything.
 */
export const stateDirectoryCandidates = (options: {
  stateDir: string;
  fallbackStateDir: string;
}): string[] => [options.stateDir, options.fallbackStateDir];
