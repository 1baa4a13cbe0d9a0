import { describe, expect, it } from 'vitest';
import type { MemoryWorld } from '../../../cli/replay/memory-world.ts';
import type { FaultlineEvent, GuestDisk } from '../../../events/index.ts';
import { GUEST_CLAIM } from '../../../functions/core/guests.ts';
import type { HostSlice } from '../../../functions/core/model.ts';
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

/**
 * DESIGN §3 "Sender binding" and heartbeat `guests`: a grant names the `vdisk:` domains a control
 * domain serves, not the guests, so any control domain may name any guest. A guest's placement comes
 * from one control domain at a time (functions/core/guests.ts): the first to list it active, until it
 * stops listing it or falls silent and another begins listing it active; a standby's bound or inactive
 * copy never places it.
 */
describe('an LDoms guest two control domains name', () => {
  const placedOn = (world: MemoryWorld, guest: LdomsGuest) =>
    world.hosts.get(guest.hostId)?.arrays.d10?.members.map((member) => member.failureDomain);
  const withState = (disks: readonly GuestDisk[], state: GuestDisk['state']): GuestDisk[] =>
    disks.map((disk) => ({ ...disk, state }));

  it("keeps the placement of the control domain that listed it first when another lists it active, and heals when the first one's service domain reboots", () => {
    const { world, feed } = worldWith();
    const owner = new ControlDomain('t5-a', at(-86_400));
    const other = new ControlDomain('t5-b', at(-86_400));
    const guest = new LdomsGuest('ldg-erp01');
    const script: { time: number; event: FaultlineEvent }[] = [
      { time: 1, event: guest.heartbeat(at(1)) },
      { time: 100, event: owner.goingDown('alternate', at(100)) },
      { time: 120, event: guest.degraded(at(120)) },
      { time: 500, event: owner.rebooted('alternate', at(500), at(490)) },
    ];
    for (let beat = 10; beat < 600; beat += 60) {
      const running = beat >= 100 && beat < 500 ? ['primary'] : ['primary', 'alternate'];
      script.push({
        time: beat,
        event: owner.heartbeat(at(beat), { running, guests: guest.guestDisks(owner) }),
      });
      // The other control domain names the guest too, on its own service domains, and later moves it.
      const claimed =
        beat < 200 ? guest.guestDisks(other) : withState(guest.guestDisks(other), 'active').reverse();
      const moved =
        beat >= 200 ? claimed.map((disk) => ({ ...disk, failureDomain: other.primary })) : claimed;
      script.push({ time: beat + 5, event: other.heartbeat(at(beat + 5), { guests: moved }) });
    }
    for (const { event } of script.sort((a, b) => a.time - b.time)) feed(event);

    expect(world.hosts.get(guest.hostId)?.vdisks).toMatchObject({
      control: owner.hostId,
      domains: { c0d0: owner.primary, c0d1: owner.alternate },
    });
    expect(placedOn(world, guest)).toEqual([owner.primary, owner.alternate]);
    // The other's word is kept, not applied, and said on the guest's open incident.
    expect(world.hosts.get(guest.hostId)?.vdiskClaims?.[other.hostId]).toMatchObject({
      listing: 'active',
      domains: { c0d0: other.primary, c0d1: other.primary },
    });
    const [outage, ...others] = outages(world);
    expect(others).toEqual([]);
    expect(outage).toMatchObject({ failureDomain: owner.alternate, affectedHosts: 1 });
    expect(
      world.timeline.filter(
        (entry) =>
          entry.incidentId === outage?.id &&
          /contested: control domain t5-b lists it active/.test(entry.text),
      ),
    ).toEqual([
      expect.objectContaining({
        hostId: guest.hostId,
        text: expect.stringMatching(/not applied, its disks are placed by t5-a/),
      }),
    ]);
    world.fireDue(at(560));
    expect(world.plans.map((plan) => [plan.hostId, plan.steps[0]])).toEqual([
      [guest.hostId, { action: 'disk.probe', disk: 'c0d1', failureDomain: owner.alternate }],
    ]);
    heal(world, guest, 570);
    world.fireDue(at(700));
    expect(outages(world)[0]?.status).toBe('resolved');
  });

  it('is never placed by a control domain that lists it bound or inactive (a standby copy), before or after the active one', () => {
    const { world, feed } = worldWith();
    const active = new ControlDomain('t5-a', at(-86_400));
    const standby = new ControlDomain('t5-dr', at(-86_400));
    const guest = new LdomsGuest('ldg-erp01');
    feed(guest.heartbeat(at(1)));
    feed(standby.heartbeat(at(5), { guests: withState(guest.guestDisks(standby), 'bound') }));
    expect(world.hosts.get(guest.hostId)?.vdisks).toBeUndefined();
    expect(placedOn(world, guest)).toEqual([`local:${guest.hostId}`, `local:${guest.hostId}`]);

    feed(active.heartbeat(at(10), { guests: withState(guest.guestDisks(active), 'active') }));
    expect(placedOn(world, guest)).toEqual([active.primary, active.alternate]);
    feed(standby.heartbeat(at(65), { guests: withState(guest.guestDisks(standby), 'inactive') }));
    feed(active.heartbeat(at(70), { guests: withState(guest.guestDisks(active), 'active') }));
    feed(standby.heartbeat(at(125), { guests: withState(guest.guestDisks(standby), 'bound') }));
    expect(world.hosts.get(guest.hostId)?.vdisks?.control).toBe(active.hostId);
    expect(placedOn(world, guest)).toEqual([active.primary, active.alternate]);
  });

  it('moves to another control domain once the one that placed it stops listing it, whichever of their reports comes first', () => {
    const run = (order: 'release-first' | 'claim-first') => {
      const { world, feed } = worldWith();
      const from = new ControlDomain('t5-a', at(-86_400));
      const to = new ControlDomain('t5-b', at(-86_400));
      const guest = new LdomsGuest('ldg-erp01');
      feed(guest.heartbeat(at(1)), from.heartbeat(at(10), { guests: guest.guestDisks(from) }));
      const release = from.heartbeat(at(70), { guests: [] });
      const claim = to.heartbeat(at(70), { guests: withState(guest.guestDisks(to), 'active') });
      if (order === 'release-first') feed(release, claim);
      else {
        feed(claim);
        expect(placedOn(world, guest)).toEqual([from.primary, from.alternate]);
        feed(release);
      }
      expect(world.hosts.get(guest.hostId)?.vdisks?.control).toBe(to.hostId);
      expect(placedOn(world, guest)).toEqual([to.primary, to.alternate]);
      // An outage of its new control domain's alternate service domain is the guest's, and heals it.
      const script: { time: number; event: FaultlineEvent }[] = [
        { time: 100, event: to.goingDown('alternate', at(100)) },
        { time: 120, event: guest.degraded(at(120)) },
        { time: 500, event: to.rebooted('alternate', at(500), at(490)) },
      ];
      for (let beat = 130; beat < 600; beat += 60) {
        const running = beat < 500 ? ['primary'] : ['primary', 'alternate'];
        const guests = withState(guest.guestDisks(to), 'active');
        script.push({ time: beat, event: to.heartbeat(at(beat), { running, guests }) });
      }
      for (const { event } of script.sort((a, b) => a.time - b.time)) feed(event);
      world.fireDue(at(600));
      return {
        incidents: outages(world).map((incident) => `${incident.failureDomain} ${incident.affectedHosts}`),
        plans: world.plans.map((plan) => plan.hostId),
      };
    };
    expect(run('release-first')).toEqual({ incidents: ['vdisk:t5-b/alternate 1'], plans: ['ldg-erp01'] });
    expect(run('claim-first')).toEqual(run('release-first'));
  });

  it("says on the guest's open incident which control domain places it now, and why the one before let it go", () => {
    const { world, feed } = worldWith();
    const from = new ControlDomain('t5-a', at(-86_400));
    const to = new ControlDomain('t5-b', at(-86_400));
    const guest = new LdomsGuest('ldg-erp01');
    feed(
      guest.heartbeat(at(1)),
      from.heartbeat(at(10), { guests: guest.guestDisks(from) }),
      from.goingDown('alternate', at(100)),
      guest.degraded(at(120)),
      to.heartbeat(at(130), { guests: guest.guestDisks(to) }),
      from.heartbeat(at(140), { running: ['primary'], guests: [] }),
    );
    const [outage] = outages(world);
    expect(outage).toMatchObject({ failureDomain: from.alternate, affectedHosts: 1 });
    expect(
      world.timeline.filter((entry) => entry.incidentId === outage?.id).map((entry) => entry.text),
    ).toEqual(
      expect.arrayContaining([
        `ldg-erp01 is contested: control domain t5-b lists it active too (c0d0 on ${to.primary}, c0d1 on ${to.alternate}): not applied, its disks are placed by t5-a, which lists it active since ${at(10)}`,
        `control domain t5-b places ldg-erp01's disks now (c0d0 on ${to.primary}, c0d1 on ${to.alternate}), in place of t5-a, which no longer lists it`,
      ]),
    );
    expect(placedOn(world, guest)).toEqual([to.primary, to.alternate]);
  });

  it('takes the control domain that placed it for its owner on a slice saved before control domains words were kept', () => {
    const { world, feed } = worldWith();
    const owner = new ControlDomain('t5-a', at(-86_400));
    const other = new ControlDomain('t5-b', at(-86_400));
    const guest = new LdomsGuest('ldg-erp01');
    feed(guest.heartbeat(at(1)), owner.heartbeat(at(10), { guests: guest.guestDisks(owner) }));
    const { vdiskClaims, ...saved } = world.hosts.get(guest.hostId) as HostSlice;
    expect(vdiskClaims).toBeDefined();
    world.hosts.set(guest.hostId, saved);
    feed(other.heartbeat(at(20), { guests: guest.guestDisks(other) }));
    expect(world.hosts.get(guest.hostId)?.vdisks?.control).toBe(owner.hostId);
    expect(Object.keys(world.hosts.get(guest.hostId)?.vdiskClaims ?? {})).toEqual([
      owner.hostId,
      other.hostId,
    ]);
  });

  it("goes to another control domain listing it active only after its owner's silence outlasts the lapse", () => {
    const { world, feed } = worldWith();
    const silent = new ControlDomain('t5-a', at(-86_400));
    const other = new ControlDomain('t5-b', at(-86_400));
    const guest = new LdomsGuest('ldg-erp01');
    feed(guest.heartbeat(at(1)), silent.heartbeat(at(10), { guests: guest.guestDisks(silent) }));
    const lapse = GUEST_CLAIM.lapseRenewals * GUEST_CLAIM.renewSeconds;
    const owners: Record<number, string | undefined> = {};
    for (let beat = 20; beat <= lapse + 700; beat += 60) {
      feed(other.heartbeat(at(beat), { guests: guest.guestDisks(other) }));
      owners[beat] = world.hosts.get(guest.hostId)?.vdisks?.control;
    }
    // Its renewals every ten minutes tell the guest the other is still there; the owner said nothing.
    expect(owners[20]).toBe(silent.hostId);
    expect(owners[lapse - 40]).toBe(silent.hostId);
    expect(owners[lapse + 20]).toBe(other.hostId);
    expect(placedOn(world, guest)).toEqual([other.primary, other.alternate]);
  });

  it("keeps its owner through a silence shorter than the lapse (the control domain's own reboot)", () => {
    const { world, feed } = worldWith();
    const owner = new ControlDomain('t5-a', at(-86_400));
    const other = new ControlDomain('t5-b', at(-86_400));
    const guest = new LdomsGuest('ldg-erp01');
    feed(guest.heartbeat(at(1)));
    for (let beat = 10; beat <= 4000; beat += 60) {
      if (beat < 600 || beat > 2400) feed(owner.heartbeat(at(beat), { guests: guest.guestDisks(owner) }));
      feed(other.heartbeat(at(beat + 5), { guests: guest.guestDisks(other) }));
    }
    expect(world.hosts.get(guest.hostId)?.vdisks?.control).toBe(owner.hostId);
    expect(placedOn(world, guest)).toEqual([owner.primary, owner.alternate]);
  });
});

