import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { type AgentConfigFile, CONFIG_DEFAULTS, loadAgentConfig } from '../agent/config.ts';
import { hostObserver } from '../agent/detect/host-observer.ts';
import { memoryLog } from '../agent/state/agent-log.ts';
import { AGENT_BUILD_OPTIONS, buildAgentBundle } from '../scripts/build.ts';
import { createFakeRoot, type FakeRoot, type Md0Stage } from '../test/helpers/agent-fake-root.ts';
import { writeAgentConfig } from '../test/helpers/agent-process.ts';
import { type BenchRow, count, underMark } from './table.ts';

/**
 * Section 7 of `npm run bench` (docs/architecture.md §7, "agent"): the host agent as it is
 * installed — the bundle of `npm run build` (scripts/build.ts, built here into a temporary folder)
 * run by the systemd unit's command line, `node --lite-mode faultline-agent.mjs run --config …` —
 * over a fake root (test/helpers/agent-fake-root.ts: a Linux client with md0 over two vSCSI
 * disks), publishing to an HTTP server on 127.0.0.1 that plays the API (`POST /v1/events`, and
 * `GET /v1/agents/:hostId/plans` answering no plans). Every interval is the configuration's default.
 *
 * - bundle size, beside the floor of its dependencies: the SQS client and zod bundled alone, the
 *   same way;
 * - idle RSS once the agent settled (the largest of samples over three scan periods, starting one
 *   period after its first heartbeat), beside plain `node --lite-mode` idling; and the same agent
 *   run from the checkout (`bin/faultline-agent`, through tsx, as the tests start it);
 * - CPU per scan: the agent's own scan of the fake root (`hostObserver(…).observe`, what its loop
 *   runs each period) repeated in a child process under the unit's `node` options, CPU time over
 *   N scans / N, beside the installed agent's whole process CPU per scan period while idle; a
 *   fake root has no tools to run, so a live host adds the `mdadm`/`multipath` processes it starts;
 * - detection: md0's state written to the fake `/proc/mdstat` (and sysfs) → the event received
 *   by the API, by the periodic scan alone (the change lands at a random point of the period) and
 *   with the mdadm hook (`faultline-agent hook Fail /dev/md0 /dev/sdb1`, what `mdadm --monitor`
 *   runs through agent/dist-files/faultline-mdadm-hook).
 */

const MAX_BUNDLE_BYTES = 2 * 1024 * 1024;
const MAX_IDLE_RSS_BYTES = 60 * 1024 * 1024;
const MAX_DETECTION_MS = 2000;
const HOST_ID = 'lnxclient07.example.net';
const AGENT_TOKEN = 'fl_agent_bench0123456789abcdef0123456789';
/** `node` options of the systemd unit (agent/dist-files/faultline-agent.service). */
const UNIT_NODE_OPTIONS = ['--lite-mode'];
const SCANS = 200;
const WARM_UP_SCANS = 20;
const DETECTIONS_BY_SCAN = 4;
const DETECTIONS_BY_HOOK = 3;
const RSS_SAMPLE_MS = 250;
/** Scan periods the idle figures are taken over. */
const IDLE_PERIODS = 3;
const MB = 1024 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number): string => `${count(ms / 1000, 2)} s`;
const megabytes = (bytes: number): string => `${count(bytes / MB, 1)} MB`;

// ——————————————————————————————————————————————— the API, played on loopback

interface Received {
  readonly at: number;
  readonly types: readonly string[];
}

interface FakeApi {
  readonly url: string;
  readonly received: Received[];
  /** Resolves with the arrival time of the first event of `type` received after `since` (ms, performance.now). */
  waitFor(type: string, since: number, timeoutMs: number): Promise<number>;
  stop(): Promise<void>;
}

