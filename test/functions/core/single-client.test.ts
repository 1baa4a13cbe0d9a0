import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { FaultlineEvent } from '../../../events/index.ts';
import { at, progressOf, random, SEED, VscsiClient, vscsi, worldWith } from '../../helpers/core-fleet.ts';
import { ProbingClient, READABLE, ServingPartition, UNREADABLE } from '../../helpers/core-servers.ts';

const VIOS2 = vscsi('vios2');
const byKind = (world: MemoryWorld, kind: string) =>
  [...world.incidents.values()].filter((incident) => incident.kind === kind);

/**
 * The seed's own layout: one client mirrored over vios1 and vios2, neither running an agent. Its
 * vios2 member fails at 130 s; its heartbeats from 190 s show the disk as `probe` says.
 */
const loneClient = (probe = UNREADABLE, rng = random(SEED)) => {
  const { world, feed } = worldWith();
  const client = new ProbingClient('lnxsolo', rng);
  feed(client.probingHeartbeat(at(10)), client.probingHeartbeat(at(70)));
  feed(client.rootDegraded(at(130)));
  feed(client.probingHeartbeat(at(190), { faulty: 'fall', probe }));
  return { world, feed, client };
};

/** The disk reads again: its `disk.probed` at `time`, then its heartbeat a minute later. */
const readBack = (
  client: ProbingClient,
  time: number,
  faulty: 'fall' | 'both' = 'fall',
): FaultlineEvent[] => [
  client.diskProbed(at(time), READABLE),
  client.probingHeartbeat(at(time + 60), { faulty, probe: READABLE }),
];