/**
 * The owner is sticky (functions/core/guests.ts): it keeps the guest while its word stands, and hands
 * it over only once it no longer lists the guest active (or its word lapsed) to a control domain that
 * began listing it active after the owner last did: a live migration or a failover, never a control
 * domain that listed it active all along while the owner did.
 */
describe('an LDoms guest another control domain lists active all along', () => {
  const placedOn = (world: MemoryWorld, guest: LdomsGuest) =>
    world.hosts.get(guest.hostId)?.arrays.d10?.members.map((member) => member.failureDomain);
  const withState = (disks: readonly GuestDisk[], state: GuestDisk['state']): GuestDisk[] =>
    disks.map((disk) => ({ ...disk, state }));
  const lapse = GUEST_CLAIM.lapseRenewals * GUEST_CLAIM.renewSeconds;

  it.each([
    ['any control domain listing it active', 'active'],
    ['a DR standby whose older agent says no state', undefined],
  ] as const)(
    "stays with its owner through the owner's stop and start of it, against %s, and an outage of the owner's service domain still counts it",
    (_, contenderState) => {
      const { world, feed } = worldWith();
      const owner = new ControlDomain('t5-a', at(-86_400));
      const rogue = new ControlDomain('t5-rogue', at(-86_400));
      const guest = new LdomsGuest('ldg-erp01');
      const script: { time: number; event: FaultlineEvent }[] = [
        { time: 1, event: guest.heartbeat(at(1)) },
        { time: 400, event: owner.goingDown('alternate', at(400)) },
        { time: 420, event: guest.degraded(at(420)) },
        // The contender's own alternate service domain stops and comes back while the owner's is down.
        { time: 450, event: rogue.goingDown('alternate', at(450)) },
        { time: 600, event: rogue.rebooted('alternate', at(600), at(590)) },
        { time: 800, event: owner.rebooted('alternate', at(800), at(790)) },
      ];
      for (let beat = 10; beat < 900; beat += 60) {
        const running = beat >= 400 && beat < 800 ? ['primary'] : ['primary', 'alternate'];
        // `ldm stop` then `ldm start` of the guest (to resize it): bound for one heartbeat.
        const state = beat === 250 ? 'bound' : 'active';
        script.push({
          time: beat,
          event: owner.heartbeat(at(beat), { running, guests: withState(guest.guestDisks(owner), state) }),
        });
        const contender = withState(guest.guestDisks(rogue), contenderState);
        const rogueRunning = beat >= 450 && beat < 600 ? ['primary'] : ['primary', 'alternate'];
        script.push({
          time: beat + 5,
          event: rogue.heartbeat(at(beat + 5), { running: rogueRunning, guests: contender }),
        });
      }
      const played = script.sort((a, b) => a.time - b.time);
      for (const { time, event } of played) {
        feed(event);
        if (time > 10 && time < 700)
          expect(world.hosts.get(guest.hostId)?.vdisks?.control).toBe(owner.hostId);
      }
      expect(placedOn(world, guest)).toEqual([owner.primary, owner.alternate]);
      world.fireDue(at(700));
      expect(world.plans).toEqual([]);
      expect(outages(world).filter((incident) => incident.failureDomain === owner.alternate)).toEqual([
        expect.objectContaining({ affectedHosts: 1 }),
      ]);
      world.fireDue(at(860));
      expect(world.plans.map((plan) => [plan.hostId, plan.steps[0]])).toEqual([
        [guest.hostId, { action: 'disk.probe', disk: 'c0d1', failureDomain: owner.alternate }],
      ]);
    },
  );

  it('moves with a live migration: the old control domain stops listing it, then the new one lists it active, in either delivery order', () => {
    const run = (order: 'in-time' | 'claim-first') => {
      const { world, feed } = worldWith();
      const from = new ControlDomain('t5-a', at(-86_400));
      const to = new ControlDomain('t5-b', at(-86_400));
      const standby = new ControlDomain('t5-dr', at(-86_400));
      const guest = new LdomsGuest('ldg-erp01');
      feed(guest.heartbeat(at(1)));
      for (let beat = 10; beat < 300; beat += 60) {
        feed(
          from.heartbeat(at(beat), { guests: withState(guest.guestDisks(from), 'active') }),
          // A DR standby on an older agent: no state, so counted active, all along.
          standby.heartbeat(at(beat + 2), { guests: guest.guestDisks(standby) }),
        );
        // The migration's target shows it bound while it comes over.
        if (beat >= 190)
          feed(to.heartbeat(at(beat + 5), { guests: withState(guest.guestDisks(to), 'bound') }));
      }
      const release = from.heartbeat(at(310), { guests: [] });
      const claim = to.heartbeat(at(315), { guests: withState(guest.guestDisks(to), 'active') });
      feed(...(order === 'in-time' ? [release, claim] : [claim, release]));
      return { owner: world.hosts.get(guest.hostId)?.vdisks?.control, placed: placedOn(world, guest) };
    };
    expect(run('in-time')).toEqual({
      owner: 't5-b',
      placed: ['vdisk:t5-b/primary', 'vdisk:t5-b/alternate'],
    });
    expect(run('claim-first')).toEqual(run('in-time'));
  });

  it("moves to the DR standby that lists it active after its owner's silence outlasted the lapse, never to one listing it active all along", () => {
    const { world, feed } = worldWith();
    const owner = new ControlDomain('t5-a', at(-86_400));
    const standby = new ControlDomain('t5-dr', at(-86_400));
    const rogue = new ControlDomain('t5-rogue', at(-86_400));
    const guest = new LdomsGuest('ldg-erp01');
    feed(guest.heartbeat(at(1)));
    // The primary site is lost at 900: its control domain's last word on the guest is its renewal at 610.
    const lapsed = 610 + lapse;
    const owners: Record<number, string | undefined> = {};
    for (let beat = 10; beat <= lapsed + 1300; beat += 60) {
      if (beat < 900)
        feed(owner.heartbeat(at(beat), { guests: withState(guest.guestDisks(owner), 'active') }));
      if (beat > 10)
        feed(rogue.heartbeat(at(beat + 3), { guests: withState(guest.guestDisks(rogue), 'active') }));
      const state = beat < lapsed + 300 ? 'bound' : 'active';
      feed(standby.heartbeat(at(beat + 5), { guests: withState(guest.guestDisks(standby), state) }));
      owners[beat] = world.hosts.get(guest.hostId)?.vdisks?.control;
    }
    expect(owners[850]).toBe(owner.hostId);
    // Lapsed, the owner keeps the guest while no control domain began listing it active after it did.
    expect(owners[lapsed + 240]).toBe(owner.hostId);
    expect(owners[lapsed + 300]).toBe(standby.hostId);
    expect(owners[lapsed + 1260]).toBe(standby.hostId);
    expect(placedOn(world, guest)).toEqual([standby.primary, standby.alternate]);
  });

  it('says once on its open incident that it is contested, however often the other control domain changes its word', () => {
    const { world, feed } = worldWith();
    const owner = new ControlDomain('t5-a', at(-86_400));
    const other = new ControlDomain('t5-b', at(-86_400));
    const guest = new LdomsGuest('ldg-erp01');
    feed(
      guest.heartbeat(at(1)),
      owner.heartbeat(at(10), { guests: guest.guestDisks(owner) }),
      owner.goingDown('alternate', at(100)),
      guest.degraded(at(120)),
    );
    for (let beat = 130; beat < 1500; beat += 60) {
      const moved = guest
        .guestDisks(other)
        .map((disk, index) =>
          index === 1 && beat % 120 === 70 ? { ...disk, failureDomain: other.primary } : disk,
        );
      feed(other.heartbeat(at(beat), { guests: moved }));
      feed(owner.heartbeat(at(beat + 5), { running: ['primary'], guests: guest.guestDisks(owner) }));
    }
    const [outage] = outages(world);
    const notes = world.timeline
      .filter((entry) => entry.incidentId === outage?.id && /contested/.test(entry.text))
      .map((entry) => entry.text);
    expect(notes).toEqual([
      `ldg-erp01 is contested: control domain t5-b lists it active too (c0d0 on ${other.primary}, c0d1 on ${other.alternate}): not applied, its disks are placed by t5-a, which lists it active since ${at(10)}`,
    ]);
    expect(world.hosts.get(guest.hostId)?.vdisks?.control).toBe(owner.hostId);
  });
});

