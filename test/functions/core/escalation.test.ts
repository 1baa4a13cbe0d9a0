// Escalation of plans that stall (docs/architecture.md §5.9, DESIGN §5.9): no progress for the plan's
// stall limit, or steps that all succeeded while the host stays unhealthy, page once per incident.
import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { FaultlineEvent, UnsignedPlan } from '../../../events/index.ts';
import {
  Agent,
  at,
  HostingPartition,
  hostNames,
  multipathHeartbeat,
  pathEvent,
  progressOf,
  random,
  SEED,
  VscsiClient,
  vscsi,
  worldWith,
} from '../../helpers/core-fleet.ts';

const escalations = (world: MemoryWorld) =>
  world.notifications.filter((n) => n.action === 'trigger' && n.severity === 'critical');
const outage = (world: MemoryWorld) => [...world.incidents.values()].find((i) => i.kind === 'outage');

/** Twelve hosts lose a path through one port; all but one get it back by themselves. */
const stuckPath = (seed: number) => {
  const rng = random(seed);
  const hosts = hostNames(rng, 12, 'db').map((name) => new Agent(name));
  const { world, feed } = worldWith();
  hosts.forEach((host, index) => {
    feed(pathEvent(host, 'path.lost', 10 + index, 'sdq', 'failed', 1));
  });
  const [stuck, ...others] = hosts as [Agent, ...Agent[]];
  others.forEach((host, index) => {
    feed(pathEvent(host, 'path.restored', 100 + index, 'sdq', 'active', 2));
  });
  world.fireDue(at(221));
  const plan = world.plans[0] as UnsignedPlan;
  return { world, feed, stuck, plan };
};

/** A recovering report of the client's root array with the sectors synced so far. */
const resync = (client: VscsiClient, time: number, syncedSectors: number, planid: string): FaultlineEvent =>
  client.event(
    'mirror.recovering',
    client.root.array,
    {
      array: client.root.array,
      kind: 'md',
      level: 'raid1',
      members: [
        client.member(client.root, 'stay', 'in-sync'),
        client.member(client.root, 'fall', 'rebuilding'),
      ],
      progress: Math.min(99, Math.floor(syncedSectors / 1_000_000)),
      syncedSectors,
      totalSectors: 100_000_000,
    },
    at(time),
    { planid },
  );

