// The safety checker the order property runs (test/helpers/storm-safety.ts): it must judge plans by
// the storm's own inputs, not by the core's reading of them, and keep judging a plan while it can
// still be fetched.
import { describe, expect, it } from 'vitest';
import { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { FaultlineEvent, PlanStep, UnsignedPlan } from '../../../events/index.ts';
import { type CoreInput, DEFAULT_CORE_CONFIG } from '../../../functions/core/index.ts';
import { at, HostingPartition, random, VscsiClient, vscsi } from '../../helpers/core-fleet.ts';
import { LdomsGuest } from '../../helpers/core-ldoms.ts';
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

  describe('walks the steps of issue 14', () => {
    const rng = random(4);
    const client = new VscsiClient('lnxz01', rng);
    const stale = { array: client.root.array, member: `${client.remoteDisk}1` };
    const verify: PlanStep = {
      action: 'disk.verify',
      disk: client.remoteDisk,
      hctl: client.hctl,
      partitions: [{ device: stale.member, array: stale.array, uuid: client.root.uuid }],
    };
    const zero: PlanStep = { action: 'md.zero-superblock', ...stale, uuid: client.root.uuid };
    const add: PlanStep = { action: 'md.add', ...stale, uuid: client.root.uuid };
    const rulesOf = (steps: PlanStep[], inputs: FaultlineEvent[] = []) => {
      const monitor = new SafetyMonitor(DEFAULT_CORE_CONFIG);
      const world = new MemoryWorld(DEFAULT_CORE_CONFIG);
      deliverBlind(monitor, world, [client.heartbeat(at(1)), client.rootDegraded(at(100)), ...inputs]);
      monitor.issued(planOf(client, steps, at(400)), world);
      return monitor.violations.map((violation) => violation.rule);
    };
    const remove: PlanStep = { action: 'md.remove', ...stale };

    it('passes a stale member removed, its disk verified, zeroed right before its add', () => {
      expect(rulesOf([remove, verify, zero, add]).filter((rule) => rule.includes('zero-superblock'))).toEqual(
        [],
      );
    });

    it('flags zeroing a member the plan did not remove, on a disk it did not verify, not right before its add', () => {
      expect(rulesOf([zero])).toEqual(
        expect.arrayContaining([
          'md.zero-superblock only of a member the plan removed',
          'md.zero-superblock only on a disk the plan verified',
          'md.zero-superblock right before the md.add of its member',
        ]),
      );
    });

    it('flags zeroing an in-sync member', () => {
      const inSync = { array: client.swap.array, member: `${client.remoteDisk}2` };
      expect(
        rulesOf([verify, { action: 'md.zero-superblock', ...inSync, uuid: client.swap.uuid }]),
      ).toContain('never zero the superblock of an in-sync member');
    });

    it('flags zeroing a member whose array keeps no in-sync member on another up domain', () => {
      const vios1 = new HostingPartition('vios1', VIOS1);
      expect(rulesOf([remove, verify, zero, add], [vios1.goingDown(at(200))])).toContain(
        'md.zero-superblock only while an in-sync member on another up domain remains',
      );
    });

    it('flags a metadb restore before its wait-sync, or of a disk the plan did not repair', () => {
      const guest = new LdomsGuest('ldg-z01', { c0d0: 'vdisk:t5/primary', c0d1: 'vdisk:t5/alternate' });
      const monitor = new SafetyMonitor(DEFAULT_CORE_CONFIG);
      const world = new MemoryWorld(DEFAULT_CORE_CONFIG);
      deliverBlind(monitor, world, [guest.heartbeat(at(1)), guest.degraded(at(100))]);
      const plan = (steps: PlanStep[]): UnsignedPlan => ({
        ...planOf(client, [], at(400)),
        id: `pln-${steps.length}`,
        hostId: guest.hostId,
        steps: [{ action: 'disk.probe', disk: 'c0d1', failureDomain: 'vdisk:t5/alternate' }, ...steps],
      });
      const replace: PlanStep = { action: 'svm.metareplace', mirror: 'd10', component: 'c0d1s0' };
      const wait: PlanStep = { action: 'svm.wait-sync', mirror: 'd10', stallSeconds: 600 };
      const restore = (slice: string): PlanStep => ({ action: 'svm.metadb-restore', slice, count: 3 });
      monitor.issued(plan([replace, restore('c0d1s7'), wait]), world);
      monitor.issued(plan([replace, wait, restore('c0d0s7'), restore('c0d1s7')]), world);
      expect(monitor.violations.map((violation) => violation.rule)).toEqual(
        expect.arrayContaining([
          'svm.metadb-restore only after svm.wait-sync',
          'svm.metadb-restore only of a slice on a disk the plan repaired',
        ]),
      );
      expect(
        monitor.violations.filter((violation) => violation.rule.startsWith('svm.metadb-restore')),
      ).toHaveLength(2);
    });
  });
});
