import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { FaultlineEvent } from '../events/index.ts';
import type { RuntimeConfigInput } from '../local/config.ts';
import { DATA_FILES } from '../local/control-plane.ts';
import { HostingPartition, random, VscsiClient } from '../test/helpers/core-fleet.ts';
import {
  ALERTMANAGER_TIMERS,
  alertmanagerMissing,
  alertsOf,
  prepareAlertmanager,
  startWebhookReceiver,
} from './alertmanager.ts';
import { failureDomainOf, stormEvents } from './storm.ts';
import { type BenchRow, count, ratioMark, underMark } from './table.ts';

/**
 * The bench's sections over HTTP (docs/architecture.md §7, issue 16): `faultline up` runs as a child
 * process — a fresh data folder, a random operator token, and a `faultline.json` whose core timers
 * (`BENCH_RUNTIME_CONFIG`) are long enough that nothing but ingest and correlation happens — and the
 * bench posts to it with the operator token as an agent fleet's collector would.
 *
 * **Ingest** (`ingestRows`): the storm of bench/storm.ts for `size / 2` clients (about `size`
 * events, counted exactly), its times starting now, posted to `POST /v1/events` as JSON arrays of
 * `POST_SHAPE.batchEvents`, `POST_SHAPE.inFlight` requests in flight, its last event (vios2's
 * `ipl.completed`) alone once all the others are acknowledged (`stormPhases`). Any answer but 202
 * with every event accepted fails the bench. Measured: events acknowledged per second (first request sent →
 * last 202), each POST's latency (p50, p99), the time from the last 202 to the first
 * `GET /v1/incidents?domain=` answer (polled every `POLL_MS`) whose incident of the storm's failure
 * domain counts every client in `affectedHosts`, and the RSS of the child's process tree: peak (the
 * larger of the summed `VmHWM` and the largest summed `VmRSS` sampled every `MEMORY_SAMPLE_MS`) and
 * settled (`VmRSS` `SETTLE_MS` after the incident was visible). The peer, Prometheus Alertmanager
 * (bench/alertmanager.ts), gets the same storm as alerts in the same batches and is measured the same
 * way, its "visible" being the webhook notification of the failure domain's group carrying every
 * alert; `JSON.parse` of the storm's lines is the ceiling. Without Alertmanager installed the peer
 * figures are skipped with a message, not failed.
 *
 * **Steady** (`steadyRows`): a fresh `faultline up` is first given an open outage (a heartbeat and
 * an `md.degraded` from each of `STEADY.warmClients` clients of vios2, no IPL), then offered
 * `STEADY.eventsPerSecond` for the given seconds, paced as `STEADY.batchesPerSecond` batches a
 * second (at most `STEADY.inFlight` in flight; when Faultline falls behind, the offered rate falls
 * with it and the achieved rate says so). Each second a new client joins: its clean heartbeat in the
 * second's first batch, its `md.degraded` (the sample) in the middle one; the rest are heartbeats of
 * the growing fleet, round robin. Ingest → visible is, per sample, the time from its batch's 202 to
 * the first `GET /v1/incidents?host=<it>&domain=` answer listing the outage (polled every
 * `POLL_MS`, the oldest `STEADY.pollsInFlight` samples at a time).
 *
 * Figures go to the one table of bench/run.ts; progress goes to stderr.
 */

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const FAULTLINE_BINARY = join(REPO, 'bin', 'faultline');

/** How the bench posts a storm, to Faultline and to its peer alike (issue 16). */
export const POST_SHAPE = { batchEvents: 500, inFlight: 4 } as const;

/** The steady-state section's load. */
export const STEADY = {
  eventsPerSecond: 1_000,
  batchesPerSecond: 10,
  inFlight: 8,
  warmClients: 1_000,
  /** Samples whose visibility is polled at once. */
  pollsInFlight: 8,
  /** How long after the last batch a sample may take to become visible before it counts as lost. */
  drainTimeoutMs: 120_000,
} as const;

