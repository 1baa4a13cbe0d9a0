// Double faults and planned maintenance (docs/architecture.md §5.4, DESIGN §5.4): an array whose
// remaining in-sync members all depend on down domains pages `critical` at once, one page per pair
// of domains, whichever comes first; no plan goes to a host that holds one; and an announced IPL
// under a client whose other half is degraded pages before the server stops.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { HostSlice } from '../../../functions/core/index.ts';
import { impactOf } from '../../../functions/core/topology.ts';
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

describe(`plans of a host that turns critical (seed ${SEED})`, () => {
  /** Three clients lose their vios2 root half; vios2 is back and the canary's plan is issued. */
  const canaryIssued = (seed: number) => {
    const { clients, vios1, vios2, world, feed } = fleet(seed, 3);
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(361));
    const [plan] = world.plans;
    if (plan === undefined) throw new Error('no canary plan');
    const canary = clients.find((client) => client.hostId === plan.hostId) as VscsiClient;
    return { clients, vios1, vios2, world, feed, plan, canary };
  };

  it('revokes the undelivered plan of a host an announced IPL of its other server leaves with no good copy', () => {
    const { vios1, world, feed, plan } = canaryIssued(SEED + 20);
    // Its first step fails the in-sync vios2 swap member: the copy that would survive vios1's IPL.
    expect(plan.steps.map((step) => step.action)).toContain('md.fail');
    feed(vios1.goingDown(at(370)));
    expect(critical(world)).toHaveLength(1);
    expect(world.revoked).toEqual([{ planId: plan.id, hostId: plan.hostId }]);
    expect(world.hosts.get(plan.hostId)?.plans[plan.id]?.status).toBe('revoked');
    // The waves issue nothing to a host that holds a double fault while vios1 is down.
    world.fireDue(at(1500));
    expect(world.plans).toHaveLength(1);
  });

  it('records a plan already running on a host that turns critical, in the page and the timeline', () => {
    const { vios1, world, feed, plan, canary } = canaryIssued(SEED + 21);
    feed(...progressOf(canary, plan, 362).slice(0, 3));
    feed(vios1.goingDown(at(370)));
    expect(world.revoked).toEqual([]);
    expect(critical(world)[0]?.summary).toContain(`plan ${plan.id} is already running on ${canary.hostId}`);
    expect(world.timeline.some((entry) => entry.text.includes(`plan ${plan.id} is already running`))).toBe(
      true,
    );
  });
});

describe(`single points of failure and many exposed hosts (seed ${SEED})`, () => {
  it('pages critical at the announcement for a healthy client whose two halves both sit on that server', () => {
    const rng = random(SEED + 30);
    const spof = new VscsiClient('lnxspof', rng, VIOS2, VIOS2);
    const mirrored = new VscsiClient('lnxok', rng);
    const vios2 = new HostingPartition('vios2', VIOS2);
    const { world, feed } = worldWith();
    feed(spof.heartbeat(at(1)), mirrored.heartbeat(at(1)));
    feed(vios2.goingDown(at(300)));
    expect(critical(world)).toEqual([
      expect.objectContaining({ time: at(300), summary: expect.stringContaining('lnxspof') }),
    ]);
    const losing = impactOf([...world.hosts.values()], VIOS2).hosts.filter((host) => host.losesLast);
    expect(losing.map((host) => host.hostId)).toEqual(['lnxspof']);
  });

  it('pages every pair of servers at the announcement, each with its own count, however many hosts are exposed', () => {
    const rng = random(SEED + 31);
    const many = Array.from({ length: 70 }, (_, index) => new VscsiClient(`lnxp${index + 100}`, rng));
    const odd = new VscsiClient('zzodd', rng, vscsi('vios3'), VIOS2);
    const vios2 = new HostingPartition('vios2', VIOS2);
    const { world, feed } = worldWith();
    feed(...many.map((client) => client.heartbeat(at(1))), odd.heartbeat(at(1)));
    feed(...many.map((client, index) => client.rootDegraded(at(100 + index * 0.1), { side: 'stay' })));
    feed(odd.rootDegraded(at(120), { side: 'stay' }));
    world.fireDue(at(300));
    feed(vios2.goingDown(at(400)));
    const pages = critical(world);
    expect(pages).toHaveLength(2);
    expect(pages.find((n) => n.summary.includes('zzodd'))?.summary).not.toContain('other host(s)');
    expect(pages.find((n) => n.summary.includes('lnxp100'))?.summary).toContain('and 69 other host(s)');
    // Every exposed host holds its double fault by its next heartbeat, the ones past any bound too.
    feed(...many.map((client) => client.heartbeat(at(430), { faulty: 'stay' })));
    const counts = doubleFaults(world)
      .map((incident) => incident.affectedHosts)
      .sort((a, b) => a - b);
    expect(counts).toEqual([1, 70]);
  });
});

describe('the page before planned maintenance and the impact', () => {
  const DOMAINS = [VIOS1, VIOS2, vscsi('vios3')];
  it('names the same hosts: those the impact says would lose their last copy', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            stay: fc.constantFrom(...DOMAINS),
            fall: fc.constantFrom(...DOMAINS),
            root: fc.constantFrom(undefined, 'stay', 'fall'),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.constantFrom(...DOMAINS),
        fc.integer(),
        (specs, domain, seed) => {
          const rng = random(seed);
          const clients = specs.map((spec, index) => ({
            spec,
            client: new VscsiClient(`lnx${index + 10}`, rng, spec.stay, spec.fall),
          }));
          // No outage by symptoms here: only the announced domain goes down.
          const { world, feed } = worldWith({ minClientsForOutage: 1000 });
          for (const { spec, client } of clients) {
            feed(client.heartbeat(at(1)));
            if (spec.root !== undefined) feed(client.heartbeat(at(5), { faulty: spec.root }));
          }
          const hosts: HostSlice[] = [...world.hosts.values()];
          const expected = impactOf(hosts, domain)
            .hosts.filter((host) => host.losesLast)
            .map((host) => host.hostId);
          const server = new HostingPartition('server', domain);
          feed(server.goingDown(at(300)));
          const paged = [...world.hosts.values()]
            .filter((host) => Object.keys(host.doubleFaults).length > 0)
            .map((host) => host.hostId)
            .sort();
          expect(paged).toEqual(expected);
          expect(critical(world).length > 0).toBe(expected.length > 0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
