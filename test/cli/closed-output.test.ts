import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLOSED_OUTPUT_EXIT } from '../../cli/streams.ts';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../helpers/api-harness.ts';

/**
 * `faultline` whose reader goes away: its stdout or stderr is a real pipe into a child process
 * that closes it early (`head -n 0`, which exits without reading, or a command the shell cannot
 * find). The command must not crash with an EPIPE stack trace: it writes nothing more, finishes
 * or stops what it was doing, and exits 141, as a Unix tool cut off by `head` does.
 *
 * Which comes first is never left to timing: the API the command talks to (the real app on
 * loopback) holds its answer until the reader has exited, so the command's first write meets a
 * pipe with no reader.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const FAULTLINE_BIN = join(ROOT, 'bin', 'faultline');
const run = promisify(execFile);

/** A reader that closes the pipe at once: `head -n 0` exits without reading a byte. */
const closingReader = (): ChildProcess => spawn('head', ['-n', '0'], { stdio: ['pipe', 'ignore', 'ignore'] });

/** Starts `faultline` with one of its outputs into `reader`'s stdin; our copy of that pipe closed. */
const faultlineInto = (
  reader: ChildProcess,
  output: 'stdout' | 'stderr',
  args: string[],
): { child: ChildProcess; other: () => string } => {
  const pipe = reader.stdin;
  if (pipe === null) throw new Error('the reader has no stdin');
  const child = spawn(FAULTLINE_BIN, args, {
    cwd: ROOT,
    stdio: ['ignore', output === 'stdout' ? pipe : 'pipe', output === 'stderr' ? pipe : 'pipe'],
  });
  pipe.destroy();
  let text = '';
  (output === 'stdout' ? child.stderr : child.stdout)?.on('data', (chunk) => {
    text += chunk;
  });
  return { child, other: () => text };
};

const exited = async (child: ChildProcess): Promise<{ code: number | null; signal: string | null }> => {
  const [code, signal] =
    child.exitCode !== null || child.signalCode !== null
      ? [child.exitCode, child.signalCode]
      : ((await once(child, 'exit')) as [number | null, string | null]);
  return { code, signal };
};

describe('faultline with a reader that goes away', () => {
  let api: ApiHarness;
  let server: ReturnType<typeof serve>;
  let url: string;
  /** Requests to these paths wait until released. */
  const held = new Map<string, { arrived: () => void; release: Promise<void> }>();

  /** Holds the answers to `path` until `release` is called; `arrived` settles when one is asked. */
  const hold = (path: string) => {
    let arrived!: () => void;
    let release!: () => void;
    const asked = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    held.set(path, { arrived, release: new Promise<void>((resolve) => (release = resolve)) });
    return { asked, release };
  };

  beforeEach(async () => {
    api = await apiHarness();
    await new Promise<void>((resolve) => {
      server = serve(
        {
          fetch: async (request) => {
            const waiting = held.get(new URL(request.url).pathname);
            if (waiting !== undefined) {
              waiting.arrived();
              await waiting.release;
            }
            return api.app.fetch(request);
          },
          hostname: '127.0.0.1',
          port: 0,
        },
        () => resolve(),
      );
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    held.clear();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as Server).closeAllConnections();
    });
    await api.close();
  });

  const queuedTypes = async (): Promise<unknown[]> => (await api.drain()).map((message) => message.body.type);

  it('pauses, then exits 141 without a word when its stdout reader closed before it printed', async () => {
    const pause = hold('/v1/control/pause');
    const reader = closingReader();
    const { child, other: stderr } = faultlineInto(reader, 'stdout', [
      'pause',
      '--url',
      url,
      '--token',
      OPERATOR_SECRET,
    ]);
    await pause.asked;
    await exited(reader);
    pause.release();
    expect(await exited(child)).toEqual({ code: CLOSED_OUTPUT_EXIT, signal: null });
    expect(stderr()).toBe('');
    expect(await queuedTypes()).toEqual(['operator.pause']);
  });

  it('exits 141 without a stack trace when its stderr reader closed before it reported an error', async () => {
    const incident = hold('/v1/incidents/inc-nope');
    const reader = closingReader();
    const { child, other: stdout } = faultlineInto(reader, 'stderr', [
      'incident',
      'inc-nope',
      '--url',
      url,
      '--token',
      OPERATOR_SECRET,
    ]);
    await incident.asked;
    await exited(reader);
    incident.release();
    expect(await exited(child)).toEqual({ code: CLOSED_OUTPUT_EXIT, signal: null });
    expect(stdout()).toBe('');
  });

  it('runs the README line `./bin/faultline pause | resume` pasted as written: paused, no crash', async () => {
    // The shell finds no `resume` and closes the pipe; `pause` prints once the API answered.
    const script = `command -v resume >/dev/null && exit 99; ./bin/faultline pause | resume; echo "\${PIPESTATUS[0]} \${PIPESTATUS[1]}"`;
    const { stdout, stderr } = await run('bash', ['-c', script], {
      cwd: ROOT,
      env: { ...process.env, FAULTLINE_URL: url, FAULTLINE_TOKEN: OPERATOR_SECRET },
    });
    const [pauseStatus, resumeStatus] = stdout.trim().split(' ').map(Number);
    // 141 when its line met the closed pipe, 0 had the shell not closed it yet: never a crash (1).
    expect([0, CLOSED_OUTPUT_EXIT]).toContain(pauseStatus);
    expect(resumeStatus).toBe(127);
    expect(stderr.trim()).toMatch(/^bash: (line 1: )?resume: command not found$/);
    expect(await queuedTypes()).toEqual(['operator.pause']);
  });
});

describe('faultline up with a reader that goes away', () => {
  const folder = mkdtempSync(join(tmpdir(), 'faultline-closed-output-'));
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it('drains and stops as on SIGTERM, exit 141, once its stdout reader closed', async () => {
    // Its configuration comes through a FIFO the test writes only once the reader is gone: the
    // control plane starts, and prints its banner, after that.
    const config = join(folder, 'faultline.json');
    await run('mkfifo', [config]);
    const data = join(folder, 'data');
    const reader = closingReader();
    const { child: up, other: stderr } = faultlineInto(reader, 'stdout', [
      'up',
      '--port',
      '0',
      '--data',
      data,
      '--config',
      config,
      '--operator-token',
      OPERATOR_SECRET,
    ]);
    await exited(reader);
    await writeFile(config, '{"sweepIntervalSeconds": 1}');
    expect(await exited(up)).toEqual({ code: CLOSED_OUTPUT_EXIT, signal: null });
    expect(stderr()).not.toMatch(/EPIPE|Error|at /);
    // It had started: it wrote where it listens before it stopped.
    expect(readFileSync(join(data, 'url'), 'utf8')).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    expect(existsSync(join(data, 'faultline.db'))).toBe(true);
  }, 60_000);
});
