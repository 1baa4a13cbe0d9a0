// Issue 14's runbooks in the core (DESIGN §4 v3): md arrays without a write-intent bitmap, hosts with
// several disks on the returned server, SCSI legs left offline, state database replicas left in
// error on a returned disk, and agents that lack an action.
import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { FaultlineEvent, PlanStep, UnsignedPlan } from '../../../events/index.ts';
import { DEFAULT_CORE_CONFIG } from '../../../functions/core/index.ts';
import {
  at,
  HostingPartition,
  progressOf,
  random,
  SAN_PORT,
  SEED,
  vscsi,
  worldWith,
} from '../../helpers/core-fleet.ts';
import { ControlDomain } from '../../helpers/core-ldoms.ts';
import {
  type ClientDisk,
  type ClientMirror,
  LINUX_ACTIONS_BEFORE,
  MdClient,
  MultipathHost,
  ReplicaGuest,
} from '../../helpers/core-runbooks.ts';
import { SafetyMonitor } from '../../helpers/storm-safety.ts';

const VIOS2 = vscsi('vios2');
const actions = (steps: readonly PlanStep[] | undefined) => (steps ?? []).map((step) => step.action);
const byArray = (a: ClientMirror, b: ClientMirror) => (a.array < b.array ? -1 : a.array > b.array ? 1 : 0);
const plansOf = (world: MemoryWorld, hostId: string) => world.plans.filter((plan) => plan.hostId === hostId);
const pages = (world: MemoryWorld) =>
  world.notifications.filter((notification) => notification.action === 'trigger');

/**
 * vios2 announces its IPL at 100 s; each client loses the vios2 half of the mirrors `faulty` names at
 * 110 s; vios2 is back at 700 s. The clients heartbeat every minute (healthy once `healed` names them),
 * vios2 too once back; then the timers due by each minute, up to `until`.
 */
const vios2Ipl = (clients: MdClient[], faulty: (client: MdClient) => ClientMirror[]) => {
  const vios2 = new HostingPartition('vios2', VIOS2);
  const { world, feed } = worldWith();
  feed(vios2.heartbeat(at(0)), ...clients.map((client) => client.heartbeat(at(1))));
  feed(vios2.goingDown(at(100)));
  clients.forEach((client, index) => {
    feed(...faulty(client).map((mirror) => client.degraded(mirror, at(110 + index))));
  });
  const healed = new Set<string>();
  let beat = 110;
  const advance = (until: number) => {
    while (beat + 60 <= until) {
      beat += 60;
      if (beat >= 700 && beat - 60 < 700) feed(vios2.iplCompleted(at(700), at(690)));
      if (beat >= 700) feed(vios2.heartbeat(at(beat)));
      for (const client of clients)
        feed(client.heartbeat(at(beat), healed.has(client.hostId) ? [] : faulty(client)));
      world.fireDue(at(beat));
    }
    world.fireDue(at(until));
  };
  /** Plays a plan back as the agent would run its steps, then its arrays healthy. */
  const heal = (client: MdClient, plan: UnsignedPlan, time: number) => {
    for (const event of progressOf(client, plan, time)) feed(event);
    for (const mirror of client.mirrors) feed(client.healthy(mirror, at(time + 30), plan.id));
    healed.add(client.hostId);
  };
  return { world, feed, advance, heal };
};

/** One disk's field order as DESIGN §1 gives it, members by array name. */
const fieldOrder = (client: MdClient, disk: ClientDisk, failed: readonly ClientMirror[]): PlanStep[] => {
  const mirrors = client.mirrors.filter((mirror) => client.diskOf(mirror, 'fall') === disk).sort(byArray);
  const [, channel, target, lun] = disk.hctl.split(':').map(Number);
  const member = (mirror: ClientMirror) => ({ array: mirror.array, member: client.device(mirror, 'fall') });
  return [
    ...mirrors
      .filter((mirror) => !failed.includes(mirror))
      .map((mirror): PlanStep => ({ action: 'md.fail', ...member(mirror) })),
    ...mirrors.map((mirror): PlanStep => ({ action: 'md.remove', ...member(mirror) })),
    { action: 'scsi.delete', hctl: disk.hctl },
    {
      action: 'scsi.rescan',
      scsiHost: disk.scsiHost,
      channel: channel ?? 0,
      target: target ?? 0,
      lun: lun ?? 0,
    },
    {
      action: 'disk.verify',
      disk: disk.disk,
      hctl: disk.hctl,
      sizeBytes: 53_687_091_200,
      partitions: mirrors.map((mirror) => ({
        device: client.device(mirror, 'fall'),
        array: mirror.array,
        uuid: mirror.uuid,
      })),
    },
    ...mirrors.flatMap((mirror): PlanStep[] => [
      ...(mirror.bitmap === false
        ? [{ action: 'md.zero-superblock' as const, ...member(mirror), uuid: mirror.uuid }]
        : []),
      { action: 'md.add', ...member(mirror), uuid: mirror.uuid },
    ]),
  ];
};

