// Convergence (docs/architecture.md §5.8, DESIGN §5.8): a heartbeat that shows an array degraded is a
// symptom like `mirror.degraded`, so each host is counted once whichever of the two arrives first.
import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { FaultlineEvent } from '../../../events/index.ts';
import {
  at,
  HostingPartition,
  hostNames,
  progressOf,
  random,
  SEED,
  VscsiClient,
  vscsi,
  worldWith,
} from '../../helpers/core-fleet.ts';

const outages = (world: MemoryWorld) => [...world.incidents.values()].filter((i) => i.kind === 'outage');

/** Each client's degraded root, reported twice: its `mirror.degraded`, then its next heartbeat. */
const degradedTwice = (client: VscsiClient, time: number): [FaultlineEvent, FaultlineEvent] => [
  client.rootDegraded(at(time)),
  client.heartbeat(at(time + 1), { faulty: 'fall' }),
];

const fleet = (seed: number, count = 40) => {
  const rng = random(seed);
  const clients = hostNames(rng, count).map((name) => new VscsiClient(name, rng));
  const { world, feed } = worldWith();
  feed(...clients.map((client) => client.heartbeat(at(1))));
  return { clients, world, feed };
};

describe(`convergence of heartbeats and events (seed ${SEED})`, () => {
  it('counts each of 40 clients once when every heartbeat showing the degraded root arrives before its mirror.degraded', () => {
    const { clients, world, feed } = fleet(SEED);
    const reports = clients.map((client, index) => degradedTwice(client, 100 + index * 0.25));
    feed(...reports.map(([, heartbeat]) => heartbeat));
    feed(...reports.map(([event]) => ({ ...event, receivedat: at(130) })));
    expect(outages(world)).toEqual([
      expect.objectContaining({ failureDomain: vscsi('vios2'), affectedHosts: 40 }),
    ]);
  });

  it('counts each of 40 clients once when half the heartbeats come first', () => {
    const { clients, world, feed } = fleet(SEED + 1);
    clients.forEach((client, index) => {
      const [event, heartbeat] = degradedTwice(client, 100 + index * 0.25);
      if (index % 2 === 0) feed(heartbeat, { ...event, receivedat: at(112) });
      else feed(event, heartbeat);
    });
    expect(outages(world)).toEqual([expect.objectContaining({ affectedHosts: 40 })]);
  });

  it('counts all 40 clients in a time-ordered storm, each event followed by its heartbeat', () => {
    const { clients, world, feed } = fleet(SEED + 2);
    for (const [index, client] of clients.entries()) feed(...degradedTwice(client, 100 + index * 0.25));
    expect(outages(world)).toEqual([expect.objectContaining({ affectedHosts: 40 })]);
  });

  it('counts a client whose agent restarted on a degraded host and sent only its heartbeat', () => {
    const { clients, world, feed } = fleet(SEED + 3, 3);
    const [restarted, ...others] = clients as [VscsiClient, ...VscsiClient[]];
    feed(...others.map((client, index) => client.rootDegraded(at(100 + index))));
    feed(restarted.heartbeat(at(110), { faulty: 'fall' }));
    expect(outages(world)).toEqual([expect.objectContaining({ affectedHosts: 3 })]);
  });

  it('opens an outage from heartbeats alone, and pages it once', () => {
    const { clients, world, feed } = fleet(SEED + 4, 5);
    feed(...clients.map((client, index) => client.heartbeat(at(100 + index), { faulty: 'fall' })));
    world.fireDue(at(200));
    expect(outages(world)).toEqual([expect.objectContaining({ affectedHosts: 5 })]);
    expect(world.notifications.filter((n) => n.action === 'trigger')).toHaveLength(1);
  });

  it('changes nothing for duplicated heartbeats and events, in any order', () => {
    const { clients, world, feed } = fleet(SEED + 5, 6);
    for (const [index, client] of clients.entries()) {
      const [event, heartbeat] = degradedTwice(client, 100 + index);
      feed(heartbeat, event, heartbeat, event, heartbeat);
    }
    world.fireDue(at(400));
    expect(outages(world)).toEqual([expect.objectContaining({ affectedHosts: 6 })]);
    expect(world.notifications).toHaveLength(1);
  });

  it('opens nothing for events carrying a planid', () => {
    const { clients, world, feed } = fleet(SEED + 6, 2);
    feed(
      ...clients.map((client, index) => ({
        ...client.rootDegraded(at(100 + index)),
        planid: 'pln-00000000000000000000',
      })),
    );
    world.fireDue(at(400));
    expect(world.incidents.size).toBe(0);
    expect(world.notifications).toHaveLength(0);
  });

  it('opens nothing for a heartbeat showing the member its own plan failed, and still heals and resolves', () => {
    const { clients, world, feed } = fleet(SEED + 8, 2);
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(360));
    const [plan] = world.plans;
    expect(plan).toBeDefined();
    const client = clients.find((candidate) => candidate.hostId === plan?.hostId) as VscsiClient;
    // Mid-plan: the swap member on the returned disk was failed by the plan's own md.fail step.
    feed(client.heartbeat(at(365), { faulty: 'fall', swapFaulty: true }));
    // Its agent keeps heartbeating while the plan runs (§5.9: not silent).
    for (let beat = 425; beat < 700; beat += 60)
      feed(client.heartbeat(at(beat), { faulty: 'fall', swapFaulty: true }));
    world.fireDue(at(700));
    expect(world.incidents.size).toBe(1);
    expect(world.hosts.get(client.hostId)?.localFaults).toEqual({});
    for (let clock = 700; clock < 2000; clock += 100) {
      for (const issued of world.plans) {
        if (world.timeline.some((entry) => entry.text === `plan ${issued.id} succeeded`)) continue;
        const owner = clients.find((candidate) => candidate.hostId === issued.hostId) as VscsiClient;
        feed(
          ...progressOf(owner, issued, clock),
          ...owner.mirrors.map((m) => owner.healthy(m, at(clock + 20), issued.id)),
        );
      }
      world.fireDue(at(clock + 50));
    }
    expect(outages(world)).toEqual([expect.objectContaining({ status: 'resolved', affectedHosts: 2 })]);
    expect(world.notifications.map((n) => `${n.action} ${n.severity}`)).toEqual([
      'trigger error',
      'resolve info',
    ]);
  });

  it('treats a heartbeat older than the event as stale: the later event wins per resource', () => {
    const { clients, world, feed } = fleet(SEED + 7, 2);
    const [first, second] = clients as [VscsiClient, VscsiClient];
    const staleHeartbeat = first.heartbeat(at(100));
    feed(first.rootDegraded(at(101)), second.rootDegraded(at(102)), {
      ...staleHeartbeat,
      receivedat: at(103),
    });
    expect(world.hosts.get(first.hostId)?.arrays[first.root.array]?.health).toBe('degraded');
    expect(outages(world)).toEqual([expect.objectContaining({ affectedHosts: 2 })]);
  });
});

