import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { FaultlineEvent } from '../../../events/index.ts';
import { at, progressOf, worldWith } from '../../helpers/core-fleet.ts';
import { ControlDomain, LdomsGuest } from '../../helpers/core-ldoms.ts';

/**
 * DESIGN §3 heartbeat `guests`: an LDoms guest with no topology file carries `local:<guest>` on its
 * members; its control domain's report of which service domain serves each of its virtual disks
 * places them, whichever arrives first.
 */

const incidentsOf = (world: MemoryWorld) =>
  [...world.incidents.values()].sort((a, b) => (a.openedAt < b.openedAt ? -1 : 1));
const outages = (world: MemoryWorld) => incidentsOf(world).filter((incident) => incident.kind === 'outage');

/**
 * The alternate service domain stops at 100 s and runs again at 500 s (booted at 490 s); the control
 * domain heartbeats every minute from `reportFrom` on (listing its guests), the guest's alternate
 * submirror goes to Maintenance at 120 s. Returns the world after the reboot.
 */
const alternateReboot = (reportFrom: number, guest = new LdomsGuest('ldg-erp01')) => {
  const { world, feed } = worldWith();
  const control = new ControlDomain('t5-control', at(-86_400));
  const script: { time: number; event: FaultlineEvent }[] = [
    { time: 1, event: guest.heartbeat(at(1)) },
    { time: 100, event: control.goingDown('alternate', at(100)) },
    { time: 120, event: guest.degraded(at(120)) },
    { time: 500, event: control.rebooted('alternate', at(500), at(490)) },
  ];
  for (let beat = reportFrom; beat < 600; beat += 60) {
    const running = beat >= 100 && beat < 500 ? ['primary'] : ['primary', 'alternate'];
    script.push({
      time: beat,
      event: control.heartbeat(at(beat), { running, guests: guest.guestDisks(control) }),
    });
  }
  for (const { event } of script.sort((a, b) => a.time - b.time)) feed(event);
  return { world, feed, control, guest };
};

/** Plays each plan back as a healthy agent would, then the mirror healthy again. */
const heal = (world: MemoryWorld, guest: LdomsGuest, from: number) => {
  for (const plan of world.plans) {
    for (const event of progressOf(guest, plan, from)) world.ingest(event);
    world.ingest(guest.healthy(at(from + 60), plan.id));
  }
};