describe(`the runbooks of issue 14 (seed ${SEED})`, () => {
  it('zeroes the superblock right before md.add in an array without a write-intent bitmap, and in the fast path only its stale member', () => {
    const rng = random(SEED);
    // The root mirror has no bitmap (as the seed's own install); the swap mirror has one.
    const client = new MdClient('lnxnob01', rng, { bitmap: (mirror) => mirror !== 'root' });
    const root = client.mirror('root');
    const swap = client.mirror('swap');
    const { world, advance } = vios2Ipl([client], () => [root]);
    advance(759);
    expect(world.plans).toHaveLength(0);
    advance(760);
    const [plan] = plansOf(world, client.hostId);
    if (plan === undefined) throw new Error('no plan went out');
    const disk = client.disks.root.fall;
    const stale = { array: root.array, member: client.device(root, 'fall') };

    expect(plan.steps).toEqual([
      {
        action: 'disk.probe',
        disk: disk.disk,
        hctl: disk.hctl,
        scsiHost: disk.scsiHost,
        failureDomain: VIOS2,
      },
      ...fieldOrder(client, disk, [root]),
      ...[root, swap].sort(byArray).map((mirror) => ({
        action: 'md.wait-sync',
        array: mirror.array,
        stallSeconds: 600,
      })),
    ]);
    // Every zeroing sits right before the add of the same member; the bitmap array keeps its plain add.
    const zeroes = plan.steps.flatMap((step, index) => (step.action === 'md.zero-superblock' ? [index] : []));
    expect(zeroes).toHaveLength(1);
    expect(plan.steps[zeroes[0] as number]).toEqual({
      action: 'md.zero-superblock',
      ...stale,
      uuid: root.uuid,
    });
    expect(plan.steps[(zeroes[0] as number) + 1]).toEqual({ action: 'md.add', ...stale, uuid: root.uuid });
    // The fast path verifies the disk (the agent zeroes only on a verified disk), then the stale member alone.
    expect(plan.fastPath).toEqual([
      {
        action: 'disk.verify',
        disk: disk.disk,
        hctl: disk.hctl,
        sizeBytes: 53_687_091_200,
        partitions: [root, swap].sort(byArray).map((mirror) => ({
          device: client.device(mirror, 'fall'),
          array: mirror.array,
          uuid: mirror.uuid,
        })),
      },
      { action: 'md.remove', ...stale },
      { action: 'md.zero-superblock', ...stale, uuid: root.uuid },
      { action: 'md.add', ...stale, uuid: root.uuid },
      { action: 'md.wait-sync', array: root.array, stallSeconds: 600 },
    ]);
  });

  it('keeps the fast path of a disk whose arrays all have a bitmap as it was: remove, add, wait', () => {
    const rng = random(SEED + 1);
    const client = new MdClient('lnxbmp01', rng);
    const root = client.mirror('root');
    const { world, advance } = vios2Ipl([client], () => [root]);
    advance(760);
    const stale = { array: root.array, member: client.device(root, 'fall') };
    expect(plansOf(world, client.hostId)[0]?.fastPath).toEqual([
      { action: 'md.remove', ...stale },
      { action: 'md.add', ...stale, uuid: root.uuid },
      { action: 'md.wait-sync', array: root.array, stallSeconds: 600 },
    ]);
    expect(actions(plansOf(world, client.hostId)[0]?.steps)).not.toContain('md.zero-superblock');
  });

  it('plans a host whose root and data disks both come from the returned VIOS once: each disk probed, then the field order disk by disk', () => {
    const rng = random(SEED + 2);
    const client = new MdClient('lnxtwo01', rng, { dataDisk: true });
    const root = client.mirror('root');
    const data = client.mirror('data');
    const { world, advance, heal } = vios2Ipl([client], () => [root, data]);
    advance(760);
    expect(plansOf(world, client.hostId)).toHaveLength(1);
    const [plan] = plansOf(world, client.hostId) as [UnsignedPlan];
    const disks = [client.disks.root.fall, client.disks.data.fall].sort((a, b) => (a.disk < b.disk ? -1 : 1));
    const probe = (disk: ClientDisk): PlanStep => ({
      action: 'disk.probe',
      disk: disk.disk,
      hctl: disk.hctl,
      scsiHost: disk.scsiHost,
      failureDomain: VIOS2,
    });
    expect(plan.steps).toEqual([
      ...disks.map(probe),
      ...disks.flatMap((disk) => fieldOrder(client, disk, [root, data])),
      ...[...client.mirrors].sort(byArray).map((mirror) => ({
        action: 'md.wait-sync',
        array: mirror.array,
        stallSeconds: 600,
      })),
    ]);
    // The fast path: each disk checked before it is touched (the agent's first probe looked at one).
    const fast = (disk: ClientDisk): string[] => {
      const mirror = disk === client.disks.root.fall ? root : data;
      return ['disk.verify', 'md.remove', 'md.add'].map((action) =>
        action === 'disk.verify' ? `${action} ${disk.disk}` : `${action} ${client.device(mirror, 'fall')}`,
      );
    };
    expect(
      (plan.fastPath ?? []).map((step) =>
        step.action === 'disk.verify'
          ? `${step.action} ${step.disk}`
          : 'member' in step
            ? `${step.action} ${step.member}`
            : `${step.action} ${'array' in step ? step.array : ''}`,
      ),
    ).toEqual([
      ...disks.flatMap(fast),
      ...[root, data].sort(byArray).map((mirror) => `md.wait-sync ${mirror.array}`),
    ]);

    heal(client, plan, 800);
    advance(900);
    expect(plansOf(world, client.hostId)).toHaveLength(1);
    expect([...world.incidents.values()]).toEqual([
      expect.objectContaining({ kind: 'outage', status: 'resolved', affectedHosts: 1 }),
    ]);
  });

  it('sends no plan to a host whose agent lacks an action its plan needs: it is paged with the action named, and the next host is the canary', () => {
    const rng = random(SEED + 3);
    const noBitmap = () => false;
    const older = new MdClient('lnxa01', rng, { bitmap: noBitmap, capabilities: LINUX_ACTIONS_BEFORE });
    const newer = new MdClient('lnxb01', rng, { bitmap: noBitmap });
    const { world, advance } = vios2Ipl([older, newer], (client) => [client.mirror('root')]);
    advance(760);
    expect(plansOf(world, older.hostId)).toEqual([]);
    expect(plansOf(world, newer.hostId)).toEqual([expect.objectContaining({ wave: 0 })]);
    expect(Object.values(world.hosts.get(older.hostId)?.episodes ?? {})).toEqual([
      expect.objectContaining({ status: 'skipped', reason: expect.stringContaining('md.zero-superblock') }),
    ]);
    expect(pages(world)).toContainEqual(
      expect.objectContaining({
        severity: 'critical',
        summary: expect.stringMatching(new RegExp(`^${older.hostId} needs a person: .*md\\.zero-superblock`)),
      }),
    );
  });

  it('pages, with no plan, a host that does not say whether its array has a write-intent bitmap', () => {
    const rng = random(SEED + 4);
    const client = new MdClient('lnxunk01', rng, {
      bitmap: (mirror) => (mirror === 'root' ? undefined : true),
    });
    const { world, advance } = vios2Ipl([client], () => [client.mirror('root')]);
    advance(760);
    expect(world.plans).toEqual([]);
    expect(pages(world)).toContainEqual(
      expect.objectContaining({
        summary: expect.stringContaining(
          `whether ${client.mirror('root').array} has a write-intent bitmap is unknown`,
        ),
      }),
    );
  });
});