const POLL_MS = 10;
const MEMORY_SAMPLE_MS = 250;
const SETTLE_MS = 5_000;
const PROGRESS_MS = 5_000;
const START_TIMEOUT_MS = 60_000;
const START_POLL_MS = 100;
const STOP_TIMEOUT_MS = 60_000;
const VISIBLE_TIMEOUT_MS = 30 * 60_000;
const STALL_MS = 120_000;
const NOTIFICATION_TIMEOUT_MS = 120_000;
const OUTPUT_TAIL_LINES = 40;
const FORWARDED_STDERR_LINES = 50;
const MIB = 1024 * 1024;
const VISIBLE_TARGET_MS = 250;
/** At or above this many events the RSS target is half the peer's, below it the peer's. */
const HALF_RSS_FROM_EVENTS = 100_000;

/**
 * `faultline.json` for the bench: no destinations (nothing is paged), and the core's timers so long
 * that the storm's outage only groups and counts hosts (no hold-down expiry, no page, no stability,
 * no plans, no silent hosts) while the bench runs.
 */
export const BENCH_RUNTIME_CONFIG = {
  core: {
    groupingWindowSeconds: 86_400,
    holdDownSeconds: 86_400,
    stabilitySeconds: 7 * 86_400,
    escalateDownSeconds: 7 * 86_400,
    slotTimeoutSeconds: 7 * 86_400,
    silentHeartbeats: 100,
  },
  notify: { destinations: [] },
} as const satisfies RuntimeConfigInput;

const mib = (bytes: number): string => `${count(bytes / MIB)} MiB`;
const ms = (value: number): string => `${count(value)} ms`;

const progress = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

// ————————————————————————————————————————————— child processes and their memory

/** A process the bench started and must stop, with its output's tail for error messages. */
interface Supervised {
  readonly name: string;
  readonly pid: number;
  /** Throws, with the output's tail, when the process has exited. */
  readonly assertRunning: () => void;
  readonly output: () => string;
  /** SIGTERM, then SIGKILL after `STOP_TIMEOUT_MS`; resolves once it has exited. */
  readonly stop: () => Promise<void>;
}

const running = new Set<ChildProcess>();
const folders = new Set<string>();
let cleanupInstalled = false;

/** Kills what the bench started and removes its folders if the bench itself ends early (an error, a signal). */
const installCleanup = (): void => {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => process.exit(code));
  }
};

/** A temporary folder of the bench's own, removed by `removeFolder` or when the bench exits. */
const temporaryFolder = (prefix: string): string => {
  installCleanup();
  const folder = mkdtempSync(join(tmpdir(), prefix));
  folders.add(folder);
  return folder;
};

const removeFolder = (folder: string): void => {
  rmSync(folder, { recursive: true, force: true });
  folders.delete(folder);
};

const supervise = (name: string, command: string, args: readonly string[]): Supervised => {
  installCleanup();
  const child = spawn(command, [...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  running.add(child);
  const tail: string[] = [];
  let forwarded = 0;
  const keep = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue;
      tail.push(line);
      if (stream === 'stderr' && forwarded < FORWARDED_STDERR_LINES) {
        forwarded += 1;
        progress(
          `[${name}] ${line}${forwarded === FORWARDED_STDERR_LINES ? ' (further lines not shown)' : ''}`,
        );
      }
    }
    tail.splice(0, Math.max(0, tail.length - OUTPUT_TAIL_LINES));
  };
  child.stdout?.on('data', keep('stdout'));
  child.stderr?.on('data', keep('stderr'));
  let exitedWith: string | undefined;
  const exited = new Promise<void>((done) => {
    child.once('exit', (code, signal) => {
      exitedWith = signal ?? `code ${code}`;
      running.delete(child);
      done();
    });
  });
  const output = (): string => tail.join('\n');
  return {
    name,
    pid,
    output,
    assertRunning: () => {
      if (exitedWith !== undefined) throw new Error(`${name} exited (${exitedWith}):\n${output()}`);
    },
    stop: async () => {
      if (exitedWith !== undefined) return;
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(killed);
    },
  };
};

interface Memory {
  readonly rssBytes: number;
  readonly peakBytes: number;
  readonly processes: number;
}

const statusKib = (pid: number, field: 'VmRSS' | 'VmHWM'): number => {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith(`${field}:`));
    return Number(line?.split(/\s+/)[1] ?? 0);
  } catch {
    return 0; // the process ended between listing and reading
  }
};

