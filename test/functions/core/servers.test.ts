import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { FaultlineEvent } from '../../../events/index.ts';
import { decide, freshHost } from '../../../functions/core/index.ts';
import {
  at,
  HostingPartition,
  random,
  SEED,
  VscsiClient,
  vscsi,
  worldWith,
} from '../../helpers/core-fleet.ts';
import { ServingPartition } from '../../helpers/core-servers.ts';

const VIOS2 = vscsi('vios2');
const outage = (world: MemoryWorld) =>
  [...world.incidents.values()].find((incident) => incident.kind === 'outage');
const timelineOf = (world: MemoryWorld) => world.timeline.map((entry) => entry.text);

/** Three clients lose their vios2 half at 130 s: an outage of vios2 (down at 130 s). */
const outageOfVios2 = (world: MemoryWorld, rng = random(SEED)) => {
  const clients = ['lnxapp01', 'lnxapp02', 'lnxapp03'].map((name) => new VscsiClient(name, rng));
  for (const client of clients) world.ingest(client.heartbeat(at(1)));
  clients.forEach((client, index) => {
    world.ingest(client.rootDegraded(at(130 + index)));
  });
  return clients;
};

describe(`a server's heartbeats (seed ${SEED})`, () => {
  it('bring its domain up from a new boot listing it, its ipl.completed lost: the canary after the stability period', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    feed(vios2.servingHeartbeat(at(0)), vios2.servingHeartbeat(at(60)));
    outageOfVios2(world);
    expect(outage(world)).toMatchObject({ status: 'awaiting-recovery', affectedHosts: 3 });

    vios2.reboot(at(690));
    feed(vios2.servingHeartbeat(at(720)));
    expect(outage(world)?.status).toBe('remediating');
    expect(timelineOf(world)).toContainEqual(
      expect.stringMatching(/up since .*a heartbeat of vios2 from a new boot serving it/),
    );
    world.fireDue(at(779));
    expect(world.plans).toHaveLength(0);
    world.fireDue(at(780));
    expect(world.plans).toEqual([expect.objectContaining({ hostId: 'lnxapp01', wave: 0 })]);
  });

  it('change nothing from a new boot booted before the outage (stale), nor from a boot time an NTP step moved', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    feed(vios2.servingHeartbeat(at(0)));
    outageOfVios2(world);
    // The same boot, its boot time moved after the outage by an NTP step: no new boot.
    feed(vios2.servingHeartbeat(at(60), { bootedAt: at(300) }));
    vios2.reboot(at(100));
    feed(vios2.servingHeartbeat(at(400)));
    expect(outage(world)?.status).toBe('awaiting-recovery');
    expect(timelineOf(world)).toContainEqual(
      expect.stringMatching(/^stale a heartbeat of vios2 from a new boot/),
    );
    world.fireDue(at(1000));
    expect(world.plans).toEqual([]);
  });

  it('judge a heartbeat delivered late from a spool by the skew known before it, not by its own delay', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    feed(vios2.servingHeartbeat(at(0)));
    outageOfVios2(world);
    vios2.reboot(at(90));
    // Sent at 115 s from a boot at 90 s, spooled, received at 400 s: its own skew would be 285 s.
    feed(vios2.servingHeartbeat(at(115), { receivedat: at(400) }));
    expect(outage(world)?.status).toBe('awaiting-recovery');
  });

  it('bring it up only once a new boot lists the domain, not while its serving check still fails', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    feed(vios2.servingHeartbeat(at(0)));
    outageOfVios2(world);
    vios2.reboot(at(600));
    feed(vios2.servingHeartbeat(at(620), { serving: false }));
    expect(outage(world)?.status).toBe('awaiting-recovery');
    feed(vios2.servingHeartbeat(at(680)));
    expect(outage(world)?.status).toBe('remediating');
    expect(outage(world)?.upAt).toBe(at(680));
  });

  it('converge whether the new boot heartbeats arrive duplicated, reordered, or beside its ipl.completed', () => {
    const run = (order: (events: FaultlineEvent[]) => FaultlineEvent[]) => {
      const { world, feed } = worldWith();
      const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
      feed(vios2.servingHeartbeat(at(0)));
      outageOfVios2(world, random(7));
      vios2.reboot(at(690));
      const first = vios2.servingHeartbeat(at(700));
      const second = vios2.servingHeartbeat(at(710));
      feed(...order([first, second]));
      world.fireDue(at(800));
      return { status: outage(world)?.status, plans: world.plans.map((plan) => plan.hostId) };
    };
    const inOrder = run((events) => events);
    expect(inOrder).toEqual({ status: 'remediating', plans: ['lnxapp01'] });
    expect(run(([a, b]) => [b, a] as FaultlineEvent[])).toEqual(inOrder);
    expect(run(([a, b]) => [a, a, b, a, b] as FaultlineEvent[])).toEqual(inOrder);
  });

  it('heal clients whose symptoms arrive only after the new boot heartbeat, as after an ipl.completed', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    feed(vios2.servingHeartbeat(at(0)));
    vios2.reboot(at(110));
    feed(vios2.servingHeartbeat(at(125)));
    const client = new VscsiClient('lnxlate01', random(SEED));
    feed(client.heartbeat(at(1)), client.rootDegraded(at(105), { receivedat: at(140) }));
    expect(outage(world)).toMatchObject({ status: 'remediating', downAt: at(105), upAt: at(125) });
    world.fireDue(at(185));
    expect(world.plans).toEqual([expect.objectContaining({ hostId: 'lnxlate01', wave: 0 })]);
  });

  it('arm the silence rule from serves alone: a server that never announced anything going silent takes its domain down while its client heartbeats', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    const client = new VscsiClient('lnxapp01', random(SEED));
    feed(vios2.servingHeartbeat(at(0)), client.heartbeat(at(0)), vios2.servingHeartbeat(at(60)));
    for (let beat = 60; beat < 240; beat += 60) feed(client.heartbeat(at(beat)));
    world.fireDue(at(239));
    expect(outage(world)).toBeUndefined();
    world.fireDue(at(240));
    expect(outage(world)).toMatchObject({ downAt: at(60), status: 'awaiting-recovery' });
    expect(world.domains.get(VIOS2)?.servers).toBeUndefined();
  });

  it('take the domain down when the server heartbeats without listing it for the silence period, and back when it lists it again in the same boot', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    const client = new VscsiClient('lnxapp01', random(SEED));
    feed(vios2.servingHeartbeat(at(0)), client.heartbeat(at(0)));
    expect(world.domains.get(VIOS2)?.servers).toEqual(['vios2']);
    feed(vios2.servingHeartbeat(at(60), { serving: false }), client.heartbeat(at(60)));
    expect(world.domains.get(VIOS2)?.servers).toBeUndefined();
    feed(vios2.servingHeartbeat(at(120), { serving: false }), client.heartbeat(at(120)));
    world.fireDue(at(179));
    expect(outage(world)).toBeUndefined();
    world.fireDue(at(180));
    expect(outage(world)).toMatchObject({ downAt: at(0), status: 'awaiting-recovery' });
    expect(timelineOf(world)).toContainEqual(expect.stringMatching(/no longer lists it in serves/));
    // Not taken down twice by the same silence.
    feed(vios2.servingHeartbeat(at(240), { serving: false }));
    world.fireDue(at(400));
    expect(world.timeline.filter((entry) => entry.text.includes('down'))).toHaveLength(1);
    feed(vios2.servingHeartbeat(at(420)));
    expect(outage(world)).toMatchObject({ status: 'remediating', upAt: at(420) });
    // No client was affected: it resolves after the stability period with no page.
    world.fireDue(at(480));
    expect(outage(world)?.status).toBe('resolved');
    expect(world.notifications).toEqual([]);
  });

  it('keep a domain a silent server serves from being taken down again once its clients brought it back', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    feed(vios2.servingHeartbeat(at(0)));
    const clients = outageOfVios2(world);
    world.fireDue(at(600));
    for (const [index, client] of clients.slice(0, 2).entries()) {
      feed(
        client.event(
          'disk.probed',
          client.remoteDisk,
          {
            disk: client.remoteDisk,
            failureDomain: VIOS2,
            deviceState: 'running',
            readable: true,
            partitions: [],
          },
          at(650 + index),
        ),
      );
    }
    expect(outage(world)?.status).toBe('remediating');
    world.fireDue(at(2000));
    expect(timelineOf(world).filter((text) => text.includes('down again'))).toEqual([]);
  });

  it('keep a domain its server announced going down while the server heartbeats on through a long shutdown, still listing it', () => {
    const { world, feed } = worldWith();
    const server = new ServingPartition('vios2', VIOS2, at(-86_400));
    const client = new VscsiClient('lnxapp01', random(SEED));
    feed(server.servingHeartbeat(at(0)), client.heartbeat(at(0)));
    feed({ ...server.goingDown(at(100)), sentby: 'agent:vios2' });
    // IBM i PWRDWNSYS *CNTRLD DELAY(3600), an rc.shutdown stopping a cluster: it serves until the end.
    for (let beat = 1; beat <= 20; beat += 1) feed(server.servingHeartbeat(at(100 + beat * 60)));
    expect(outage(world)?.status).toBe('awaiting-recovery');
  });

  it('ignore a going-down of an earlier boot delivered after the new boot listed the domain again', () => {
    const { world, feed } = worldWith();
    const server = new ServingPartition('vios2', VIOS2, at(-86_400));
    const client = new VscsiClient('lnxapp01', random(SEED));
    feed(server.servingHeartbeat(at(0)), client.heartbeat(at(0)));
    const goingDown = { ...server.goingDown(at(100)), sentby: 'agent:vios2' };
    server.reboot(at(400));
    feed(server.servingHeartbeat(at(460)), client.heartbeat(at(460)));
    // The old boot's announcement, spooled or held by SQS, arrives last.
    feed({ ...goingDown, receivedat: at(470) });
    world.fireDue(at(3000));
    expect(outage(world)).toBeUndefined();
    // In time order the same server ends up serving its domain: down at 100 s, up at its new boot.
    const { world: ordered, feed: feedOrdered } = worldWith();
    const again = new ServingPartition('vios2', VIOS2, at(-86_400));
    feedOrdered(again.servingHeartbeat(at(0)), client.heartbeat(at(0)));
    feedOrdered({ ...again.goingDown(at(100)), sentby: 'agent:vios2' });
    again.reboot(at(400));
    feedOrdered(again.servingHeartbeat(at(460)));
    ordered.fireDue(at(3000));
    expect(outage(ordered)?.status).toBe('resolved');
  });

  it('keep a shutdown announced by an operator or a control domain from being called off by the host heartbeating on', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    feed(vios2.servingHeartbeat(at(0)));
    feed({ ...vios2.goingDown(at(100)), sentby: 'operator:hmc' });
    for (let beat = 1; beat <= 8; beat += 1) feed(vios2.servingHeartbeat(at(100 + beat * 60)));
    expect(outage(world)?.status).toBe('awaiting-recovery');
  });

  it('take a client confirming its storage is back only from a client the outage counts', () => {
    const { world, feed } = worldWith();
    outageOfVios2(world);
    world.fireDue(at(600));
    expect(outage(world)?.status).toBe('awaiting-recovery');
    // A host with no part in the outage (any agent token) reads a disk "on" vios2, then restores a path "on" it.
    const stranger = new VscsiClient('intruder', random(SEED + 1));
    feed(stranger.heartbeat(at(610)));
    feed(
      stranger.event(
        'disk.probed',
        stranger.remoteDisk,
        {
          disk: stranger.remoteDisk,
          failureDomain: VIOS2,
          deviceState: 'running',
          readable: true,
          partitions: [],
        },
        at(650),
      ),
      stranger.event(
        'path.restored',
        'mpatha',
        {
          map: 'mpatha',
          wwid: '360050768018086d1e000000000000001',
          path: 'sdq',
          hctl: '2:0:1:0',
          failureDomain: VIOS2,
          state: 'active',
          activePaths: 2,
        },
        at(660),
      ),
    );
    expect(outage(world)?.status).toBe('awaiting-recovery');
    expect(timelineOf(world)).toContainEqual(
      expect.stringMatching(/intruder is not among its affected clients/),
    );
  });

  it('need two counted clients to confirm: one token that made itself counted with a forged symptom is not enough', () => {
    const { world, feed } = worldWith();
    outageOfVios2(world);
    world.fireDue(at(600));
    const intruder = new VscsiClient('intruder', random(SEED + 1));
    feed(intruder.heartbeat(at(610)), intruder.rootDegraded(at(620)));
    expect(outage(world)?.affectedHosts).toBe(4);
    feed(
      intruder.event(
        'disk.probed',
        intruder.remoteDisk,
        {
          disk: intruder.remoteDisk,
          failureDomain: VIOS2,
          deviceState: 'running',
          readable: true,
          partitions: [],
        },
        at(650),
      ),
    );
    expect(outage(world)?.status).toBe('awaiting-recovery');
    expect(timelineOf(world)).toContainEqual(expect.stringMatching(/1 of the 2 clients needed confirm/));
  });

  it('take a counted client reading a disk again only for a disk of its own member on that domain', () => {
    const { world, feed } = worldWith();
    const [first] = outageOfVios2(world);
    if (first === undefined) throw new Error('no client');
    world.fireDue(at(600));
    feed(
      first.event(
        'disk.probed',
        first.localDisk,
        {
          disk: first.localDisk,
          failureDomain: VIOS2,
          deviceState: 'running',
          readable: true,
          partitions: [],
        },
        at(650),
      ),
    );
    expect(outage(world)?.status).toBe('awaiting-recovery');
  });

  it('learn the domain from an agent announcement of a hosting partition, not from an operator', () => {
    const { world, feed } = worldWith();
    const vios1 = new HostingPartition('vios1', vscsi('vios1'));
    feed(vios1.heartbeat(at(0)));
    const operator: FaultlineEvent = {
      ...vios1.goingDown(at(10)),
      sentby: 'operator:hmc script',
    };
    feed(operator);
    expect(world.hosts.get('vios1')?.served).toBeUndefined();
    feed({ ...vios1.iplCompleted(at(100), at(90)), sentby: 'agent:vios1' });
    expect(world.hosts.get('vios1')?.served?.[vscsi('vios1')]).toMatchObject({ listed: true });
    expect(world.domains.get(vscsi('vios1'))?.servers).toEqual(['vios1']);
  });

  it('reads a slice saved with the single serves of before as an announced domain', () => {
    const host = { ...freshHost('vios2'), role: 'hosting' as const, serves: VIOS2, lastSeenAt: at(0) };
    const decision = decide(
      { control: { paused: false }, domains: {}, hosts: { vios2: host } },
      new HostingPartition('vios2', VIOS2).heartbeat(at(60)),
      at(60),
    );
    const written = decision.slices.hosts.vios2;
    expect(written?.serves).toBeUndefined();
    expect(written?.served?.[VIOS2]).toMatchObject({ vouchedAt: at(60), listed: true });
    expect(written?.wakeAt).toBe(at(240));
  });
});