describe(`a domain with a single client (seed ${SEED})`, () => {
  it('is an outage of one host after the hold-down when the client cannot read the disk and no server agent heartbeats', () => {
    const { world } = loneClient();
    world.fireDue(at(249));
    expect(byKind(world, 'outage')).toEqual([]);
    world.fireDue(at(250));
    expect(byKind(world, 'local')).toEqual([]);
    expect(byKind(world, 'outage')).toEqual([
      expect.objectContaining({
        failureDomain: VIOS2,
        status: 'awaiting-recovery',
        affectedHosts: 1,
        downAt: at(130),
      }),
    ]);
    expect(world.notifications).toEqual([
      expect.objectContaining({ action: 'trigger', severity: 'error', time: at(250) }),
    ]);
  });

  it('plans only after two read-backs with the same wwid and superblock uuid, and the stability period', () => {
    const { world, feed, client } = loneClient();
    world.fireDue(at(600));
    const [probed, beat] = readBack(client, 900);
    feed(probed as FaultlineEvent);
    expect(byKind(world, 'outage')[0]?.status).toBe('awaiting-recovery');
    feed(beat as FaultlineEvent);
    expect(byKind(world, 'outage')[0]).toMatchObject({ status: 'remediating', upAt: at(960) });
    world.fireDue(at(1019));
    expect(world.plans).toEqual([]);
    world.fireDue(at(1020));
    expect(world.plans).toEqual([expect.objectContaining({ hostId: 'lnxsolo', wave: 0 })]);
    const plan = world.plans[0];
    if (plan === undefined) throw new Error('no plan');
    expect(plan.steps[0]).toMatchObject({
      action: 'disk.probe',
      disk: client.remoteDisk,
      failureDomain: VIOS2,
    });
    for (const event of progressOf(client, plan, 1030, { fastPath: true })) feed(event);
    for (const mirror of client.mirrors) feed(client.healthy(mirror, at(1060), plan.id));
    expect(byKind(world, 'outage')[0]?.status).toBe('resolved');
  });

  it('reads back the same in any order of the two probes', () => {
    const run = (swap: boolean) => {
      const { world, feed, client } = loneClient(UNREADABLE, random(3));
      world.fireDue(at(600));
      const probes = readBack(client, 900);
      feed(...(swap ? [...probes].reverse() : probes));
      return byKind(world, 'outage')[0]?.upAt;
    };
    expect(run(false)).toBe(at(960));
    expect(run(true)).toBe(at(960));
  });

  it('is not brought up by one read alone, by a read of another LUN, or by a disk holding another array', () => {
    const { world, feed, client } = loneClient();
    world.fireDue(at(600));
    feed(client.diskProbed(at(900), READABLE));
    feed(
      client.probingHeartbeat(at(960), {
        faulty: 'fall',
        probe: READABLE,
        wwid: '3600a0b80000000000000000000000bad',
      }),
    );
    expect(byKind(world, 'outage')[0]?.status).toBe('awaiting-recovery');
    feed(client.probingHeartbeat(at(1020), { faulty: 'fall', probe: UNREADABLE }));
    feed(client.diskProbed(at(1050), READABLE, { uuid: 'ffffffff:ffffffff:ffffffff:ffffffff' }));
    feed(client.probingHeartbeat(at(1080), { faulty: 'fall', probe: READABLE }));
    expect(byKind(world, 'outage')[0]?.status).toBe('awaiting-recovery');
    // The disk read twice as itself: up.
    feed(client.diskProbed(at(1100), READABLE));
    expect(byKind(world, 'outage')[0]).toMatchObject({ status: 'remediating', upAt: at(1100) });
  });

  it('goes down again when the disk stops reading within the stability period, and waits for a new read-back', () => {
    const { world, feed, client } = loneClient();
    world.fireDue(at(600));
    feed(...readBack(client, 900));
    expect(byKind(world, 'outage')[0]?.status).toBe('remediating');
    feed(client.probingHeartbeat(at(1000), { faulty: 'fall', probe: UNREADABLE }));
    expect(byKind(world, 'outage')[0]?.status).toBe('awaiting-recovery');
    expect(world.timeline.map((entry) => entry.text)).toContainEqual(
      expect.stringMatching(/down again \(lnxsolo cannot read .* again\): a flap/),
    );
    world.fireDue(at(1100));
    expect(world.plans).toEqual([]);
    feed(...readBack(client, 1200));
    expect(byKind(world, 'outage')[0]).toMatchObject({ status: 'remediating', upAt: at(1260) });
    world.fireDue(at(1320));
    expect(world.plans).toHaveLength(1);
  });

  it('is healed by its server announcing it is back, with no read-back', () => {
    const { world, feed } = loneClient();
    world.fireDue(at(600));
    const vios2 = new ServingPartition('vios2', VIOS2, at(640));
    feed(vios2.announceIpl(at(650), 'operator:hmc script'));
    expect(byKind(world, 'outage')[0]).toMatchObject({ status: 'remediating', upAt: at(650) });
  });

  it('stays a local fault, paged with no plan, while the member disk still reads', () => {
    const { world, feed, client } = loneClient(READABLE);
    world.fireDue(at(250));
    expect(byKind(world, 'outage')).toEqual([]);
    expect(byKind(world, 'local')).toEqual([expect.objectContaining({ hostId: 'lnxsolo', status: 'open' })]);
    feed(client.probingHeartbeat(at(250), { faulty: 'fall', probe: READABLE }));
    world.fireDue(at(3000));
    expect(world.plans).toEqual([]);
    expect(byKind(world, 'outage')).toEqual([]);
  });

  it('stays a local fault when the disk was never probed (an older agent)', () => {
    const { world, feed } = worldWith();
    const client = new VscsiClient('lnxold', random(SEED));
    feed(
      client.heartbeat(at(10)),
      client.rootDegraded(at(130)),
      client.heartbeat(at(190), { faulty: 'fall' }),
    );
    world.fireDue(at(250));
    expect(byKind(world, 'local')).toHaveLength(1);
    expect(byKind(world, 'outage')).toEqual([]);
  });

  it('stays a local fault when the domain has another known client, or a server agent heartbeats', () => {
    const withOther = loneClient();
    withOther.feed(new VscsiClient('lnxother', random(9)).heartbeat(at(20)));
    withOther.world.fireDue(at(250));
    // lnxsolo already counted before lnxother: the domain has two known clients.
    expect(withOther.world.domains.get(VIOS2)?.clients?.count).toBe(2);
    expect(byKind(withOther.world, 'outage')).toEqual([]);
    expect(byKind(withOther.world, 'local')).toHaveLength(1);

    const withServer = loneClient();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    withServer.feed(vios2.servingHeartbeat(at(200)));
    withServer.world.fireDue(at(250));
    expect(byKind(withServer.world, 'outage')).toEqual([]);
    expect(byKind(withServer.world, 'local')).toHaveLength(1);
  });

  it('turns a paged local fault into the outage of one host when its disk stops reading later', () => {
    const { world, feed, client } = loneClient(READABLE);
    world.fireDue(at(250));
    expect(byKind(world, 'local')).toHaveLength(1);
    feed(client.probingHeartbeat(at(310), { faulty: 'fall', probe: UNREADABLE }));
    expect(byKind(world, 'local')[0]?.status).toBe('resolved');
    expect(byKind(world, 'outage')).toEqual([
      expect.objectContaining({ status: 'awaiting-recovery', affectedHosts: 1, downAt: at(130) }),
    ]);
  });

  it('pages critical and plans nothing when the lone client also loses its other half', () => {
    const { world, feed, client } = loneClient();
    world.fireDue(at(600));
    feed(client.rootLost(at(650)));
    feed(...readBack(client, 900, 'both'));
    expect(byKind(world, 'outage')[0]?.status).toBe('remediating');
    world.fireDue(at(2000));
    expect(byKind(world, 'double-fault')).toHaveLength(1);
    expect(world.plans).toEqual([]);
  });
});

describe(`clients confirming an outage of several clients (seed ${SEED})`, () => {
  it('bring it up once two of its clients read back from after it went down, never on one from before', () => {
    const { world, feed } = worldWith();
    const rng = random(SEED);
    const clients = ['lnxa', 'lnxb'].map((name) => new ProbingClient(name, rng));
    for (const client of clients) feed(client.probingHeartbeat(at(1)));
    const [first, second] = clients as [ProbingClient, ProbingClient];
    // A read-back made at 100 s, spooled and delivered after the outage opened at 130 s.
    const spooled = { ...first.diskProbed(at(100), READABLE), receivedat: at(200) };
    feed(first.rootDegraded(at(130)), second.rootDegraded(at(131)), spooled);
    const outage = byKind(world, 'outage')[0];
    expect(outage?.status).toBe('awaiting-recovery');
    feed(second.diskProbed(at(700), READABLE));
    expect(byKind(world, 'outage')[0]?.status).toBe('awaiting-recovery');
    feed(first.diskProbed(at(710), READABLE));
    expect(byKind(world, 'outage')[0]).toMatchObject({ status: 'remediating', upAt: at(710) });
  });
});
