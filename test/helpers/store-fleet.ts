import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { inputTime, MemoryWorld } from '../../cli/replay/memory-world.ts';
import {
  type FaultlineEvent,
  type Notification,
  type Plan,
  signCanonical,
  signPlan,
  type UnsignedPlan,
} from '../../events/index.ts';
import type { OutgoingMessage } from '../../functions/adapters/queue/port.ts';
import type { PlanSigner } from '../../functions/adapters/signer/port.ts';
import type { IncidentRecord, Store } from '../../functions/adapters/store/port.ts';
import {
  type CoreConfig,
  type CoreInput,
  DEFAULT_CORE_CONFIG,
  type Incident,
  type TimelineEntry,
} from '../../functions/core/index.ts';
import { DecisionEngine } from '../../functions/outbox/engine.ts';
import { at, HostingPartition, hostNames, progressOf, random, VscsiClient, vscsi } from './core-fleet.ts';

/**
 * Drives the decision engine on a real store the way `MemoryWorld` drives the core in memory, so
 * a test can run one script against both and compare what they give: incidents, plans in issue
 * order, notifications in send order, timelines. Also the 40-client IPL storm of the core's
 * scenarios, as a script any fleet can play.
 */

/** A P-256 key pair and a signer on it, as the local runtime's key file would give. */
export const testSigner = (): PlanSigner & { readonly publicKey: KeyObject; readonly signed: string[] } => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const signed: string[] = [];
  return {
    publicKey,
    signed,
    async sign(plan: UnsignedPlan): Promise<Plan> {
      signed.push(plan.id);
      return signPlan(plan, privateKey);
    },
    async signLines(lines: string): Promise<string> {
      return signCanonical(Buffer.from(lines, 'utf8'), privateKey).toString('base64');
    },
    async publicKeyPem() {
      return publicKey.export({ type: 'spki', format: 'pem' }).toString();
    },
  };
};

/** A notify queue that keeps what it is sent (every send: a crash may send one twice). */
export const capturingQueue = (): {
  send: (message: OutgoingMessage) => Promise<{ messageId: string }>;
  sent: Notification[];
} => {
  const sent: Notification[] = [];
  return {
    sent,
    async send(message) {
      sent.push(JSON.parse(message.body) as Notification);
      return { messageId: `m${sent.length}` };
    },
  };
};

/** What a fleet gives, in a form two fleets can be compared by. */
export interface FleetOutput {
  readonly incidents: Incident[];
  readonly plans: UnsignedPlan[];
  readonly notifications: Notification[];
  readonly timeline: TimelineEntry[];
}

export interface Fleet {
  ingest(input: CoreInput): Promise<void>;
  fireDue(now: string): Promise<void>;
  /** Every plan issued so far, in issue order. */
  plans(): Promise<UnsignedPlan[]>;
  output(): Promise<FleetOutput>;
}

const byId = <T extends { id: string }>(items: Iterable<T>): T[] =>
  [...items].sort((a, b) => (a.id < b.id ? -1 : 1));

/** The reference: the core's own in-memory world. */
export const memoryFleet = (config: CoreConfig = DEFAULT_CORE_CONFIG): Fleet & { world: MemoryWorld } => {
  const world = new MemoryWorld(config);
  return {
    world,
    async ingest(input) {
      world.ingest(input);
    },
    async fireDue(now) {
      world.fireDue(now);
    },
    async plans() {
      return [...world.plans];
    },
    async output() {
      return {
        incidents: byId(world.incidents.values()),
        plans: [...world.plans],
        notifications: [...world.notifications],
        timeline: byId(world.timeline),
      };
    },
  };
};

const withoutSignature = ({ signature: _signature, ...plan }: Plan): UnsignedPlan => plan;
const withoutRecord = ({
  detectedAt: _detected,
  revision: _revision,
  ...incident
}: IncidentRecord): Incident => incident;

/** Every incident of a store, all pages. */
export const allIncidents = async (store: Store): Promise<IncidentRecord[]> => {
  const incidents: IncidentRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listIncidents({ limit: 500, ...(cursor === undefined ? {} : { cursor }) });
    incidents.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return incidents;
};

