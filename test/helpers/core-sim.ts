import type { MemoryWorld } from '../../cli/replay/memory-world.ts';
import type { FaultlineEvent, UnsignedPlan } from '../../events/index.ts';
import { type CoreConfig, DEFAULT_CORE_CONFIG } from '../../functions/core/index.ts';
import { Agent, at, progressOf, random, VscsiClient, vscsi, worldWith } from './core-fleet.ts';

/**
 * A fleet simulation for property tests: md clients over two VIOS, some already missing their
 * other half (a double fault in waiting), an outage of vios2 with symptoms arriving in any order,
 * duplicated, late or early, optional flaps, and agents that carry out every plan they get. Every
 * plan is checked against the safety rules of docs/architecture.md §5 at the moment it is issued.
 */

export type FleetSpec = {
  seed: number;
  clients: { delay: number; late: boolean; doubleFault: boolean; duplicate: boolean; workSeconds: number }[];
  /** Seconds after the outage starts that the IPL completes. */
  upAfter: number;
  /** Seconds after up at which the domain goes down again, each followed by an IPL 120 s later. */
  flaps: number[];
  maxPlansInFlight: number;
};

export type Violation = { plan: string; rule: string };

export type SimulationResult = {
  world: MemoryWorld;
  /** Every input in the order it was applied, and the time the simulation ran to: a replay's input. */
  inputs: FaultlineEvent[];
  end: string;
  config: CoreConfig;
  violations: Violation[];
  plansByHost: Map<string, UnsignedPlan[]>;
  clients: VscsiClient[];
};

const DOWN_AT = 100;
const STAY = vscsi('vios1');
const FALL = vscsi('vios2');

type TrueMember = { device: string; domain: string; state: 'in-sync' | 'faulty' | 'removed' };
type Truth = Map<string, Map<string, TrueMember[]>>;

/** The domain's state when the plan was issued, read from the order of the timeline. */
const domainAtIssue = (world: MemoryWorld, plan: UnsignedPlan, failureDomain: string) => {
  const issued = world.timeline.findIndex((entry) => entry.text.includes(`plan ${plan.id} `));
  for (let index = issued; index >= 0; index -= 1) {
    const entry = world.timeline[index];
    if (entry === undefined) continue;
    const up = entry.text.match(/ up since (\S+):/);
    if (entry.text.startsWith(`${failureDomain} up since`) && up?.[1] !== undefined) {
      return { state: 'up' as const, since: up[1] };
    }
    if (entry.text.startsWith(`${failureDomain} down`)) return { state: 'down' as const, since: entry.at };
  }
  return { state: 'unknown' as const, since: '' };
};

/** Checks a plan's steps in order against the host as it truly is. */
const checkPlan = (
  plan: UnsignedPlan,
  world: MemoryWorld,
  truth: Truth,
  doubleFaulted: Set<string>,
  config: CoreConfig,
): Violation[] => {
  const violations: Violation[] = [];
  const violate = (rule: string) => violations.push({ plan: plan.id, rule });
  const probe = plan.steps[0];
  if (probe?.action !== 'disk.probe') violate('a plan starts with disk.probe');
  const failureDomain = probe?.action === 'disk.probe' ? probe.failureDomain : '';
  const domain = domainAtIssue(world, plan, failureDomain);
  if (domain.state !== 'up') violate('a plan only for a domain that is up');
  else if (Date.parse(plan.issuedAt) < Date.parse(domain.since) + config.stabilitySeconds * 1000) {
    violate('a plan only after the stability period');
  }
  // Walk the steps over a copy: the host changes only when the agent really runs the plan.
  const arrays = new Map(
    [...(truth.get(plan.hostId) ?? new Map<string, TrueMember[]>())].map(([name, members]) => [
      name,
      members.map((member) => ({ ...member })),
    ]),
  );
  for (const step of plan.steps) {
    if (!('array' in step)) continue;
    if (doubleFaulted.has(`${plan.hostId}/${step.array}`)) violate('never a step on a double-faulted array');
    const members = arrays.get(step.array);
    if (members === undefined) continue;
    const member = members.find((candidate) => 'member' in step && candidate.device === step.member);
    if (step.action === 'md.fail' && member?.state === 'in-sync') {
      const partner = members.some(
        (other) =>
          other !== member &&
          other.state === 'in-sync' &&
          other.domain !== member.domain &&
          (other.domain !== failureDomain || domain.state === 'up'),
      );
      if (!partner) violate('never fail an in-sync member whose partner is not on another up domain');
      member.state = 'faulty';
    }
    if (step.action === 'md.remove' && member !== undefined) {
      if (member.state === 'in-sync') violate('never remove an in-sync member');
      member.state = 'removed';
    }
    if (!members.some((candidate) => candidate.state === 'in-sync'))
      violate('never leave an array with no in-sync member');
  }
  return violations;
};