describe(`an offline SCSI leg (seed ${SEED})`, () => {
  /**
   * A SAN port goes away at 300 s under four hosts. `dbsan01`'s leg, active until then, stays
   * `offline`; `dbsan02`'s leg had been taken offline at -500 s (a local fault, paged then); the two
   * others come back by themselves at 400 s. Every host heartbeats each minute as its leg is.
   */
  const portOutage = (options: { capabilities?: MultipathHost['capabilities'] } = {}) => {
    const hosts = ['dbsan01', 'dbsan02', 'dbsan03', 'dbsan04'].map(
      (name) => new MultipathHost(name, name === 'dbsan01' ? options.capabilities : undefined),
    ) as [MultipathHost, MultipathHost, MultipathHost, MultipathHost];
    const [offlined, offlineBefore, ...others] = hosts;
    const { world, feed } = worldWith();
    const states = new Map(
      hosts.map((host) => [host.hostId, 'active' as const as 'active' | 'offline' | 'failed']),
    );
    const inputs: { time: number; event: () => FaultlineEvent }[] = [
      { time: -600, event: () => offlineBefore.heartbeat(at(-600), 'active') },
      {
        time: -500,
        event: () => {
          states.set(offlineBefore.hostId, 'offline');
          return offlineBefore.path('path.lost', at(-500), 'offline');
        },
      },
      ...hosts.map((host, index) => ({
        time: 1 + index,
        event: () => host.heartbeat(at(1 + index), states.get(host.hostId) ?? 'active'),
      })),
      {
        time: 300,
        event: () => {
          states.set(offlined.hostId, 'offline');
          return offlined.path('path.lost', at(300), 'offline');
        },
      },
      ...others.map((host, index) => ({
        time: 301 + index,
        event: () => {
          states.set(host.hostId, 'failed');
          return host.path('path.lost', at(301 + index), 'failed');
        },
      })),
      ...others.map((host, index) => ({
        time: 400 + index,
        event: () => {
          states.set(host.hostId, 'active');
          return host.path('path.restored', at(400 + index), 'active');
        },
      })),
    ];
    for (let beat = 60; beat <= 1200; beat += 60) {
      for (const host of hosts)
        inputs.push({
          time: beat + 0.5,
          event: () => host.heartbeat(at(beat + 0.5), states.get(host.hostId) ?? 'active'),
        });
    }
    inputs.sort((a, b) => a.time - b.time);
    let next = 0;
    const advance = (until: number) => {
      for (; next < inputs.length && (inputs[next]?.time ?? Number.POSITIVE_INFINITY) <= until; next += 1) {
        const input = inputs[next] as { time: number; event: () => FaultlineEvent };
        world.fireDue(at(input.time));
        feed(input.event());
      }
      world.fireDue(at(until));
    };
    /** The host's agent runs its plan and its leg comes back. */
    const heal = (host: MultipathHost, plan: UnsignedPlan, time: number) => {
      for (const event of progressOf(host, plan, time)) feed(event);
      states.set(host.hostId, 'active');
      feed(host.path('path.restored', at(time + 20), 'active', plan.id));
    };
    return { world, hosts, advance, heal };
  };

  it('brings a leg the outage set offline back online right before its reinstate, and never one offline before the outage', () => {
    const { world, hosts, advance, heal } = portOutage();
    const [offlined, offlineBefore] = hosts;
    advance(700);
    const [canary] = world.plans;
    expect(canary).toMatchObject({ hostId: offlined.hostId, wave: 0 });
    expect(canary?.steps).toEqual([
      { action: 'disk.probe', disk: 'sdq', hctl: '2:0:1:3', failureDomain: SAN_PORT },
      { action: 'scsi.online', hctl: '2:0:1:3', disk: 'sdq' },
      { action: 'multipath.reinstate', map: 'mpatha', path: 'sdq', checkSeconds: 30 },
    ]);
    heal(offlined, canary as UnsignedPlan, 710);
    advance(800);
    const next = plansOf(world, offlineBefore.hostId);
    expect(next).toHaveLength(1);
    expect(next[0]?.steps).toEqual([
      { action: 'disk.probe', disk: 'sdq', hctl: '2:0:1:3', failureDomain: SAN_PORT },
      { action: 'multipath.reinstate', map: 'mpatha', path: 'sdq', checkSeconds: 30 },
    ]);
  });

  it('pages a host whose agent cannot set its leg online, naming scsi.online, and sends it no plan', () => {
    const { world, hosts, advance } = portOutage({ capabilities: LINUX_ACTIONS_BEFORE });
    const [offlined, offlineBefore] = hosts;
    advance(700);
    expect(plansOf(world, offlined.hostId)).toEqual([]);
    expect(world.plans[0]).toMatchObject({ hostId: offlineBefore.hostId, wave: 0 });
    expect(pages(world)).toContainEqual(
      expect.objectContaining({
        summary: `${offlined.hostId} needs a person: the plan needs scsi.online, which its agent does not run (not in its heartbeat's capabilities)`,
      }),
    );
  });
});