/** Every timeline row of an incident, all pages. */
export const allTimeline = async (store: Store, incidentId: string): Promise<TimelineEntry[]> => {
  const entries: TimelineEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listTimeline(incidentId, {
      limit: 1000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    entries.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return entries;
};

/** First occurrence of each id, in order: what notify delivers of what it is sent (its delivery log). */
export const firstOfEach = <T extends { id: string }>(items: readonly T[]): T[] => {
  const seen = new Set<string>();
  return items.filter((item) => {
    if (seen.has(item.id)) return false;
    seen.add(item.id);
    return true;
  });
};

export interface StoreFleet extends Fleet {
  readonly engine: DecisionEngine;
  readonly signer: ReturnType<typeof testSigner>;
  readonly notifyQueue: ReturnType<typeof capturingQueue>;
  /** Timeline rows that are not about an incident the store lists (there should be none). */
  readonly store: Store;
}

/** The engine on a store, driven like `MemoryWorld` (timers fired each at its own time, in order). */
export const storeFleet = (
  store: Store,
  config: CoreConfig = DEFAULT_CORE_CONFIG,
  options: {
    readonly signer?: ReturnType<typeof testSigner>;
    readonly notifyQueue?: ReturnType<typeof capturingQueue>;
  } = {},
): StoreFleet => {
  const signer = options.signer ?? testSigner();
  const notifyQueue = options.notifyQueue ?? capturingQueue();
  const engine = new DecisionEngine({ store, signer, notifyQueue, config, clock: () => 0 });
  let clock = Number.NEGATIVE_INFINITY;
  const fireDue = async (now: string): Promise<void> => {
    const limit = Date.parse(now);
    for (;;) {
      const [wake] = await store.dueWakes(now, 1);
      if (wake === undefined || Date.parse(wake.at) > limit) return;
      clock = Math.max(clock, Date.parse(wake.at));
      await engine.tickWake(wake, new Date(clock).toISOString());
    }
  };
  const plans = async (): Promise<UnsignedPlan[]> => {
    const issued: UnsignedPlan[] = [];
    for (const id of new Set(signer.signed)) {
      const stored = await store.getPlan(id);
      if (stored !== undefined) issued.push(withoutSignature(stored.plan));
    }
    return issued;
  };
  return {
    store,
    engine,
    signer,
    notifyQueue,
    async ingest(input) {
      const now = Math.max(Date.parse(inputTime(input)), clock);
      await fireDue(new Date(now).toISOString());
      clock = Math.max(clock, now);
      await engine.applyInput(input, new Date(clock).toISOString());
    },
    fireDue,
    plans,
    async output() {
      const incidents = await allIncidents(store);
      const timeline: TimelineEntry[] = [];
      for (const incident of incidents) timeline.push(...(await allTimeline(store, incident.id)));
      return {
        incidents: byId(incidents.map(withoutRecord)),
        plans: await plans(),
        notifications: firstOfEach(notifyQueue.sent),
        timeline: byId(timeline),
      };
    },
  };
};

// ——————————————————————————————————————————————— the 40-client IPL storm

export interface Storm {
  readonly clients: VscsiClient[];
  readonly server: HostingPartition;
  /** Every input played, in order (a replay's input). */
  readonly inputs: FaultlineEvent[];
}

/** What happens when a plan runs on a healthy agent: its progress, then its arrays in sync. */
export const healingOf = (
  client: VscsiClient,
  plan: UnsignedPlan,
  start: number,
  fastPath = false,
): FaultlineEvent[] => {
  const events = progressOf(client, plan, start, { fastPath });
  const touched = new Set(
    [...plan.steps, ...(plan.fastPath ?? [])].flatMap((step) => ('array' in step ? [step.array] : [])),
  );
  for (const mirror of client.mirrors) {
    if (touched.has(mirror.array)) events.push(client.healthy(mirror, at(start + 30), plan.id));
  }
  return events;
};

/**
 * A hosting partition (vios2) IPLs under `clients` md clients: their root mirrors degrade within
 * seconds, the IPL completes, its heartbeats go on, and every plan sent is carried out by a
 * healthy agent (every third on its fast path), canary first, then the waves.
 */
export const playStorm = async (
  fleet: Fleet,
  options: {
    readonly clients: number;
    readonly seed: number;
    readonly onPlan?: (plan: UnsignedPlan) => void | Promise<void>;
  },
): Promise<Storm> => {
  const rng = random(options.seed);
  const clients = hostNames(rng, options.clients).map((name) => new VscsiClient(name, rng));
  const byHost = new Map(clients.map((client) => [client.hostId, client]));
  const server = new HostingPartition('vios2', vscsi('vios2'));
  const inputs: FaultlineEvent[] = [];
  const feed = async (...events: FaultlineEvent[]): Promise<void> => {
    for (const event of events) {
      inputs.push(event);
      await fleet.ingest(event);
    }
  };
  await feed(server.heartbeat(at(0)), ...clients.map((client) => client.heartbeat(at(1))));
  for (const [index, client] of clients.entries()) await feed(client.rootDegraded(at(100 + index * 0.25)));
  await feed(server.iplCompleted(at(700), at(690)));
  // Clients with a plan out heartbeat like any running agent (their root still degraded until the
  // plan runs): a client silent past three heartbeats while its plan is out escalates (§5.9).
  const waiting = new Set<VscsiClient>();
  let beat = 0;
  const advance = async (to: number): Promise<void> => {
    while (beat + 60 <= to) {
      beat += 60;
      await feed(server.heartbeat(at(beat)));
      for (const client of waiting) await feed(client.heartbeat(at(beat), { faulty: 'fall' }));
    }
    await fleet.fireDue(at(to));
  };
  await advance(760);
  const healed = new Set<string>();
  let clock = 1000;
  for (let rounds = 0; rounds < options.clients * 4; rounds += 1) {
    const plans = await fleet.plans();
    for (const plan of plans) {
      const client = byHost.get(plan.hostId);
      if (client !== undefined && !healed.has(plan.id)) waiting.add(client);
    }
    const next = plans.find((plan) => !healed.has(plan.id));
    if (next === undefined) break;
    await options.onPlan?.(next);
    clock += 60;
    await advance(clock);
    const client = byHost.get(next.hostId);
    if (client !== undefined) {
      waiting.delete(client);
      await feed(...healingOf(client, next, clock, healed.size % 3 === 2));
    }
    healed.add(next.id);
    await advance(clock + 31);
  }
  return { clients, server, inputs };
};
