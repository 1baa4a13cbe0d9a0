/**
 * How SQS standard queues may deliver a recorded storm to correlate, for the order property of issue
 * 12 (DESIGN §5.8: reordered and duplicated events converge to the same state), and the final state
 * such a run is compared on, times aside.
 *
 * The model, and the real behaviour each part copies:
 * - `receivedat` never changes. It is stamped before the queue: by the API when it accepts an event
 *   (functions/api/ingest.ts), or, for an agent sending straight to SQS, from the message's
 *   `SentTimestamp` (functions/correlate/records.ts), which SQS sets once at send and repeats on every
 *   redelivery. The queue changes when correlate applies an event and in which order, and
 *   correlate's `now` is its own clock at that moment (functions/correlate/handler.ts). So a late or
 *   repeated delivery is the same event applied at a later `now`, never one with a new `receivedat`.
 * - Each input is delivered at its base time (the virtual clock the time-ordered replay applies it
 *   at) plus a delay of 0 to `groupingWindowSeconds` (§5.1, 30 s by default). Across hosts, any order
 *   those delays allow; one host's events overtake each other and are redelivered (at least once:
 *   each copy with its own delay) within the same window. Deliveries at the same instant go in any
 *   order (a rank). Operator commands and server announcements (`domain.going-down`,
 *   `ipl.completed`, `domain.rebooted`) ride the same queue and move like any event.
 * - Timers due by a delivery's time fire before it, each at its own time, as correlate fires the due
 *   timers after each batch and sweep every minute.
 * - An agent reports on a plan only after it fetched it. Events carrying a `planid` (and the
 *   `command.progress` naming one) wait until the run has issued that host's plan of the same rank
 *   (its k-th plan for its k-th recorded plan id); they are rewritten to name it (an outage's id, so
 *   its plans' ids, derive from its `downAt`, which another order may set differently) and shifted by
 *   how much later that plan went out than in the time-ordered replay, so the agent keeps its
 *   recorded pace. A report on a plan the run never issued is never sent. Likewise an operator's
 *   approve or resolve names the run's incident of the same kind and domain.
 * - Both runs settle to the same horizon, one grouping window past the last input (the latest a
 *   shuffled input arrives), firing the timers due by then; later timers are left to both alike.
 * - With no move, every input is delivered once at its base time, in file order: that is the
 *   time-ordered replay, byte for byte (the order property's test holds this).
 * Fast-check shrinks a schedule to the fewest moved deliveries and the smallest delays and ranks.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { readInputs } from '../../cli/replay/command.ts';
import { inputTime, MemoryWorld } from '../../cli/replay/memory-world.ts';
import { replayWorld } from '../../cli/replay/replay.ts';
import { canonicalJson, type FaultlineEvent, type UnsignedPlan } from '../../events/index.ts';
import {
  type CoreConfig,
  type CoreInput,
  DEFAULT_CORE_CONFIG,
  type Incident,
  toMs,
  toTime,
} from '../../functions/core/index.ts';
import { SafetyMonitor, type Violation } from './storm-safety.ts';

/** The recorded storms of docs/architecture.md §1, one per field case (and more as they are recorded). */
export const STORMS_DIR = join(import.meta.dirname, '..', '..', 'events', 'examples', 'storms');

/** A recorded storm: its inputs in file order and the virtual clock replay applies each at. */
export type Storm = { name: string; inputs: CoreInput[]; base: number[] };

const baseTimes = (inputs: readonly CoreInput[]): number[] => {
  let clock = Number.NEGATIVE_INFINITY;
  return inputs.map((input) => {
    clock = Math.max(clock, toMs(inputTime(input)));
    return clock;
  });
};

/** A storm from inputs already parsed, such as a storm a test builds. */
export const stormOf = (name: string, inputs: CoreInput[]): Storm => ({
  name,
  inputs,
  base: baseTimes(inputs),
});

/** Every storm of events/examples/storms/, so a storm added there is shuffled without a change here. */
export const loadStorms = (dir = STORMS_DIR): Storm[] =>
  readdirSync(dir)
    .filter((file) => file.endsWith('.ndjson'))
    .sort()
    .map((file) => {
      const { inputs, rejected } = readInputs(readFileSync(join(dir, file), 'utf8'));
      if (rejected.length > 0)
        throw new Error(`${file}: lines ${rejected.map((r) => r.line).join(', ')} do not parse`);
      return stormOf(file.slice(0, -'.ndjson'.length), inputs);
    });

/** One delivery of input `index`: `delayMs` after its base time, `rank` ordering deliveries at one instant. */
export type Move = { index: number; delayMs: number; rank: number };
/** One delivery as scheduled: when, and its place among deliveries at the same instant. */
export type Delivery = { index: number; copy: number; at: number; rank: number };

