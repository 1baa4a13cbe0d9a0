import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type FaultlineEvent, type Plan, verifyPlan } from '../events/index.ts';
import { SqliteQueueStore } from '../functions/adapters/queue/sqlite-queue.ts';
import { LocalPlanSigner } from '../functions/adapters/signer/local-plan-signer.ts';
import { SqliteStore } from '../functions/adapters/store/sqlite-store.ts';
import { plansFor } from '../functions/api/plans.ts';
import { type CoreConfig, DEFAULT_CORE_CONFIG, type DomainSlice } from '../functions/core/index.ts';
import { createHandler as createCorrelate } from '../functions/correlate/create-handler.ts';
import { createHandler as createSweep } from '../functions/sweep/create-handler.ts';
import { DATA_FILES } from '../local/data-files.ts';
import { at, random, VscsiClient } from '../test/helpers/core-fleet.ts';
import { correlateSettings, stampedRecord } from '../test/helpers/store-correlate.ts';
import { healingOf } from '../test/helpers/store-fleet.ts';
import { failureDomainOf, stormEvents } from './storm.ts';
import { type BenchRow, count, underMark } from './table.ts';

/**
 * Section 5 of `npm run bench` (docs/architecture.md §7, "dispatch"): a 5,000-client outage on the
 * local runtime's own parts — the real correlate and sweep handlers over the decision engine, the
 * SQLite store on a file, the local plan signer (a P-256 key file) and a SQLite notify queue in
 * its own file, wired as local/decider.ts wires them (each correlate batch one store unit, one
 * commit; the queues in a file apart from the store) — and how long after the domain is
 * stable every plan of a wave can be read through the plan reader that
 * `GET /v1/agents/:hostId/plans` answers from (`plansFor`).
 *
 * Two moments are timed, each from the handler invocation that makes the wave due to the last of
 * its plans read back:
 * - **canary**: sweep's run at the end of the stability period (the tick that makes the domain
 *   stable) → the canary's plan readable;
 * - **wave 1**: correlate's batch holding the canary's `mirror.healthy` for the mirror its plan
 *   healed (the canary confirmed; correlate fires the wake this asks for after the batch) →
 *   every plan of wave 1 readable, at the default `maxPlansInFlight` and at the knob's maximum
 *   (1,000), the widest wave a 5,000-client outage can send at once.
 *
 * The storm (bench/storm.ts) is delivered to correlate in batches of 10, as the API enqueues it,
 * on a clock the bench moves; only the two moments above are timed. Each wave's plans are checked:
 * as many as the wave should hold, each verifying against the signer's public key.
 *
 * The peer is the floor of the same work on the same disk: one SQLite transaction (WAL,
 * `synchronous = NORMAL`, as the store) that writes the wave's plans as rows of the same size,
 * then reads each back by host.
 */

const CLIENTS = 5000;
const TARGET_MS = 1000;
/** The records of one correlate invocation: the local runtime's batch size (a Lambda batch of SQS). */
const BATCH = 10;
/** The widest wave the config allows. */
const WIDE_WAVE = 1000;

const quiet = (): void => undefined;
const elapsedMs = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e6;
/** The process's CPU time (user and system, every thread) since `started`: steadier than wall time on a shared machine. */
const cpuMs = (started: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
};

interface Runtime {
  readonly store: SqliteStore;
  readonly signer: LocalPlanSigner;
  readonly correlate: ReturnType<typeof createCorrelate>;
  readonly sweep: ReturnType<typeof createSweep>;
  setClock(ms: number): void;
  close(): Promise<void>;
}