describe(`escalation of stalled plans (seed ${SEED})`, () => {
  it('escalates once when a multipath reinstate succeeds but the path stays failed past the stall limit', () => {
    const { world, feed, stuck, plan } = stuckPath(SEED);
    expect(plan).toMatchObject({ hostId: stuck.hostId });
    feed(...progressOf(stuck, plan, 230));
    // The agent is alive and says so every minute: its path through the port is still failed.
    for (let beat = 240; beat <= 231 + 899; beat += 60) feed(multipathHeartbeat(stuck, beat, 'failed'));
    world.fireDue(at(231 + 899));
    expect(escalations(world).map((n) => `${n.time} ${n.summary}`)).toEqual([]);
    expect(outage(world)?.status).toBe('remediating');
    world.fireDue(at(231 + 900));
    for (let beat = 1140; beat <= 231 + 7200; beat += 60) feed(multipathHeartbeat(stuck, beat, 'failed'));
    expect(escalations(world)).toEqual([
      expect.objectContaining({ summary: expect.stringContaining('still not healthy') }),
    ]);
    expect(outage(world)?.escalated).toBe(true);
  });

  it('does not escalate a reinstate that sticks', () => {
    const { world, feed, stuck, plan } = stuckPath(SEED + 1);
    feed(
      ...progressOf(stuck, plan, 230),
      pathEvent(stuck, 'path.restored', 240, 'sdq', 'active', 2, plan.id),
    );
    world.fireDue(at(240 + 7200));
    expect(escalations(world)).toHaveLength(0);
    expect(outage(world)?.status).toBe('resolved');
  });

  it('escalates once a plan that makes no progress for its stall limit, though its host keeps heartbeating', () => {
    const rng = random(SEED + 2);
    const clients = hostNames(rng, 2).map((name) => new VscsiClient(name, rng));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith();
    feed(...clients.map((client) => client.heartbeat(at(1))));
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(360));
    const plan = world.plans[0] as UnsignedPlan;
    const client = clients.find((candidate) => candidate.hostId === plan.hostId) as VscsiClient;
    // The probe runs, then nothing more: the agent is alive (heartbeats) but the plan is stuck.
    feed(...progressOf(client, plan, 361).slice(0, 3));
    for (let beat = 420; beat <= 2400; beat += 60) feed(client.heartbeat(at(beat), { faulty: 'fall' }));
    expect(escalations(world)).toEqual([
      expect.objectContaining({
        time: at(1263),
        summary: expect.stringContaining('no progress for 15 minutes'),
      }),
    ]);
  });

  it('does not escalate a slow resync whose synced sectors keep rising, but does one that stops', () => {
    const rng = random(SEED + 3);
    const clients = hostNames(rng, 2).map((name) => new VscsiClient(name, rng));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith();
    feed(...clients.map((client) => client.heartbeat(at(1))));
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(360));
    const plan = world.plans[0] as UnsignedPlan;
    const client = clients.find((candidate) => candidate.hostId === plan.hostId) as VscsiClient;
    const steps = progressOf(client, plan, 361);
    // Every step but the last wait-sync finished; the resync crawls for an hour.
    feed(...steps.slice(0, -1));
    let sectors = 0;
    // Its agent heartbeats every minute meanwhile: alive, not silent (§5.9).
    const heartbeats = (from: number) =>
      [60, 120, 180, 240, 300, 360, 420, 480, 540].map((after) =>
        client.heartbeat(at(from + after), { faulty: 'fall' }),
      );
    for (let time = 400; time <= 4000; time += 600) {
      sectors += 1_000_000;
      feed(resync(client, time, sectors, plan.id), ...heartbeats(time));
    }
    expect(escalations(world)).toHaveLength(0);
    // Then it stops moving: the same sector count for longer than the limit.
    for (let time = 4600; time <= 6000; time += 600)
      feed(resync(client, time, sectors, plan.id), ...heartbeats(time));
    world.fireDue(at(6000));
    expect(escalations(world)).toEqual([expect.objectContaining({ time: at(4000 + 900) })]);
  });
});

describe(`escalation of a silent agent (seed ${SEED})`, () => {
  /** Three clients lose their vios2 half; vios2 is back; the canary's plan goes out at 361 s. */
  const canaryOut = (seed: number) => {
    const rng = random(seed);
    const clients = hostNames(rng, 3).map((name) => new VscsiClient(name, rng));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith();
    feed(...clients.map((client) => client.heartbeat(at(1))));
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(361));
    const plan = world.plans[0] as UnsignedPlan;
    const canary = clients.find((client) => client.hostId === plan.hostId) as VscsiClient;
    const others = clients.filter((client) => client !== canary);
    return { world, feed, plan, canary, others };
  };

  it('escalates once, long before its slot expires, an agent silent past three heartbeats while its plan is out', () => {
    const { world, feed, plan, canary, others } = canaryOut(SEED + 50);
    // The others heartbeat every minute; the canary never fetches its plan nor says anything more.
    for (let clock = 420; clock <= 1500; clock += 60) {
      feed(...others.map((client) => client.heartbeat(at(clock), { faulty: 'fall' })));
    }
    world.fireDue(at(1500));
    expect(escalations(world)).toEqual([
      expect.objectContaining({
        incidentId: outage(world)?.id,
        // Three heartbeats of 60 s after its plan went out: long before its slot expires (900 s).
        time: new Date(Date.parse(plan.issuedAt) + 180_000).toISOString(),
        summary: expect.stringContaining(`${canary.hostId} has been silent`),
      }),
    ]);
  });

  it('does not escalate an agent that keeps heartbeating while its plan is out', () => {
    const { world, feed, canary, others } = canaryOut(SEED + 51);
    for (let clock = 420; clock <= 1000; clock += 60) {
      feed(...[canary, ...others].map((client) => client.heartbeat(at(clock), { faulty: 'fall' })));
    }
    world.fireDue(at(1000));
    expect(escalations(world).filter((n) => n.summary.includes('silent'))).toEqual([]);
  });
});
