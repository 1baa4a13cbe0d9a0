import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * How the scan gets the output of the storage tools (`multipath -ll`, `mdadm --detail`,
 * `metastat`, `metadb -i`, `ldm list -p`, and on AIX `lsvg`, `lspv` and `lspath`): run on a live host, or read from what a sosreport (or a fixture tree)
 * captured. The scan only says what it needs and what that output depends on (a fingerprint of
 * cheap sysfs reads); the runner decides whether to run anything. The live runner reuses an output
 * while the fingerprint is unchanged and the output is younger than its refresh interval, so a
 * scan every few seconds costs file reads, not processes.
 */

/** The tools the scan asks for. */
export type ToolName = 'multipath' | 'mdadm' | 'metastat' | 'metadb' | 'ldm' | 'lsvg' | 'lspv' | 'lspath';

/** What the scan needs run, and what the answer depends on so a runner can reuse it. */
export type ToolRequest = {
  tool: ToolName;
  /** The argument vector after the program name: `['-ll']`, `['--detail', '/dev/md0']`, `['list', '-p']`. */
  args: readonly string[];
  /**
   * What the output depends on as far as cheap reads can tell; a runner may reuse an earlier
   * output of the same command with the same fingerprint. Empty when nothing cheap tells.
   */
  fingerprint: string;
  /** The scan's clock: cached outputs age by it, never by the wall clock. */
  now: Date;
};

/** Output (stdout then stderr) of a tool, or null when the tool is absent, timed out or printed nothing. */
export type ToolRunner = (request: ToolRequest) => Promise<string | null>;

/** Defaults of the live runner; each can be set per runner. */
export const TOOL_RUNNER_DEFAULTS = {
  /** A hung `multipath -ll` (multipathd wedged on a dead path) must not hold the scan. */
  timeoutMs: 10_000,
  /** Longest an output is reused while its fingerprint is unchanged. */
  refreshSeconds: 30,
  /** Where the tools live; the agent's own PATH (a systemd unit) often lacks the sbin folders. */
  searchPath: ['/sbin', '/usr/sbin', '/bin', '/usr/bin', '/usr/local/sbin', '/opt/SUNWldm/bin'],
  /** Largest output read: a fleet's biggest `multipath -ll` is well under this. */
  maxOutputBytes: 8 * 1024 * 1024,
} as const;

/** Overrides of {@link TOOL_RUNNER_DEFAULTS}; a detection loop may want a shorter refresh. */
export type LiveToolRunnerOptions = {
  timeoutMs?: number;
  refreshSeconds?: number;
  searchPath?: readonly string[];
  maxOutputBytes?: number;
};

type CachedOutput = { fingerprint: string; atMs: number; output: string | null };

/**
 * Runs the tools on this host with an argument vector (`execFile`, never a shell), the C locale
 * (so the output is the one the parsers read) and a timeout. A tool not installed is skipped
 * (null); its absence is cached like an output.
 */
export const createLiveToolRunner = (options: LiveToolRunnerOptions = {}): ToolRunner => {
  const timeoutMs = options.timeoutMs ?? TOOL_RUNNER_DEFAULTS.timeoutMs;
  const refreshMs = (options.refreshSeconds ?? TOOL_RUNNER_DEFAULTS.refreshSeconds) * 1000;
  const searchPath = options.searchPath ?? TOOL_RUNNER_DEFAULTS.searchPath;
  const maxBuffer = options.maxOutputBytes ?? TOOL_RUNNER_DEFAULTS.maxOutputBytes;
  const cache = new Map<string, CachedOutput>();

  return async (request) => {
    const key = [request.tool, ...request.args].join('\0');
    const nowMs = request.now.getTime();
    const cached = cache.get(key);
    if (
      cached !== undefined &&
      cached.fingerprint === request.fingerprint &&
      nowMs - cached.atMs >= 0 &&
      nowMs - cached.atMs < refreshMs
    ) {
      return cached.output;
    }
    const program = await findProgram(request.tool, searchPath);
    const output =
      program === null ? null : await runProgram(program, request.args, { timeoutMs, maxBuffer, searchPath });
    cache.set(key, { fingerprint: request.fingerprint, atMs: nowMs, output });
    return output;
  };
};