/** The deciding half of `faultline up` on a database file in `dataDir`, on a clock the bench moves. */
const openRuntime = (dataDir: string, core: CoreConfig): Runtime => {
  let clock = 0;
  const store = new SqliteStore({ path: join(dataDir, DATA_FILES.database), clock: () => clock });
  // Apart from the store, as the runtime keeps them: a correlate batch holds the store's write lock.
  const queues = SqliteQueueStore.open(join(dataDir, DATA_FILES.queues), { clock: { now: () => clock } });
  const notifyQueue = queues.queue('notify', {
    redrive: { deadLetterQueue: 'notify-dlq', maxReceiveCount: 5 },
  });
  const deadLetterQueue = queues.queue('events-dlq');
  const signer = new LocalPlanSigner({ dataDir });
  const ports = { store, signer, notifyQueue, clock: () => clock, log: quiet };
  const correlate = createCorrelate({
    ...ports,
    settings: { ...correlateSettings(core), tickLimit: 100 },
    deadLetterQueue,
    sourceQueue: 'events',
  });
  return {
    store,
    signer,
    // Each batch one store unit (one commit), as the runtime's event source mapping runs correlate.
    correlate: (event) => store.unit(() => correlate(event)),
    sweep: createSweep({
      ...ports,
      settings: { core, graceSeconds: 30, finishLimit: 500, tickLimit: 500 },
    }),
    setClock: (ms) => {
      clock = ms;
    },
    close: async () => {
      queues.close();
      await store.close();
    },
  };
};

let messages = 0;

/** Delivers events to correlate as the API enqueues them, one invocation per `BATCH`. */
const deliver = async (runtime: Runtime, events: readonly FaultlineEvent[]): Promise<void> => {
  for (let index = 0; index < events.length; index += BATCH) {
    const batch = events.slice(index, index + BATCH);
    const last = batch[batch.length - 1];
    if (last === undefined) continue;
    const sentAt = Date.parse(last.time);
    runtime.setClock(sentAt);
    messages += 1;
    const response = await runtime.correlate({
      Records: batch.map((event, offset) => stampedRecord(event, `msg-${messages}-${offset}`, sentAt)),
    });
    if (response.batchItemFailures.length > 0) {
      throw new Error(`correlate failed ${response.batchItemFailures.length} records of a batch`);
    }
  }
};

const domainEpisode = async (store: SqliteStore) => {
  const [stored] = await store.getSlices([{ kind: 'domain', id: failureDomainOf('vios2') }]);
  const episode = (stored?.value as DomainSlice | undefined)?.episode;
  if (episode === undefined) throw new Error('the storm opened no episode on vios2');
  return episode;
};

/** Every plan out on the domain, read through the agents' plan reader: one read per host holding a slot. */
const readWave = async (runtime: Runtime, now: string): Promise<Plan[]> => {
  const episode = await domainEpisode(runtime.store);
  const hosts = Object.keys(episode.slots);
  const answers = await Promise.all(hosts.map((hostId) => plansFor(runtime.store, hostId, now)));
  return answers.flatMap((answer) => answer.plans.map((hostPlan) => hostPlan.plan));
};

