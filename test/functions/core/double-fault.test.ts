// Double faults and planned maintenance (docs/architecture.md §5.4, DESIGN §5.4): an array whose
// remaining in-sync members all depend on down domains pages `critical` at once, one page per pair
// of domains, whichever comes first; no plan goes to a host that holds one; and an announced IPL
// under a client whose other half is degraded pages before the server stops.
import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import {
  at,
  HostingPartition,
  hostNames,
  random,
  SEED,
  VscsiClient,
  vscsi,
  worldWith,
} from '../../helpers/core-fleet.ts';

const VIOS1 = vscsi('vios1');
const VIOS2 = vscsi('vios2');
const critical = (world: MemoryWorld) => world.notifications.filter((n) => n.severity === 'critical');
const doubleFaults = (world: MemoryWorld) =>
  [...world.incidents.values()].filter((incident) => incident.kind === 'double-fault');

const fleet = (seed: number, count: number) => {
  const rng = random(seed);
  const clients = hostNames(rng, count).map((name) => new VscsiClient(name, rng));
  const vios1 = new HostingPartition('vios1', VIOS1);
  const vios2 = new HostingPartition('vios2', VIOS2);
  const { world, feed } = worldWith();
  feed(vios1.heartbeat(at(0)));
  feed(...clients.map((client) => client.heartbeat(at(1))));
  return { clients, vios1, vios2, world, feed };
};

describe(`double faults (seed ${SEED})`, () => {
  it('pages critical once when vios1 goes silent under 40 clients already degraded on vios2', () => {
    const { clients, vios1, vios2, world, feed } = fleet(SEED, 40);
    // vios1 announced its last IPL, so it is known to serve VIOS1 and its silence takes it down.
    feed(vios1.iplCompleted(at(0), at(-600)));
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index * 0.25))));
    expect(world.domains.get(VIOS1)?.exposed?.groups[`${VIOS1} + ${VIOS2}`]).toHaveLength(40);
    expect(critical(world)).toHaveLength(0);
    // vios1's heartbeats stop after t=0: silent after three missed heartbeats.
    world.fireDue(at(200));
    expect(critical(world)).toEqual([expect.objectContaining({ action: 'trigger', time: at(180) })]);
    expect(critical(world)[0]?.summary).toContain(`${VIOS1} + ${VIOS2}`);
    expect(doubleFaults(world)).toEqual([
      expect.objectContaining({ failureDomain: VIOS1, affectedHosts: 40, status: 'open' }),
    ]);
    // vios2 is back, vios1 still down: no plan may touch a client whose only good copy is on vios1.
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(1000));
    expect(world.plans).toHaveLength(0);
    expect(critical(world)).toHaveLength(1);
  });

  it('ends the double fault when vios1 is back, its hosts holding a good copy again', () => {
    const { clients, vios1, world, feed } = fleet(SEED + 7, 6);
    feed(vios1.iplCompleted(at(0), at(-600)));
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index))));
    world.fireDue(at(200));
    expect(doubleFaults(world)).toEqual([expect.objectContaining({ status: 'open', affectedHosts: 6 })]);
    expect(critical(world)[0]?.summary).toContain(
      `and 5 other host(s) whose last good copy depends on ${VIOS1}`,
    );
    feed(vios1.iplCompleted(at(900), at(880)));
    expect(doubleFaults(world)).toEqual([expect.objectContaining({ status: 'resolved' })]);
    expect(
      world.notifications.filter((n) => n.incidentId === doubleFaults(world)[0]?.id).map((n) => n.action),
    ).toEqual(['trigger', 'resolve']);
  });

  it('pages the same one critical page when the clients report after vios1 is already down', () => {
    const { clients, vios1, world, feed } = fleet(SEED + 1, 40);
    feed(vios1.goingDown(at(50)));
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index * 0.25))));
    expect(critical(world)).toHaveLength(1);
    expect(doubleFaults(world)).toEqual([expect.objectContaining({ affectedHosts: 40 })]);
  });

  it('pages critical at once for a client that lost both halves, and plans nothing for it', () => {
    const { clients, vios2, world, feed } = fleet(SEED + 2, 3);
    const [doomed, ...others] = clients as [VscsiClient, ...VscsiClient[]];
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index))));
    feed(doomed.rootLost(at(110)));
    expect(critical(world)).toEqual([expect.objectContaining({ time: at(110) })]);
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(400));
    expect(world.plans.map((plan) => plan.hostId)).not.toContain(doomed.hostId);
    expect(world.plans.map((plan) => plan.hostId)).toEqual([others.map((c) => c.hostId).sort()[0]]);
  });

  it('resolves the double fault when its last host has a good copy again', () => {
    const { clients, world, feed } = fleet(SEED + 3, 2);
    const [doomed] = clients as [VscsiClient];
    feed(doomed.rootLost(at(100)));
    expect(doubleFaults(world)).toEqual([expect.objectContaining({ status: 'open' })]);
    feed(doomed.healthy(doomed.root, at(200)));
    expect(doubleFaults(world)).toEqual([expect.objectContaining({ status: 'resolved' })]);
    expect(world.notifications.map((n) => `${n.action} ${n.severity}`)).toEqual([
      'trigger critical',
      'resolve info',
    ]);
  });
});