const findProgram = async (tool: ToolName, searchPath: readonly string[]): Promise<string | null> => {
  for (const directory of searchPath) {
    const candidate = join(directory, tool);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
};

const runProgram = (
  program: string,
  args: readonly string[],
  limits: { timeoutMs: number; maxBuffer: number; searchPath: readonly string[] },
): Promise<string | null> =>
  new Promise((resolve) => {
    execFile(
      program,
      [...args],
      {
        timeout: limits.timeoutMs,
        maxBuffer: limits.maxBuffer,
        killSignal: 'SIGKILL',
        encoding: 'utf8',
        env: {
          LC_ALL: 'C',
          LANG: 'C',
          PATH: [...new Set([...limits.searchPath, ...TOOL_RUNNER_DEFAULTS.searchPath])].join(':'),
        },
        windowsHide: true,
      },
      (error, stdout, stderr) => {
        const killed = error !== null && (error.killed || (error as NodeJS.ErrnoException).code === 'ENOENT');
        const text = `${stdout ?? ''}${stderr ?? ''}`;
        resolve(killed || text.trim() === '' ? null : text);
      },
    );
  });

/**
 * Where a sosreport keeps a command's output: `sos_commands/<plugin>/<command>` with the command
 * mangled as sos does (its leading `/usr/sbin/` dropped, every run of characters other than
 * letters, digits, `-`, `.` and `/` turned into `_`, `/` into `.`, and `.`, `_`, `-` and spaces
 * trimmed from both ends): `multipath -ll` → `multipath_-ll`, `mdadm -D /dev/md*` →
 * `mdadm_-D_.dev.md`.
 */
export const sosCommandFileName = (command: string): string =>
  command
    .replace(/^\/(?:usr\/)?s?bin\//, '')
    .replace(/[^\w\-./]+/g, '_')
    .replace(/\//g, '.')
    .replace(/^[ ._-]+|[ ._-]+$/g, '');

/**
 * The files, relative to the tree's root, that may hold a request's output, first found wins:
 *
 * - `multipath -ll`: `sos_commands/multipath/multipath_-ll` (sos's multipath plugin);
 * - `mdadm --detail /dev/md0`: `sos_commands/md/mdadm_--detail_.dev.md0`, `.../mdadm_-D_.dev.md0`,
 *   then `sos_commands/md/mdadm_-D_.dev.md`, the md plugin's `mdadm -D /dev/md*` holding every
 *   array one after another (the scan picks the array by its `/dev/md0:` header);
 * - `mdadm --examine /dev/sdb3`: `sos_commands/md/mdadm_--examine_.dev.sdb3`, then the md plugin's
 *   `mdadm_-E_.dev.sdb3`;
 * - `metastat`: `sos_commands/svm/metastat`; `metadb -i`: `sos_commands/svm/metadb_-i`, then
 *   `sos_commands/svm/metadb` (the same replicas without the legend); `ldm list -p`:
 *   `sos_commands/ldoms/ldm_list_-p`, then `sos_commands/ldoms/ldm_list`. Solaris has no sosreport:
 *   a Solaris capture for Faultline keeps its outputs under the same names.
 * - AIX (which has `snap`, not sos): `lsvg -l rootvg` in `sos_commands/aix/lsvg_-l_rootvg`,
 *   `lspv -l hdisk0` in `sos_commands/aix/lspv_-l_hdisk0`, `lspath -F "name path_id parent
 *   connection status"` in `sos_commands/aix/lspath_-F_name_path_id_parent_connection_status`, then
 *   `sos_commands/aix/lspath` (the default form, which the parser reads too).
 */
export const capturedOutputFiles = (request: Pick<ToolRequest, 'tool' | 'args'>): string[] => {
  const command = [request.tool, ...request.args].join(' ');
  switch (request.tool) {
    case 'multipath':
      return [join('sos_commands', 'multipath', sosCommandFileName(command))];
    case 'mdadm': {
      const [mode, device] = request.args;
      if (mode === '--examine' && device !== undefined) {
        return [
          join('sos_commands', 'md', sosCommandFileName(command)),
          join('sos_commands', 'md', sosCommandFileName(`mdadm -E ${device}`)),
        ];
      }
      if (mode !== '--detail' || device === undefined) {
        return [join('sos_commands', 'md', sosCommandFileName(command))];
      }
      return [
        join('sos_commands', 'md', sosCommandFileName(`mdadm --detail ${device}`)),
        join('sos_commands', 'md', sosCommandFileName(`mdadm -D ${device}`)),
        join('sos_commands', 'md', sosCommandFileName('mdadm -D /dev/md*')),
      ];
    }
    case 'metastat':
      return [join('sos_commands', 'svm', sosCommandFileName(command))];
    case 'metadb':
      return [
        join('sos_commands', 'svm', sosCommandFileName(command)),
        join('sos_commands', 'svm', sosCommandFileName('metadb')),
      ];
    case 'ldm':
      return [
        join('sos_commands', 'ldoms', sosCommandFileName(command)),
        join('sos_commands', 'ldoms', sosCommandFileName('ldm list')),
      ];
    case 'lsvg':
    case 'lspv':
      return [join('sos_commands', 'aix', sosCommandFileName(command))];
    case 'lspath':
      return [
        join('sos_commands', 'aix', sosCommandFileName(command)),
        join('sos_commands', 'aix', sosCommandFileName('lspath')),
      ];
  }
};

/** Reads captured outputs from a tree (a sosreport, a fixture) instead of running anything. */
export const createCapturedToolRunner = (
  root: string,
  maxOutputBytes: number = TOOL_RUNNER_DEFAULTS.maxOutputBytes,
): ToolRunner => {
  return async (request) => {
    for (const file of capturedOutputFiles(request)) {
      try {
        const text = await readFile(join(root, file), 'utf8');
        return text.length > maxOutputBytes ? text.slice(0, maxOutputBytes) : text;
      } catch {
        // not captured under this name
      }
    }
    return null;
  };
};