const startFakeApi = async (): Promise<FakeApi> => {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const answer = (request: IncomingMessage, response: ServerResponse, body: string): void => {
    const url = request.url ?? '';
    if (request.method === 'POST' && url.startsWith('/v1/events')) {
      const events = JSON.parse(body) as { id: string; type: string }[];
      received.push({ at: performance.now(), types: events.map((event) => event.type) });
      for (const wake of waiters) wake();
      response.writeHead(202, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ accepted: events.map((event) => event.id), rejected: [] }));
      return;
    }
    if (request.method === 'GET' && url.startsWith(`/v1/agents/${HOST_ID}/plans`)) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ plans: [], nextPollSeconds: CONFIG_DEFAULTS.heartbeatSeconds }));
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: { code: 'not-found', message: url } }));
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => answer(request, response, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const firstAfter = (type: string, since: number): number | undefined =>
    received.find((entry) => entry.at >= since && entry.types.includes(type))?.at;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    waitFor: (type, since, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const at = firstAfter(type, since);
          if (at === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(at);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the API received no ${type} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

// ——————————————————————————————————————————————— processes

/** Resident and peak resident set (VmRSS, VmHWM) and CPU time (ms) of a process, from /proc. */
const processFigures = async (pid: number): Promise<{ rss: number; peak: number; cpuMs: number }> => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rss: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024, cpuMs: (ticks * 1000) / CLOCK_TICKS };
};

/** `sysconf(_SC_CLK_TCK)`: 100 on every Linux Node supports. */
const CLOCK_TICKS = 100;

interface Running {
  readonly child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

const startProcess = (command: string, args: readonly string[], cwd: string): Running => {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    log: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
};

/** The largest RSS of a running process over `ms`, sampled; and its CPU time over the same span. */
const idleFigures = async (
  pid: number,
  ms: number,
): Promise<{ rss: number; peak: number; cpuMs: number }> => {
  const first = await processFigures(pid);
  let rss = first.rss;
  let last = first;
  for (let waited = 0; waited < ms; waited += RSS_SAMPLE_MS) {
    await sleep(RSS_SAMPLE_MS);
    last = await processFigures(pid);
    rss = Math.max(rss, last.rss);
  }
  return { rss, peak: last.peak, cpuMs: last.cpuMs - first.cpuMs };
};

// ——————————————————————————————————————————————— measurements

interface Bundles {
  readonly agent: string;
  readonly agentBytes: number;
  readonly dependencyBytes: number;
}

/** The agent bundle as `npm run build` makes it, and its dependencies alone bundled the same way. */
const buildBundles = async (folder: string): Promise<Bundles> => {
  const { outfile, bytes } = await buildAgentBundle(join(folder, 'faultline-agent.mjs'));
  const floor = join(folder, 'dependencies.mjs');
  await build({
    stdin: {
      contents:
        "export { SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';\nexport { z } from 'zod';\n",
      resolveDir: join(import.meta.dirname, '..'),
      loader: 'ts',
    },
    ...AGENT_BUILD_OPTIONS,
    outfile: floor,
  });
  const { size } = await stat(floor);
  return { agent: outfile, agentBytes: bytes, dependencyBytes: size };
};

const agentConfig = (fake: FakeRoot, folder: string, apiUrl: string): AgentConfigFile => ({
  hostId: HOST_ID,
  root: fake.root,
  stateDir: join(folder, 'state'),
  fallbackStateDir: join(folder, 'fallback'),
  stopFile: join(folder, 'stop'),
  targets: { api: { url: apiUrl, agentToken: AGENT_TOKEN } },
});

interface AgentRun {
  readonly idle: { rss: number; peak: number; cpuMs: number; spanMs: number };
  readonly byScan: number[];
  readonly byHook: number[];
}

const STAGE_EVENT: Partial<Record<Md0Stage, string>> = {
  degraded: 'mirror.degraded',
  healthy: 'mirror.healthy',
};

/** Runs the installed agent over a fake root: idle figures, then detection by scan and by hook. */
const runInstalledAgent = async (bundle: string, folder: string): Promise<AgentRun> => {
  const api = await startFakeApi();
  const fake = createFakeRoot('healthy');
  const configPath = writeAgentConfig(join(folder, 'agent.json'), agentConfig(fake, folder, api.url));
  const scanMs = CONFIG_DEFAULTS.scanSeconds * 1000;
  const agent = startProcess(
    process.execPath,
    [...UNIT_NODE_OPTIONS, bundle, 'run', '--config', configPath],
    folder,
  );
  try {
    const pid = agent.child.pid;
    if (pid === undefined) throw new Error('the agent did not start');
    await api.waitFor('host.heartbeat', 0, 30_000).catch((error: Error) => {
      throw new Error(`${error.message}; agent log:\n${agent.log()}`);
    });
    // Idle: after one scan period to settle (its first seconds compile what it runs), three more.
    await sleep(scanMs);
    const spanMs = IDLE_PERIODS * scanMs;
    const idle = { ...(await idleFigures(pid, spanMs)), spanMs };

    let stage: Md0Stage = 'healthy';
    const change = async (hook: boolean): Promise<number> => {
      stage = stage === 'healthy' ? 'degraded' : 'healthy';
      const type = STAGE_EVENT[stage] ?? '';
      const changedAt = performance.now();
      fake.setMd0(stage);
      if (hook) {
        // What mdadm --monitor runs on the array event, through faultline-mdadm-hook.
        await promisify(execFile)(
          process.execPath,
          [
            ...UNIT_NODE_OPTIONS,
            bundle,
            'hook',
            '--config',
            configPath,
            stage === 'degraded' ? 'Fail' : 'SpareActive',
            '/dev/md0',
            '/dev/sdb1',
          ],
          { cwd: folder },
        );
      }
      const receivedAt = await api.waitFor(type, changedAt, scanMs * 3);
      return receivedAt - changedAt;
    };
    const byScan: number[] = [];
    for (let index = 0; index < DETECTIONS_BY_SCAN; index += 1) {
      // A change lands anywhere in the scan period.
      await sleep(Math.random() * scanMs);
      byScan.push(await change(false));
    }
    const byHook: number[] = [];
    for (let index = 0; index < DETECTIONS_BY_HOOK; index += 1) {
      await sleep(Math.random() * scanMs);
      byHook.push(await change(true));
    }
    return { idle, byScan, byHook };
  } catch (error) {
    throw new Error(`${(error as Error).message}; agent log:\n${agent.log()}`);
  } finally {
    await agent.stop();
    await api.stop();
    fake.remove();
  }
};

/** Idle RSS of a process that starts and then only waits: once its first answer is in, over `ms`. */
const idleRssOf = async (
  command: string,
  args: readonly string[],
  folder: string,
  ready: () => Promise<unknown>,
  ms: number,
): Promise<number> => {
  const running = startProcess(command, args, folder);
  try {
    await ready();
    const pid = running.child.pid;
    if (pid === undefined) throw new Error(`${args.join(' ')} did not start`);
    return (await idleFigures(pid, ms)).rss;
  } finally {
    await running.stop();
  }
};

/** The same agent from the checkout (`bin/faultline-agent`, through tsx), as the tests run it. */
const checkoutAgentRss = async (folder: string, ms: number): Promise<number> => {
  const api = await startFakeApi();
  const fake = createFakeRoot('healthy');
  const configPath = writeAgentConfig(join(folder, 'checkout.json'), {
    ...agentConfig(fake, folder, api.url),
    stateDir: join(folder, 'checkout-state'),
    fallbackStateDir: join(folder, 'checkout-fallback'),
  });
  try {
    return await idleRssOf(
      process.execPath,
      [join(import.meta.dirname, '..', 'bin', 'faultline-agent'), 'run', '--config', configPath],
      folder,
      () => api.waitFor('host.heartbeat', 0, 60_000),
      ms,
    );
  } finally {
    await api.stop();
    fake.remove();
  }
};

/** The agent's own scan (what its loop runs each period) over a fake root, `SCANS` times: CPU ms per scan. */
const scanCpuHere = async (configPath: string): Promise<number> => {
  const config = loadAgentConfig(configPath, (path) => readFileSync(path, 'utf8'));
  const observer = hostObserver(config, memoryLog());
  for (let scan = 0; scan < WARM_UP_SCANS; scan += 1) await observer.observe(new Date());
  const before = process.cpuUsage();
  for (let scan = 0; scan < SCANS; scan += 1) await observer.observe(new Date());
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / SCANS;
};

const SCAN_CPU_COMMAND = 'scan-cpu';

/** CPU per scan under the unit's `node` options, in a child process running this file. */
const cpuPerScanMs = async (folder: string): Promise<number> => {
  const fake = createFakeRoot('degraded');
  try {
    const configPath = writeAgentConfig(
      join(folder, 'scan.json'),
      agentConfig(fake, folder, 'http://127.0.0.1:9'),
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [...UNIT_NODE_OPTIONS, '--import', 'tsx', fileURLToPath(import.meta.url), SCAN_CPU_COMMAND, configPath],
      { cwd: join(import.meta.dirname, '..') },
    );
    const ms = Number(stdout.trim());
    if (!Number.isFinite(ms)) throw new Error(`the scan child answered ${stdout}`);
    return ms;
  } finally {
    fake.remove();
  }
};

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

/** Section 7: the host agent. */
export const agentSection = async (): Promise<BenchRow[]> => {
  const folder = await mkdtemp(join(tmpdir(), 'faultline-bench-agent-'));
  try {
    const bundles = await buildBundles(folder);
    const run = await runInstalledAgent(bundles.agent, folder);
    const nodeIdle = (options: readonly string[]) =>
      idleRssOf(
        process.execPath,
        [...options, '-e', 'setInterval(() => {}, 1000);'],
        folder,
        () => sleep(500),
        run.idle.spanMs / 2,
      );
    const unitNodeRss = await nodeIdle(UNIT_NODE_OPTIONS);
    const nodeRss = await nodeIdle([]);
    const checkoutRss = await checkoutAgentRss(folder, run.idle.spanMs / 2);
    const scanCpuMs = await cpuPerScanMs(folder);
    const scanSeconds = CONFIG_DEFAULTS.scanSeconds;
    const byScanMax = Math.max(...run.byScan);
    const byHookMax = Math.max(...run.byHook);
    return [
      {
        section: 'agent',
        what: 'bundle size (`npm run build`: scripts/build.ts, minified ESM, one file)',
        figure: `${count(bundles.agentBytes / 1024)} KiB`,
        peer: `its dependencies alone (SQS client + zod), bundled the same way: ${count(bundles.dependencyBytes / 1024)} KiB`,
        target: `≤ 2 MB ${underMark(bundles.agentBytes, MAX_BUNDLE_BYTES)}`,
      },
      {
        section: 'agent',
        what: `idle RSS of the installed agent (node ${UNIT_NODE_OPTIONS.join(' ')} bundle run), largest over ${count(run.idle.spanMs / 1000)} s, from one scan period after its first heartbeat`,
        figure: `${megabytes(run.idle.rss)} (peak since start ${megabytes(run.idle.peak)})`,
        peer: `node ${UNIT_NODE_OPTIONS.join(' ')} doing nothing: ${megabytes(unitNodeRss)}`,
        target: `≤ 60 MB ${underMark(run.idle.rss, MAX_IDLE_RSS_BYTES)}`,
      },
      {
        section: 'agent',
        what: 'idle RSS of the agent from the checkout (bin/faultline-agent, through tsx, as the tests run it)',
        figure: megabytes(checkoutRss),
        peer: `node doing nothing: ${megabytes(nodeRss)}`,
        target: `≤ 60 MB ${underMark(checkoutRss, MAX_IDLE_RSS_BYTES)}`,
      },
      {
        section: 'agent',
        what: `CPU per scan: the agent's scan of the fake root (hostObserver.observe, what its loop runs each period) under node ${UNIT_NODE_OPTIONS.join(' ')}, CPU time over ${SCANS} scans / ${SCANS} (a live host adds the tools it runs)`,
        figure: `${count(scanCpuMs, 2)} ms`,
        peer: `the installed agent idle: ${count(run.idle.cpuMs / (run.idle.spanMs / (scanSeconds * 1000)), 1)} ms of process CPU per ${scanSeconds} s scan period (scan, plan poll, timers, GC)`,
        target: '—',
      },
      {
        section: 'agent',
        what: `detection by the scan alone (every ${scanSeconds} s, the default): md0 written to the fake mdstat → event received by the API on 127.0.0.1, ${run.byScan.length} changes at random points`,
        figure: `median ${seconds(median(run.byScan))}, max ${seconds(byScanMax)}`,
        peer: `the scan period: ${scanSeconds} s`,
        target: `≤ 2 s ${underMark(byScanMax, MAX_DETECTION_MS)}`,
      },
      {
        section: 'agent',
        what: `detection with the mdadm hook (faultline-agent hook, as mdadm --monitor runs it): change → event received, ${run.byHook.length} changes`,
        figure: `median ${seconds(median(run.byHook))}, max ${seconds(byHookMax)}`,
        peer: `the scan period: ${scanSeconds} s`,
        target: `≤ 2 s ${underMark(byHookMax, MAX_DETECTION_MS)}`,
      },
    ];
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
};

// `node --import tsx bench/agent.ts scan-cpu <config>`: the child of `cpuPerScanMs`.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command, configPath] = process.argv.slice(2);
  if (command !== SCAN_CPU_COMMAND || configPath === undefined) {
    process.stderr.write(`usage: node --import tsx bench/agent.ts ${SCAN_CPU_COMMAND} <agent config>\n`);
    process.exitCode = 2;
  } else {
    process.stdout.write(`${await scanCpuHere(configPath)}\n`);
  }
}