/**
 * The alternate service domain of t5-control stops at 100 s and runs again at 500 s (booted at 490 s);
 * the guest's `c0d1s0` goes to Maintenance at 120 s, and from then on its heartbeats give its replicas
 * as `afterStop` says. The control domain and the guest heartbeat every minute up to `until`; each
 * input goes to the world and to the §5 safety monitor, and each plan to the monitor as it is issued.
 */
const alternateReboot = (guest: ReplicaGuest, afterStop: ReplicaGuest['replicas'], until = 600) => {
  const { world, feed } = worldWith();
  const monitor = new SafetyMonitor(DEFAULT_CORE_CONFIG);
  const control = new ControlDomain('t5-control', at(-86_400));
  const issued = new Set<string>();
  const deliver = (event: FaultlineEvent) => {
    feed(event);
    monitor.delivered(event, world);
    for (const plan of world.plans) {
      if (issued.has(plan.id)) continue;
      issued.add(plan.id);
      monitor.issued(plan, world);
    }
  };
  const script: { time: number; event: () => FaultlineEvent }[] = [
    { time: 100, event: () => control.goingDown('alternate', at(100)) },
    {
      time: 120,
      event: () => {
        guest.replicas = afterStop;
        return guest.degraded(at(120));
      },
    },
    { time: 500, event: () => control.rebooted('alternate', at(500), at(490)) },
  ];
  for (let beat = 0; beat <= until; beat += 60) {
    const running = beat >= 100 && beat < 500 ? ['primary'] : ['primary', 'alternate'];
    script.push({
      time: beat,
      event: () => control.heartbeat(at(beat), { running, guests: guest.guestDisks(control) }),
    });
    script.push({
      time: beat + 1,
      event: () => guest.heartbeat(at(beat + 1), beat >= 120 ? { alternate: 'maintenance' } : {}),
    });
  }
  for (const { event } of script.sort((a, b) => a.time - b.time)) deliver(event());
  world.fireDue(at(until));
  return { world, control, monitor, deliver };
};

