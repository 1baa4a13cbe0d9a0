import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS, main } from '../../cli/main.ts';

/**
 * `faultline <command> --help` (and `-h`, and `faultline help <command>`) for every command:
 * that command's own usage on stdout, exit 0, nothing asked of a control plane. In this process
 * through `main`, and through `bin/faultline` as a person types it.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const FAULTLINE_BIN = join(ROOT, 'bin', 'faultline');
const run = promisify(execFile);

const inProcess = async (argv: string[]) => {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    streams: {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
    },
    closed: new AbortController().signal,
  });
  return { code, stdout, stderr };
};

/** A usage that is the command's own: it starts with `usage:` and names `faultline <command>`. */
const ownUsage = (command: string) => new RegExp(`^usage:[\\s\\S]*faultline ${command}\\b`);

describe('faultline <command> --help', () => {
  it.each(COMMANDS)(
    'prints the usage of %s on stdout and exits 0, with --help, -h and help <command>',
    async (command) => {
      for (const argv of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ]) {
        const answer = await inProcess(argv);
        expect(answer, argv.join(' ')).toMatchObject({ code: 0, stderr: '' });
        expect(answer.stdout, argv.join(' ')).toMatch(ownUsage(command));
      }
    },
  );

  it('answers the help of a command with operands and options around it, and not a --help after --', async () => {
    expect((await inProcess(['incident', 'inc-1', '--json', '--help'])).stdout).toMatch(ownUsage('incident'));
    expect((await inProcess(['up', '--port', '9999', '-h'])).stdout).toMatch(ownUsage('up'));
    // After `--` a word is an operand: up takes none, so it refuses it without starting.
    const operand = await inProcess(['up', '--', '--help']);
    expect(operand.code).toBe(2);
    expect(operand.stdout).toBe('');
  });

  it('lists every command in faultline --help, pause and resume on lines of their own', async () => {
    const { code, stdout } = await inProcess(['--help']);
    expect(code).toBe(0);
    const lines = stdout.split('\n').map((line) => line.trim());
    for (const command of COMMANDS) expect(lines.some((line) => line.startsWith(command))).toBe(true);
    expect(lines).toContain('pause');
    expect(lines).toContain('resume');
    expect(stdout).not.toMatch(/pause\s*\|\s*resume/);
  });

  it('answers --help through bin/faultline as a person types it', async () => {
    for (const command of ['up', 'resolve', 'demo']) {
      const { stdout, stderr } = await run(FAULTLINE_BIN, [command, '--help'], {
        cwd: ROOT,
        env: { ...process.env, FAULTLINE_URL: 'http://127.0.0.1:9' },
      });
      expect(stdout).toMatch(ownUsage(command));
      expect(stderr).toBe('');
    }
  });
});