describe('the timeline of announcements', () => {
  it('names who sent each: the sender ingest stamped, else the event host', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    feed(vios2.servingHeartbeat(at(0)));
    feed({ ...vios2.goingDown(at(10)), sentby: 'agent:vios2' });
    outageOfVios2(world);
    vios2.reboot(at(600));
    feed(vios2.announceIpl(at(610), 'operator:hmc script'));
    const operator = new HostingPartition('operator', VIOS2);
    feed(operator.iplCompleted(at(620), at(600)));
    const texts = timelineOf(world);
    expect(texts).toContainEqual(expect.stringMatching(/down: IPL, announced by agent:vios2/));
    expect(texts).toContainEqual(expect.stringMatching(/up since .*ipl\.completed from operator:hmc script/));
    expect(texts).toContainEqual(expect.stringMatching(/ipl\.completed from operator: .* already up/));
  });
});

describe('an operator announcement', () => {
  it('acts on the domain only: no host slice for the operator, and the timeline names the operator', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    feed(vios2.servingHeartbeat(at(0)));
    const operator = new HostingPartition('operator', VIOS2);
    operator.bootid = 'operator';
    const going = operator.goingDown(at(10));
    const decisions = world.ingest({ ...going, sentby: 'operator:hmc script' });
    expect(decisions.flatMap((decision) => Object.keys(decision.slices.hosts))).toEqual([]);
    outageOfVios2(world);
    feed({ ...operator.iplCompleted(at(700), at(690)), sentby: 'operator:hmc script' });
    expect(world.hosts.has('operator')).toBe(false);
    expect(outage(world)).toMatchObject({ status: 'remediating', affectedHosts: 3 });
    const texts = timelineOf(world);
    expect(texts).toContainEqual(expect.stringMatching(/down: IPL, announced by operator:hmc script/));
    expect(texts).toContainEqual(expect.stringMatching(/up since .*ipl\.completed from operator:hmc script/));
  });
});

describe('a heartbeat whose storage did not change', () => {
  it('still applies its serves, bootid and bootedAt (its storage digest covers arrays, paths and disks only)', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    feed(vios2.servingHeartbeat(at(0)));
    const digestSeq = world.hosts.get('vios2')?.heartbeatSeq;
    outageOfVios2(world);
    feed(vios2.servingHeartbeat(at(60), { serving: false }));
    expect(world.hosts.get('vios2')?.served?.[VIOS2]).toMatchObject({ listed: false });
    expect(world.domains.get(VIOS2)?.servers).toBeUndefined();
    vios2.reboot(at(600));
    feed(vios2.servingHeartbeat(at(620)));
    expect(world.hosts.get('vios2')).toMatchObject({ bootId: vios2.bootid, heartbeatSeq: digestSeq });
    expect(world.domains.get(VIOS2)?.servers).toEqual(['vios2']);
    expect(outage(world)).toMatchObject({ status: 'remediating', upAt: at(620) });
  });
});