describe('a control domain report naming many guests', () => {
  it('tells at most GUEST_CLAIM.maxGuestsPerReport guests, those it already listed first, and keeps how many it ignored', () => {
    const { world } = worldWith();
    const control = new ControlDomain('t5-control', at(-86_400));
    const max = GUEST_CLAIM.maxGuestsPerReport;
    const named = (count: number, prefix: string): GuestDisk[] =>
      Array.from({ length: count }, (_, index) => ({
        guest: `${prefix}${String(index).padStart(4, '0')}`,
        disk: 'c0d0',
        failureDomain: control.primary,
      }));
    const told = (event: FaultlineEvent) =>
      world
        .ingest(event)
        .flatMap((decision) => decision.effects)
        .flatMap((effect) =>
          effect.type === 'follow-up' && effect.input.type === 'internal.guest-disks'
            ? [effect.input.hostId]
            : [],
        );
    const first = named(max, 'ldg-b');
    expect(told(control.heartbeat(at(0), { guests: first }))).toHaveLength(max);
    // Names sorting before the ones it lists already do not push them out.
    const more = [...named(3, 'ldg-a'), ...first];
    expect(told(control.heartbeat(at(60), { guests: more }))).toEqual([]);
    expect(world.hosts.get(control.hostId)?.guests).toMatchObject({ ignored: 3 });
    expect(world.hosts.has('ldg-a0000')).toBe(false);
    expect(told(control.heartbeat(at(120), { guests: more.slice(0, 4) }))).toEqual([
      'ldg-a0000',
      'ldg-a0001',
      'ldg-a0002',
      ...first.slice(1).map((disk) => disk.guest),
    ]);
    expect(world.hosts.get(control.hostId)?.guests?.ignored).toBeUndefined();
  });
});