const restoreSteps = (steps: readonly PlanStep[]) =>
  steps.filter((step) => step.action === 'svm.metadb-restore');

describe('state database replicas left in error on a returned disk (DESIGN §4 svm.metadb-restore)', () => {
  it('re-creates the replicas the returned disk kept in error after the wait-sync, and the guest heals', () => {
    const guest = new ReplicaGuest('ldg-erp01');
    const { world, control, monitor, deliver } = alternateReboot(guest, {
      c0d0s7: 'active',
      c0d1s7: 'erred',
    });
    expect(world.plans).toHaveLength(1);
    const plan = world.plans[0] as UnsignedPlan;
    expect(plan.steps).toEqual([
      { action: 'disk.probe', disk: 'c0d1', failureDomain: control.alternate },
      { action: 'svm.metareplace', mirror: 'd10', component: 'c0d1s0' },
      { action: 'svm.wait-sync', mirror: 'd10', stallSeconds: DEFAULT_CORE_CONFIG.stallSeconds },
      { action: 'svm.metadb-restore', slice: 'c0d1s7', count: 3 },
    ]);
    expect(monitor.violations).toEqual([]);
    guest.replicas = { c0d0s7: 'active', c0d1s7: 'active' };
    for (const event of progressOf(guest, plan, 620)) deliver(event);
    deliver(guest.healthy(at(640), plan.id));
    world.fireDue(at(700));
    expect([...world.incidents.values()]).toEqual([
      expect.objectContaining({ kind: 'outage', status: 'resolved', affectedHosts: 1 }),
    ]);
    expect(monitor.violations).toEqual([]);
  });

  it('pages, with no plan, a guest whose replicas are in error on the disk that stayed: its agent would refuse the metareplace', () => {
    const guest = new ReplicaGuest('ldg-erp02');
    const { world } = alternateReboot(guest, { c0d0s7: 'erred', c0d1s7: 'erred' });
    expect(world.plans).toEqual([]);
    expect(pages(world)).toContainEqual(
      expect.objectContaining({
        severity: 'critical',
        summary: `${guest.hostId} needs a person: state database replicas in error off c0d1, the disk being repaired: c0d0s7 (3 of 3 in error); its agent refuses svm.metareplace then (metadb-unhealthy)`,
      }),
    );
  });

  it('repairs a guest whose returned disk kept only some replicas in error, and pages a person for those', () => {
    const guest = new ReplicaGuest('ldg-erp04');
    const { world, monitor, deliver } = alternateReboot(guest, { c0d0s7: 'active', c0d1s7: 'partly' });
    expect(world.plans).toHaveLength(1);
    const plan = world.plans[0] as UnsignedPlan;
    expect(actions(plan.steps)).toEqual(['disk.probe', 'svm.metareplace', 'svm.wait-sync']);
    const summary = `${guest.hostId} needs a person after its plan: state database replicas in error on c0d1s7 (2 of 3 in error) are not re-created by the plan (only some of their replicas are in error, and svm.metadb-restore re-creates a slice whose replicas are all in error): re-create them by hand once the mirrors are in sync (metadb -d, metadb -a)`;
    expect(pages(world)).toContainEqual(expect.objectContaining({ severity: 'critical', summary }));
    for (const event of progressOf(guest, plan, 620)) deliver(event);
    deliver(guest.healthy(at(640), plan.id));
    world.fireDue(at(700));
    expect([...world.incidents.values()]).toEqual([
      expect.objectContaining({ kind: 'outage', status: 'resolved', affectedHosts: 1, escalated: true }),
    ]);
    expect(monitor.violations).toEqual([]);
  });

  it('plans the repair alone for a guest whose heartbeats carry no replicas (an older agent), or none in error', () => {
    const older = new ReplicaGuest('ldg-old01', ['disk.probe', 'svm.metareplace', 'svm.wait-sync']);
    older.replicas = null;
    const unknown = alternateReboot(older, null);
    expect(unknown.world.plans).toHaveLength(1);
    expect(actions(unknown.world.plans[0]?.steps)).toEqual([
      'disk.probe',
      'svm.metareplace',
      'svm.wait-sync',
    ]);

    const healthy = alternateReboot(new ReplicaGuest('ldg-erp03'), { c0d0s7: 'active', c0d1s7: 'active' });
    expect(healthy.world.plans).toHaveLength(1);
    expect(restoreSteps(healthy.world.plans[0]?.steps ?? [])).toEqual([]);
    expect(healthy.monitor.violations).toEqual([]);
  });

  it("keeps the replicas of the guest's latest heartbeat by seq: a late older heartbeat changes nothing, a change of replicas alone is applied, a heartbeat without them forgets them", () => {
    const guest = new ReplicaGuest('ldg-erp05');
    const { world, feed } = worldWith();
    const slice = () => world.hosts.get(guest.hostId);
    const erred = [
      { slice: 'c0d0s7', count: 3, active: 3, erred: 0 },
      { slice: 'c0d1s7', count: 3, active: 0, erred: 3 },
    ];
    feed(guest.heartbeat(at(1)));
    guest.replicas = { c0d0s7: 'active', c0d1s7: 'erred' };
    const duringOutage = guest.heartbeat(at(61), { alternate: 'maintenance' });
    // The mirror resynced; the replicas of the returned disk stay in error.
    const resynced = guest.heartbeat(at(121));
    feed(resynced, duringOutage);
    expect(slice()?.replicas).toEqual(erred);
    expect(slice()?.arrays.d10?.health).toBe('healthy');
    guest.replicas = { c0d0s7: 'active', c0d1s7: 'active' };
    feed(guest.heartbeat(at(181)));
    expect(slice()?.replicas).toEqual([
      { slice: 'c0d0s7', count: 3, active: 3, erred: 0 },
      { slice: 'c0d1s7', count: 3, active: 3, erred: 0 },
    ]);
    guest.replicas = null;
    feed(guest.heartbeat(at(241)));
    expect(slice()).not.toHaveProperty('replicas');
  });

  it('pages a guest whose agent reports replicas in error but cannot restore them, naming svm.metadb-restore, and sends it no plan', () => {
    const guest = new ReplicaGuest('ldg-erp04', ['disk.probe', 'svm.metareplace', 'svm.wait-sync']);
    const { world } = alternateReboot(guest, { c0d0s7: 'active', c0d1s7: 'erred' });
    expect(world.plans).toEqual([]);
    expect(pages(world)).toContainEqual(
      expect.objectContaining({
        summary: expect.stringMatching(new RegExp(`^${guest.hostId} needs a person: .*svm\\.metadb-restore`)),
      }),
    );
  });
});