/** `pid` and its descendants, from each process's parent in /proc/<pid>/stat. */
const processTree = (root: number): number[] => {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  const visit = (pid: number): void => {
    tree.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return tree;
};

/** The resident memory of a process tree now, and the sum of each process's high-water mark. */
const treeMemory = (root: number): Memory => {
  const tree = processTree(root);
  const sum = (field: 'VmRSS' | 'VmHWM'): number =>
    tree.reduce((total, pid) => total + statusKib(pid, field), 0) * 1024;
  return { rssBytes: sum('VmRSS'), peakBytes: sum('VmHWM'), processes: tree.length };
};

/** Samples a process tree's RSS until stopped; `peak` also counts the kernel's high-water marks. */
const sampleMemory = (root: number, label: string) => {
  let sampledPeak = 0;
  const sample = (): Memory => {
    const memory = treeMemory(root);
    sampledPeak = Math.max(sampledPeak, memory.rssBytes);
    return memory;
  };
  const timer = setInterval(sample, MEMORY_SAMPLE_MS);
  let finished: Memory | undefined;
  return {
    /** Peak and current RSS, read once: sampling stops at the first call. */
    finish: (): Memory => {
      if (finished !== undefined) return finished;
      clearInterval(timer);
      const memory = sample();
      finished = { ...memory, peakBytes: Math.max(memory.peakBytes, sampledPeak) };
      progress(
        `${label}: process tree of pid ${root}: ${memory.processes} process(es), RSS ${mib(memory.rssBytes)}, peak ${mib(finished.peakBytes)}`,
      );
      return finished;
    },
  };
};

// ————————————————————————————————————————————— posting

interface Batch {
  readonly body: string;
  readonly events: number;
}

interface Posting {
  /** Each request's latency, in ms. */
  readonly latenciesMs: number[];
  readonly startedAt: number;
  readonly lastAckAt: number;
  readonly acknowledged: number;
}

/** Where a storm goes and what counts as acknowledged. */
interface PostTarget {
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly status: number;
  /** Throws when an answer of the expected status still does not acknowledge the whole batch. */
  readonly check: (answer: string, batch: Batch) => void;
  readonly child: Supervised;
}

const batchesOf = (items: readonly unknown[], size: number): Batch[] => {
  const batches: Batch[] = [];
  for (let from = 0; from < items.length; from += size) {
    const slice = items.slice(from, from + size);
    batches.push({ body: JSON.stringify(slice), events: slice.length });
  }
  return batches;
};

const excerpt = (text: string): string => (text.length > 600 ? `${text.slice(0, 600)}…` : text);

/** Posts one batch; any answer but the expected one fails the bench, loudly. */
const postBatch = async (target: PostTarget, batch: Batch): Promise<number> => {
  const sent = performance.now();
  let answer: Response;
  try {
    answer = await fetch(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...target.headers },
      body: batch.body,
    });
  } catch (error) {
    target.child.assertRunning();
    throw new Error(`${target.name}: POST ${target.url} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const text = await answer.text();
  const latency = performance.now() - sent;
  if (answer.status !== target.status) {
    throw new Error(
      `${target.name}: POST ${target.url} answered ${answer.status} (expected ${target.status}): ${excerpt(text)}`,
    );
  }
  target.check(text, batch);
  return latency;
};

/**
 * The storm's requests in two phases: its events up to the last symptom, then vios2's
 * `ipl.completed` alone once every one of them is acknowledged. In the storm's own times the IPL
 * comes 13 minutes after the symptoms; posted within the same window of requests in flight it could
 * be received before the last symptoms, which then count (as they should) as after the outage, not
 * in it.
 */
const stormPhases = (items: readonly unknown[]): Batch[][] => [
  batchesOf(items.slice(0, -1), POST_SHAPE.batchEvents),
  batchesOf(items.slice(-1), POST_SHAPE.batchEvents),
];

/**
 * Posts every batch, `inFlight` at a time, reporting progress to stderr; each phase starts once the
 * one before it is acknowledged.
 */
const postAll = async (
  target: PostTarget,
  phases: readonly (readonly Batch[])[],
  inFlight: number,
  label: string,
): Promise<Posting> => {
  const total = phases.flat().reduce((sum, batch) => sum + batch.events, 0);
  const latenciesMs: number[] = [];
  let acknowledged = 0;
  let lastAckAt = 0;
  const startedAt = performance.now();
  const ticker = setInterval(() => {
    const seconds = (performance.now() - startedAt) / 1000;
    progress(
      `${label}: ${count(acknowledged)} of ${count(total)} acknowledged (${count(acknowledged / seconds)}/s)`,
    );
  }, PROGRESS_MS);
  try {
    for (const batches of phases) {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < batches.length) {
          const batch = batches[next] as Batch;
          next += 1;
          latenciesMs.push(await postBatch(target, batch));
          acknowledged += batch.events;
          lastAckAt = performance.now();
        }
      };
      await Promise.all(Array.from({ length: Math.min(inFlight, batches.length) }, worker));
    }
  } finally {
    clearInterval(ticker);
  }
  return { latenciesMs, startedAt, lastAckAt, acknowledged };
};

/** The nearest-rank percentile. */
const percentile = (values: readonly number[], fraction: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
};

const ratePerSecond = (posting: Posting): number =>
  posting.acknowledged / ((posting.lastAckAt - posting.startedAt) / 1000);

// ————————————————————————————————————————————— faultline up

interface RunningFaultline {
  readonly url: string;
  readonly token: string;
  readonly child: Supervised;
  /** Stops it (SIGTERM drains) and removes its folder. */
  readonly stop: () => Promise<void>;
}

/** `faultline up --port 0` on a fresh data folder; resolves once it has written its URL. */
const startFaultline = async (): Promise<RunningFaultline> => {
  const folder = temporaryFolder('faultline-bench-');
  const data = join(folder, 'data');
  const configFile = join(folder, 'faultline.json');
  writeFileSync(configFile, JSON.stringify(BENCH_RUNTIME_CONFIG));
  const token = randomBytes(24).toString('base64url');
  const child = supervise('faultline', FAULTLINE_BINARY, [
    'up',
    '--port',
    '0',
    '--data',
    data,
    // One argument: a base64url token may start with '-', which parseArgs would take for an option.
    `--operator-token=${token}`,
    '--config',
    configFile,
  ]);
  const stop = async (): Promise<void> => {
    await child.stop();
    removeFolder(folder);
  };
  const urlFile = join(data, DATA_FILES.url);
  const deadline = performance.now() + START_TIMEOUT_MS;
  try {
    while (true) {
      child.assertRunning();
      const text = existsSync(urlFile) ? readFileSync(urlFile, 'utf8') : '';
      if (text.endsWith('\n')) return { url: text.trim(), token, child, stop };
      if (performance.now() > deadline)
        throw new Error(`faultline up wrote no URL within ${START_TIMEOUT_MS} ms`);
      await sleep(START_POLL_MS);
    }
  } catch (error) {
    await stop();
    throw error;
  }
};

const faultlineTarget = (plane: RunningFaultline): PostTarget => ({
  name: 'faultline',
  url: `${plane.url}/v1/events`,
  headers: { authorization: `Bearer ${plane.token}` },
  status: 202,
  child: plane.child,
  check: (answer, batch) => {
    const body = JSON.parse(answer) as { accepted?: unknown[]; rejected?: unknown[] };
    if (body.accepted?.length !== batch.events || (body.rejected?.length ?? 0) > 0) {
      throw new Error(
        `faultline: 202 accepted ${body.accepted?.length} of ${batch.events} events: ${excerpt(answer)}`,
      );
    }
  },
});

interface IncidentSummary {
  readonly failureDomain: string;
  readonly affectedHosts: number;
  readonly kind: string;
}

/** `GET /v1/incidents` with these filters: the incidents of its first page. */
const listIncidents = async (
  plane: RunningFaultline,
  filters: Readonly<Record<string, string>>,
): Promise<IncidentSummary[]> => {
  const answer = await fetch(`${plane.url}/v1/incidents?${new URLSearchParams(filters)}`, {
    headers: { authorization: `Bearer ${plane.token}` },
  });
  const text = await answer.text();
  if (answer.status !== 200)
    throw new Error(`faultline: GET /v1/incidents answered ${answer.status}: ${excerpt(text)}`);
  return (JSON.parse(text) as { incidents: IncidentSummary[] }).incidents;
};

/**
 * Polls until the failure domain's outage counts `hosts` affected hosts; the moment the answer said
 * so. Fails once its count has not moved for `STALL_MS` (a host that will never be counted), or
 * after `VISIBLE_TIMEOUT_MS` in all.
 */
const waitForIncident = async (
  plane: RunningFaultline,
  failureDomain: string,
  hosts: number,
  label: string,
): Promise<number> => {
  const started = performance.now();
  let lastProgress = started;
  let lastChange = started;
  let seen = 0;
  while (performance.now() - started < VISIBLE_TIMEOUT_MS) {
    plane.child.assertRunning();
    const incidents = await listIncidents(plane, { domain: failureDomain, limit: '50' });
    const answeredAt = performance.now();
    const incident = incidents.find((each) => each.failureDomain === failureDomain && each.kind === 'outage');
    const counted = incident?.affectedHosts ?? 0;
    if (counted > hosts)
      throw new Error(`faultline: the outage counts ${counted} hosts, the storm has ${hosts}`);
    if (counted === hosts) return answeredAt;
    if (counted !== seen) {
      seen = counted;
      lastChange = answeredAt;
    } else if (seen > 0 && answeredAt - lastChange > STALL_MS) {
      throw new Error(
        `faultline: the outage has counted ${seen} of ${hosts} hosts for ${STALL_MS / 1000} s: ${JSON.stringify(incidents)}`,
      );
    }
    if (answeredAt - lastProgress > PROGRESS_MS) {
      lastProgress = answeredAt;
      progress(`${label}: the incident counts ${count(seen)} of ${count(hosts)} hosts`);
    }
    await sleep(POLL_MS);
  }
  throw new Error(`faultline: the incident counted ${seen} of ${hosts} hosts after ${VISIBLE_TIMEOUT_MS} ms`);
};

// ————————————————————————————————————————————— the storm, measured on each

interface StormFigures {
  readonly eventsPerSecond: number;
  readonly postP50Ms: number;
  readonly postP99Ms: number;
  /** Last acknowledgement → visible (Faultline) or notified (Alertmanager). */
  readonly visibleMs: number;
  readonly peakBytes: number;
  readonly settledBytes: number;
}

const stormFigures = (posting: Posting, visibleAt: number, memory: Memory): StormFigures => ({
  eventsPerSecond: ratePerSecond(posting),
  postP50Ms: percentile(posting.latenciesMs, 0.5),
  postP99Ms: percentile(posting.latenciesMs, 0.99),
  visibleMs: visibleAt - posting.lastAckAt,
  peakBytes: memory.peakBytes,
  settledBytes: memory.rssBytes,
});

const faultlineStorm = async (
  events: readonly FaultlineEvent[],
  clients: number,
  label: string,
): Promise<StormFigures> => {
  const phases = stormPhases(events);
  const plane = await startFaultline();
  try {
    progress(`${label}: faultline up at ${plane.url} (pid ${plane.child.pid})`);
    const memory = sampleMemory(plane.child.pid, `${label} faultline`);
    try {
      const posting = await postAll(
        faultlineTarget(plane),
        phases,
        POST_SHAPE.inFlight,
        `${label} faultline`,
      );
      progress(
        `${label}: faultline acknowledged ${count(posting.acknowledged)} events; waiting for the incident`,
      );
      const visibleAt = await waitForIncident(plane, failureDomainOf('vios2'), clients, `${label} faultline`);
      await sleep(SETTLE_MS);
      return stormFigures(posting, visibleAt, memory.finish());
    } finally {
      memory.finish();
    }
  } finally {
    await plane.stop();
  }
};

const waitForReady = async (url: string, child: Supervised): Promise<void> => {
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (performance.now() < deadline) {
    child.assertRunning();
    try {
      const answer = await fetch(url);
      await answer.arrayBuffer();
      if (answer.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(START_POLL_MS);
  }
  throw new Error(`${child.name} was not ready within ${START_TIMEOUT_MS} ms:\n${child.output()}`);
};

const withTimeout = async <T>(work: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new Error(`${what}: nothing within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

const alertmanagerStorm = async (events: readonly FaultlineEvent[], label: string): Promise<StormFigures> => {
  const failureDomain = failureDomainOf('vios2');
  const phases = stormPhases(alertsOf(events, failureDomain));
  const receiver = await startWebhookReceiver();
  const folder = temporaryFolder('faultline-bench-alertmanager-');
  let child: Supervised | undefined;
  try {
    const prepared = await prepareAlertmanager(receiver.url, folder);
    child = supervise('alertmanager', prepared.command, prepared.args);
    await waitForReady(prepared.readyUrl, child);
    progress(`${label}: alertmanager at ${prepared.url} (pid ${child.pid})`);
    const memory = sampleMemory(child.pid, `${label} alertmanager`);
    try {
      const posting = await postAll(
        {
          name: 'alertmanager',
          url: `${prepared.url}/api/v2/alerts`,
          headers: {},
          status: 200,
          check: () => undefined,
          child,
        },
        phases,
        POST_SHAPE.inFlight,
        `${label} alertmanager`,
      );
      const notification = await withTimeout(
        receiver.waitFor((each) => each.failureDomain === failureDomain && each.alerts === events.length),
        NOTIFICATION_TIMEOUT_MS,
        `alertmanager: a notification of all ${events.length} alerts`,
      );
      await sleep(SETTLE_MS);
      return stormFigures(posting, notification.receivedAt, memory.finish());
    } finally {
      memory.finish();
    }
  } finally {
    await child?.stop();
    removeFolder(folder);
    await receiver.close();
  }
};

/** The best of three `JSON.parse` passes over the lines, in lines/s: the ceiling. */
const jsonParseRate = (lines: readonly string[]): number => {
  let best = 0;
  for (let pass = 0; pass < 3; pass += 1) {
    const started = performance.now();
    for (const line of lines) JSON.parse(line);
    best = Math.max(best, lines.length / ((performance.now() - started) / 1000));
  }
  return best;
};

export interface IngestOptions {
  /** Storm sizes in events (about two per client). */
  readonly sizes: readonly number[];
}

/** The ingest section: per storm size, Faultline beside Alertmanager and the `JSON.parse` ceiling. */
export const ingestRows = async ({ sizes }: IngestOptions): Promise<BenchRow[]> => {
  const missing = alertmanagerMissing();
  if (missing !== undefined) progress(`skipping the peer rows: ${missing}`);
  const rows: BenchRow[] = [];
  for (const size of sizes) {
    const clients = Math.max(2, Math.floor(size / 2));
    const section = `ingest ${count(size)}`;
    const events = stormEvents(clients, new Date().toISOString());
    const ceiling = jsonParseRate(events.map((event) => JSON.stringify(event)));
    const faultline = await faultlineStorm(events, clients, section);
    const peer = missing === undefined ? await alertmanagerStorm(events, section) : undefined;
    const skipped = 'skipped: Alertmanager not installed';
    const rssFloor = size >= HALF_RSS_FROM_EVENTS ? 0.5 : 1;
    const rssTarget = (bytes: number, peerBytes: number | undefined): string => {
      const goal = rssFloor === 1 ? '≤ Alertmanager' : '≤ ½ Alertmanager';
      if (peerBytes === undefined) return `${goal} (no peer)`;
      const ratio = bytes / peerBytes;
      return `${goal}: ${ratio.toFixed(2)}× ${underMark(ratio, rssFloor)}`;
    };
    rows.push(
      {
        section,
        what: `events acknowledged (202), ${count(events.length)} events of ${count(clients)} clients, batches of ${POST_SHAPE.batchEvents}, ${POST_SHAPE.inFlight} in flight`,
        figure: `${count(faultline.eventsPerSecond)} events/s`,
        peer: `${peer === undefined ? skipped : `Alertmanager ${count(peer.eventsPerSecond)} alerts/s`}; JSON.parse ${count(ceiling)} lines/s`,
        target:
          peer === undefined
            ? '≥ 0.5× Alertmanager, aim 1× (no peer)'
            : `≥ 0.5× Alertmanager, aim 1×: ${ratioMark(faultline.eventsPerSecond / peer.eventsPerSecond, 0.5)}`,
      },
      {
        section,
        what: 'POST latency p50 / p99',
        figure: `${ms(faultline.postP50Ms)} / ${ms(faultline.postP99Ms)}`,
        peer: peer === undefined ? skipped : `Alertmanager ${ms(peer.postP50Ms)} / ${ms(peer.postP99Ms)}`,
        target: '—',
      },
      {
        section,
        what: `last event acknowledged → incident visible with all ${count(clients)} hosts counted`,
        figure: ms(faultline.visibleMs),
        peer:
          peer === undefined
            ? skipped
            : `Alertmanager ${ms(peer.visibleMs)} to the grouped notification of all ${count(events.length)} alerts (group_wait ${ALERTMANAGER_TIMERS.groupWaitSeconds}s, group_interval ${ALERTMANAGER_TIMERS.groupIntervalSeconds}s)`,
        target: `≤ ${VISIBLE_TARGET_MS} ms ${underMark(faultline.visibleMs, VISIBLE_TARGET_MS)}`,
      },
      {
        section,
        what: 'peak RSS (process tree)',
        figure: mib(faultline.peakBytes),
        peer: peer === undefined ? skipped : `Alertmanager ${mib(peer.peakBytes)}`,
        target: rssTarget(faultline.peakBytes, peer?.peakBytes),
      },
      {
        section,
        what: `settled RSS (${SETTLE_MS / 1000} s after visible)`,
        figure: mib(faultline.settledBytes),
        peer: peer === undefined ? skipped : `Alertmanager ${mib(peer.settledBytes)}`,
        target: rssTarget(faultline.settledBytes, peer?.settledBytes),
      },
    );
  }
  return rows;
};

// ————————————————————————————————————————————— steady state

interface Sample {
  readonly hostId: string;
  readonly ackAt: number;
}

/**
 * The fleet of the steady state: vios2's clients, growing by one a second. A client heartbeats only
 * once its `md.degraded` went out, so that event, not a heartbeat showing the faulty member, is what
 * first counts it in the outage.
 */
class SteadyFleet {
  private readonly degraded: VscsiClient[] = [];
  private readonly rng = random(16);
  private joined = 0;
  private nextHeartbeat = 0;

  /** A new client, and its first (clean) heartbeat. */
  join(time: string): { client: VscsiClient; heartbeat: FaultlineEvent } {
    const client = new VscsiClient(`steady${String(this.joined).padStart(6, '0')}`, this.rng);
    this.joined += 1;
    return { client, heartbeat: client.heartbeat(time) };
  }

  /** The client loses its half on vios2. */
  degrade(client: VscsiClient, time: string): FaultlineEvent {
    this.degraded.push(client);
    return client.rootDegraded(time);
  }

  /** The next heartbeat of a degraded client, round robin. */
  heartbeat(time: string): FaultlineEvent {
    const client = this.degraded[this.nextHeartbeat % this.degraded.length] as VscsiClient;
    this.nextHeartbeat += 1;
    return client.heartbeat(time, { faulty: 'fall' });
  }
}

export interface SteadyOptions {
  readonly seconds: number;
}

/** The steady-state section: a paced load on a fresh `faultline up`, sampled for ingest → visible. */
export const steadyRows = async ({ seconds }: SteadyOptions): Promise<BenchRow[]> => {
  const section = `steady ${count(STEADY.eventsPerSecond)}/s`;
  const failureDomain = failureDomainOf('vios2');
  const fleet = new SteadyFleet();
  const now = (): string => new Date().toISOString();
  const joined = Array.from({ length: STEADY.warmClients }, () => fleet.join(now()));
  const warm: FaultlineEvent[] = [
    new HostingPartition('vios2', failureDomain).heartbeat(now()),
    ...joined.map(({ heartbeat }) => heartbeat),
    ...joined.map(({ client }) => fleet.degrade(client, now())),
  ];

  const plane = await startFaultline();
  try {
    const target = faultlineTarget(plane);
    progress(
      `${section}: faultline up at ${plane.url}; warming up with an outage of ${STEADY.warmClients} clients`,
    );
    await postAll(
      target,
      [batchesOf(warm, POST_SHAPE.batchEvents)],
      POST_SHAPE.inFlight,
      `${section} warm-up`,
    );
    await waitForIncident(plane, failureDomain, STEADY.warmClients, `${section} warm-up`);

    const perBatch = STEADY.eventsPerSecond / STEADY.batchesPerSecond;
    const tickMs = 1000 / STEADY.batchesPerSecond;
    const ticks = seconds * STEADY.batchesPerSecond;
    const latenciesMs: number[] = [];
    const pending: Sample[] = [];
    const visibleMs: number[] = [];
    const inFlight = new Set<Promise<void>>();
    let acknowledged = 0;
    let lastAckAt = 0;
    let failure: unknown;
    let pacing = true;
    let joining: VscsiClient | undefined;

    const poller = (async () => {
      let drainDeadline = Number.POSITIVE_INFINITY;
      while ((pacing || pending.length > 0) && performance.now() < drainDeadline) {
        if (!pacing && drainDeadline === Number.POSITIVE_INFINITY)
          drainDeadline = performance.now() + STEADY.drainTimeoutMs;
        const oldest = pending.slice(0, STEADY.pollsInFlight);
        const seen = await Promise.all(
          oldest.map(async (sample) => {
            const incidents = await listIncidents(plane, { host: sample.hostId, domain: failureDomain });
            return {
              sample,
              at: performance.now(),
              visible: incidents.some((each) => each.kind === 'outage'),
            };
          }),
        );
        for (const { sample, at, visible } of seen) {
          if (!visible) continue;
          visibleMs.push(at - sample.ackAt);
          pending.splice(pending.indexOf(sample), 1);
        }
        await sleep(POLL_MS);
      }
    })();

    const started = performance.now();
    const ticker = setInterval(() => {
      progress(
        `${section}: ${count((performance.now() - started) / 1000)} s, ${count(acknowledged)} events acknowledged, ${visibleMs.length} samples visible, ${pending.length} pending, ${inFlight.size} requests in flight`,
      );
    }, PROGRESS_MS);
    try {
      for (let tick = 0; tick < ticks && failure === undefined; tick += 1) {
        await sleep(Math.max(0, started + tick * tickMs - performance.now()));
        while (inFlight.size >= STEADY.inFlight) await Promise.race(inFlight);
        const position = tick % STEADY.batchesPerSecond;
        const events: FaultlineEvent[] = [];
        let sample: string | undefined;
        if (position === 0) {
          const newcomer = fleet.join(now());
          joining = newcomer.client;
          events.push(newcomer.heartbeat);
        }
        const symptom = position === STEADY.batchesPerSecond / 2 ? joining : undefined;
        while (events.length < perBatch - (symptom === undefined ? 0 : 1))
          events.push(fleet.heartbeat(now()));
        if (symptom !== undefined) {
          events.push(fleet.degrade(symptom, now()));
          sample = symptom.hostId;
        }
        const batch: Batch = { body: JSON.stringify(events), events: events.length };
        const request = postBatch(target, batch).then(
          (latency) => {
            latenciesMs.push(latency);
            acknowledged += batch.events;
            lastAckAt = performance.now();
            if (sample !== undefined) pending.push({ hostId: sample, ackAt: lastAckAt });
          },
          (error: unknown) => {
            failure ??= error;
          },
        );
        const tracked = request.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
      await Promise.all(inFlight);
    } finally {
      pacing = false;
      clearInterval(ticker);
      await poller;
    }
    if (failure !== undefined) throw failure;

    // Over the offered period at least, so that keeping up reads 1×, not more.
    const achieved = acknowledged / (Math.max(lastAckAt - started, seconds * 1000) / 1000);
    const lost = pending.length;
    const samples = visibleMs.length + lost;
    const p99 = lost > 0 ? Number.POSITIVE_INFINITY : percentile(visibleMs, 0.99);
    return [
      {
        section,
        what: `events acknowledged, offered ${count(STEADY.eventsPerSecond)}/s for ${seconds} s (${STEADY.batchesPerSecond} batches/s of ${perBatch}, ≤ ${STEADY.inFlight} in flight; one new host a second)`,
        figure: `${count(achieved)} events/s`,
        peer: `offered ${count(STEADY.eventsPerSecond)}/s`,
        target: `sustains the offered rate: ${ratioMark(achieved / STEADY.eventsPerSecond, 0.99)}`,
      },
      {
        section,
        what: 'POST latency p50 / p99',
        figure: `${ms(percentile(latenciesMs, 0.5))} / ${ms(percentile(latenciesMs, 0.99))}`,
        peer: '—',
        target: '—',
      },
      {
        section,
        what: `ingest → visible p50 / p99: each second's new md.degraded, its 202 → GET /v1/incidents?host= lists it (${samples} samples, polled every ${POLL_MS} ms)`,
        figure:
          lost > 0
            ? `${lost} of ${samples} not visible within ${STEADY.drainTimeoutMs / 1000} s`
            : `${ms(percentile(visibleMs, 0.5))} / ${ms(p99)}`,
        peer: '—',
        target: `p99 < ${VISIBLE_TARGET_MS} ms ${p99 < VISIBLE_TARGET_MS ? '✓' : '✗'}`,
      },
    ];
  } finally {
    await plane.stop();
  }
};
