import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { type Page, type PageSink, startPageSink } from '../../cli/demo/page-sink.ts';
import { type FaultlineEvent, IncidentDetailBody, parseWith, TopologyBody } from '../../events/index.ts';
import type { CoreInput } from '../../functions/core/index.ts';
import { inputDecisionId } from '../../functions/outbox/ids.ts';
import { DATA_FILES } from '../../local/control-plane.ts';
import { SimClient } from '../../sim/client.ts';
import { ControlPlane, type IncidentDetail } from '../../sim/control-plane-client.ts';
import { vscsiDomain } from '../../sim/managed-system.ts';
import { HostingPartition, random, SEED } from '../helpers/core-fleet.ts';
import {
  FaultyNetwork,
  type KillReport,
  killMidBatch,
  lookAtQueues,
  type NetworkFaults,
  type QueuedMessage,
  type RefusedEvent,
} from '../helpers/fault-injection-harness.ts';
import {
  type FaultlineUp,
  pagerDutyAt,
  quickHealingConfig,
  startFaultlineUp,
  until,
  writeConfigFile,
} from '../helpers/faultline-up.ts';

/**
 * Issue #16: a fault-injection run of the local runtime. `faultline up` runs as a child process (so
 * a SIGKILL is real) on 127.0.0.1 with its data folder (faultline.db, queues.db) in a temporary
 * folder; a VIOS pair serves 12 md clients, each the real agent and executor over a simulated host
 * (sim/client.ts), and vios2's agent (scripted, registered as a hosting server with its grant)
 * announces going down, then its IPL. The clients lose their halves, the outage holds them, the
 * wave of plans heals them, pages go to a PagerDuty-format sink on 127.0.0.1.
 *
 * The storm runs twice on fresh data folders. The clean run is the reference. The faulty run puts
 * the agents behind a network (test/helpers/fault-injection-harness.ts) that sends every event
 * twice (the copy late, after later batches: a redelivery), cuts each batch into chunks released
 * in bursts in a shuffled order (reordering within a window, within a host and across hosts), and
 * answers 503 when the control plane did not take a whole batch, which the agent sends again as it
 * does after any failure (vios2's scripted agent too). The control plane is SIGKILLed twice, each
 * time in the middle of a correlate batch (stopped, looked at, killed while the batch is received
 * and not deleted, so its store transaction never commits): once while the clients' symptoms are
 * being posted (event POSTs cut off unanswered), once in the middle of the wave (the first plans
 * out, not the last). It is started again on the same data folder and port, and the batch it cut
 * off comes back after the visibility timeout (2 s).
 *
 * Then: every event the control plane answered 202 for is applied (each plan progress and server
 * announcement has its decision in the store; the queues drain with nothing dead-lettered; each
 * host's slice has seen its highest acknowledged `seq`; every client joined the incident, got its
 * plan, succeeded and was healthy in the timeline, and its mirrors are healthy as the control
 * plane sees them); no plan is issued twice (one plan per host in the store, one plan fetched and
 * run per agent, each step run once); no page twice; and the incidents, timelines, plans and pages
 * are those of the clean run. `FAULTLINE_TEST_SEED` replays a run's network faults (not its timing).
 */

const CLIENTS = 12;
/** The canary, then two waves. */
const MAX_PLANS_IN_FLIGHT = 6;
/** Short, so the batch a kill cut off comes back within the run. */
const VISIBILITY_TIMEOUT_SECONDS = 2;
const FAULTS: NetworkFaults = { reorderWindowMs: 250, lateDuplicateMs: 1_500 };
/**
 * Each run's budget: a run takes about a minute on an idle 2-core machine; the budget leaves room
 * for a loaded one. Every wait of a run takes what is left of it, so a run that overruns fails with
 * what it waited for, before the test's own timeout (the budget and a margin for the wind-down).
 */
const RUN_SECONDS = { clean: 140, faulty: 170 } as const;
const TEST_MARGIN_SECONDS = 30;
/** How long a kill waits for its cue and a correlate batch in flight before it kills anyway. */
const KILL_CUE_SECONDS = 60;
/**
 * How long after its cue a kill waits for a batch of several messages before one will do: briefly
 * during the symptoms' burst (it is soon over), longer in the wave.
 */
