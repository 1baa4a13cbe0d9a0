import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { UnsignedPlan } from '../../../events/index.ts';
import { OperatorCommand } from '../../../functions/core/index.ts';
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

/**
 * Operator commands in the timeline (docs/architecture.md §5.7): each entry names who acted, by the
 * label and the id of the operator token that sent the command (a label anyone may mint, the id
 * no one else has), and a command queued before commands carried them still reads.
 */

const VIOS2 = vscsi('vios2');

/** An outage of vios2's clients in approve mode, its server back: waiting for an operator. */
const waitingOutage = (): { world: MemoryWorld; incidentId: string } => {
  const rng = random(SEED + 40);
  const clients = hostNames(rng, 3).map((name) => new VscsiClient(name, rng));
  const vios2 = new HostingPartition('vios2', VIOS2);
  const { world, feed } = worldWith({
    runbooks: { 'md-vscsi': 'approve', 'svm-ldoms': 'auto', multipath: 'auto' },
  });
  feed(...clients.map((client) => client.heartbeat(at(0))));
  feed(...clients.map((client, index) => client.rootDegraded(at(10 + index))));
  feed(vios2.iplCompleted(at(300), at(290)));
  world.fireDue(at(1000));
  const incidentId = [...world.incidents.values()].find((incident) => incident.kind === 'outage')?.id;
  if (incidentId === undefined) throw new Error('the scenario opened no outage');
  return { world, incidentId };
};

const operatorEntries = (world: MemoryWorld): string[] =>
  world.timeline
    .filter((entry) => entry.kind === 'operator' || entry.kind === 'resolved')
    .map((entry) => entry.text);

const ALICE = 'tok-0123456789abcdef';
const IMPOSTOR = 'tok-fedcba9876543210';

describe('operator commands in the timeline', () => {
  it("names the operator token's label and id that paused, approved, resumed and resolved", () => {
    const { world, incidentId } = waitingOutage();
    world.ingest({
      type: 'operator.pause',
      id: 'cmd-1',
      at: at(1001),
      by: { tokenId: ALICE, label: 'alice' },
    });
    world.ingest({
      type: 'operator.approve',
      id: 'cmd-2',
      at: at(1002),
      by: { tokenId: IMPOSTOR, label: 'alice' },
      incidentId,
      failureDomain: VIOS2,
    });
    world.ingest({ type: 'operator.resume', id: 'cmd-3', at: at(1003), by: { tokenId: IMPOSTOR } });
    world.ingest({
      type: 'operator.resolve',
      id: 'cmd-4',
      at: at(1004),
      by: { tokenId: ALICE, label: 'alice' },
      incidentId,
      failureDomain: VIOS2,
    });
    // Two tokens both labelled "alice" stay apart by their ids; the label still leads, so the
    // entry reads "dispatch paused by alice" as before.
    expect(operatorEntries(world)).toEqual([
      `dispatch paused by alice (${ALICE}, cmd-1)`,
      `wave 0 approved by alice (${IMPOSTOR}, cmd-2)`,
      `dispatch resumed by an operator (${IMPOSTOR}, cmd-3)`,
      `resolved: resolved by alice (${ALICE}, cmd-4)`,
    ]);
  });

  it("reads a command queued before token ids were stamped by its token's label alone", () => {
    const { world, incidentId } = waitingOutage();
    world.ingest({ type: 'operator.pause', id: 'cmd-1', at: at(1001), by: 'alice@ops' });
    world.ingest({
      type: 'operator.approve',
      id: 'cmd-2',
      at: at(1002),
      by: 'bob',
      incidentId,
      failureDomain: VIOS2,
    });
    world.ingest({ type: 'operator.resume', id: 'cmd-3', at: at(1003), by: 'alice@ops' });
    world.ingest({
      type: 'operator.resolve',
      id: 'cmd-4',
      at: at(1004),
      by: 'night shift',
      incidentId,
      failureDomain: VIOS2,
    });
    expect(operatorEntries(world)).toEqual([
      'dispatch paused by alice@ops (cmd-1)',
      'wave 0 approved by bob (cmd-2)',
      'dispatch resumed by alice@ops (cmd-3)',
      'resolved: resolved by night shift (cmd-4)',
    ]);
  });

  it('reads a command queued before commands named their sender as "an operator"', () => {
    const { world, incidentId } = waitingOutage();
    const queuedLongAgo = [
      { type: 'operator.pause', id: 'cmd-old-1', at: at(1001) },
      { type: 'operator.approve', id: 'cmd-old-2', at: at(1002), incidentId, failureDomain: VIOS2 },
      { type: 'operator.resume', id: 'cmd-old-3', at: at(1003) },
      { type: 'operator.resolve', id: 'cmd-old-4', at: at(1004), incidentId, failureDomain: VIOS2 },
    ];
    for (const body of queuedLongAgo) world.ingest(OperatorCommand.parse(body));
    expect(operatorEntries(world)).toEqual([
      'dispatch paused by an operator (cmd-old-1)',
      'wave 0 approved by an operator (cmd-old-2)',
      'dispatch resumed by an operator (cmd-old-3)',
      'resolved: resolved by an operator (cmd-old-4)',
    ]);
  });

  it("names who lifted a domain's halt after its canary failed", () => {
    const rng = random(SEED + 41);
    const clients = hostNames(rng, 3).map((name) => new VscsiClient(name, rng));
    const vios2 = new HostingPartition('vios2', VIOS2);
    const { world, feed } = worldWith();
    feed(...clients.map((client) => client.heartbeat(at(0))));
    feed(...clients.map((client, index) => client.rootDegraded(at(10 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    world.fireDue(at(360));
    const canary = world.plans[0] as UnsignedPlan;
    const client = clients.find((candidate) => candidate.hostId === canary.hostId) as VscsiClient;
    feed(...progressOf(client, canary, 400, { failAt: 1, outcome: 'failed' }));
    const outage = [...world.incidents.values()].find((incident) => incident.kind === 'outage');
    expect(outage?.status).toBe('halted');

    world.ingest({
      type: 'operator.resume',
      id: 'cmd-9',
      at: at(500),
      by: 'ops-oncall',
      failureDomain: VIOS2,
    });
    expect(operatorEntries(world)).toEqual(['resumed by ops-oncall (cmd-9)']);
  });

  it('accepts as a sender only a token id with what a token label may be, or such a label alone', () => {
    const pause = { type: 'operator.pause', id: 'cmd-1', at: at(1) };
    for (const by of ['ops-oncall', { tokenId: ALICE, label: 'ops-oncall' }, { tokenId: ALICE }]) {
      expect(OperatorCommand.safeParse({ ...pause, by }).success, JSON.stringify(by)).toBe(true);
    }
    for (const by of [
      '',
      '<script>',
      'line\nbreak',
      'x'.repeat(65),
      { label: 'alice' },
      { tokenId: 'alice', label: 'alice' },
      { tokenId: 'tok-0123456789ABCDEF' },
      { tokenId: ALICE, label: '<script>' },
      { tokenId: ALICE, label: 'alice', admin: true },
    ]) {
      expect(OperatorCommand.safeParse({ ...pause, by }).success, JSON.stringify(by)).toBe(false);
    }
  });
});
