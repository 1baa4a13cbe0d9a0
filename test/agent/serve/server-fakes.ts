import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandResult } from '../../../agent/serve/server-commands.ts';
import type { ServerTools } from '../../../agent/serve/server-host.ts';
import type { FakeServerModel } from '../../../sim/fake-host/server-model.d.mts';
import { loadServerModel, saveServerModel, updateServerModel } from '../../../sim/fake-host/server-model.mjs';
import { runServerTool, SERVER_TOOL_NAMES } from '../../../sim/fake-host/server-tools.mjs';
import { type ApiHandler, type EventsApi, startEventsApi } from '../../helpers/agent-http.ts';

/**
 * Servers for the tests of agent/serve/: a scratch host (a root, a state directory) whose
 * `ldm`, `ioscli`, `uname` and `who` are the fakes of sim/fake-host (in process here; as
 * executables where a test wants the agent's own `execFile`), plus an events API on 127.0.0.1.
 */

export type ServerHost = {
  root: string;
  stateDir: string;
  fallbackStateDir: string;
  base: string;
  update: (change: (model: FakeServerModel) => void) => void;
  remove: () => void;
};

export const createServerHost = (model: FakeServerModel, files: Record<string, string> = {}): ServerHost => {
  const base = mkdtempSync(join(tmpdir(), 'faultline-server-'));
  const root = join(base, 'root');
  mkdirSync(root, { recursive: true });
  saveServerModel(root, model);
  for (const [path, text] of Object.entries(files)) writeHostFile(root, path, text);
  return {
    root,
    stateDir: join(base, 'state'),
    fallbackStateDir: join(base, 'run'),
    base,
    update: (change) => updateServerModel(root, change),
    remove: () => rmSync(base, { recursive: true, force: true }),
  };
};

/** Writes a file of the host (`proc/stat`, `proc/sys/kernel/random/boot_id`). */
export const writeHostFile = (root: string, path: string, text: string): void => {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
};

const result = (exitCode: number | null, stdout = '', stderr = '', missing = false): CommandResult => ({
  exitCode,
  stdout,
  stderr,
  timedOut: false,
  missing,
});

/** A serving check the test flips: exit 0 while `serving()` says so, else 1 with a message. */
export type FlippableCheck = {
  path: string;
  set: (serving: boolean) => void;
  runs: () => number;
  run: () => CommandResult;
};

export const flippableCheck = (path = '/opt/faultline/bin/check-serving'): FlippableCheck => {
  let serving = false;
  let runs = 0;
  return {
    path,
    set: (next) => {
      serving = next;
    },
    runs: () => runs,
    run: () => {
      runs += 1;
      return serving ? result(0, 'serving\n') : result(1, '', 'NWSD VIOS1 is VARY ON PENDING\n');
    },
  };
};

/** Uptime where the test names none and the host is no VIOS. */
const DEFAULT_UPTIME_SECONDS = 3600;

/**
 * The fakes run in process, plus the test's own programs by absolute path (they replace a fake of
 * the same name). The uptime is the test's, else a VIOS's counts from its boot record (as AIX's
 * does, from utmp) at `clock` (the wall clock unless the test moves time itself), else an hour.
 */
export const inProcessTools = (
  root: string,
  options: {
    programs?: Record<string, () => CommandResult>;
    uptimeSeconds?: () => number;
    clock?: () => Date;
  } = {},
): ServerTools & { calls: string[][] } => {
  const calls: string[][] = [];
  const clock = options.clock ?? (() => new Date());
  const uptimeSeconds = (): number => {
    const vios = loadServerModel(root).vios;
    return vios === null || vios === undefined
      ? DEFAULT_UPTIME_SECONDS
      : (clock().getTime() - vios.bootedAt) / 1000;
  };
  return {
    calls,
    uptimeSeconds: options.uptimeSeconds ?? uptimeSeconds,
    run: async (argv) => {
      calls.push([...argv]);
      const [program = '', ...args] = argv;
      const own = options.programs?.[program];
      if (own !== undefined) return own();
      if (!SERVER_TOOL_NAMES.includes(program)) return result(null, '', `${program}: not found`, true);
      const answer = runServerTool(program, args, root);
      return answer.code === 127
        ? result(null, '', answer.stderr, true)
        : result(answer.code, answer.stdout, answer.stderr);
    },
  };
};

/** Tools with a flippable serving check at its path. */
export const toolsWithCheck = (root: string, check: FlippableCheck, uptimeSeconds?: () => number) =>
  inProcessTools(root, {
    programs: { [check.path]: check.run },
    ...(uptimeSeconds === undefined ? {} : { uptimeSeconds }),
  });

/** An events API on 127.0.0.1 that accepts everything, keeping the events it took. */
export const acceptingApi = async (
  answer: ApiHandler = (request) => {
    // The agent's plan runner polls too: no plans.
    if (request.method !== 'POST') return { status: 200, body: { plans: [], nextPollSeconds: 60 } };
    const events = JSON.parse(request.body) as { id: string }[];
    return {
      status: 202,
      body: { accepted: events.map((event) => event.id), rejected: [], plansPending: false },
    };
  },
): Promise<
  EventsApi & {
    events: () => Array<{
      type: string;
      subject: string;
      data: Record<string, unknown>;
      bootid: string;
      seq: number;
    }>;
  }
> => {
  const api = await startEventsApi(answer);
  return {
    ...api,
    events: () =>
      api.requests
        .filter((request) => request.url === '/v1/events')
        .flatMap(
          (request) =>
            JSON.parse(request.body) as Array<{
              type: string;
              subject: string;
              data: Record<string, unknown>;
              bootid: string;
              seq: number;
            }>,
        ),
  };
};

/** An API URL nothing listens on (a port just closed). */
export const unreachableUrl = async (): Promise<string> => {
  const api = await startEventsApi(() => ({ status: 202 }));
  await api.stop();
  return api.url;
};