describe('an LDoms guest placed by its control domain', () => {
  it('is one outage of vdisk:<control>/alternate with the guest in it, planned after the reboot and the stability period, with no topology file', () => {
    const { world, control, guest } = alternateReboot(0);
    expect(world.hosts.get(guest.hostId)?.arrays.d10?.members.map((member) => member.failureDomain)).toEqual([
      control.primary,
      control.alternate,
    ]);
    expect(incidentsOf(world)).toEqual([
      expect.objectContaining({ kind: 'outage', failureDomain: control.alternate, affectedHosts: 1 }),
    ]);
    world.fireDue(at(559));
    expect(world.plans).toEqual([]);
    world.fireDue(at(560));
    expect(world.plans).toHaveLength(1);
    expect(world.plans[0]).toMatchObject({ hostId: guest.hostId, wave: 0 });
    expect(world.plans[0]?.steps).toEqual([
      { action: 'disk.probe', disk: 'c0d1', failureDomain: control.alternate },
      { action: 'svm.metareplace', mirror: 'd10', component: 'c0d1s0' },
      expect.objectContaining({ action: 'svm.wait-sync', mirror: 'd10' }),
    ]);
    heal(world, guest, 570);
    world.fireDue(at(700));
    expect(outages(world)[0]?.status).toBe('resolved');
    expect(world.notifications.map((notification) => notification.severity)).not.toContain('error');
  });

  it('files a symptom that came before its control domain first reported (after a restart) on the service domain when the report comes', () => {
    const { world, control, guest } = alternateReboot(150);
    expect(incidentsOf(world)).toEqual([
      expect.objectContaining({ kind: 'outage', failureDomain: control.alternate, affectedHosts: 1 }),
    ]);
    expect(world.domains.get(`local:${guest.hostId}`)?.episode).toBeUndefined();
    world.fireDue(at(560));
    expect(world.plans.map((plan) => plan.hostId)).toEqual([guest.hostId]);
  });

  it('merges the local fault it paged while it had no report into the outage once the report comes', () => {
    const { world, control, guest } = alternateReboot(300);
    const [local, ...others] = incidentsOf(world).filter((incident) => incident.kind === 'local');
    expect(others).toEqual([]);
    expect(local).toMatchObject({ hostId: guest.hostId, status: 'resolved' });
    expect(outages(world)).toEqual([
      expect.objectContaining({ failureDomain: control.alternate, affectedHosts: 1 }),
    ]);
    expect(world.timeline.map((entry) => entry.text)).toContainEqual(
      expect.stringMatching(/merged into outage/),
    );
    world.fireDue(at(560));
    expect(world.plans.map((plan) => plan.hostId)).toEqual([guest.hostId]);
  });

  it('keeps its own domains while no control domain reported it: a local fault, paged, no plan', () => {
    const { world, feed } = worldWith();
    const guest = new LdomsGuest('ldg-erp02');
    feed(guest.heartbeat(at(1)), guest.degraded(at(120)));
    world.fireDue(at(1000));
    expect(incidentsOf(world)).toEqual([
      expect.objectContaining({
        kind: 'local',
        hostId: guest.hostId,
        failureDomain: `local:${guest.hostId}`,
      }),
    ]);
    expect(world.plans).toEqual([]);
  });

  it('leaves a domain the guest placed itself (its topology file) as it is', () => {
    const own = 'vdisk:t5-other/alternate';
    const guest = new LdomsGuest('ldg-erp03', { c0d0: 'vdisk:t5-control/primary', c0d1: own });
    const { world, control } = alternateReboot(0, guest);
    expect(world.hosts.get(guest.hostId)?.arrays.d10?.members.map((member) => member.failureDomain)).toEqual([
      control.primary,
      own,
    ]);
    // The announcement opens its outage; the guest's symptom implicates the domain it placed itself.
    expect(outages(world)).toEqual([
      expect.objectContaining({ failureDomain: control.alternate, affectedHosts: 0 }),
    ]);
    expect(world.hosts.get(guest.hostId)?.localFaults['array:d10']?.failureDomain).toBe(own);
  });

  it('tells a guest only when its disks changed, and never from an older report', () => {
    const { world } = worldWith();
    const control = new ControlDomain('t5-control', at(-86_400));
    const guest = new LdomsGuest('ldg-web01');
    const told = (event: FaultlineEvent) =>
      world
        .ingest(event)
        .flatMap((decision) => decision.effects)
        .filter((effect) => effect.type === 'follow-up' && effect.input.type === 'internal.guest-disks');
    const disks = guest.guestDisks(control);
    expect(told(control.heartbeat(at(0), { guests: disks }))).toHaveLength(1);
    expect(told(control.heartbeat(at(60), { guests: [...disks].reverse() }))).toHaveLength(0);
    const older = control.heartbeat(at(90), { guests: [] });
    const moved = disks.map((disk) => ({ ...disk, failureDomain: control.primary }));
    expect(told(control.heartbeat(at(120), { guests: moved }))).toHaveLength(1);
    expect(world.hosts.get(guest.hostId)?.vdisks?.domains).toEqual({
      c0d0: control.primary,
      c0d1: control.primary,
    });
    if (older.type !== 'host.heartbeat') throw new Error('a heartbeat builder changed');
    expect(told({ ...older, data: { ...older.data, guests: disks } })).toHaveLength(0);
    expect(world.hosts.get(guest.hostId)?.vdisks?.domains.c0d1).toBe(control.primary);
  });

  it('converges whether the report or the symptom comes first, in either order of delivery', () => {
    const run = (order: 'report-first' | 'symptom-first') => {
      const { world, feed } = worldWith();
      const control = new ControlDomain('t5-control', at(-86_400));
      const guest = new LdomsGuest('ldg-erp01');
      feed(guest.heartbeat(at(1)), control.goingDown('alternate', at(100)));
      const report = control.heartbeat(at(110), { running: ['primary'], guests: guest.guestDisks(control) });
      const symptom = guest.degraded(at(110));
      feed(...(order === 'report-first' ? [report, symptom] : [symptom, report]));
      feed(control.rebooted('alternate', at(500), at(490)));
      world.fireDue(at(600));
      return {
        incidents: incidentsOf(world).map(
          (incident) => `${incident.kind} ${incident.failureDomain} ${incident.affectedHosts}`,
        ),
        plans: world.plans.map((plan) => plan.hostId),
      };
    };
    expect(run('report-first')).toEqual({
      incidents: ['outage vdisk:t5-control/alternate 1'],
      plans: ['ldg-erp01'],
    });
    expect(run('symptom-first')).toEqual(run('report-first'));
  });
});

describe('a control domain report', () => {
  it('places a guest disk only on one of its own service domains', () => {
    const { world, feed } = worldWith();
    const control = new ControlDomain('t5-control', at(-86_400));
    const guest = new LdomsGuest('ldg-web02');
    feed(guest.heartbeat(at(1)));
    feed(
      control.heartbeat(at(10), {
        guests: [
          { guest: guest.hostId, disk: 'c0d0', failureDomain: control.primary },
          { guest: guest.hostId, disk: 'c0d1', failureDomain: 'vdisk:t5-other/alternate' },
        ],
      }),
    );
    expect(world.hosts.get(guest.hostId)?.vdisks?.domains).toEqual({ c0d0: control.primary });
    expect(world.hosts.get(guest.hostId)?.arrays.d10?.members.map((member) => member.failureDomain)).toEqual([
      control.primary,
      `local:${guest.hostId}`,
    ]);
  });
});