describe(`a host healed, then degraded again (seed ${SEED})`, () => {
  /** Three clients lose their vios2 half; vios2 is back; each plan runs and heals its host. */
  const healCanary = (seed: number) => {
    const { clients, world, feed } = fleet(seed, 3);
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(361));
    const [plan] = world.plans;
    if (plan === undefined) throw new Error('no canary plan');
    const canary = clients.find((client) => client.hostId === plan.hostId) as VscsiClient;
    feed(
      ...progressOf(canary, plan, 362),
      ...canary.mirrors.map((mirror) => canary.healthy(mirror, at(390), plan.id)),
      canary.heartbeat(at(400)),
    );
    const others = clients.filter((client) => client !== canary);
    return { clients, others, world, feed, canary, plan };
  };

  it('does not resolve the outage while a healed host shows its array degraded again in a heartbeat, and pages it', () => {
    const { world, feed, canary, others } = healCanary(SEED + 40);
    expect(world.hosts.get(canary.hostId)?.episodes).toEqual({
      [outages(world)[0]?.id as string]: expect.objectContaining({ status: 'healthy' }),
    });
    // Its vios2 half fails again; its agent restarted, so only its heartbeats say so (no planid).
    feed(canary.heartbeat(at(460), { faulty: 'fall' }));
    // The others heal: the outage must still wait for the canary.
    for (let clock = 470; clock < 1500; clock += 30) {
      world.fireDue(at(clock));
      for (const plan of world.plans) {
        const owner = others.find((client) => client.hostId === plan.hostId);
        if (owner === undefined || world.timeline.some((e) => e.text === `plan ${plan.id} succeeded`))
          continue;
        feed(
          ...progressOf(owner, plan, clock),
          ...owner.mirrors.map((m) => owner.healthy(m, at(clock + 20), plan.id)),
        );
      }
    }
    world.fireDue(at(1500));
    expect(outages(world)[0]?.status).not.toBe('resolved');
    const local = [...world.incidents.values()].filter((incident) => incident.kind === 'local');
    expect(local).toEqual([expect.objectContaining({ hostId: canary.hostId, status: 'open' })]);
  });

  it('counts a healed host waiting again when a heartbeat shows it degraded again during the outage', () => {
    const { clients, world, feed } = fleet(SEED + 41, 3);
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const [first] = clients as [VscsiClient];
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index))));
    // Its half comes back by itself while vios2 is still down, then fails again: heartbeats only.
    feed(...first.mirrors.map((mirror) => first.healthy(mirror, at(150))));
    const outage = outages(world)[0]?.id as string;
    expect(world.hosts.get(first.hostId)?.episodes[outage]?.status).toBe('healthy');
    feed(first.heartbeat(at(160), { faulty: 'fall' }));
    expect(world.hosts.get(first.hostId)?.episodes[outage]?.status).toBe('waiting');
    feed(vios2.iplCompleted(at(300), at(290)));
    for (let clock = 360; clock < 2000; clock += 30) {
      world.fireDue(at(clock));
      for (const plan of world.plans) {
        const owner = clients.find((client) => client.hostId === plan.hostId) as VscsiClient;
        if (world.timeline.some((e) => e.text === `plan ${plan.id} succeeded`)) continue;
        feed(
          ...progressOf(owner, plan, clock),
          ...owner.mirrors.map((m) => owner.healthy(m, at(clock + 20), plan.id)),
        );
      }
    }
    expect(world.plans.map((plan) => plan.hostId).sort()).toEqual(clients.map((c) => c.hostId).sort());
    expect(outages(world)).toEqual([expect.objectContaining({ status: 'resolved', affectedHosts: 3 })]);
  });

  it('takes a heartbeat identical to an earlier one as a symptom again once events healed the array', () => {
    const { clients, world, feed } = fleet(SEED + 42, 3);
    const [client] = clients as [VscsiClient];
    feed(client.heartbeat(at(10), { faulty: 'fall' }));
    feed(client.healthy(client.root, at(20)));
    expect(world.hosts.get(client.hostId)?.arrays[client.root.array]?.health).toBe('healthy');
    const again = client.heartbeat(at(2000), { faulty: 'fall' });
    feed(again);
    expect(world.hosts.get(client.hostId)?.arrays[client.root.array]?.health).toBe('degraded');
    world.fireDue(at(2200));
    expect([...world.incidents.values()]).toEqual([
      expect.objectContaining({ kind: 'local', hostId: client.hostId, status: 'open' }),
    ]);
  });
});