/**
 * Schedules as moves: an input no move names is delivered once at its base time; an input named by k
 * moves is delivered k times (k − 1 redeliveries). Shrinking drops moves and lowers delays and ranks,
 * back towards the time-ordered replay. Small, medium and whole-storm schedules are all drawn.
 */
export const movesArbitrary = (
  storm: Storm,
  config: CoreConfig = DEFAULT_CORE_CONFIG,
): fc.Arbitrary<Move[]> => {
  const move = fc.record({
    index: fc.nat({ max: storm.inputs.length - 1 }),
    delayMs: fc.nat({ max: config.groupingWindowSeconds * 1000 }),
    rank: fc.integer({ min: -3, max: 3 }),
  });
  const maxLength = 2 * storm.inputs.length;
  return fc.oneof(
    fc.array(move, { maxLength, size: 'small' }),
    fc.array(move, { maxLength, size: 'medium' }),
    fc.array(move, { maxLength, size: 'max' }),
  );
};

const before = (a: Delivery, b: Delivery): boolean =>
  a.at !== b.at
    ? a.at < b.at
    : a.rank !== b.rank
      ? a.rank < b.rank
      : a.index !== b.index
        ? a.index < b.index
        : a.copy < b.copy;

/** The deliveries a list of moves makes, in the order correlate would apply them. */
export const schedule = (storm: Storm, moves: readonly Move[]): Delivery[] => {
  const byIndex = new Map<number, Move[]>();
  for (const move of moves) byIndex.set(move.index, [...(byIndex.get(move.index) ?? []), move]);
  const deliveries: Delivery[] = [];
  storm.base.forEach((base, index) => {
    const own = byIndex.get(index);
    if (own === undefined) deliveries.push({ index, copy: 0, at: base, rank: 0 });
    else {
      own.forEach((move, copy) => {
        deliveries.push({ index, copy, at: base + move.delayMs, rank: move.rank });
      });
    }
  });
  return deliveries.sort((a, b) => (before(a, b) ? -1 : 1));
};

/** The moved deliveries of a schedule in words, for a counter-example a person can read. */
export const describeMoves = (storm: Storm, moves: readonly Move[]): string => {
  const lines = [...moves]
    .sort((a, b) => a.index - b.index || a.delayMs - b.delayMs)
    .map((move) => {
      const input = storm.inputs[move.index] as CoreInput;
      const what =
        'hostid' in input
          ? `${input.hostid} ${input.type} seq ${input.seq}${input.planid ? ' (plan report)' : ''}`
          : input.type;
      return `  #${move.index} ${what} (received ${inputTime(input)}) delivered +${move.delayMs / 1000} s, rank ${move.rank}`;
    });
  return `${storm.name}: ${moves.length} moved deliveries\n${lines.join('\n')}`;
};

type Pending = Delivery & { shifted: boolean };

/** A queue of deliveries in delivery order; held plan reports go back in when their plan is issued. */
class DeliveryQueue {
  private readonly items: Pending[];
  private head = 0;

  constructor(deliveries: readonly Delivery[]) {
    this.items = deliveries.map((delivery) => ({ ...delivery, shifted: false }));
  }

  peek(): Pending | undefined {
    return this.items[this.head];
  }

  pop(): Pending | undefined {
    const item = this.items[this.head];
    if (item !== undefined) this.head += 1;
    return item;
  }

  push(item: Pending): void {
    let low = this.head;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (before(this.items[middle] as Pending, item)) low = middle + 1;
      else high = middle;
    }
    this.items.splice(low, 0, item);
  }
}

/** For each input that reports on a plan: its host and the rank of that plan among the host's recorded plans. */
const planReports = (inputs: readonly CoreInput[]): Map<number, { hostId: string; ordinal: number }> => {
  const ranks = new Map<string, string[]>();
  const reports = new Map<number, { hostId: string; ordinal: number }>();
  inputs.forEach((input, index) => {
    if (!('hostid' in input)) return;
    const planId = input.planid ?? (input.type === 'command.progress' ? input.data.planId : undefined);
    if (planId === undefined) return;
    const seen = ranks.get(input.hostid) ?? [];
    if (!seen.includes(planId)) ranks.set(input.hostid, [...seen, planId]);
    reports.set(index, { hostId: input.hostid, ordinal: (ranks.get(input.hostid) ?? []).indexOf(planId) });
  });
  return reports;
};

const naming = (event: FaultlineEvent, planId: string): FaultlineEvent => {
  const renamed =
    event.planid === undefined || event.planid === planId ? event : { ...event, planid: planId };
  if (renamed.type === 'command.progress' && renamed.data.planId !== planId)
    return { ...renamed, data: { ...renamed.data, planId } };
  return renamed;
};

