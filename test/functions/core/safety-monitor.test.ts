// The safety checker the order property runs (test/helpers/storm-safety.ts): it must judge plans by
// the storm's own inputs, not by the core's reading of them, and keep judging a plan while it can
// still be fetched.
import { describe, expect, it } from 'vitest';
import { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { FaultlineEvent, PlanStep, UnsignedPlan } from '../../../events/index.ts';
import { type CoreInput, DEFAULT_CORE_CONFIG } from '../../../functions/core/index.ts';
import { at, HostingPartition, random, VscsiClient, vscsi } from '../../helpers/core-fleet.ts';
import { SafetyMonitor } from '../../helpers/storm-safety.ts';

const VIOS1 = vscsi('vios1');
const VIOS2 = vscsi('vios2');

const planOf = (client: VscsiClient, steps: PlanStep[], issuedAt: string): UnsignedPlan => ({
  id: 'pln-test',
  incidentId: 'inc-test',
  hostId: client.hostId,
  attempt: 1,
  wave: 0,
  issuedAt,
  ttlSeconds: 900,
  mode: 'execute',
  steps: [
    {
      action: 'disk.probe',
      disk: client.remoteDisk,
      hctl: client.hctl,
      scsiHost: client.scsiHost,
      failureDomain: VIOS2,
    },
    ...steps,
  ],
});

/** Delivers inputs to the monitor alone: a world that never hears them, like a core that forgets. */
const deliverBlind = (monitor: SafetyMonitor, world: MemoryWorld, inputs: FaultlineEvent[]) => {
  for (const input of inputs) monitor.delivered(input, world);
};

describe('the safety monitor', () => {
  it("judges a domain down from the storm's announcement, though the core's slice says nothing of it", () => {
    const rng = random(1);
    const client = new VscsiClient('lnxa01', rng);
    const vios1 = new HostingPartition('vios1', VIOS1);
    const monitor = new SafetyMonitor(DEFAULT_CORE_CONFIG);
    const world = new MemoryWorld(DEFAULT_CORE_CONFIG);
    deliverBlind(monitor, world, [
      client.heartbeat(at(1)),
      client.rootDegraded(at(100)),
      vios1.goingDown(at(200)),
    ]);
    monitor.issued(
      planOf(
        client,
        [{ action: 'md.fail', array: client.swap.array, member: `${client.remoteDisk}2` }],
        at(400),
      ),
      world,
    );
    const rules = monitor.violations.map((violation) => violation.rule);
    expect(rules).toContain('never fail an in-sync member without an in-sync partner on another up domain');
    expect(rules.some((rule) => rule.startsWith('no plan for a host holding a double fault'))).toBe(true);
  });

  it('flags deleting a disk that still holds an in-sync member', () => {
    const rng = random(2);
    const client = new VscsiClient('lnxb01', rng);
    const monitor = new SafetyMonitor(DEFAULT_CORE_CONFIG);
    const world = new MemoryWorld(DEFAULT_CORE_CONFIG);
    deliverBlind(monitor, world, [client.heartbeat(at(1)), client.rootDegraded(at(100))]);
    monitor.issued(
      planOf(
        client,
        [
          { action: 'md.remove', array: client.root.array, member: `${client.remoteDisk}1` },
          { action: 'scsi.delete', hctl: client.hctl },
        ],
        at(400),
      ),
      world,
    );
    expect(monitor.violations.map((violation) => violation.rule)).toContain(
      'never delete a disk that holds an in-sync member',
    );
  });

  it('flags a plan still fetchable when its host turns critical, unless the core revokes it', () => {
    const rng = random(3);
    const clients = ['lnxc01', 'lnxc02', 'lnxc03'].map((name) => new VscsiClient(name, rng));
    const vios1 = new HostingPartition('vios1', VIOS1);
    const vios2 = new HostingPartition('vios2', VIOS2);
    const monitor = new SafetyMonitor(DEFAULT_CORE_CONFIG);
    const world = new MemoryWorld(DEFAULT_CORE_CONFIG);
    let seen = 0;
    const feed = (...inputs: CoreInput[]) => {
      for (const input of inputs) {
        world.ingest(input);
        monitor.delivered(input, world);
      }
    };
    const settle = (time: number) => {
      world.fireDue(at(time));
      for (; seen < world.plans.length; seen += 1) monitor.issued(world.plans[seen] as UnsignedPlan, world);
    };
    feed(...clients.map((client) => client.heartbeat(at(1))));
    feed(...clients.map((client, index) => client.rootDegraded(at(100 + index))));
    feed(vios2.iplCompleted(at(300), at(290)));
    settle(361);
    expect(world.plans).toHaveLength(1);
    expect(monitor.violations).toEqual([]);
    feed(vios1.goingDown(at(370)));
    settle(400);
    expect(monitor.violations).toEqual([]);
  });
});