/** The floor: `rows` plan-size rows written in one transaction on a file beside the store, then read back by host. */
let floors = 0;
const sqliteFloorMs = (dataDir: string, plans: readonly Plan[], rows: number): number => {
  floors += 1;
  const db = new Database(join(dataDir, `floor-${floors}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE plans (id TEXT PRIMARY KEY, host_id TEXT NOT NULL, body TEXT NOT NULL)');
  db.exec('CREATE INDEX plans_by_host ON plans (host_id)');
  const sample = plans[0];
  const body = JSON.stringify(sample);
  const insert = db.prepare('INSERT INTO plans (id, host_id, body) VALUES (?, ?, ?)');
  const select = db.prepare('SELECT body FROM plans WHERE host_id = ?');
  const writeAll = db.transaction(() => {
    for (let row = 0; row < rows; row += 1) insert.run(`pln-${row}`, `host-${row}`, body);
  });
  const started = process.hrtime.bigint();
  writeAll();
  for (let row = 0; row < rows; row += 1) JSON.parse((select.get(`host-${row}`) as { body: string }).body);
  const ms = elapsedMs(started);
  db.close();
  return ms;
};

const ms = (value: number): string => `${count(value, value < 10 ? 1 : 0)} ms`;

interface Wave {
  readonly label: string;
  readonly plans: number;
  readonly ms: number;
  readonly floorMs: number;
  readonly invocationMs: number;
  readonly cpuMs: number;
}

/**
 * The storm's clients as bench/storm.ts builds them (the same seed, in the same order), each past
 * the two events the storm sent for it (its heartbeat and its symptom): their next events number on.
 */
export const stormAgents = (clients: number): VscsiClient[] => {
  const rng = random(7);
  return Array.from({ length: clients }, (_, index) => {
    const agent = new VscsiClient(`lpar${String(index).padStart(6, '0')}`, rng);
    agent.heartbeat(at(1));
    agent.rootDegraded(at(100));
    return agent;
  });
};

const canaryAgent = (hostId: string): VscsiClient => {
  const agent = stormAgents(CLIENTS).find((client) => client.hostId === hostId);
  if (agent === undefined) throw new Error(`the canary ${hostId} is not a storm client`);
  return agent;
};

/** A wave timed: its plans, wall time to the last read, the handler's part, and CPU time to the last read. */
interface Timed {
  readonly plans: Plan[];
  readonly ms: number;
  readonly invocationMs: number;
  readonly cpuMs: number;
}

/** One wave: the handler invocation that makes it due, then every plan of it read back. */
const timeWave = async (runtime: Runtime, now: number, invoke: () => Promise<unknown>): Promise<Timed> => {
  runtime.setClock(now);
  const cpuStarted = process.cpuUsage();
  const started = process.hrtime.bigint();
  await invoke();
  const invocationMs = elapsedMs(started);
  const plans = await readWave(runtime, new Date(now).toISOString());
  return { plans, ms: elapsedMs(started), invocationMs, cpuMs: cpuMs(cpuStarted) };
};

const checkWave = (plans: readonly Plan[], wave: number, size: number, publicKey: string, what: string) => {
  const inWave = plans.filter((plan) => plan.wave === wave);
  if (inWave.length !== size) {
    throw new Error(`${what}: ${inWave.length} plans of wave ${wave} readable, expected ${size}`);
  }
  if (!inWave.every((plan) => verifyPlan(plan, publicKey)))
    throw new Error(`${what}: a plan does not verify`);
};

/**
 * The canary's plan carried out by a healthy agent, split at the event that confirms it: the
 * `mirror.healthy` of its root mirror (the one the storm degraded) makes the host healthy.
 */
const canaryHealing = (
  plan: Plan,
  start: number,
): { before: FaultlineEvent[]; confirming: FaultlineEvent; after: FaultlineEvent[] } => {
  const agent = canaryAgent(plan.hostId);
  const events = healingOf(agent, plan, start);
  const index = events.findIndex(
    (event) => event.type === 'mirror.healthy' && event.data.array === agent.root.array,
  );
  const confirming = events[index];
  if (confirming === undefined) throw new Error('the canary plan heals no root mirror');
  return { before: events.slice(0, index), confirming, after: events.slice(index + 1) };
};

interface Dispatch {
  readonly canary: Wave;
  readonly waves: Wave[];
}

/**
 * Plays the outage once (at the default knobs), copies the database (SQLite's backup API) for the
 * wide wave, then runs the canary and wave 1 on each copy.
 */
const measureDispatch = async (dataDir: string): Promise<Dispatch> => {
  const core = DEFAULT_CORE_CONFIG;
  const defaultDir = join(dataDir, 'default');
  await mkdir(defaultDir, { recursive: true, mode: 0o700 });
  const runtime = openRuntime(defaultDir, core);
  // The storm up to the domain's return: heartbeats, a symptom from every client, then vios2's IPL.
  await deliver(runtime, stormEvents(CLIENTS));
  const wideDir = join(dataDir, 'wide');
  await mkdir(wideDir, { recursive: true, mode: 0o700 });
  await runtime.store.backup(join(wideDir, DATA_FILES.database));

  const runOn = async (on: Runtime, maxPlansInFlight: number) => {
    const publicKey = await on.signer.publicKeyPem();
    const episode = await domainEpisode(on.store);
    if (episode.dispatchAt === undefined) throw new Error('vios2 is not up after ipl.completed');
    if (episode.unhealthy !== CLIENTS) throw new Error(`${episode.unhealthy} hosts counted, not ${CLIENTS}`);
    // The tick that makes the domain stable: sweep's run at the end of the stability period.
    const stableAt = Date.parse(episode.dispatchAt);
    const canary = await timeWave(on, stableAt, () => on.sweep());
    checkWave(canary.plans, 0, 1, publicKey, 'canary');
    const canaryPlan = canary.plans[0] as Plan;
    const start = stableAt / 1000 - Date.parse(at(0)) / 1000 + 60;
    const healing = canaryHealing(canaryPlan, start);
    await deliver(on, healing.before);
    if ((await domainEpisode(on.store)).canaryDone) throw new Error('the canary was confirmed too early');
    const confirmedAt = Date.parse(healing.confirming.time);
    const wave = await timeWave(on, confirmedAt, () => deliver(on, [healing.confirming]));
    if (!(await domainEpisode(on.store)).canaryDone) throw new Error('the canary was not confirmed');
    checkWave(wave.plans, 1, maxPlansInFlight, publicKey, `wave 1 of ${maxPlansInFlight}`);
    await deliver(on, healing.after);
    return { canary, wave };
  };

  const defaults = await runOn(runtime, core.maxPlansInFlight);
  await runtime.close();
  const wideRuntime = openRuntime(wideDir, { ...core, maxPlansInFlight: WIDE_WAVE });
  const wide = await runOn(wideRuntime, WIDE_WAVE);
  await wideRuntime.close();

  const waveOf = (label: string, measured: Timed): Wave => ({
    label,
    plans: measured.plans.length,
    ms: measured.ms,
    invocationMs: measured.invocationMs,
    cpuMs: measured.cpuMs,
    floorMs: sqliteFloorMs(dataDir, measured.plans, measured.plans.length),
  });
  return {
    canary: waveOf(
      'domain stable (sweep at the end of the stability period) → the canary plan readable',
      defaults.canary,
    ),
    waves: [
      waveOf(
        `canary confirmed (correlate's batch with the mirror.healthy that heals it) → wave 1 readable, maxPlansInFlight ${core.maxPlansInFlight}`,
        defaults.wave,
      ),
      waveOf(`the same, maxPlansInFlight ${WIDE_WAVE} (the knob's maximum)`, wide.wave),
    ],
  };
};

/** Section 5: dispatch of a 5,000-client outage. */
export const dispatchSection = async (): Promise<BenchRow[]> => {
  const dataDir = await mkdtemp(join(tmpdir(), 'faultline-bench-dispatch-'));
  try {
    const measured = await measureDispatch(dataDir);
    return [measured.canary, ...measured.waves].map((wave) => ({
      section: 'dispatch',
      what: `${count(CLIENTS)}-client outage, SQLite store: ${wave.label} (${count(wave.plans)} plan${wave.plans === 1 ? '' : 's'})`,
      figure: `${ms(wave.ms)} (handler ${ms(wave.invocationMs)}; CPU ${ms(wave.cpuMs)})`,
      peer: `SQLite, one transaction: ${count(wave.plans)} plan-size row${wave.plans === 1 ? '' : 's'} written and read back ${ms(wave.floorMs)}`,
      target: `< ${count(TARGET_MS)} ms ${underMark(wave.ms, TARGET_MS)}`,
    }));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
};