const plansByHost = (plans: readonly UnsignedPlan[]): Map<string, UnsignedPlan[]> => {
  const byHost = new Map<string, UnsignedPlan[]>();
  for (const plan of plans) byHost.set(plan.hostId, [...(byHost.get(plan.hostId) ?? []), plan]);
  return byHost;
};

/** The earliest timer still to fire after the world's clock, read from the slices' wake times. */
const nextWake = (world: MemoryWorld, parsed: Map<string, number>): number | undefined => {
  let next: number | undefined;
  const consider = (wakeAt: string | undefined) => {
    if (wakeAt === undefined) return;
    let ms = parsed.get(wakeAt);
    if (ms === undefined) {
      ms = toMs(wakeAt);
      parsed.set(wakeAt, ms);
    }
    if (ms > world.clock && (next === undefined || ms < next)) next = ms;
  };
  for (const domain of world.domains.values()) consider(domain.wakeAt);
  for (const host of world.hosts.values()) consider(host.wakeAt);
  return next;
};

/**
 * An operator approves or resolves the incident they see: in another order its id may differ (an
 * outage's id derives from its `downAt`), so a recorded command names the run's incident of the same
 * kind and domain (the open one first).
 */
const aboutRunIncident = (
  command: Extract<CoreInput, { type: 'operator.approve' | 'operator.resolve' }>,
  recordedWorld: MemoryWorld,
  world: MemoryWorld,
): CoreInput => {
  const recorded = recordedWorld.incidents.get(command.incidentId);
  if (world.incidents.has(command.incidentId) || recorded === undefined) return command;
  const same = [...world.incidents.values()]
    .filter((incident) => keyOf(incident) === keyOf(recorded))
    .sort((a, b) => Number(a.status === 'resolved') - Number(b.status === 'resolved'));
  const incident = same[0];
  return incident === undefined ? command : { ...command, incidentId: incident.id };
};

/** The time-ordered replay a shuffled run is compared with, and the time both runs settle to. */
export type OrderReference = {
  world: MemoryWorld;
  expected: FinalState;
  horizon: string;
  config: CoreConfig;
};

/** The reference settles one grouping window past the last input: the latest a shuffled input arrives. */
export const orderReference = (storm: Storm, config: CoreConfig = DEFAULT_CORE_CONFIG): OrderReference => {
  const last = storm.base[storm.base.length - 1] ?? 0;
  const horizon = toTime(last + config.groupingWindowSeconds * 1000);
  const world = replayWorld(storm.inputs, { until: horizon, config });
  return { world, expected: finalState(world), horizon, config };
};

/** A shuffled run: its world, the safety rules its plans broke, and what could not be sent. */
export type DeliveryRun = {
  world: MemoryWorld;
  violations: Violation[];
  /** Plan reports never sent: their plan was never issued in this run. */
  unsent: number;
};

/**
 * Drives a fresh world through `deliveries` (see the model above), checking every plan against the
 * §5 safety rules as it is issued, and settles it to the reference's horizon.
 */
export const deliver = (
  storm: Storm,
  deliveries: readonly Delivery[],
  reference: OrderReference,
  options: {
    onPlan?: (plan: UnsignedPlan, world: MemoryWorld, monitor: SafetyMonitor) => void;
    /** Freeze every slice handed to the core, so a decision that changes its input fails (tests do). */
    freezeInputs?: boolean;
  } = {},
): DeliveryRun => {
  const world = new MemoryWorld(reference.config, { freezeInputs: options.freezeInputs ?? true });
  const monitor = new SafetyMonitor(reference.config);
  const queue = new DeliveryQueue(deliveries);
  const reports = planReports(storm.inputs);
  const recorded = plansByHost(reference.world.plans);
  const issued = new Map<string, UnsignedPlan[]>();
  const held = new Map<string, Pending[]>();
  const lateness = (hostId: string, ordinal: number): number => {
    const plan = issued.get(hostId)?.[ordinal];
    const inReplay = recorded.get(hostId)?.[ordinal];
    return plan === undefined || inReplay === undefined
      ? 0
      : Math.max(0, toMs(plan.issuedAt) - toMs(inReplay.issuedAt));
  };
  let seen = 0;
  const settle = () => {
    for (; seen < world.plans.length; seen += 1) {
      const plan = world.plans[seen] as UnsignedPlan;
      const own = [...(issued.get(plan.hostId) ?? []), plan];
      issued.set(plan.hostId, own);
      monitor.issued(plan, world);
      options.onPlan?.(plan, world, monitor);
      const key = `${plan.hostId}\u0000${own.length - 1}`;
      const shift = lateness(plan.hostId, own.length - 1);
      for (const waiting of held.get(key) ?? []) {
        queue.push({ ...waiting, at: Math.max(waiting.at + shift, world.clock), shifted: true });
      }
      held.delete(key);
    }
  };
  const parsed = new Map<string, number>();
  /** Fires the timers due by `until` one instant at a time, so each plan is seen as it is issued. */
  const fireUntil = (until: number) => {
    if (Number.isFinite(world.clock)) {
      // What came due at the current instant first (a wake a decision asked for at its own `now`):
      // after this, a slice's wake time at or before the clock is one that already fired.
      world.fireDue(toTime(world.clock));
      settle();
    }
    for (
      let wake = nextWake(world, parsed);
      wake !== undefined && wake <= until;
      wake = nextWake(world, parsed)
    ) {
      world.fireDue(toTime(wake));
      settle();
    }
    world.fireDue(toTime(Math.max(until, world.clock)));
    settle();
  };
  const horizon = toMs(reference.horizon);
  for (;;) {
    const next = queue.peek();
    if (next === undefined) {
      fireUntil(Math.max(horizon, world.clock));
      if (queue.peek() === undefined) break;
      continue;
    }
    fireUntil(next.at);
    if (queue.peek() !== next) continue;
    queue.pop();
    let input = storm.inputs[next.index] as CoreInput;
    const report = reports.get(next.index);
    if (report !== undefined) {
      const plan = issued.get(report.hostId)?.[report.ordinal];
      if (plan === undefined) {
        const key = `${report.hostId}\u0000${report.ordinal}`;
        held.set(key, [...(held.get(key) ?? []), next]);
        continue;
      }
      if (!next.shifted) {
        const at = next.at + lateness(report.hostId, report.ordinal);
        if (at > next.at) {
          queue.push({ ...next, at, shifted: true });
          continue;
        }
      }
      input = naming(input as FaultlineEvent, plan.id);
    }
    if (input.type === 'operator.approve' || input.type === 'operator.resolve') {
      input = aboutRunIncident(input, reference.world, world);
    }
    world.apply(input, toTime(Math.max(next.at, world.clock)));
    monitor.delivered(input, world);
    settle();
  }
  const unsent = [...held.values()].reduce((sum, waiting) => sum + waiting.length, 0);
  return { world, violations: monitor.violations, unsent };
};