const PREFER_LARGER_BATCH_SECONDS = { ingest: 1, wave: 3 } as const;
/**
 * Events whose decision always leaves its record in the store (`decisions`, by the id derived from
 * the event) once applied: a plan's progress writes its host and its domain, a server's
 * announcement its domain and its own host. Each one acknowledged is looked up there. Other events
 * may change one slice only, or nothing (an older report), and leave no trace of their own: they
 * are checked by what they do (the incident, the timeline, the hosts' state, their `seq`).
 */
const ALWAYS_DECIDED: readonly string[] = ['command.progress', 'domain.going-down', 'ipl.completed'];
const VIOS2 = 'fi-vios2';
const VIOS2_DOMAIN = vscsiDomain('vios2');
const CLIENT_IDS = Array.from(
  { length: CLIENTS },
  (_, index) => `fi-lnx${String(index + 1).padStart(2, '0')}`,
);

/** How long the end of the file waits for one thing to stop before it kills or leaves it. */
const STOP_SECONDS = 10;
const CLEANUP_SECONDS = 60;

const data = mkdtempSync(join(tmpdir(), 'faultline-fault-injection-'));
/** Everything a run started, stopped and removed at the end whatever happened (a run stops its own when it ends). */
const started = {
  clients: new Set<SimClient>(),
  networks: new Set<FaultyNetwork>(),
  sinks: new Set<PageSink>(),
  planes: new Set<FaultlineUp>(),
};

