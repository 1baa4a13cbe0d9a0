import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSpool } from '../../../agent/spool/file-spool.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { parseEvent } from '../../../events/index.ts';

const WRITER = join(import.meta.dirname, '..', '..', 'helpers', 'agent-spool-writer.ts');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-spool-crash-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Starts the writer; resolves with the seqs it reported once `stop` says so or it exits. */
const runWriter = (
  stateDir: string,
  count: number,
  stop?: (reported: number[], child: ChildProcess) => void,
): Promise<{ reported: number[]; signal: NodeJS.Signals | null; code: number | null }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, stateDir, String(count)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const reported: number[] = [];
    let partial = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) reported.push(Number(line));
      stop?.(reported, child);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0 && signal === null) reject(new Error(`writer exited ${code}: ${stderr}`));
      else resolve({ reported, signal, code });
    });
  });

describe('the spool under kill -9', () => {
  it('loses no event that was spooled, and a restart continues seq', async () => {
    const stateDir = join(scratch, 'state');
    const killed = await runWriter(stateDir, 1_000_000, (reported, child) => {
      if (reported.length >= 300 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.reported.length).toBeGreaterThanOrEqual(300);

    const log = memoryLog();
    const spool = FileSpool.open({ directory: join(stateDir, 'spool'), maxBytes: 64 * 1024 * 1024, log });
    const spooled = spool.peek({ maxEvents: 2_000_000, maxBytes: Number.MAX_SAFE_INTEGER });
    const spooledSeqs = spooled.map((event) => event.seq);
    for (const seq of killed.reported) expect(spooledSeqs).toContain(seq);
    for (let index = 1; index < spooledSeqs.length; index += 1) {
      expect(spooledSeqs[index]).toBe((spooledSeqs[index - 1] as number) + 1);
    }
    for (const event of spooled) expect(parseEvent(event.body).ok).toBe(true);
    expect(spool.stats().damagedRecords).toBeLessThanOrEqual(1);
    spool.close();

    const restarted = await runWriter(stateDir, 5);
    expect(restarted.code).toBe(0);
    expect(restarted.reported).toHaveLength(5);
    expect(restarted.reported[0]).toBeGreaterThan(spooledSeqs.at(-1) as number);

    const reopened = FileSpool.open({ directory: join(stateDir, 'spool'), maxBytes: 64 * 1024 * 1024, log });
    const all = reopened
      .peek({ maxEvents: 2_000_000, maxBytes: Number.MAX_SAFE_INTEGER })
      .map((event) => event.seq);
    expect(all).toEqual([...spooledSeqs, ...restarted.reported]);
    reopened.close();
  });
});