describe('a control domain renewing its word', () => {
  it('tells every guest it lists active again every renewal period, changed or not, and a guest it no longer lists that it let it go', () => {
    const { world } = worldWith();
    const control = new ControlDomain('t5-control', at(-86_400));
    const guests = [new LdomsGuest('ldg-a'), new LdomsGuest('ldg-b')];
    const told = (event: FaultlineEvent) =>
      world
        .ingest(event)
        .flatMap((decision) => decision.effects)
        .flatMap((effect) =>
          effect.type === 'follow-up' && effect.input.type === 'internal.guest-disks'
            ? [`${effect.input.hostId} ${effect.input.listing}`]
            : [],
        );
    const both = guests.flatMap((guest) => guest.guestDisks(control));
    expect(told(control.heartbeat(at(0), { guests: both }))).toEqual(['ldg-a active', 'ldg-b active']);
    for (let beat = 60; beat < GUEST_CLAIM.renewSeconds; beat += 60)
      expect(told(control.heartbeat(at(beat), { guests: both }))).toEqual([]);
    expect(told(control.heartbeat(at(GUEST_CLAIM.renewSeconds), { guests: both }))).toEqual([
      'ldg-a active',
      'ldg-b active',
    ]);
    const onlyB = (guests[1] as LdomsGuest).guestDisks(control);
    expect(told(control.heartbeat(at(GUEST_CLAIM.renewSeconds + 60), { guests: onlyB }))).toEqual([
      'ldg-a gone',
    ]);
  });
});
