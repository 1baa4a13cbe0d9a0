import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import { at, random, SEED, VscsiClient, vscsi, worldWith } from '../../helpers/core-fleet.ts';
import { ServingPartition } from '../../helpers/core-servers.ts';

/**
 * Lost contact is not an outage (DESIGN §5.2 "when its own heartbeats stop", issue 13 "the demo ends
 * cleanly"): a server's silence takes its domain down only while the control plane still hears the
 * domain's clients.
 */

const VIOS2 = vscsi('vios2');
const incidents = (world: MemoryWorld) => [...world.incidents.values()];
const outage = (world: MemoryWorld) => incidents(world).find((incident) => incident.kind === 'outage');

/** vios2 and three clients heartbeat every minute from 0 s to `until` (inclusive). */
const fleet = (until: number) => {
  const { world, feed } = worldWith();
  const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
  const rng = random(SEED);
  const clients = ['lnxapp01', 'lnxapp02', 'lnxapp03'].map((name) => new VscsiClient(name, rng));
  for (let beat = 0; beat <= until; beat += 60)
    feed(vios2.servingHeartbeat(at(beat)), ...clients.map((client) => client.heartbeat(at(beat))));
  return { world, feed, vios2, clients };
};

describe(`a server's silence (seed ${SEED})`, () => {
  it('opens nothing when its clients fall silent with it, and nothing escalates two hours later', () => {
    const { world } = fleet(600);
    world.fireDue(at(600 + 7200));
    expect(incidents(world)).toEqual([]);
    expect(world.notifications).toEqual([]);
    expect(world.domains.get(VIOS2)).toMatchObject({
      state: 'up',
      silentServers: { vios2: expect.objectContaining({ vouchedAt: at(600) }) },
    });
    // vios2 no longer counts as the domain's server (what §5.3 reads), though nothing went down.
    expect(world.domains.get(VIOS2)?.servers).toBeUndefined();
  });

  it('takes the domain down as before while its clients keep heartbeating: down at the last vouch when the silence falls due, escalated after the limit', () => {
    const { world, feed, clients } = fleet(600);
    for (const beat of [660, 720]) feed(...clients.map((client) => client.heartbeat(at(beat))));
    world.fireDue(at(779));
    expect(outage(world)).toBeUndefined();
    world.fireDue(at(780));
    expect(outage(world)).toMatchObject({ downAt: at(600), status: 'awaiting-recovery' });
    for (let beat = 780; beat <= 2460; beat += 60)
      feed(...clients.map((client) => client.heartbeat(at(beat))));
    expect(outage(world)).toMatchObject({
      downAt: at(600),
      status: 'awaiting-recovery',
      summary: expect.stringContaining('its server vios2 went silent'),
      escalated: true,
    });
    expect(world.notifications).toEqual([
      expect.objectContaining({ action: 'trigger', severity: 'critical' }),
    ]);
  });

  it('takes it down when its clients are heard again while the server still vouches for nothing, at that time', () => {
    const { world, feed, clients } = fleet(600);
    world.fireDue(at(4200));
    expect(incidents(world)).toEqual([]);
    const [first] = clients;
    if (first === undefined) throw new Error('no client');
    feed(first.heartbeat(at(4210)));
    expect(outage(world)).toMatchObject({
      downAt: at(4210),
      summary: expect.stringMatching(/went silent at .*lost contact.*lnxapp\d+ was heard at/),
    });
  });

  it('opens nothing when the server is heard again before its clients', () => {
    const { world, feed, vios2, clients } = fleet(600);
    world.fireDue(at(4200));
    feed(vios2.servingHeartbeat(at(4200)), ...clients.map((client) => client.heartbeat(at(4205))));
    expect(world.domains.get(VIOS2)?.silentServers).toBeUndefined();
    expect(world.domains.get(VIOS2)?.servers).toEqual(['vios2']);
    // All fall silent again: a lost contact again.
    world.fireDue(at(6000));
    expect(incidents(world)).toEqual([]);
  });

  it('opens nothing for a domain with no known client, until a client of it is known and heard', () => {
    const { world, feed } = worldWith();
    const vios2 = new ServingPartition('vios2', VIOS2, at(-86_400));
    feed(vios2.servingHeartbeat(at(0)), vios2.servingHeartbeat(at(60)));
    world.fireDue(at(3600));
    expect(incidents(world)).toEqual([]);
    const client = new VscsiClient('lnxnew01', random(SEED));
    feed(client.heartbeat(at(3700)));
    expect(outage(world)).toMatchObject({ downAt: at(3700), status: 'awaiting-recovery' });
  });
});