describe(`planned maintenance (seed ${SEED})`, () => {
  it('pages critical before the server stops when vios2 announces an IPL under a client whose vios1 half is faulty', () => {
    const { clients, vios2, world, feed } = fleet(SEED + 4, 5);
    const [exposed, ...others] = clients as [VscsiClient, ...VscsiClient[]];
    feed(exposed.rootDegraded(at(10), { side: 'stay' }));
    world.fireDue(at(200));
    expect(world.domains.get(VIOS2)?.exposed?.groups[`${VIOS1} + ${VIOS2}`]).toEqual([exposed.hostId]);
    feed(vios2.goingDown(at(300)));
    expect(critical(world)).toEqual([
      expect.objectContaining({ time: at(300), summary: expect.stringContaining(exposed.hostId) }),
    ]);
    // The server stops; the others lose their vios2 half: an announced outage pages `info`.
    feed(...others.map((client, index) => client.rootDegraded(at(320 + index))));
    feed(exposed.rootLost(at(321)));
    world.fireDue(at(400));
    expect(critical(world)).toHaveLength(1);
    const outage = [...world.incidents.values()].find((incident) => incident.kind === 'outage');
    expect(outage).toMatchObject({ failureDomain: VIOS2, affectedHosts: 5 });
    expect(
      world.notifications.filter((n) => n.incidentId === outage?.id).map((n) => `${n.action} ${n.severity}`),
    ).toEqual(['trigger info']);
    feed(vios2.iplCompleted(at(600), at(590)));
    world.fireDue(at(700));
    expect(world.plans.map((plan) => plan.hostId)).not.toContain(exposed.hostId);
  });

  it('escalates an announced outage once it runs past its limit', () => {
    const { clients, vios2, world, feed } = fleet(SEED + 5, 3);
    feed(vios2.goingDown(at(100)));
    feed(...clients.map((client, index) => client.rootDegraded(at(110 + index))));
    world.fireDue(at(100 + 1799));
    expect(world.notifications.map((n) => n.severity)).toEqual(['info']);
    world.fireDue(at(100 + 1800));
    world.fireDue(at(100 + 7200));
    expect(world.notifications.map((n) => n.severity)).toEqual(['info', 'critical']);
  });

  it('lists a host as exposed while its other half is degraded, and forgets it once healed', () => {
    const { clients, world, feed } = fleet(SEED + 6, 1);
    const [client] = clients as [VscsiClient];
    feed(client.rootDegraded(at(10)));
    expect(world.domains.get(VIOS1)?.exposed).toEqual({
      groups: { [`${VIOS1} + ${VIOS2}`]: [client.hostId] },
      beyond: 0,
    });
    feed(client.healthy(client.root, at(20)));
    expect(world.domains.get(VIOS1)?.exposed).toBeUndefined();
    expect(world.hosts.get(client.hostId)?.exposedOn).toBeUndefined();
  });
});
