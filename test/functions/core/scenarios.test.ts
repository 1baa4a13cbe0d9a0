import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { FaultlineEvent, Member, PlanStep, UnsignedPlan } from '../../../events/index.ts';
import {
  Agent,
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

const outages = (world: MemoryWorld) =>
  [...world.incidents.values()].filter((incident) => incident.kind === 'outage');
const triggers = (world: MemoryWorld) => world.notifications.filter((n) => n.action === 'trigger');
const resolves = (world: MemoryWorld) => world.notifications.filter((n) => n.action === 'resolve');
const actions = (steps: readonly PlanStep[] | undefined) => (steps ?? []).map((step) => step.action);

/** Plays a plan back as a healthy agent would: progress for every step, then the arrays in sync. */
const heal = (
  world: MemoryWorld,
  client: VscsiClient,
  plan: UnsignedPlan,
  start: number,
  fastPath = false,
) => {
  for (const event of progressOf(client, plan, start, { fastPath })) world.ingest(event);
  const touched = new Set(
    [...plan.steps, ...(plan.fastPath ?? [])].flatMap((step) => ('array' in step ? [step.array] : [])),
  );
  for (const mirror of client.mirrors) {
    if (touched.has(mirror.array)) world.ingest(client.healthy(mirror, at(start + 30), plan.id));
  }
};

/**
 * Time passing with a live server (and, with `others`, live clients): their heartbeats every minute,
 * then the timers due by `to`.
 */
const alive = (
  world: MemoryWorld,
  server: HostingPartition,
  others: (beat: number) => FaultlineEvent[] = () => [],
) => {
  let beat = 0;
  return (to: number) => {
    while (beat + 60 <= to) {
      beat += 60;
      world.ingest(server.heartbeat(at(beat)));
      for (const event of others(beat)) world.ingest(event);
    }
    world.fireDue(at(to));
  };
};

describe(`the correlation core in the field (seed ${SEED})`, () => {
  it('opens one incident for a VIOS IPL under 40 clients, heals them canary first then in waves of four, and resolves once', () => {
    const rng = random(SEED);
    const clients = hostNames(rng, 40).map((name) => new VscsiClient(name, rng));
    const byId = new Map(clients.map((client) => [client.hostId, client]));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith();
    feed(vios2.heartbeat(at(0)), ...clients.map((client) => client.heartbeat(at(1))));
    clients.forEach((client, index) => {
      feed(client.rootDegraded(at(100 + index * 0.25)));
    });

    expect(outages(world)).toHaveLength(1);
    const [incident] = outages(world);
    expect(incident).toMatchObject({
      failureDomain: vscsi('vios2'),
      status: 'awaiting-recovery',
      affectedHosts: 40,
    });
    // One page, once the grouping window has passed (a late announcement would have made it `info`).
    world.fireDue(at(130));
    expect(triggers(world)).toEqual([expect.objectContaining({ severity: 'error', time: at(130) })]);

    feed(vios2.iplCompleted(at(700), at(690)));
    // The clients' agents heartbeat every minute too, as their state is: none is silent (§5.9).
    const healedHosts = new Set<string>();
    const advance = alive(world, vios2, (beat) =>
      clients.map((one) => one.heartbeat(at(beat), healedHosts.has(one.hostId) ? {} : { faulty: 'fall' })),
    );
    for (let beat = 60; beat < 700; beat += 60) advance(beat);
    advance(759);
    expect(world.plans).toHaveLength(0);
    advance(760);
    expect(world.plans).toHaveLength(1);

    const canary = world.plans[0] as UnsignedPlan;
    const canaryHost = [...byId.keys()].sort()[0] as string;
    expect(canary).toMatchObject({ hostId: canaryHost, wave: 0, attempt: 1, mode: 'execute' });
    const client = byId.get(canaryHost) as VscsiClient;
    const { channel, target, lun } = (() => {
      const [, c, t, l] = client.hctl.split(':').map(Number);
      return { channel: c, target: t, lun: l };
    })();
    // The field order: probe; fail what is still in sync on that disk; remove all its members;
    // delete; rescan that LUN; verify; add back; wait.
    expect(actions(canary.steps)).toEqual([
      'disk.probe',
      'md.fail',
      'md.remove',
      'md.remove',
      'scsi.delete',
      'scsi.rescan',
      'disk.verify',
      'md.add',
      'md.add',
      'md.wait-sync',
      'md.wait-sync',
    ]);
    expect(canary.steps[0]).toEqual({
      action: 'disk.probe',
      disk: client.remoteDisk,
      hctl: client.hctl,
      scsiHost: client.scsiHost,
      failureDomain: vscsi('vios2'),
    });
    expect(canary.steps[1]).toEqual({
      action: 'md.fail',
      array: client.swap.array,
      member: `${client.remoteDisk}2`,
    });
    expect(
      canary.steps
        .filter((step) => step.action === 'md.remove')
        .map((step) => 'member' in step && step.member)
        .sort(),
    ).toEqual([`${client.remoteDisk}1`, `${client.remoteDisk}2`]);
    expect(canary.steps[4]).toEqual({ action: 'scsi.delete', hctl: client.hctl });
    expect(canary.steps[5]).toEqual({
      action: 'scsi.rescan',
      scsiHost: client.scsiHost,
      channel,
      target,
      lun,
    });
    expect(canary.steps[6]).toMatchObject({
      action: 'disk.verify',
      disk: client.remoteDisk,
      hctl: client.hctl,
      partitions: expect.arrayContaining([
        { device: `${client.remoteDisk}1`, array: client.root.array, uuid: client.root.uuid },
        { device: `${client.remoteDisk}2`, array: client.swap.array, uuid: client.swap.uuid },
      ]),
    });
    // The fast path adds back only the failed root member: the healthy swap member is left alone.
    expect(canary.fastPath).toEqual([
      { action: 'md.remove', array: client.root.array, member: `${client.remoteDisk}1` },
      { action: 'md.add', array: client.root.array, member: `${client.remoteDisk}1`, uuid: client.root.uuid },
      { action: 'md.wait-sync', array: client.root.array, stallSeconds: 600 },
    ]);

    // Until the canary is healthy, nothing else goes out.
    advance(900);
    expect(world.plans).toHaveLength(1);
    let clock = 1000;
    advance(clock);
    healedHosts.add(client.hostId);
    heal(world, client, canary, clock);
    advance(clock + 31);
    expect(world.plans).toHaveLength(5);
    expect(world.plans.slice(1).map((plan) => plan.wave)).toEqual([1, 1, 1, 1]);

    // Then at most four in flight, the next as each host reports healthy.
    const healed = new Set([canary.id]);
    while (healed.size < world.plans.length) {
      const inFlight = world.plans.filter((plan) => !healed.has(plan.id));
      expect(inFlight.length).toBeLessThanOrEqual(4);
      const plan = inFlight[0] as UnsignedPlan;
      clock += 60;
      advance(clock);
      healedHosts.add(plan.hostId);
      heal(world, byId.get(plan.hostId) as VscsiClient, plan, clock, healed.size % 3 === 0);
      healed.add(plan.id);
      advance(clock + 31);
    }
    expect(world.plans).toHaveLength(40);
    expect(new Set(world.plans.map((plan) => plan.hostId)).size).toBe(40);
    expect(outages(world)[0]).toMatchObject({ status: 'resolved', affectedHosts: 40 });
    expect(triggers(world)).toHaveLength(1);
    expect(resolves(world)).toHaveLength(1);
    expect(resolves(world)[0]?.dedupKey).toBe(triggers(world)[0]?.dedupKey);
  });

  it('replaces only the alternate side after an LDoms service domain reboots, and never touches a Last Erred mirror', () => {
    const rng = random(SEED + 1);
    const primary = 'vdisk:t5-control/primary';
    const alternate = 'vdisk:t5-control/alternate';
    const control = new Agent('t5-control', 'control');
    const guests = hostNames(rng, 4, 'ldg').map((name) => new Agent(name));
    const component = (disk: string, slice: number) => `${disk}s${slice}`;
    const submirrors = (lastErred: boolean): Member[] => [
      {
        device: component('c0d0', 0),
        disk: 'c0d0',
        state: lastErred ? 'last-erred' : 'in-sync',
        failureDomain: primary,
        submirror: 'd11',
      },
      {
        device: component('c0d1', 0),
        disk: 'c0d1',
        state: 'maintenance',
        failureDomain: alternate,
        submirror: 'd12',
      },
    ];
    const { world, feed } = worldWith();
    feed(
      control.event(
        'domain.going-down',
        'alternate',
        { failureDomain: alternate, reason: 'ldm stop alternate' },
        at(0),
      ),
    );
    guests.forEach((guest, index) => {
      feed(
        guest.event(
          'mirror.degraded',
          'd10',
          { array: 'd10', kind: 'svm', level: 'raid1', members: submirrors(index === 2) },
          at(5 + index),
        ),
      );
    });
    feed(
      control.event(
        'domain.rebooted',
        'alternate',
        { domain: 'alternate', role: 'alternate', failureDomain: alternate, bootedAt: at(200) },
        at(210),
      ),
    );
    // Heal whatever comes out, until nothing more does.
    for (let clock = 300; clock < 3000; clock += 100) {
      world.fireDue(at(clock));
      for (const plan of world.plans) {
        const guest = guests.find((candidate) => candidate.hostId === plan.hostId) as Agent;
        if (world.timeline.some((entry) => entry.text === `plan ${plan.id} succeeded`)) continue;
        for (const event of progressOf(guest, plan, clock + 1)) world.ingest(event);
        world.ingest(
          guest.event(
            'mirror.healthy',
            'd10',
            {
              array: 'd10',
              kind: 'svm',
              level: 'raid1',
              members: submirrors(false).map((member) => ({ ...member, state: 'in-sync' as const })),
            },
            at(clock + 50),
            { planid: plan.id },
          ),
        );
      }
    }
    const lastErredGuest = guests[2] as Agent;
    expect(world.plans.map((plan) => plan.hostId).sort()).toEqual(
      guests
        .filter((guest) => guest !== lastErredGuest)
        .map((guest) => guest.hostId)
        .sort(),
    );
    for (const plan of world.plans) {
      expect(plan.steps).toEqual([
        { action: 'disk.probe', disk: 'c0d1', failureDomain: alternate },
        { action: 'svm.metareplace', mirror: 'd10', component: 'c0d1s0' },
        { action: 'svm.wait-sync', mirror: 'd10', stallSeconds: 600 },
      ]);
    }
    const critical = [...world.incidents.values()].filter((incident) => incident.kind === 'double-fault');
    expect(critical).toHaveLength(1);
    expect(critical[0]).toMatchObject({ hostId: lastErredGuest.hostId, resource: 'd10' });
    expect(
      world.notifications.some((n) => n.incidentId === critical[0]?.id && n.severity === 'critical'),
    ).toBe(true);
  });

  const pathEvent = (
    host: Agent,
    type: 'path.lost' | 'path.restored',
    time: number,
    device: string,
    state: 'failed' | 'active',
    activePaths: number,
  ) =>
    host.event(
      type,
      'mpatha',
      {
        map: 'mpatha',
        wwid: '3600507680c80810c1800000000000a3f',
        path: device,
        hctl: '2:0:1:3',
        failureDomain: 'fc:500507680c110a3f',
        state,
        activePaths,
      },
      at(time),
    );

  it('groups twelve hosts losing their paths through one port into one incident that resolves with no plan when they come back', () => {
    const rng = random(SEED + 2);
    const hosts = hostNames(rng, 12, 'db').map((name) => new Agent(name));
    const device = `sd${rng.word(1)}`;
    const { world, feed } = worldWith();
    hosts.forEach((host, index) => {
      feed(pathEvent(host, 'path.lost', 10 + index, device, 'failed', 1));
    });
    expect(outages(world)).toHaveLength(1);
    expect(outages(world)[0]?.affectedHosts).toBe(12);
    hosts.forEach((host, index) => {
      feed(pathEvent(host, 'path.restored', 100 + index, device, 'active', 2));
    });
    world.fireDue(at(1000));
    expect(world.plans).toHaveLength(0);
    expect(outages(world)[0]?.status).toBe('resolved');
    expect(resolves(world)).toHaveLength(1);
  });

  it('takes the paths restored before their hosts joined the outage (the outbox ran late) as their confirmations', () => {
    const rng = random(SEED + 5);
    const [first, second] = hostNames(rng, 2, 'db').map((name) => new Agent(name)) as [Agent, Agent];
    const { world, feed } = worldWith();
    feed(pathEvent(first, 'path.lost', 10, 'sdq', 'failed', 1));
    // The second symptom takes the port down; the joins it asks for are performed late.
    const joins = world.applyHoldingFollowUps(pathEvent(second, 'path.lost', 11, 'sdq', 'failed', 1), at(11));
    expect(joins.length).toBeGreaterThan(0);
    expect(outages(world)[0]?.status).toBe('awaiting-recovery');
    feed(
      pathEvent(first, 'path.restored', 14, 'sdq', 'active', 2),
      pathEvent(second, 'path.restored', 15, 'sdq', 'active', 2),
    );
    for (const join of joins) world.apply(join, at(16));
    expect(outages(world)[0]).toMatchObject({ status: 'remediating', affectedHosts: 2 });
    expect([at(14), at(15)]).toContain(outages(world)[0]?.upAt);
    world.fireDue(at(1000));
    expect(outages(world)[0]?.status).toBe('resolved');
    expect(world.plans).toHaveLength(0);
  });

  it('reinstates a path still failed a set time after its domain is back', () => {
    const rng = random(SEED + 3);
    const hosts = hostNames(rng, 12, 'db').map((name) => new Agent(name));
    const { world, feed } = worldWith();
    hosts.forEach((host, index) => {
      feed(pathEvent(host, 'path.lost', 10 + index, 'sdq', 'failed', 1));
    });
    const [stuck, ...others] = hosts as [Agent, ...Agent[]];
    others.forEach((host, index) => {
      feed(pathEvent(host, 'path.restored', 100 + index, 'sdq', 'active', 2));
    });
    // Up at the second client's path restored (101 s: a quorum of two), then the reinstate delay.
    world.fireDue(at(101 + 119));
    expect(world.plans).toHaveLength(0);
    world.fireDue(at(101 + 120));
    expect(world.plans).toHaveLength(1);
    expect(world.plans[0]).toMatchObject({
      hostId: stuck.hostId,
      steps: [
        { action: 'disk.probe', disk: 'sdq', hctl: '2:0:1:3', failureDomain: 'fc:500507680c110a3f' },
        { action: 'multipath.reinstate', map: 'mpatha', path: 'sdq' },
      ],
    });
  });

  it('pages a lone symptom as a local fault after the hold-down, with no plan', () => {
    const rng = random(SEED + 4);
    const [lone, other] = hostNames(rng, 2).map((name) => new VscsiClient(name, rng)) as [
      VscsiClient,
      VscsiClient,
    ];
    const { world, feed } = worldWith();
    feed(lone.heartbeat(at(0)), other.heartbeat(at(0)), lone.rootDegraded(at(10)));
    world.fireDue(at(10 + 119));
    expect(world.incidents.size).toBe(0);
    world.fireDue(at(10 + 120));
    const incidents = [...world.incidents.values()];
    expect(incidents).toEqual([
      expect.objectContaining({ kind: 'local', hostId: lone.hostId, status: 'open' }),
    ]);
    expect(triggers(world)).toHaveLength(1);
    world.fireDue(at(5000));
    expect(world.plans).toHaveLength(0);
  });

  it('makes it an outage instead when a second client reports within the window', () => {
    const rng = random(SEED + 5);
    const [first, second] = hostNames(rng, 2).map((name) => new VscsiClient(name, rng)) as [
      VscsiClient,
      VscsiClient,
    ];
    const { world, feed } = worldWith();
    feed(
      first.heartbeat(at(0)),
      second.heartbeat(at(0)),
      first.rootDegraded(at(10)),
      second.rootDegraded(at(35)),
    );
    world.fireDue(at(400));
    expect([...world.incidents.values()]).toEqual([
      expect.objectContaining({ kind: 'outage', affectedHosts: 2, failureDomain: vscsi('vios2') }),
    ]);
  });

  it('pages a double fault at once and plans nothing for that array', () => {
    const rng = random(SEED + 6);
    const clients = hostNames(rng, 3).map((name) => new VscsiClient(name, rng));
    const [doomed] = clients as [VscsiClient];
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith();
    feed(...clients.map((client) => client.heartbeat(at(0))));
    feed(...clients.map((client, index) => client.rootDegraded(at(10 + index))));
    feed(doomed.rootLost(at(20)));
    const critical = [...world.incidents.values()].filter((incident) => incident.kind === 'double-fault');
    expect(critical).toEqual([
      expect.objectContaining({ hostId: doomed.hostId, resource: doomed.root.array }),
    ]);
    expect(world.notifications).toContainEqual(
      expect.objectContaining({
        incidentId: critical[0]?.id,
        action: 'trigger',
        severity: 'critical',
        time: at(20),
      }),
    );
    feed(vios2.iplCompleted(at(300), at(290)));
    for (let clock = 400; clock < 4000; clock += 100) {
      world.fireDue(at(clock));
      for (const plan of world.plans) {
        if (world.timeline.some((entry) => entry.text === `plan ${plan.id} succeeded`)) continue;
        heal(world, clients.find((client) => client.hostId === plan.hostId) as VscsiClient, plan, clock + 1);
      }
    }
    expect(world.plans.some((plan) => plan.hostId === doomed.hostId)).toBe(false);
    expect(world.plans).toHaveLength(2);
  });

  it('heals clients whose symptoms arrive late, after the IPL completed, in the same incident', () => {
    const rng = random(SEED + 7);
    const clients = hostNames(rng, 6).map((name) => new VscsiClient(name, rng));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith();
    feed(vios2.heartbeat(at(0)), ...clients.map((client) => client.heartbeat(at(0))));
    const [early1, early2, ...late] = clients as [VscsiClient, VscsiClient, ...VscsiClient[]];
    feed(early1.rootDegraded(at(100)), early2.rootDegraded(at(101)));
    feed(vios2.iplCompleted(at(600), at(590)));
    // Spooled while the network through vios2 was down: they happened at 102.., arrive at 610..
    late.forEach((client, index) => {
      feed(client.rootDegraded(at(102 + index), { receivedat: at(610 + index) }));
    });
    expect(outages(world)).toHaveLength(1);
    expect(outages(world)[0]?.affectedHosts).toBe(6);
    const advance = alive(world, vios2);
    for (let clock = 700; clock < 5000; clock += 100) {
      advance(clock);
      for (const plan of world.plans) {
        if (world.timeline.some((entry) => entry.text === `plan ${plan.id} succeeded`)) continue;
        heal(world, clients.find((client) => client.hostId === plan.hostId) as VscsiClient, plan, clock + 1);
      }
    }
    expect(new Set(world.plans.map((plan) => plan.hostId)).size).toBe(6);
    expect(outages(world)[0]?.status).toBe('resolved');
  });

  it('halts the domain when the canary fails, pages what was changed, and plans nothing more', () => {
    const rng = random(SEED + 8);
    const clients = hostNames(rng, 8).map((name) => new VscsiClient(name, rng));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith();
    feed(...clients.map((client) => client.heartbeat(at(0))));
    feed(...clients.map((client, index) => client.rootDegraded(at(10 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(360));
    expect(world.plans).toHaveLength(1);
    const canary = world.plans[0] as UnsignedPlan;
    const client = clients.find((candidate) => candidate.hostId === canary.hostId) as VscsiClient;
    for (const event of progressOf(client, canary, 400, { failAt: 5 })) world.ingest(event);
    world.fireDue(at(10_000));
    expect(world.plans).toHaveLength(1);
    expect(outages(world)[0]?.status).toBe('halted');
    const page = world.notifications.find((n) => n.severity === 'critical');
    expect(page?.summary).toContain('scsi.rescan');
    expect(page?.summary).toContain('md.fail');
    expect(page?.summary).toContain('scsi.delete');
  });

  it('counts the clients whose symptoms take a domain down again (a flap), as it counts those that took it down', () => {
    const rng = random(SEED + 21);
    const clients = hostNames(rng, 6).map((name) => new VscsiClient(name, rng));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith();
    feed(vios2.heartbeat(at(0)), ...clients.map((client) => client.heartbeat(at(1))));
    feed(...clients.slice(0, 4).map((client, index) => client.rootDegraded(at(10 + index / 100))));
    feed(vios2.iplCompleted(at(20), at(15)));
    feed(...clients.slice(4).map((client, index) => client.rootDegraded(at(20.04 + index / 100))));
    const [outage] = outages(world);
    expect(world.timeline.some((entry) => entry.text.endsWith('a flap'))).toBe(true);
    expect(outage?.affectedHosts).toBe(6);
    for (const client of clients.slice(4)) {
      expect(world.timeline.map((entry) => entry.text)).toContain(`${client.hostId} affected`);
    }
    expect(outage?.upAt).toBeNull();
  });

  it('revokes undelivered plans when the domain flaps during its waves, and stays halted after three flaps until resumed', () => {
    const rng = random(SEED + 9);
    const clients = hostNames(rng, 12).map((name) => new VscsiClient(name, rng));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith();
    feed(...clients.map((client) => client.heartbeat(at(0))));
    feed(...clients.map((client, index) => client.rootDegraded(at(10 + index))));
    let clock = 300;
    const cycle = () => {
      feed(vios2.iplCompleted(at(clock), at(clock - 10)));
      world.fireDue(at(clock + 60));
      clock += 100;
    };
    cycle();
    const canary = world.plans[0] as UnsignedPlan;
    heal(world, clients.find((client) => client.hostId === canary.hostId) as VscsiClient, canary, clock);
    world.fireDue(at(clock + 40));
    expect(world.plans).toHaveLength(5);
    clock += 100;
    feed(vios2.goingDown(at(clock)));
    expect(world.revoked.map((revoked) => revoked.planId).sort()).toEqual(
      world.plans
        .slice(1)
        .map((plan) => plan.id)
        .sort(),
    );
    clock += 100;
    cycle();
    feed(vios2.goingDown(at(clock)));
    clock += 100;
    cycle();
    feed(vios2.goingDown(at(clock)));
    clock += 100;
    expect(outages(world)[0]?.status).toBe('halted');
    const issued = world.plans.length;
    feed(vios2.iplCompleted(at(clock), at(clock - 5)));
    world.fireDue(at(clock + 3600));
    expect(world.plans).toHaveLength(issued);
    expect(world.notifications.filter((n) => n.severity === 'critical')).toHaveLength(1);
    clock += 3700;
    world.ingest({ type: 'operator.resume', id: 'op-1', at: at(clock), failureDomain: vscsi('vios2') });
    world.fireDue(at(clock + 1));
    expect(world.plans.length).toBeGreaterThan(issued);
  });

  it('dispatches nothing new while paused, until resumed; approve mode holds each wave', () => {
    const rng = random(SEED + 10);
    const clients = hostNames(rng, 9).map((name) => new VscsiClient(name, rng));
    const byId = new Map(clients.map((client) => [client.hostId, client]));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith({
      runbooks: { 'md-vscsi': 'approve', 'svm-ldoms': 'auto', multipath: 'auto' },
    });
    feed(...clients.map((client) => client.heartbeat(at(0))));
    feed(...clients.map((client, index) => client.rootDegraded(at(10 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(1000));
    expect(world.plans).toHaveLength(0);
    const incidentId = outages(world)[0]?.id as string;
    const approve = (id: string, time: number) =>
      world.ingest({ type: 'operator.approve', id, at: at(time), incidentId, failureDomain: vscsi('vios2') });
    approve('op-approve-canary', 1001);
    world.fireDue(at(1002));
    expect(world.plans).toHaveLength(1);
    heal(
      world,
      byId.get(world.plans[0]?.hostId as string) as VscsiClient,
      world.plans[0] as UnsignedPlan,
      1100,
    );
    world.fireDue(at(1200));
    expect(world.plans).toHaveLength(1);
    world.ingest({ type: 'operator.pause', id: 'op-pause', at: at(1201) });
    approve('op-approve-wave-1', 1202);
    world.fireDue(at(2000));
    expect(world.plans).toHaveLength(1);
    world.ingest({ type: 'operator.resume', id: 'op-resume', at: at(2001) });
    world.fireDue(at(2002));
    expect(world.plans).toHaveLength(5);
    for (const plan of world.plans.slice(1)) heal(world, byId.get(plan.hostId) as VscsiClient, plan, 2100);
    world.fireDue(at(2300));
    expect(world.plans).toHaveLength(5);
    approve('op-approve-wave-2', 2301);
    world.fireDue(at(2302));
    expect(world.plans).toHaveLength(9);
  });

  it('pages once when a server stays down past its limit', () => {
    const rng = random(SEED + 11);
    const clients = hostNames(rng, 3).map((name) => new VscsiClient(name, rng));
    const { world, feed } = worldWith();
    feed(...clients.map((client, index) => client.rootDegraded(at(10 + index))));
    world.fireDue(at(10 + 1799));
    expect(world.notifications.filter((n) => n.severity === 'critical')).toHaveLength(0);
    world.fireDue(at(10 + 1800));
    world.fireDue(at(10 + 7200));
    const escalations = world.notifications.filter((n) => n.severity === 'critical');
    expect(escalations).toHaveLength(1);
    expect(escalations[0]?.summary).toContain('down for 30 minutes');
    expect(outages(world)[0]?.escalated).toBe(true);
  });

  it('pages at once for a multipath map left with no active path', () => {
    const rng = random(SEED + 12);
    const [host] = hostNames(rng, 1, 'db').map((name) => new Agent(name)) as [Agent];
    const { world, feed } = worldWith();
    feed(
      pathEvent(host, 'path.lost', 10, 'sdc', 'failed', 1),
      pathEvent(host, 'path.lost', 11, 'sdd', 'failed', 0),
    );
    const critical = [...world.incidents.values()].filter((incident) => incident.kind === 'double-fault');
    expect(critical).toEqual([expect.objectContaining({ hostId: host.hostId, resource: 'map:mpatha' })]);
    expect(world.notifications).toEqual([expect.objectContaining({ severity: 'critical', time: at(11) })]);
  });

  it('expires the slot of a host that goes silent during its plan, pages once, and moves on', () => {
    const rng = random(SEED + 13);
    const clients = hostNames(rng, 4).map((name) => new VscsiClient(name, rng));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith({ slotTimeoutSeconds: 600 });
    feed(...clients.map((client) => client.heartbeat(at(0))));
    feed(...clients.map((client, index) => client.rootDegraded(at(10 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(360));
    const canary = world.plans[0] as UnsignedPlan;
    const client = clients.find((candidate) => candidate.hostId === canary.hostId) as VscsiClient;
    heal(world, client, canary, 400);
    world.fireDue(at(431));
    expect(world.plans).toHaveLength(4);
    // Three of the wave heal; one host never answers.
    const [silent, ...answering] = world.plans.slice(1) as [UnsignedPlan, ...UnsignedPlan[]];
    for (const plan of answering)
      heal(world, clients.find((c) => c.hostId === plan.hostId) as VscsiClient, plan, 500);
    // Silent past three heartbeats of 60 s after its plan went out: paged then, once (§5.9), long
    // before its slot expires; the expiry frees its slot and pages nothing more.
    const issued = (Date.parse(silent.issuedAt) - Date.parse(at(0))) / 1000;
    world.fireDue(at(issued + 179));
    expect(world.notifications.filter((n) => n.severity === 'critical')).toHaveLength(0);
    world.fireDue(at(issued + 180));
    const escalations = world.notifications.filter((n) => n.severity === 'critical');
    expect(escalations).toHaveLength(1);
    expect(escalations[0]?.summary).toContain(`${silent.hostId} has been silent`);
    world.fireDue(at(issued + 600));
    expect(world.timeline.some((entry) => entry.text.includes(`${silent.hostId} went silent`))).toBe(true);
    world.fireDue(at(5000));
    expect(world.notifications.filter((n) => n.severity === 'critical')).toHaveLength(1);
    expect(outages(world)[0]?.status).not.toBe('resolved');
  });

  it('takes a refusal of a plan served again after it ran as a duplicate, not a failure', () => {
    const rng = random(SEED + 14);
    const clients = hostNames(rng, 3).map((name) => new VscsiClient(name, rng));
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const { world, feed } = worldWith();
    feed(...clients.map((client) => client.heartbeat(at(0))));
    feed(...clients.map((client, index) => client.rootDegraded(at(10 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(360));
    const canary = world.plans[0] as UnsignedPlan;
    const client = clients.find((candidate) => candidate.hostId === canary.hostId) as VscsiClient;
    for (const event of progressOf(client, canary, 400)) world.ingest(event);
    world.ingest(
      client.event(
        'command.progress',
        client.hostId,
        { planId: canary.id, step: 0, action: 'disk.probe', outcome: 'refused', code: 'already-run' },
        at(420),
        { planid: canary.id },
      ),
    );
    for (const mirror of client.mirrors) world.ingest(client.healthy(mirror, at(430), canary.id));
    world.fireDue(at(431));
    expect(outages(world)[0]?.status).toBe('remediating');
    expect(world.notifications.filter((n) => n.severity === 'critical')).toHaveLength(0);
    expect(world.plans.length).toBeGreaterThan(1);
  });
});
