import type { FaultlineEvent, Notification, UnsignedPlan } from '../../events/index.ts';
import {
  type ControlSlice,
  type CoreConfig,
  type CoreInput,
  DEFAULT_CORE_CONFIG,
  type Decision,
  type DomainSlice,
  decide,
  type HostSlice,
  type Incident,
  type InternalInput,
  keysFor,
  keysForWake,
  referencedDomains,
  type SliceKeys,
  type Slices,
  type TimelineEntry,
  tick,
  toMs,
  toTime,
  waitingBatch,
} from '../../functions/core/index.ts';

/**
 * The whole fleet's slices in memory, with the loader contract of `SliceKeys`, timers and follow-ups:
 * what `faultline replay`, the scenario and property tests and the benchmark drive the core with.
 * It performs no I/O; effects are collected in arrays, in the order they were decided.
 */

type Wake = { at: number; kind: 'domain' | 'host'; id: string };

/** A binary min-heap of wakes ordered by time, then kind, then id, so timers fire deterministically. */
class WakeQueue {
  private readonly heap: Wake[] = [];
  private readonly current = new Map<string, number>();

  private static before(a: Wake, b: Wake): boolean {
    if (a.at !== b.at) return a.at < b.at;
    if (a.kind !== b.kind) return a.kind < b.kind;
    return a.id < b.id;
  }

  set(kind: Wake['kind'], id: string, at: string | undefined): void {
    const key = `${kind}\u0000${id}`;
    if (at === undefined) {
      this.current.delete(key);
      return;
    }
    const ms = toMs(at);
    if (this.current.get(key) === ms) return;
    this.current.set(key, ms);
    this.push({ at: ms, kind, id });
  }

  /** The next wake due at or before `now`, skipping entries a later `set` replaced. */
  popDue(now: number): Wake | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > now) return undefined;
      this.pop();
      if (this.current.get(`${top.kind}\u0000${top.id}`) === top.at) {
        this.current.delete(`${top.kind}\u0000${top.id}`);
        return top;
      }
    }
  }

  private push(wake: Wake): void {
    const heap = this.heap;
    heap.push(wake);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = heap[parent] as Wake;
      if (!WakeQueue.before(wake, above)) break;
      heap[index] = above;
      index = parent;
    }
    heap[index] = wake;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      let candidate = last;
      const leftWake = heap[left];
      if (leftWake !== undefined && WakeQueue.before(leftWake, candidate)) {
        smallest = left;
        candidate = leftWake;
      }
      const rightWake = heap[right];
      if (rightWake !== undefined && WakeQueue.before(rightWake, candidate)) smallest = right;
      if (smallest === index) break;
      heap[index] = heap[smallest] as Wake;
      index = smallest;
    }
    heap[index] = last;
  }
}

export class MemoryWorld {
  control: ControlSlice = { paused: false };
  readonly domains = new Map<string, DomainSlice>();
  readonly hosts = new Map<string, HostSlice>();
  readonly incidents = new Map<string, Incident>();
  readonly plans: UnsignedPlan[] = [];
  readonly revoked: { planId: string; hostId: string }[] = [];
  readonly notifications: Notification[] = [];
  readonly timeline: TimelineEntry[] = [];
  /** The virtual clock: the latest time an input or timer was applied at. */
  clock = Number.NEGATIVE_INFINITY;
  private readonly waiting = new Map<string, Set<string>>();
  private readonly wakes = new WakeQueue();

  /**
   * With `freezeInputs`, every slice handed to the core is deeply frozen, so a decision that changed
   * a slice it was given instead of copying it fails at once (tests run this way).
   */
  constructor(
    readonly config: CoreConfig = DEFAULT_CORE_CONFIG,
    private readonly options: { freezeInputs?: boolean } = {},
  ) {}

  /** What a store's loader does: the slices `keys` name, by the rules of `SliceKeys`. */
  load(keys: SliceKeys): Slices {
    const hosts: Record<string, HostSlice> = {};
    const domains: Record<string, DomainSlice> = {};
    const addDomain = (failureDomain: string): void => {
      const domain = this.domains.get(failureDomain);
      if (domain !== undefined) domains[failureDomain] = domain;
    };
    const addHost = (hostId: string): void => {
      const host = this.hosts.get(hostId);
      if (host === undefined) return;
      hosts[hostId] = host;
      for (const failureDomain of referencedDomains(host)) addDomain(failureDomain);
    };
    for (const hostId of keys.hosts) addHost(hostId);
    for (const failureDomain of keys.domains) addDomain(failureDomain);
    if (keys.openDomains) {
      for (const [failureDomain, domain] of this.domains)
        if (domain.episode !== undefined) addDomain(failureDomain);
    }
    for (const failureDomain of keys.waitingOf) {
      addDomain(failureDomain);
      const incidentId = this.domains.get(failureDomain)?.episode?.incident.id;
      const waiting = incidentId === undefined ? undefined : this.waiting.get(incidentId);
      if (waiting === undefined) continue;
      for (const hostId of [...waiting].sort().slice(0, waitingBatch(this.config.maxPlansInFlight)))
        addHost(hostId);
    }
    const slices = { control: this.control, domains, hosts };
    return this.options.freezeInputs ? deepFreeze(slices) : slices;
  }