export const simulate = (spec: FleetSpec): SimulationResult => {
  const rng = random(spec.seed);
  const config: CoreConfig = { ...DEFAULT_CORE_CONFIG, maxPlansInFlight: spec.maxPlansInFlight };
  const { world } = worldWith(config);
  const inputs: FaultlineEvent[] = [];
  /** Ingest stamps `receivedat` with the time it really received the event, as the API does. */
  const ingest = (event: FaultlineEvent, now: number) => {
    const received = Math.max(Date.parse(event.receivedat ?? event.time), Date.parse(at(now)));
    const stamped = { ...event, receivedat: new Date(received).toISOString() };
    inputs.push(stamped);
    world.ingest(stamped);
  };
  const hmc = new Agent('hmc01', 'control');
  const clients = spec.clients.map(
    (_, index) => new VscsiClient(`lpar${String(index).padStart(3, '0')}${rng.word(2)}`, rng),
  );
  const truth: Truth = new Map();
  const doubleFaulted = new Set<string>();
  const timeline: { time: number; event: FaultlineEvent }[] = [];
  clients.forEach((client, index) => {
    const shape = spec.clients[index] as FleetSpec['clients'][number];
    timeline.push({ time: -2000, event: client.heartbeat(at(-2000)) });
    if (shape.doubleFault) {
      // Its other half was lost long before, on its own: a local fault, not part of this outage.
      const earlier = -1000 + 40 * index;
      timeline.push({
        time: earlier,
        event: client.event(
          'mirror.degraded',
          client.root.array,
          {
            array: client.root.array,
            kind: 'md',
            level: 'raid1',
            members: [
              client.member(client.root, 'stay', 'faulty'),
              client.member(client.root, 'fall', 'in-sync'),
            ],
          },
          at(earlier),
        ),
      });
    }
    const arrays = new Map<string, TrueMember[]>(
      client.mirrors.map((mirror) => [
        mirror.array,
        [
          { device: `${client.localDisk}${mirror.partition}`, domain: STAY, state: 'in-sync' },
          { device: `${client.remoteDisk}${mirror.partition}`, domain: FALL, state: 'in-sync' },
        ],
      ]),
    );
    truth.set(client.hostId, arrays);
    const root = arrays.get(client.root.array) ?? [];
    for (const member of root) {
      if (member.domain === FALL || shape.doubleFault) member.state = 'faulty';
    }
    const symptomAt = DOWN_AT + shape.delay;
    const event = shape.doubleFault
      ? client.rootLost(at(symptomAt))
      : client.rootDegraded(at(symptomAt), {
          receivedat: at(shape.late ? DOWN_AT + spec.upAfter + 5 + shape.delay : symptomAt),
        });
    if (shape.doubleFault) doubleFaulted.add(`${client.hostId}/${client.root.array}`);
    const arrival = Date.parse(event.receivedat ?? event.time) / 1000 - Date.parse(at(0)) / 1000;
    timeline.push({ time: arrival, event });
    if (shape.duplicate) timeline.push({ time: arrival + 1, event });
  });
  const upAt = DOWN_AT + spec.upAfter;
  timeline.push({
    time: upAt,
    event: hmc.event(
      'ipl.completed',
      'vios2',
      {
        partition: 'vios2',
        system: 'Server-9080-M9S-SN78AB12C',
        failureDomain: FALL,
        bootedAt: at(upAt - 5),
      },
      at(upAt),
    ),
  });
  let flapClock = upAt;
  for (const flap of spec.flaps) {
    flapClock += flap;
    timeline.push({
      time: flapClock,
      event: hmc.event('domain.going-down', 'vios2', { failureDomain: FALL }, at(flapClock)),
    });
    flapClock += 120;
    timeline.push({
      time: flapClock,
      event: hmc.event(
        'ipl.completed',
        'vios2',
        {
          partition: 'vios2',
          system: 'Server-9080-M9S-SN78AB12C',
          failureDomain: FALL,
          bootedAt: at(flapClock - 5),
        },
        at(flapClock),
      ),
    });
  }
  timeline.sort((a, b) => a.time - b.time);

  const violations: Violation[] = [];
  const plansByHost = new Map<string, UnsignedPlan[]>();
  const pending: { time: number; events: FaultlineEvent[]; planId: string }[] = [];
  const inFlight = new Set<string>();
  let seen = 0;
  const observe = (time: number) => {
    for (; seen < world.plans.length; seen += 1) {
      const plan = world.plans[seen] as UnsignedPlan;
      const revoked = new Set(world.revoked.map((entry) => entry.planId));
      for (const id of [...inFlight]) if (revoked.has(id)) inFlight.delete(id);
      plansByHost.set(plan.hostId, [...(plansByHost.get(plan.hostId) ?? []), plan]);
      violations.push(...checkPlan(plan, world, truth, doubleFaulted, config));
      inFlight.add(plan.id);
      if (inFlight.size > config.maxPlansInFlight)
        violations.push({ plan: plan.id, rule: 'at most N plans in flight' });
      const client = clients.find((candidate) => candidate.hostId === plan.hostId) as VscsiClient;
      const shape = spec.clients[clients.indexOf(client)] as FleetSpec['clients'][number];
      const done = time + shape.workSeconds;
      const events = [
        ...progressOf(client, plan, done - 2),
        ...client.mirrors.map((mirror) => client.healthy(mirror, at(done), plan.id)),
      ];
      pending.push({ time: done, events, planId: plan.id });
    }
  };
  const end = flapClock + 4000 + spec.clients.length * 200;
  let index = 0;
  for (let time = timeline[0]?.time ?? 0; time <= end; time += 5) {
    for (
      ;
      index < timeline.length && (timeline[index]?.time ?? Number.POSITIVE_INFINITY) <= time;
      index += 1
    ) {
      ingest((timeline[index] as { event: FaultlineEvent }).event, time);
      observe(time);
    }
    const revoked = new Set(world.revoked.map((entry) => entry.planId));
    for (const work of pending.filter((candidate) => candidate.time <= time)) {
      pending.splice(pending.indexOf(work), 1);
      if (revoked.has(work.planId)) continue;
      for (const event of work.events) ingest(event, time);
      inFlight.delete(work.planId);
      const client = clients.find((candidate) => work.events[0]?.hostid === candidate.hostId);
      for (const members of truth.get(client?.hostId ?? '')?.values() ?? []) {
        for (const member of members) member.state = 'in-sync';
      }
      observe(time);
    }
    world.fireDue(at(time));
    observe(time);
  }
  return { world, inputs, end: at(end), config, violations, plansByHost, clients };
};