/**
 * An incident as a person names it, times aside: a local fault is one client's (§5.3); an outage and
 * a double fault (one per pair of domains, §5.4) are their domain's, whichever host reported first.
 */
const keyOf = (incident: Incident): string => {
  const parts = incident.kind === 'local' ? [incident.hostId, incident.resource] : [];
  return [incident.kind, incident.failureDomain, ...parts].filter((part) => part !== undefined).join(' ');
};

/**
 * What must not depend on delivery order, times aside: the incidents (kind, failure domain, host and
 * resource of a local fault, status, affected hosts, escalated), each host's plans in issue
 * order (incident, attempt, canary or not, mode, boot, steps), and the pages people get (incident,
 * action, severity), one per notification id as delivery is keyed. Ids are left out: an outage's id,
 * and with it its plans' and pages' ids, derives from its `downAt`, a time.
 */
export type FinalState = { incidents: string[]; plans: Record<string, string[]>; pages: string[] };

export const finalState = (world: MemoryWorld): FinalState => {
  const incidentKey = (id: string): string => {
    const incident = world.incidents.get(id);
    return incident === undefined ? `unknown incident ${id}` : keyOf(incident);
  };
  const incidents = [...world.incidents.values()]
    .map(
      (incident) =>
        `${incidentKey(incident.id)}: ${incident.status}, ${incident.affectedHosts} host(s)${incident.escalated ? ', escalated' : ''}`,
    )
    .sort();
  const plans: Record<string, string[]> = {};
  for (const [hostId, own] of [...plansByHost(world.plans)].sort(([a], [b]) => (a < b ? -1 : 1))) {
    plans[hostId] = own.map((plan) =>
      canonicalJson({
        incident: incidentKey(plan.incidentId),
        attempt: plan.attempt,
        canary: plan.wave === 0,
        mode: plan.mode,
        bootId: plan.bootId ?? null,
        steps: plan.steps,
        fastPath: plan.fastPath ?? null,
      }),
    );
  }
  const pages = new Map<string, string>();
  for (const notification of world.notifications) {
    pages.set(
      notification.id,
      `${incidentKey(notification.incidentId)}: ${notification.action} ${notification.severity}`,
    );
  }
  return { incidents, plans, pages: [...pages.values()].sort() };
};

/** One shuffled run of a storm, judged: its final state beside the reference's, and the rules it broke. */
export const shuffledRun = (
  storm: Storm,
  reference: OrderReference,
  moves: readonly Move[],
): { expected: FinalState; actual: FinalState; same: boolean; violations: Violation[]; unsent: number } => {
  const run = deliver(storm, schedule(storm, moves), reference);
  const actual = finalState(run.world);
  return {
    expected: reference.expected,
    actual,
    same: canonicalJson(actual) === canonicalJson(reference.expected),
    violations: run.violations,
    unsent: run.unsent,
  };
};