  /** Applies an input at `now` (an ISO time), then its follow-ups, and returns every decision made. */
  apply(input: CoreInput, now: string): Decision[] {
    this.advance(now);
    const decisions: Decision[] = [];
    const queue: CoreInput[] = [input];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const decision = decide(this.load(keysFor(next)), next, now, this.config);
      decisions.push(decision);
      queue.push(...this.save(decision));
    }
    return decisions;
  }

  /**
   * Applies an input alone at `now` and returns its follow-ups unapplied, as an outbox that performs
   * them late would leave them: `apply` each later, in any order.
   */
  applyHoldingFollowUps(input: CoreInput, now: string): InternalInput[] {
    this.advance(now);
    return this.save(decide(this.load(keysFor(input)), input, now, this.config));
  }

  /** Fires every timer due at or before `now`, each at its own time, in order. */
  fireDue(now: string): Decision[] {
    const decisions: Decision[] = [];
    const limit = toMs(now);
    for (let wake = this.wakes.popDue(limit); wake !== undefined; wake = this.wakes.popDue(limit)) {
      const at = toTime(Math.max(wake.at, this.clock));
      this.advance(at);
      const decision = tick(this.load(keysForWake(wake)), at, this.config);
      decisions.push(decision);
      const queue = this.save(decision);
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const followUp = decide(this.load(keysFor(next)), next, at, this.config);
        decisions.push(followUp);
        queue.push(...this.save(followUp));
      }
    }
    return decisions;
  }

  /** Applies an event the way replay does: timers due by its time first, then the event at that time. */
  ingest(input: CoreInput): Decision[] {
    const time = inputTime(input);
    const now = toTime(Math.max(toMs(time), this.clock));
    return [...this.fireDue(now), ...this.apply(input, now)];
  }

  private advance(now: string): void {
    this.clock = Math.max(this.clock, toMs(now));
  }

  private save(decision: Decision): InternalInput[] {
    if (decision.slices.control !== undefined) this.control = decision.slices.control;
    for (const [failureDomain, domain] of Object.entries(decision.slices.domains)) {
      this.domains.set(failureDomain, domain);
      this.wakes.set('domain', failureDomain, domain.wakeAt);
    }
    for (const [hostId, host] of Object.entries(decision.slices.hosts)) {
      const previous = this.hosts.get(hostId);
      for (const incidentId of Object.keys(previous?.episodes ?? {}))
        this.waiting.get(incidentId)?.delete(hostId);
      for (const record of Object.values(host.episodes)) {
        if (record.status !== 'waiting') continue;
        let waiting = this.waiting.get(record.incidentId);
        if (waiting === undefined) {
          waiting = new Set();
          this.waiting.set(record.incidentId, waiting);
        }
        waiting.add(hostId);
      }
      this.hosts.set(hostId, host);
      this.wakes.set('host', hostId, host.wakeAt);
    }
    const followUps: InternalInput[] = [];
    for (const effect of decision.effects) {
      switch (effect.type) {
        case 'plan.issue':
          this.plans.push(effect.plan);
          break;
        case 'plan.revoke':
          this.revoked.push({ planId: effect.planId, hostId: effect.hostId });
          break;
        case 'notify':
          this.notifications.push(effect.notification);
          break;
        case 'timeline':
          this.timeline.push(effect.entry);
          break;
        case 'incident':
          this.incidents.set(effect.incident.id, effect.incident);
          if (effect.incident.status === 'resolved') this.waiting.delete(effect.incident.id);
          break;
        case 'follow-up':
          followUps.push(effect.input);
          break;
      }
    }
    return followUps;
  }
}

const deepFreeze = <T>(value: T): T => {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
};

/** An input's virtual time: ingest's `receivedat`, else the event's `time`; an operator command's `at`. */
export const inputTime = (input: CoreInput): string => {
  if ('at' in input) return input.at;
  const event = input as FaultlineEvent;
  return event.receivedat ?? event.time;
};
