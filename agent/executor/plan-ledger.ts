import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { PlanMode } from '../../events/index.ts';
import { processIsAlive } from '../state/agent-lock.ts';
import { fsyncDirectory, writeFileAtomic } from '../state/atomic-file.ts';
import { probeWritable } from '../state/state-directory.ts';
import { LedgerUnavailableError } from './errors.ts';

/**
 * What the executor remembers about plans, on disk, so that a plan id runs at most once even
 * across agent restarts and crashes: when each plan was first received (and in which boot), which
 * plans began to run (written and fsync'd, with the directory, before the first step), and the
 * plan lock that keeps two plans from running at once. It lives in `<stateDir>/plans`, or in the
 * fallback state directory (tmpfs, which survives an agent restart though not a reboot, after which
 * every older plan is refused as issued for another boot anyway). With neither writable, no plan
 * runs: at-most-once cannot be promised from memory.
 */

const RECEIVED = 'received';
const RUNS = 'runs';
const LOCK = 'plan.lock';
/** Records older than this are pruned; a plan that old is refused by its issue time regardless. */
export const LEDGER_RETENTION_MS = 30 * 24 * 3600 * 1000;
const PRUNE_EVERY_MS = 3600 * 1000;

export const PlanReceipt = z.object({ planId: z.string(), firstReceivedAt: z.string(), bootId: z.string() });
export type PlanReceipt = z.infer<typeof PlanReceipt>;

export const PlanLockHolder = z.object({
  pid: z.int().min(1),
  planId: z.string(),
  bootId: z.string(),
  acquiredAt: z.string(),
});
export type PlanLockHolder = z.infer<typeof PlanLockHolder>;

export type PlanLock = { acquired: true; release: () => void } | { acquired: false; holder: PlanLockHolder };

const readJson = <Schema extends z.ZodType>(path: string, schema: Schema): z.infer<Schema> | undefined => {
  try {
    const parsed = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

/** Creates a file that must not exist yet, durably (file and directory fsync'd); false if it exists. */
const createDurably = (path: string, directory: string, content: string): boolean => {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDirectory(directory);
  return true;
};

export class PlanLedger {
  private lastPrune = 0;

  private constructor(readonly path: string) {}

  /** Opens the ledger in the first writable directory; throws `LedgerUnavailableError`. */
  static open(directories: { stateDir: string; fallbackStateDir: string }): PlanLedger {
    const reasons: string[] = [];
    for (const base of [directories.stateDir, directories.fallbackStateDir]) {
      const path = join(base, 'plans');
      const probe = probeWritable(path);
      if (!probe.ok) {
        reasons.push(probe.reason);
        continue;
      }
      try {
        mkdirSync(join(path, RECEIVED), { recursive: true, mode: 0o700 });
        mkdirSync(join(path, RUNS), { recursive: true, mode: 0o700 });
      } catch (error) {
        reasons.push(`${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
        continue;
      }
      return new PlanLedger(path);
    }
    throw new LedgerUnavailableError(reasons.join('; '));
  }

  /**
   * When a plan was first received, recording now (and this boot) if it never was. The age of a
   * plan is measured from here by the agent's own clock.
   */
  receipt(planId: string, bootId: string, now: Date): PlanReceipt {
    const directory = join(this.path, RECEIVED);
    const path = join(directory, `${planId}.json`);
    const known = readJson(path, PlanReceipt);
    if (known !== undefined) return known;
    const receipt: PlanReceipt = { planId, firstReceivedAt: now.toISOString(), bootId };
    if (!createDurably(path, directory, JSON.stringify(receipt)))
      return readJson(path, PlanReceipt) ?? receipt;
    return receipt;
  }

  private runPath(planId: string, mode: PlanMode): string {
    return join(this.path, RUNS, `${planId}.${mode}.json`);
  }

  /** Whether this plan id began to run in this mode (a dry-run never blocks the real run). */
  hasRun(planId: string, mode: PlanMode): boolean {
    try {
      statSync(this.runPath(planId, mode));
      return true;
    } catch {
      return false;
    }
  }

  /** Records, durably, that the plan starts now; false when it already had (a race lost). */
  markStarted(planId: string, mode: PlanMode, bootId: string, now: Date): boolean {
    return createDurably(
      this.runPath(planId, mode),
      join(this.path, RUNS),
      JSON.stringify({ planId, mode, bootId, startedAt: now.toISOString() }),
    );
  }

  /** Adds the outcome to the run record (best effort: the start record is what matters). */
  markFinished(
    planId: string,
    mode: PlanMode,
    bootId: string,
    started: Date,
    now: Date,
    outcome: string,
  ): void {
    try {
      writeFileAtomic(
        this.runPath(planId, mode),
        JSON.stringify({
          planId,
          mode,
          bootId,
          startedAt: started.toISOString(),
          finishedAt: now.toISOString(),
          outcome,
        }),
      );
    } catch {
      // the start record stays, which is all at-most-once needs
    }
  }

  /** Takes the plan lock, or reports its live holder; a lock whose process is gone, or from an earlier boot, is stale. */
  lock(
    planId: string,
    bootId: string,
    now: Date,
    isAlive: (pid: number) => boolean = processIsAlive,
  ): PlanLock {
    const path = join(this.path, LOCK);
    const record: PlanLockHolder = { pid: process.pid, planId, bootId, acquiredAt: now.toISOString() };
    for (let attempt = 0; attempt < 2; attempt += 1) {
      if (createDurably(path, this.path, JSON.stringify(record))) {
        return {
          acquired: true,
          release: () => {
            const current = readJson(path, PlanLockHolder);
            if (current?.pid === record.pid && current.planId === planId) rmSync(path, { force: true });
          },
        };
      }
      const holder = readJson(path, PlanLockHolder);
      if (holder !== undefined && holder.bootId === bootId && isAlive(holder.pid))
        return { acquired: false, holder };
      rmSync(path, { force: true });
    }
    const holder = readJson(path, PlanLockHolder);
    if (holder !== undefined) return { acquired: false, holder };
    throw new LedgerUnavailableError(`cannot take the plan lock ${path}`);
  }

  /**
   * Forgets records older than the retention, at most once an hour. Ages come from the times the
   * records hold (the executor's clock), not from file times.
   */
  prune(now: Date): void {
    if (Math.abs(now.getTime() - this.lastPrune) < PRUNE_EVERY_MS) return;
    this.lastPrune = now.getTime();
    for (const folder of [RECEIVED, RUNS]) {
      const directory = join(this.path, folder);
      let names: string[];
      try {
        names = readdirSync(directory);
      } catch {
        continue;
      }
      for (const name of names) {
        const record = readJson(join(directory, name), RecordTime);
        const at = Date.parse(record?.firstReceivedAt ?? record?.startedAt ?? '');
        if (Number.isFinite(at) && now.getTime() - at > LEDGER_RETENTION_MS) {
          rmSync(join(directory, name), { force: true });
        }
      }
    }
  }
}

const RecordTime = z.object({ firstReceivedAt: z.string().optional(), startedAt: z.string().optional() });
