import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RuntimeConfig } from '../../local/config.ts';
import { DATA_FILES } from '../../local/data-files.ts';
import { type DeciderThread, startDeciderThread } from '../../local/decider.ts';

/** The decider thread of `faultline up` (local/decider.ts): started again when it dies, stopped at any moment. */

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

const startIn = async (entries: Record<string, unknown>[]): Promise<DeciderThread> => {
  const dataDir = mkdtempSync(join(tmpdir(), 'faultline-decider-'));
  folders.push(dataDir);
  return startDeciderThread(
    {
      dataDir,
      databaseFile: join(dataDir, DATA_FILES.database),
      queuesFile: join(dataDir, DATA_FILES.queues),
      config: RuntimeConfig.parse({}),
      logLevel: 'info',
    },
    (entry) => entries.push({ ...entry }),
  );
};

describe('the decider thread', () => {
  it('is started again after it dies, and stops at once while it waits to start again', async () => {
    const entries: Record<string, unknown>[] = [];
    const decider = await startIn(entries);
    const first = decider.thread();
    if (first === undefined) expect.fail('no thread up after start');
    await first.terminate();
    // After 1 s a new thread is up.
    await vi.waitFor(
      () => {
        const now = decider.thread();
        expect(now).toBeDefined();
        expect(now).not.toBe(first);
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(entries).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: expect.stringMatching(/exited \(\d+\); starting it again/),
      }),
    );
    // It dies again: the next start waits 2 s, and a stop during the wait ends it with no thread left.
    await decider.thread()?.terminate();
    expect(decider.thread()).toBeUndefined();
    await decider.stop();
    await new Promise((done) => setTimeout(done, 2_500));
    expect(decider.thread()).toBeUndefined();
  }, 30_000);

  it('stops a thread that is up: it finishes and exits', async () => {
    const decider = await startIn([]);
    const thread = decider.thread();
    if (thread === undefined) expect.fail('no thread up after start');
    const exited = new Promise<number>((done) => thread.once('exit', done));
    await decider.stop();
    expect(await exited).toBeTypeOf('number');
    expect(decider.thread()).toBeUndefined();
  }, 30_000);
});