/** `work`, or undefined once `seconds` passed (it goes on, unwatched). */
const within = <T>(seconds: number, work: Promise<T>): Promise<T | undefined> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((done) => {
    timer = setTimeout(() => done(undefined), seconds * 1000);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
};

const hasExited = (plane: FaultlineUp): boolean =>
  plane.child.exitCode !== null || plane.child.signalCode !== null;

/** SIGTERM (after a SIGCONT, should a kill have left it stopped), then SIGKILL if it does not exit. */
const stopPlane = async (plane: FaultlineUp): Promise<void> => {
  if (hasExited(plane)) return;
  plane.child.kill('SIGCONT');
  await within(STOP_SECONDS, plane.stop());
  if (hasExited(plane)) return;
  const exited = new Promise((done) => plane.child.once('exit', done));
  plane.child.kill('SIGKILL');
  await exited;
};

afterAll(async () => {
  await Promise.allSettled(
    [...started.clients].map(async (client) => {
      try {
        await within(STOP_SECONDS, client.stop());
      } finally {
        client.remove();
      }
    }),
  );
  await Promise.allSettled([...started.networks].map((network) => network.close()));
  await Promise.allSettled([...started.sinks].map((sink) => sink.close()));
  await Promise.allSettled([...started.planes].map(stopPlane));
  rmSync(data, { recursive: true, force: true });
}, CLEANUP_SECONDS * 1000);

/** What a run leaves, compared between the clean and the faulty run. */
type IncidentShape = {
  kind: string;
  failureDomain: string;
  status: string;
  escalated: boolean;
  affectedHosts: number;
  hosts: string[];
};

type RunRecord = {
  incidents: IncidentShape[];
  /** Every incident's timeline in words, without times and ids (see `timelineInWords`), sorted. */
  timeline: string[];
  /** Incident id → `<kind> <failure domain>`: how pages of the two runs are compared. */
  incidentNames: Map<string, string>;
  pages: Page[];
  /** Plans in the store, by host. */
  plansIssued: Record<string, { id: string; revoked: boolean }[]>;
  /** Plan ids each agent fetched (again when served again before it ran), and ran. */
  plansFetched: Record<string, string[]>;
  plansAdmitted: Record<string, string[]>;
  /** The actions of each host's plan, steps then fast path. */
  planActions: Record<string, string[]>;
  /** What each host's tools did, and what its fault needs done once. */
  hostActions: Record<string, string[][]>;
  expectedActions: Record<string, string[][]>;
  /** Hosts whose every array the control plane shows healthy. */
  healthyAtPlane: string[];
  /** Per host, the highest `seq` its slice has seen, and the highest the control plane acknowledged. */
  lastSeq: Record<string, number | undefined>;
  ackedSeq: Record<string, number>;
  acked: number;
  /** Acknowledged events of `ALWAYS_DECIDED` types, and those of them with no decision in the store. */
  decidable: number;
  undecided: string[];
  refused: RefusedEvent[];
  deadLetters: { events: QueuedMessage[]; notify: QueuedMessage[] };
  kills: (KillReport & { onCue: boolean })[];
  network: FaultyNetwork['counts'];
};

const now = (): string => new Date().toISOString();

/** Sends a scripted agent's events through the network until the control plane takes them, as an agent does. */
const postUntilAccepted = async (
  url: string,
  token: string,
  events: FaultlineEvent[],
  seconds: number,
): Promise<void> => {
  await until(
    `202 for ${events.map((event) => event.type).join(', ')}`,
    async () => {
      try {
        const answer = await fetch(`${url}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/cloudevents-batch+json' },
          body: JSON.stringify(events),
          signal: AbortSignal.timeout(10_000),
        });
        await answer.text();
        return answer.status === 202 ? true : undefined;
      } catch {
        return undefined;
      }
    },
    seconds,
  );
};

/**
 * A timeline entry in words that do not depend on the run: no times, no plan ids, no wave number
 * (a host joins the wave whose slot frees first), not which report said a host was healthy (its
 * heartbeat or its `mirror.healthy`, whichever was applied first).
 */
const timelineInWords = (entry: { hostId?: string | undefined; text: string }): string =>
  `${entry.hostId ?? '-'}: ${entry.text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/\bpln-[0-9a-f]+/g, '<plan>')
    .replace(/\bwave \d+/g, 'wave')
    .replace(/ \((mirror\.healthy|host\.heartbeat)\)$/, '')}`;

const timelineOf = (detail: IncidentDetail): string =>
  detail.timeline.map((entry) => `${entry.at} ${entry.hostId ?? ''} ${entry.text}`).join('\n');

/**
 * The storm, start to end, on a fresh data folder: with `faults`, behind the faulty network and
 * with two SIGKILLs; without, everything passes through once. Each start of `faultline up` is kept
 * in `planes`, so a failure can say what it wrote to stderr.
 */
const storm = async (
  name: 'clean' | 'faulty',
  faults: NetworkFaults | undefined,
  planes: FaultlineUp[],
): Promise<RunRecord> => {
  const deadline = Date.now() + RUN_SECONDS[name] * 1000;
  /** What is left of the run's budget, in seconds. */
  const left = (): number => Math.max(1, (deadline - Date.now()) / 1000);
  const rng = random(SEED + (faults === undefined ? 0 : 1));
  const dir = join(data, name);
  const planeDir = join(dir, 'plane');
  mkdirSync(dir, { recursive: true });
  const queuesFile = join(planeDir, DATA_FILES.queues);
  const sink = await startPageSink(0, '127.0.0.1');
  started.sinks.add(sink);
  const configFile = writeConfigFile(join(dir, 'faultline.json'), {
    ...quickHealingConfig({ maxPlansInFlight: MAX_PLANS_IN_FLIGHT, notify: pagerDutyAt('pager', sink.url) }),
    queues: { waitTimeSeconds: 1, visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS },
  });
  const startPlane = async (port = 0): Promise<FaultlineUp> => {
    const up = await startFaultlineUp({ dataDir: planeDir, configFile, port });
    started.planes.add(up);
    planes.push(up);
    return up;
  };
  let plane = await startPlane();
  const port = Number(new URL(plane.url).port);
  const api = new ControlPlane(
    plane.url,
    readFileSync(join(planeDir, DATA_FILES.operatorToken), 'utf8').trim(),
  );
  const network = await FaultyNetwork.start(plane.url, faults, rng);
  started.networks.add(network);
  const planPublicKeyPem = readFileSync(join(planeDir, DATA_FILES.planPublicKey), 'utf8');

  // Registration first: vios2 as a hosting server with its grant, a token per client.
  const vios2 = new HostingPartition(VIOS2, VIOS2_DOMAIN);
  const vios2Token = await api.mintAgentToken(VIOS2, { role: 'hosting', serves: [VIOS2_DOMAIN] });
  const clients: SimClient[] = [];
  for (const [index, hostId] of CLIENT_IDS.entries()) {
    const client = new SimClient({
      hostId,
      index: 700 + index,
      url: network.url,
      agentToken: await api.mintAgentToken(hostId),
      planPublicKeyPem,
    });
    clients.push(client);
    started.clients.add(client);
  }
  const vios2Says = (...events: FaultlineEvent[]) =>
    postUntilAccepted(network.url, vios2Token, events, left());

  await vios2Says(vios2.heartbeat(now()));
  for (const client of clients) await client.start();
  await Promise.all(clients.map((client) => client.scanNow('baseline')));
  await until(
    'every client known with its mirrors healthy',
    async () => {
      const topology = parseWith(TopologyBody, await api.call('GET', '/v1/topology?limit=1000'));
      if (!topology.ok) return undefined;
      const known = topology.value.hosts.filter(
        (host) =>
          CLIENT_IDS.includes(host.hostId) &&
          host.arrays.length === 2 &&
          host.arrays.every((array) => array.health === 'healthy'),
      );
      return known.length === CLIENTS ? true : undefined;
    },
    left(),
  );

  const kills: RunRecord['kills'] = [];
  /** SIGKILL mid-batch once `cue` holds, then the same data folder and port again. */
  const killAndRestart = async (
    cue: () => boolean,
    options: { preferSeconds: number; cutPosts: boolean },
  ): Promise<void> => {
    let onCue = false;
    const report = await killMidBatch({
      child: plane.child,
      queuesFile,
      network,
      rng,
      seconds: Math.min(left(), KILL_CUE_SECONDS),
      ...options,
      ready: () => {
        onCue = cue();
        return onCue;
      },
    });
    kills.push({ ...report, onCue });
    plane = await startPlane(port);
  };

  // vios2 shuts down: its agent announces it, its clients lose their halves.
  await vios2Says(vios2.goingDown(now()));
  await Promise.all(clients.map((client) => client.remoteDown()));
  if (faults !== undefined) {
    // In the middle of ingest: the clients' symptoms on their way, some already taken.
    await killAndRestart(() => network.inFlight > 0 && network.ackedOf('mirror.degraded').length >= 3, {
      preferSeconds: PREFER_LARGER_BATCH_SECONDS.ingest,
      cutPosts: true,
    });
  }
  const opened = await until(
    'the outage of vios2 holding every client',
    async () => {
      const outage = (await api.incidents()).find(
        (incident) => incident.kind === 'outage' && incident.failureDomain === VIOS2_DOMAIN,
      );
      return outage !== undefined && outage.affectedHosts === CLIENTS ? outage : undefined;
    },
    left(),
  );

  // vios2 is back: its agent announces the IPL, its disks are exported again; the wave heals.
  await vios2Says(vios2.iplCompleted(now(), now()));
  await Promise.all(clients.map((client) => client.remoteBack()));
  if (faults !== undefined) {
    // In the middle of the wave: the canary and the first plans out, not every plan yet.
    await killAndRestart(
      () => {
        const admitted = clients.filter((client) => client.plansAdmitted.length > 0).length;
        return admitted >= 2 && admitted < CLIENTS;
      },
      { preferSeconds: PREFER_LARGER_BATCH_SECONDS.wave, cutPosts: false },
    );
  }
  try {
    await until(
      'the outage resolved with every client healthy',
      async () => {
        const detail = await api.incident(opened.id);
        if (detail.incident.status === 'halted') throw new Error(`the wave halted:\n${timelineOf(detail)}`);
        return detail.incident.status === 'resolved' && clients.every((client) => client.isHealthy())
          ? true
          : undefined;
      },
      left(),
    );
  } catch (error) {
    const hosts = clients.map(
      (client) =>
        `${client.hostId} ${client.phase}, plans admitted ${client.plansAdmitted.join(' ') || 'none'}`,
    );
    const timeline = await api.incident(opened.id).then(timelineOf, (cause: Error) => cause.message);
    throw new Error(`${(error as Error).message}\n${hosts.join('\n')}\n${timeline}`, { cause: error });
  }
  await until(
    'the resolve page',
    () =>
      sink.pages.some((page) => page.event_action === 'resolve' && page.dedup_key === opened.id)
        ? true
        : undefined,
    left(),
  );

  // Wind down: the agents stop, the late copies land, the queues drain (nothing in flight either).
  await Promise.all(clients.map((client) => client.stop()));
  await network.settled();
  await until(
    'the events and notify queues drained',
    () => {
      const look = lookAtQueues(queuesFile);
      return look.events.waiting === 0 && look.notify.waiting === 0 ? true : undefined;
    },
    left(),
  );

  const incidents = await api.incidents();
  const details = await Promise.all(
    incidents.map(async (incident) => {
      const path = `/v1/incidents/${incident.id}?limit=1000`;
      const detail = parseWith(IncidentDetailBody, await api.call('GET', path));
      if (!detail.ok) throw new Error(`GET ${path} answered outside the contract`);
      return detail.value;
    }),
  );
  const topology = parseWith(TopologyBody, await api.call('GET', '/v1/topology?limit=1000'));
  if (!topology.ok) throw new Error('GET /v1/topology answered outside the contract');
  await stopPlane(plane);

  const store = new Database(join(planeDir, DATA_FILES.database), { readonly: true, fileMustExist: true });
  const plansIssued: RunRecord['plansIssued'] = {};
  const lastSeq: RunRecord['lastSeq'] = {};
  const decidable = [...network.acked.values()].filter((event) => ALWAYS_DECIDED.includes(event.type));
  const undecided: string[] = [];
  try {
    const plans = store
      .prepare<[], { id: string; host_id: string; revoked: number }>(
        'SELECT id, host_id, revoked FROM plans ORDER BY host_id, id',
      )
      .all();
    for (const plan of plans)
      plansIssued[plan.host_id] = [
        ...(plansIssued[plan.host_id] ?? []),
        { id: plan.id, revoked: plan.revoked !== 0 },
      ];
    const hosts = store
      .prepare<[], { id: string; value: string | null }>("SELECT id, value FROM slices WHERE kind = 'host'")
      .all();
    for (const host of hosts)
      lastSeq[host.id] = (JSON.parse(host.value ?? '{}') as { lastSeq?: number }).lastSeq;
    const decision = store.prepare<[string], { id: string }>('SELECT id FROM decisions WHERE id = ?');
    for (const event of decidable) {
      // The id correlate gives an event's decision: derived from its host and its id alone.
      const id = inputDecisionId({ type: event.type, hostid: event.hostId, id: event.id } as CoreInput);
      if (decision.get(id) === undefined) undecided.push(`${event.hostId} ${event.type} ${event.id}`);
    }
  } finally {
    store.close();
  }
  const queues = lookAtQueues(queuesFile);

  const ackedSeq: Record<string, number> = {};
  for (const event of network.acked.values())
    ackedSeq[event.hostId] = Math.max(ackedSeq[event.hostId] ?? 0, event.seq);
  const byHost = <T>(of: (client: SimClient) => T): Record<string, T> =>
    Object.fromEntries(clients.map((client) => [client.hostId, of(client)]));
  const record: RunRecord = {
    incidents: details
      .map(({ incident, affectedHosts }) => ({
        kind: incident.kind,
        failureDomain: incident.failureDomain,
        status: incident.status,
        escalated: incident.escalated,
        affectedHosts: incident.affectedHosts,
        hosts: affectedHosts.items.map((host) => `${host.hostId} ${host.status}`).sort(),
      }))
      .sort((a, b) => `${a.kind} ${a.failureDomain}`.localeCompare(`${b.kind} ${b.failureDomain}`)),
    timeline: details.flatMap((detail) => detail.timeline.items.map(timelineInWords)).sort(),
    incidentNames: new Map(
      incidents.map((incident) => [incident.id, `${incident.kind} ${incident.failureDomain}`]),
    ),
    pages: [...sink.pages],
    plansIssued,
    plansFetched: byHost((client) => client.plansFetched.map((plan) => plan.id)),
    plansAdmitted: byHost((client) => [...client.plansAdmitted]),
    planActions: byHost((client) => [...new Set(client.plansFetched.map((plan) => plan.actions.join(' ')))]),
    hostActions: byHost((client) => client.actions()),
    expectedActions: byHost((client) => client.expectedActions()),
    healthyAtPlane: topology.value.hosts
      .filter((host) => host.arrays.length > 0 && host.arrays.every((array) => array.health === 'healthy'))
      .map((host) => host.hostId)
      .sort(),
    lastSeq,
    ackedSeq,
    acked: network.acked.size,
    decidable: decidable.length,
    undecided,
    refused: [...network.refused],
    deadLetters: { events: queues.eventsDeadLetter, notify: queues.notifyDeadLetter },
    kills,
    network: { ...network.counts },
  };
  for (const client of clients) {
    client.remove();
    started.clients.delete(client);
  }
  await network.close();
  started.networks.delete(network);
  await sink.close();
  started.sinks.delete(sink);
  return record;
};

const runStorm = async (name: 'clean' | 'faulty', faults: NetworkFaults | undefined): Promise<RunRecord> => {
  const planes: FaultlineUp[] = [];
  try {
    return await storm(name, faults, planes);
  } catch (error) {
    const said = planes
      .map((plane, index) => `start ${index + 1}: ${plane.stderr().trim() || '(nothing)'}`)
      .join('\n');
    throw new Error(
      `the ${name} run (seed ${SEED}): ${(error as Error).message}\nwhat faultline up wrote to stderr:\n${said}`,
      { cause: error },
    );
  }
};

/** The pages of a run in words that do not depend on the run's ids: incident, action, severity. */
const pagesInWords = (run: RunRecord): string[] =>
  run.pages
    .map(
      (page) =>
        `${run.incidentNames.get(page.dedup_key ?? '') ?? `no incident ${page.dedup_key}`} ${page.event_action} ${page.payload?.severity ?? ''}`,
    )
    .sort();

/** What holds in any run, clean or faulty: nothing refused, lost, dead-lettered, planned or paged twice. */
const expectSound = (run: RunRecord): void => {
  const seed = `seed ${SEED}`;
  expect(run.refused, seed).toEqual([]);
  expect(run.deadLetters, seed).toEqual({ events: [], notify: [] });
  // Every acknowledged event applied: each plan progress and announcement has its decision in the
  // store, and each host's slice has seen its highest acknowledged seq.
  expect(run.decidable, seed).toBeGreaterThan(CLIENTS);
  expect(run.undecided, seed).toEqual([]);
  for (const hostId of [...CLIENT_IDS, VIOS2]) {
    expect(run.ackedSeq[hostId], `${hostId} acknowledged (${seed})`).toBeGreaterThan(0);
    expect(run.lastSeq[hostId], `${hostId}'s last seq applied (${seed})`).toBeGreaterThanOrEqual(
      run.ackedSeq[hostId] ?? Number.POSITIVE_INFINITY,
    );
  }
  expect(run.healthyAtPlane, seed).toEqual(CLIENT_IDS);
  // One plan per client, issued once, fetched as that one plan, run once, each step once.
  expect(Object.keys(run.plansIssued).sort(), seed).toEqual(CLIENT_IDS);
  for (const hostId of CLIENT_IDS) {
    const issued = run.plansIssued[hostId] ?? [];
    expect(issued, `${hostId}'s plans in the store (${seed})`).toHaveLength(1);
    expect(issued[0]?.revoked, `${hostId}'s plan revoked (${seed})`).toBe(false);
    expect(new Set(run.plansFetched[hostId]), `${hostId} fetched (${seed})`).toEqual(
      new Set([issued[0]?.id]),
    );
    expect(run.plansAdmitted[hostId], `${hostId} ran (${seed})`).toEqual([issued[0]?.id]);
    expect(run.hostActions[hostId], `${hostId}'s commands (${seed})`).toEqual(run.expectedActions[hostId]);
  }
  // No page twice: each incident's trigger and resolve once, and about an incident the store holds.
  const pageKeys = run.pages.map(
    (page) => `${page.dedup_key} ${page.event_action} ${page.payload?.severity}`,
  );
  expect(pageKeys.length, `${pageKeys.join('\n')} (${seed})`).toBe(new Set(pageKeys).size);
  for (const page of run.pages) expect(run.incidentNames.has(page.dedup_key ?? ''), seed).toBe(true);
};

let clean: RunRecord | undefined;

describe('the local runtime under fault injection (issue #16)', () => {
  it(
    'heals the storm of a vios2 IPL under 12 clients on a clean run: one outage, one plan per client, one trigger and its resolve',
    async () => {
      clean = await runStorm('clean', undefined);
      expectSound(clean);
      expect(clean.incidents).toEqual([
        {
          kind: 'outage',
          failureDomain: VIOS2_DOMAIN,
          status: 'resolved',
          escalated: false,
          affectedHosts: CLIENTS,
          hosts: CLIENT_IDS.map((hostId) => `${hostId} healthy`),
        },
      ]);
      expect(clean.pages.map((page) => page.event_action)).toEqual(['trigger', 'resolve']);
      // Each client in the timeline: it joined, got its plan, the plan succeeded, it was healthy.
      for (const hostId of CLIENT_IDS) {
        expect(clean.timeline.filter((line) => line.startsWith(`${hostId}:`))).toEqual(
          [
            `${hostId}: ${hostId} affected`,
            `${hostId}: ${hostId === CLIENT_IDS[0] ? 'canary' : 'wave'} plan <plan> (execute) for ${hostId}: 11 steps`,
            `${hostId}: plan <plan> succeeded`,
            `${hostId}: ${hostId} healthy`,
          ].sort(),
        );
      }
    },
    (RUN_SECONDS.clean + TEST_MARGIN_SECONDS) * 1000,
  );

  it(
    'applies every acknowledged event once under duplicates, reordering, SIGKILLs mid-ingest and mid-wave and redelivery: the same incidents, plans and pages as the clean run',
    async () => {
      if (clean === undefined) throw new Error('the clean run did not finish: nothing to compare with');
      const faulty = await runStorm('faulty', FAULTS);
      const seed = `seed ${SEED}`;
      expectSound(faulty);

      // The faults happened: every event sent twice, two kills on cue, each in the middle of a
      // correlate batch (its messages received and not deleted when the process died). Those
      // messages came back after the visibility timeout: the queue drained with nothing
      // dead-lettered (expectSound), and a message is deleted only once its batch committed.
      expect(faulty.network.lateDuplicates, seed).toBeGreaterThan(0);
      expect(faulty.network.copies, seed).toBeGreaterThanOrEqual(2 * faulty.acked);
      expect(
        faulty.kills.map((kill) => ({ onCue: kill.onCue, midBatch: kill.midBatch })),
        seed,
      ).toEqual([
        { onCue: true, midBatch: true },
        { onCue: true, midBatch: true },
      ]);
      expect(faulty.kills[0]?.postsInFlight, `POSTs in flight at the first kill (${seed})`).toBeGreaterThan(
        0,
      );

      // The same outcome as the clean run.
      expect(faulty.incidents, seed).toEqual(clean.incidents);
      expect(faulty.timeline, seed).toEqual(clean.timeline);
      expect(pagesInWords(faulty), seed).toEqual(pagesInWords(clean));
      expect(faulty.planActions, seed).toEqual(clean.planActions);
      expect(faulty.hostActions, seed).toEqual(clean.hostActions);
    },
    (RUN_SECONDS.faulty + TEST_MARGIN_SECONDS) * 1000,
  );
});
