import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { WHO_BOOT_TZ } from '../../probes/who-boot.ts';
import { TOOL_RUNNER_DEFAULTS } from '../scan/tool-runner.ts';

/**
 * The programs a server's agent runs to know what it serves: `ldm` on an LDoms control domain,
 * `ioscli` (`lsmap`) on a VIOS, `uname` and `who` for the partition's name and boot, `systemctl`
 * to tell a shutdown from a restart of the agent, and the operator's own serving check (an
 * absolute path from the configuration). Each runs with an argument vector (`execFile`, never a
 * shell), the C locale and a timeout; a bare name is looked up on the server search path only.
 *
 * The environment is built, not inherited: the C locale, the search path, and for `who` alone
 * `TZ=UTC0`, so that it prints the boot record in UTC, which is how the agent reads it
 * (probes/who-boot.ts). The agent's own `TZ` is never passed on: on AIX and IBM i PASE it is often
 * a POSIX rule string (`CST6CDT,M3.2.0,M11.1.0`) that the C library reads and Node does not, and
 * no other program's output carries a time the agent reads.
 */

/** The bare program names a server's agent may run; anything else must be an absolute path. */
export const SERVER_PROGRAMS = ['ldm', 'ioscli', 'uname', 'who', 'systemctl'] as const;
export type ServerProgram = (typeof SERVER_PROGRAMS)[number];

/** Where those programs live: the VIOS CLI and the LDoms manager are off the usual path. */
export const SERVER_SEARCH_PATH = [
  ...TOOL_RUNNER_DEFAULTS.searchPath,
  '/usr/ios/cli',
  '/opt/SUNWldm/bin',
  '/QOpenSys/usr/bin',
] as const;

/** Defaults for each run. */
export const SERVER_COMMAND_DEFAULTS = { timeoutMs: 30_000, maxOutputBytes: 8 * 1024 * 1024 } as const;

export type CommandResult = {
  /** The exit code; null when the program was killed (timeout) or could not be started. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The program was not found (a bare name not on the search path, or a path that is not executable). */
  missing: boolean;
};

/** Runs `argv` (a program from {@link SERVER_PROGRAMS} or an absolute path, then its arguments). */
export type RunServerCommand = (
  argv: readonly string[],
  options?: { timeoutMs?: number },
) => Promise<CommandResult>;

const missing = (what: string): CommandResult => ({
  exitCode: null,
  stdout: '',
  stderr: `${what}: not found`,
  timedOut: false,
  missing: true,
});

const isServerProgram = (name: string): name is ServerProgram =>
  (SERVER_PROGRAMS as readonly string[]).includes(name);

const executable = async (path: string): Promise<boolean> => {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The runner of a live agent; `searchPath` comes first (tests put their fakes there). */
export const createServerCommandRunner = (
  searchPath: readonly string[] = SERVER_SEARCH_PATH,
): RunServerCommand => {
  const path = [...new Set([...searchPath, ...SERVER_SEARCH_PATH])];
  const env = { LC_ALL: 'C', LANG: 'C', PATH: path.join(delimiter) };
  const whoEnv = { ...env, TZ: WHO_BOOT_TZ };
  return async (argv, options = {}) => {
    const [program, ...args] = argv;
    if (program === undefined) return missing('(no program)');
    let file: string | undefined;
    if (isAbsolute(program)) {
      file = (await executable(program)) ? program : undefined;
    } else if (isServerProgram(program)) {
      for (const directory of path) {
        const candidate = join(directory, program);
        if (await executable(candidate)) {
          file = candidate;
          break;
        }
      }
    }
    if (file === undefined) return missing(program);
    const timeoutMs = options.timeoutMs ?? SERVER_COMMAND_DEFAULTS.timeoutMs;
    return new Promise((resolve) => {
      execFile(
        file,
        args,
        {
          encoding: 'utf8',
          env: program === 'who' ? whoEnv : env,
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: SERVER_COMMAND_DEFAULTS.maxOutputBytes,
          windowsHide: true,
        },
        (error, stdout, stderr) => {
          if (error === null) {
            resolve({ exitCode: 0, stdout, stderr, timedOut: false, missing: false });
            return;
          }
          const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
          const exitCode = typeof failure.code === 'number' ? failure.code : null;
          resolve({
            exitCode,
            stdout: stdout ?? '',
            stderr: stderr === '' || stderr === undefined ? failure.message : stderr,
            timedOut: failure.killed === true && exitCode === null,
            missing: failure.code === 'ENOENT' || failure.code === 'EACCES',
          });
        },
      );
    });
  };
};

/** One line saying how a command ended, for logs and check details. */
export const describeResult = (argv: readonly string[], result: CommandResult): string => {
  const command = argv.join(' ');
  if (result.missing) return `${command}: not installed`;
  if (result.timedOut) return `${command}: no answer within its timeout`;
  const message = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(0, 3)
    .join('; ');
  const status = result.exitCode === 0 ? 'exit 0' : `exit ${result.exitCode ?? 'killed'}`;
  return message === '' ? `${command}: ${status}` : `${command}: ${status}: ${message.slice(0, 300)}`;
};
