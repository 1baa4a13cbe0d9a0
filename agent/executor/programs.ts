import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { TOOL_RUNNER_DEFAULTS } from '../scan/tool-runner.ts';
import { ToolMissingError } from './errors.ts';

/**
 * The only programs the executor ever starts, each by an argument vector (`execFile`, never a
 * shell), found on the executor's search path (the agent's `PATH` first, then the sbin folders a
 * systemd unit's `PATH` often lacks; tests put their fakes first), with the C locale (the parsers
 * read the tools' untranslated output) and a timeout after which the program is killed.
 */

export const EXECUTOR_PROGRAMS = [
  'mdadm',
  'multipathd',
  'metareplace',
  'metastat',
  'metadb',
  'udevadm',
] as const;
export type ExecutorProgram = (typeof EXECUTOR_PROGRAMS)[number];

/** How long each program may take before it is killed. */
export const PROGRAM_TIMEOUTS_MS: Readonly<Record<ExecutorProgram, number>> = {
  /** Manage mode returns at once; `--detail` and `--examine` read a superblock or two. */
  mdadm: 60_000,
  /** The daemon answers from memory; a wedged one must not hold the plan. */
  multipathd: 30_000,
  /** Starts a resync and returns; the resync itself is watched by `svm.wait-sync`. */
  metareplace: 120_000,
  metastat: 30_000,
  metadb: 30_000,
  /** `udevadm settle` is given its own `--timeout`; this is a ceiling above it. */
  udevadm: 180_000,
};

/** Output beyond this is not a tool answer the executor needs. */
const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;

export type ProgramResult = {
  /** The exit code; null when the program was killed (timeout, abort). */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
};

export type RunProgramOptions = { timeoutMs?: number; signal?: AbortSignal };

/** Runs one allow-listed program; throws `ToolMissingError` when it is not installed. */
export type RunProgram = (
  program: ExecutorProgram,
  args: readonly string[],
  options?: RunProgramOptions,
) => Promise<ProgramResult>;

/** The agent's `PATH` (absolute entries only), then the usual sbin folders, without duplicates. */
export const executorSearchPath = (envPath: string | undefined): string[] => {
  const fromEnv = (envPath ?? '').split(delimiter).filter((entry) => entry !== '' && isAbsolute(entry));
  return [...new Set([...fromEnv, ...TOOL_RUNNER_DEFAULTS.searchPath])];
};

const findProgram = async (program: string, searchPath: readonly string[]): Promise<string | null> => {
  for (const directory of searchPath) {
    const candidate = join(directory, program);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return null;
};

/** The program runner of a live agent. */
export const createProgramRunner = (searchPath: readonly string[]): RunProgram => {
  const env = { LC_ALL: 'C', LANG: 'C', PATH: searchPath.join(delimiter) };
  return async (program, args, options = {}) => {
    const path = await findProgram(program, searchPath);
    if (path === null) throw new ToolMissingError(program, searchPath);
    const timeoutMs = options.timeoutMs ?? PROGRAM_TIMEOUTS_MS[program];
    return new Promise((resolve) => {
      execFile(
        path,
        [...args],
        {
          encoding: 'utf8',
          env,
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: MAX_OUTPUT_BYTES,
          windowsHide: true,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        },
        (error, stdout, stderr) => {
          if (error === null) {
            resolve({ exitCode: 0, stdout, stderr, timedOut: false });
            return;
          }
          const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
          const exitCode = typeof failure.code === 'number' ? failure.code : null;
          resolve({
            exitCode,
            stdout: stdout ?? '',
            stderr: stderr === '' || stderr === undefined ? failure.message : stderr,
            timedOut: failure.killed === true && exitCode === null && options.signal?.aborted !== true,
          });
        },
      );
    });
  };
};

/** A program's command line as an operator would type it, for `detail` texts and logs. */
export const commandLine = (program: ExecutorProgram, args: readonly string[]): string =>
  [program, ...args].join(' ');

/** The last meaningful lines a tool printed, for a `detail`. */
export const toolMessage = (result: ProgramResult): string => {
  const text = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join('; ');
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
};
