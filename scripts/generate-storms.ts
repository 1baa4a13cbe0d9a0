import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryWorld } from '../cli/replay/memory-world.ts';
import type { FaultlineEvent, Member, UnsignedPlan } from '../events/index.ts';
import { DEFAULT_CORE_CONFIG } from '../functions/core/index.ts';
import { AixClient } from '../test/helpers/core-aix.ts';
import {
  Agent,
  at,
  HostingPartition,
  multipathHeartbeat,
  pathEvent,
  progressOf,
  random,
  VscsiClient,
  vscsi,
} from '../test/helpers/core-fleet.ts';
import { ControlDomain, LdomsGuest } from '../test/helpers/core-ldoms.ts';
import {
  type ClientMirror,
  LINUX_ACTIONS_BEFORE,
  MdClient,
  MultipathHost,
} from '../test/helpers/core-runbooks.ts';
import { ProbingClient, READABLE, ServingPartition, UNREADABLE } from '../test/helpers/core-servers.ts';

/**
 * `npx tsx scripts/generate-storms.ts`: writes the example storms of events/examples/storms/, one per
 * field case of docs/architecture.md §1. Each is what a fleet really sent, agents carrying out their plans
 * included, with `receivedat` stamped as ingest would, so `faultline replay` tells the whole story.
 */

type Respond = (plan: UnsignedPlan, time: number) => FaultlineEvent[];

/**
 * Runs a fleet live: scripted events, plus what each agent sends back for the plans it gets. With
 * `agents`, what agents send each second, made at that second (so each agent's `seq` follows its
 * clock: an event made ahead of its time would number it out of order).
 */
const live = (
  script: { time: number; event: FaultlineEvent }[],
  respond: Respond,
  end: number,
  agents: (time: number) => FaultlineEvent[] = () => [],
): FaultlineEvent[] => {
  const world = new MemoryWorld(DEFAULT_CORE_CONFIG);
  const recorded: FaultlineEvent[] = [];
  const queue = [...script].sort((a, b) => a.time - b.time);
  let seen = 0;
  for (let time = queue[0]?.time ?? 0; time <= end; time += 1) {
    const now = agents(time);
    if (now.length > 0) {
      queue.push(...now.map((event) => ({ time, event })));
      queue.sort((a, b) => a.time - b.time);
    }
    while ((queue[0]?.time ?? Number.POSITIVE_INFINITY) <= time) {
      const { event } = queue.shift() as { event: FaultlineEvent };
      const stamped = {
        ...event,
        receivedat: at(Math.max(time, (Date.parse(event.time) - Date.parse(at(0))) / 1000)),
      };
      recorded.push(stamped);
      world.ingest(stamped);
    }
    world.fireDue(at(time));
    for (; seen < world.plans.length; seen += 1) {
      const plan = world.plans[seen] as UnsignedPlan;
      for (const event of respond(plan, time)) {
        queue.push({ time: (Date.parse(event.time) - Date.parse(at(0))) / 1000, event });
      }
      queue.sort((a, b) => a.time - b.time);
    }
  }
  return recorded;
};

const viosIpl = (): FaultlineEvent[] => {
  const rng = random(20261122);
  const names = Array.from({ length: 40 }, (_, index) => `lnxprd${String(index + 1).padStart(3, '0')}`);
  const clients = names.map((name) => new VscsiClient(name, rng));
  const vios2 = new HostingPartition('vios2', vscsi('vios2'));
  const script: { time: number; event: FaultlineEvent }[] = [];
  for (let beat = 0; beat <= 3600; beat += 60) {
    if (beat < 120 || beat >= 720) script.push({ time: beat, event: vios2.heartbeat(at(beat)) });
  }
  clients.forEach((client, index) => {
    script.push({ time: 1 + index * 0.01, event: client.heartbeat(at(1 + index * 0.01)) });
    script.push({ time: 130 + rng.int(0, 20), event: client.rootDegraded(at(130 + rng.int(0, 20))) });
  });
  script.push({ time: 700, event: vios2.iplCompleted(at(700), at(690)) });
  const byId = new Map(clients.map((client) => [client.hostId, client]));
  return live(
    script.sort((a, b) => a.time - b.time),
    (plan, time) => {
      const client = byId.get(plan.hostId) as VscsiClient;
      const done = time + 90;
      return [
        ...progressOf(client, plan, done - 20),
        ...client.mirrors.map((mirror) => client.healthy(mirror, at(done), plan.id)),
      ];
    },
    3600,
  );
};

const ldomsReboot = (): FaultlineEvent[] => {
  const primary = 'vdisk:t5-control/primary';
  const alternate = 'vdisk:t5-control/alternate';
  const control = new Agent('t5-control', 'control');
  const guests = ['ldg-erp01', 'ldg-erp02', 'ldg-web01', 'ldg-web02'].map((name) => new Agent(name));
  const members = (first: Member['state'], second: Member['state']): Member[] => [
    { device: 'c0d0s0', disk: 'c0d0', state: first, failureDomain: primary, submirror: 'd11' },
    { device: 'c0d1s0', disk: 'c0d1', state: second, failureDomain: alternate, submirror: 'd12' },
  ];
  const script: { time: number; event: FaultlineEvent }[] = [
    {
      time: 0,
      event: control.event(
        'domain.going-down',
        'alternate',
        { failureDomain: alternate, reason: 'ldm stop-domain alternate (firmware update)' },
        at(0),
      ),
    },
  ];
  guests.forEach((guest, index) => {
    script.push({
      time: 20 + index,
      event: guest.event(
        'mirror.degraded',
        'd10',
        {
          array: 'd10',
          kind: 'svm',
          level: 'raid1',
          members: members(guest.hostId === 'ldg-web01' ? 'last-erred' : 'in-sync', 'maintenance'),
        },
        at(20 + index),
      ),
    });
  });
  script.push({
    time: 400,
    event: control.event(
      'domain.rebooted',
      'alternate',
      { domain: 'alternate', role: 'alternate', failureDomain: alternate, bootedAt: at(390) },
      at(400),
    ),
  });
  const byId = new Map(guests.map((guest) => [guest.hostId, guest]));
  return live(
    script,
    (plan, time) => {
      const guest = byId.get(plan.hostId) as Agent;
      return [
        ...progressOf(guest, plan, time + 10),
        guest.event(
          'mirror.healthy',
          'd10',
          { array: 'd10', kind: 'svm', level: 'raid1', members: members('in-sync', 'in-sync') },
          at(time + 60),
          { planid: plan.id },
        ),
      ];
    },
    1800,
  );
};

const controllerPort = (): FaultlineEvent[] => {
  const hosts = Array.from(
    { length: 12 },
    (_, index) => new Agent(`dbnode${String(index + 1).padStart(2, '0')}`),
  );
  const path = (
    host: Agent,
    type: 'path.lost' | 'path.restored',
    time: number,
    state: 'failed' | 'active',
    activePaths: number,
    planid?: string,
  ) =>
    host.event(
      type,
      'mpatha',
      {
        map: 'mpatha',
        wwid: '3600507680c80810c1800000000000a3f',
        path: 'sdd',
        hctl: '2:0:1:3',
        failureDomain: 'fc:500507680c110a3f',
        state,
        activePaths,
      },
      at(time),
      planid === undefined ? {} : { planid },
    );
  const script: { time: number; event: FaultlineEvent }[] = [];
  hosts.forEach((host, index) => {
    script.push({ time: 10 + index * 0.5, event: path(host, 'path.lost', 10 + index * 0.5, 'failed', 1) });
    // multipathd reinstates the paths by itself when the port is back; one stays failed.
    if (index !== 7)
      script.push({ time: 200 + index, event: path(host, 'path.restored', 200 + index, 'active', 2) });
  });
  const byId = new Map(hosts.map((host) => [host.hostId, host]));
  return live(
    script,
    (plan, time) => {
      const host = byId.get(plan.hostId) as Agent;
      return [
        ...progressOf(host, plan, time + 5),
        path(host, 'path.restored', time + 20, 'active', 2, plan.id),
      ];
    },
    1200,
  );
};

/** What a client agent sends back for a plan: its steps, a heartbeat mid-plan, its mirrors healthy, a clean heartbeat. */
const healClient = (client: VscsiClient, plan: UnsignedPlan, time: number): FaultlineEvent[] => {
  const done = time + 90;
  return [
    ...progressOf(client, plan, done - 20),
    // Mid-plan, after md.fail: the swap member on the returned disk shows faulty (the plan's own work).
    client.heartbeat(at(done - 19), { faulty: 'fall', swapFaulty: true }),
    ...client.mirrors.map((mirror) => client.healthy(mirror, at(done), plan.id)),
    client.heartbeat(at(done + 30)),
  ];
};

/**
 * The VIOS IPL again, as SQS and restarting agents deliver it (§5.8): each client's heartbeat that
 * shows its root degraded arrives before its `mirror.degraded` (delivered late, with its older
 * `seq`), and a third of the agents restarted and send only the heartbeat. Each host counts once: 40.
 */
const viosIplHeartbeatsFirst = (): FaultlineEvent[] => {
  const rng = random(20261202);
  const names = Array.from({ length: 40 }, (_, index) => `lnxhbf${String(index + 1).padStart(3, '0')}`);
  const clients = names.map((name) => new VscsiClient(name, rng));
  const vios2 = new HostingPartition('vios2', vscsi('vios2'));
  const script: { time: number; event: FaultlineEvent }[] = [];
  for (let beat = 0; beat <= 3600; beat += 60) {
    if (beat < 120 || beat >= 720) script.push({ time: beat, event: vios2.heartbeat(at(beat)) });
  }
  clients.forEach((client, index) => {
    script.push({ time: 1 + index * 0.01, event: client.heartbeat(at(1 + index * 0.01)) });
    const degradedAt = 130 + rng.int(0, 20);
    const event = client.rootDegraded(at(degradedAt));
    const heartbeat = client.heartbeat(at(degradedAt + 1), { faulty: 'fall' });
    script.push({ time: degradedAt + 1 + rng.int(0, 3), event: heartbeat });
    if (index % 3 !== 0) script.push({ time: degradedAt + 6 + rng.int(0, 10), event });
  });
  script.push({ time: 700, event: vios2.iplCompleted(at(700), at(690)) });
  const byId = new Map(clients.map((client) => [client.hostId, client]));
  return live(script, (plan, time) => healClient(byId.get(plan.hostId) as VscsiClient, plan, time), 3600);
};

/**
 * A double fault (§5.4): vios2 IPLs under 40 clients, and while they run on their vios1 halves, vios1
 * crashes (its heartbeats stop; it had announced its last IPL, so it is known to serve). One critical
 * page for the pair, before any plan; five clients' reports, spooled, arrive only after vios1 is
 * down and join the same page. No plan goes to any of them, even once vios2 is back.
 */
const vios1CrashUnderVios2Outage = (): FaultlineEvent[] => {
  const rng = random(20261203);
  const names = Array.from({ length: 40 }, (_, index) => `lnxdbl${String(index + 1).padStart(3, '0')}`);
  const clients = names.map((name) => new VscsiClient(name, rng));
  const vios1 = new HostingPartition('vios1', vscsi('vios1'));
  const vios2 = new HostingPartition('vios2', vscsi('vios2'));
  // vios1's agent started in a new boot a minute after its first heartbeat (which says it is a
  // hosting partition), so Faultline knows it serves its domain and notices when it goes silent.
  const script: { time: number; event: FaultlineEvent }[] = [
    { time: 0, event: vios1.heartbeat(at(0)) },
    { time: 45, event: vios1.iplCompleted(at(45), at(-900)) },
  ];
  for (let beat = 0; beat <= 1500; beat += 60) {
    if (beat > 0 && beat <= 240) script.push({ time: beat, event: vios1.heartbeat(at(beat)) });
    if (beat < 120 || beat >= 720) script.push({ time: beat, event: vios2.heartbeat(at(beat)) });
  }
  clients.forEach((client, index) => {
    script.push({ time: 1 + index * 0.01, event: client.heartbeat(at(1 + index * 0.01)) });
    const degradedAt = 130 + rng.int(0, 20);
    const late = index >= 35;
    script.push({ time: late ? 430 + index - 35 : degradedAt, event: client.rootDegraded(at(degradedAt)) });
  });
  script.push({ time: 700, event: vios2.iplCompleted(at(700), at(690)) });
  const byId = new Map(clients.map((client) => [client.hostId, client]));
  return live(script, (plan, time) => healClient(byId.get(plan.hostId) as VscsiClient, plan, time), 1500);
};

/**
 * Planned maintenance (§5.4): one client's vios1 half has been faulty for a while (a local fault,
 * paged) when vios2 announces its IPL. Faultline pages critical for that client at the announcement,
 * before vios2 stops; the outage itself was announced, so it pages `info`. The others are healed in
 * waves once vios2 is back; the exposed client gets no plan.
 */
const announcedIplUnderDegradedClient = (): FaultlineEvent[] => {
  const rng = random(20261204);
  const names = Array.from({ length: 8 }, (_, index) => `lnxmnt${String(index + 1).padStart(3, '0')}`);
  const clients = names.map((name) => new VscsiClient(name, rng));
  const [exposed, ...others] = clients as [VscsiClient, ...VscsiClient[]];
  const vios2 = new HostingPartition('vios2', vscsi('vios2'));
  const script: { time: number; event: FaultlineEvent }[] = [];
  for (let beat = 0; beat <= 2400; beat += 60) {
    if (beat <= 600 || beat >= 1200) script.push({ time: beat, event: vios2.heartbeat(at(beat)) });
  }
  clients.forEach((client, index) => {
    script.push({ time: 1 + index * 0.01, event: client.heartbeat(at(1 + index * 0.01)) });
  });
  script.push({ time: 30, event: exposed.rootDegraded(at(30), { side: 'stay' }) });
  script.push({ time: 620, event: vios2.goingDown(at(620)) });
  others.forEach((client) => {
    const degradedAt = 640 + rng.int(0, 10);
    script.push({ time: degradedAt, event: client.rootDegraded(at(degradedAt)) });
  });
  script.push({ time: 645, event: exposed.rootLost(at(645)) });
  script.push({ time: 1150, event: vios2.iplCompleted(at(1150), at(1140)) });
  const byId = new Map(clients.map((client) => [client.hostId, client]));
  return live(script, (plan, time) => healClient(byId.get(plan.hostId) as VscsiClient, plan, time), 2400);
};

/**
 * A reinstate that does not stick (§5.9): the SAN port comes back, eleven hosts' paths return by
 * themselves, the twelfth gets `multipathd reinstate path`, whose steps all succeed while its path
 * stays failed (its heartbeats say so). Fifteen minutes on, the incident escalates, once.
 */
const reinstateDoesNotStick = (): FaultlineEvent[] => {
  const hosts = Array.from(
    { length: 12 },
    (_, index) => new Agent(`dbsan${String(index + 1).padStart(2, '0')}`),
  );
  const script: { time: number; event: FaultlineEvent }[] = [];
  hosts.forEach((host, index) => {
    script.push({
      time: 10 + index * 0.5,
      event: pathEvent(host, 'path.lost', 10 + index * 0.5, 'sdq', 'failed', 1),
    });
    if (index !== 7)
      script.push({
        time: 200 + index,
        event: pathEvent(host, 'path.restored', 200 + index, 'sdq', 'active', 2),
      });
  });
  const stuck = hosts[7] as Agent;
  for (let beat = 60; beat <= 2400; beat += 60) {
    script.push({ time: beat + 0.5, event: multipathHeartbeat(stuck, beat + 0.5, 'failed') });
  }
  return live(script, (plan, time) => progressOf(stuck, plan, time + 5), 2400);
};

/**
 * A reinstate that does not stick, as today's agent reports it (§4 `multipath.reinstate`): twelve
 * hosts lose their `sdq` leg through the SAN port; eleven get it back on their own, and the
 * twelfth's `multipathd reinstate path` answers `ok` while the checker fails the path again. Its
 * agent re-reads the map for `checkSeconds`, fails the step with `path-not-back`, and the domain's
 * waves halt with a page.
 */
const reinstatePathNotBack = (): FaultlineEvent[] => {
  const hosts = Array.from(
    { length: 12 },
    (_, index) => new Agent(`dbnbk${String(index + 1).padStart(2, '0')}`),
  );
  const script: { time: number; event: FaultlineEvent }[] = [];
  hosts.forEach((host, index) => {
    script.push({
      time: 10 + index * 0.5,
      event: pathEvent(host, 'path.lost', 10 + index * 0.5, 'sdq', 'failed', 1),
    });
    if (index !== 4)
      script.push({
        time: 200 + index,
        event: pathEvent(host, 'path.restored', 200 + index, 'sdq', 'active', 2),
      });
  });
  const stuck = hosts[4] as Agent;
  for (let beat = 60; beat <= 1200; beat += 60) {
    script.push({ time: beat + 0.5, event: multipathHeartbeat(stuck, beat + 0.5, 'failed') });
  }
  return live(
    script,
    (plan, time) => {
      const reinstate = plan.steps.findIndex((step) => step.action === 'multipath.reinstate');
      return progressOf(stuck, plan, time + 5, { failAt: reinstate, code: 'path-not-back' });
    },
    1200,
  );
};

/**
 * A VIOS back with its announcement lost (§5.2, issue 13): vios2's agent heartbeats with `bootedAt`
 * and `serves`; it crashes under twelve clients, and its first heartbeats from its new boot are all
 * that says it is back (its `ipl.completed` never arrived). Before that, a heartbeat of a boot that
 * started before the outage arrives late from its spool: stale, it changes nothing. The canary goes
 * out after the stability period, then the waves.
 */
const viosIplAnnouncementLost = (): FaultlineEvent[] => {
  const rng = random(20261213);
  const names = Array.from({ length: 12 }, (_, index) => `lnxnoa${String(index + 1).padStart(3, '0')}`);
  const clients = names.map((name) => new VscsiClient(name, rng));
  const vios2 = new ServingPartition('vios2', vscsi('vios2'), at(-86_400));
  const script: { time: number; event: FaultlineEvent }[] = [
    { time: 0, event: vios2.servingHeartbeat(at(0)) },
    { time: 60, event: vios2.servingHeartbeat(at(60)) },
  ];
  // It crashed at 70 s and came back at 90 s in a boot whose serving check passed, then crashed
  // again at 125 s: its heartbeat of 115 s, spooled, is received at 400 s.
  vios2.reboot(at(90));
  script.push({ time: 400, event: vios2.servingHeartbeat(at(115), { receivedat: at(400) }) });
  vios2.reboot(at(690));
  for (let beat = 720; beat <= 1800; beat += 60)
    script.push({ time: beat, event: vios2.servingHeartbeat(at(beat)) });
  clients.forEach((client, index) => {
    script.push({ time: 1 + index * 0.01, event: client.heartbeat(at(1 + index * 0.01)) });
    const degradedAt = 130 + rng.int(0, 20);
    script.push({ time: degradedAt, event: client.rootDegraded(at(degradedAt)) });
  });
  const byId = new Map(clients.map((client) => [client.hostId, client]));
  return live(script, (plan, time) => healClient(byId.get(plan.hostId) as VscsiClient, plan, time), 1800);
};

/**
 * The seed's own layout (§5.3, issue 13): one Linux partition mirrored over vios1 and vios2, neither
 * running an agent. Its vios2 member fails and its disk goes offline: after the hold-down, an
 * outage of one host. The disk reads again at 895 s (`disk.probed`) and in the heartbeat after, with
 * the same wwid and superblocks: up then, and after the stability period its plan.
 */
const singleClientReadBack = (): FaultlineEvent[] => {
  const client = new ProbingClient('lnxsolo', random(20261214));
  const script: { time: number; event: FaultlineEvent }[] = [
    { time: 10, event: client.probingHeartbeat(at(10)) },
    { time: 70, event: client.probingHeartbeat(at(70)) },
    { time: 130, event: client.rootDegraded(at(130)) },
  ];
  for (let beat = 190; beat < 900; beat += 60)
    script.push({
      time: beat,
      event: client.probingHeartbeat(at(beat), { faulty: 'fall', probe: UNREADABLE }),
    });
  script.push({ time: 895, event: client.diskProbed(at(895), READABLE) });
  script.push({ time: 910, event: client.probingHeartbeat(at(910), { faulty: 'fall', probe: READABLE }) });
  return live(script, (plan, time) => healClient(client, plan, time), 1500);
};

/**
 * The same layout, but the member's disk still reads (§5.3): nothing says its server went away, so
 * it is a local fault, paged after the hold-down, with no plan.
 */
const singleClientDiskStillReads = (): FaultlineEvent[] => {
  const client = new ProbingClient('lnxkeep', random(20261215));
  const script: { time: number; event: FaultlineEvent }[] = [
    { time: 10, event: client.probingHeartbeat(at(10)) },
    { time: 70, event: client.probingHeartbeat(at(70)) },
    { time: 130, event: client.rootDegraded(at(130)) },
  ];
  for (let beat = 190; beat <= 900; beat += 60)
    script.push({
      time: beat,
      event: client.probingHeartbeat(at(beat), { faulty: 'fall', probe: READABLE }),
    });
  return live(script, (plan, time) => healClient(client, plan, time), 900);
};

/**
 * LDoms guests with no topology file (§3 heartbeat `guests`): their SVM members carry
 * `local:<guest>`; the control domain's agent, restarted, first reports which service domain serves
 * each guest disk only after the guests lost their alternate submirror. One outage of the alternate
 * service domain with the three guests in it, planned after its reboot, from the agents' word alone.
 */
const ldomsGuestsPlacedByControl = (): FaultlineEvent[] => {
  const control = new ControlDomain('t5-control', at(-86_400));
  const guests = ['ldg-erp01', 'ldg-erp02', 'ldg-web01'].map((name) => new LdomsGuest(name));
  const disks = guests.flatMap((guest) => guest.guestDisks(control));
  const script: { time: number; event: FaultlineEvent }[] = [];
  guests.forEach((guest, index) => {
    script.push({ time: 1 + index, event: guest.heartbeat(at(1 + index)) });
  });
  script.push({ time: 100, event: control.goingDown('alternate', at(100)) });
  guests.forEach((guest, index) => {
    script.push({ time: 110 + index, event: guest.degraded(at(110 + index)) });
  });
  for (let beat = 150; beat <= 1800; beat += 60) {
    const running = beat < 500 ? ['primary'] : ['primary', 'alternate'];
    script.push({ time: beat, event: control.heartbeat(at(beat), { running, guests: disks }) });
  }
  script.push({ time: 500, event: control.rebooted('alternate', at(500), at(490)) });
  const byId = new Map(guests.map((guest) => [guest.hostId, guest]));
  return live(
    script.sort((a, b) => a.time - b.time),
    (plan, time) => {
      const guest = byId.get(plan.hostId) as LdomsGuest;
      return [...progressOf(guest, plan, time + 10), guest.healthy(at(time + 60), plan.id)];
    },
    1800,
  );
};

/**
 * Issue 14's md runbooks (DESIGN §4 v3): vios2 IPLs under five clients that heartbeat every minute:
 * one with a bitmap on every array; one whose arrays have none (each member is zeroed right before
 * it is added back); one whose root and data disks both come from vios2 (one plan: both disks probed,
 * then the field order disk by disk); one with both; and one without bitmaps whose agent predates
 * `md.zero-superblock`: it gets no plan (it would refuse it and halt the domain) and is paged.
 */
const vios2IplRunbooks = (): FaultlineEvent[] => {
  const rng = random(20261401);
  const noBitmap = () => false;
  const clients = [
    new MdClient('lnxrbk01', rng),
    new MdClient('lnxrbk02', rng, { bitmap: noBitmap }),
    new MdClient('lnxrbk03', rng, { dataDisk: true }),
    new MdClient('lnxrbk04', rng, { bitmap: noBitmap, capabilities: LINUX_ACTIONS_BEFORE }),
    new MdClient('lnxrbk05', rng, { dataDisk: true, bitmap: noBitmap }),
  ];
  const faulty = (client: MdClient): ClientMirror[] =>
    client.mirrors.filter((mirror) => mirror !== client.mirror('swap'));
  const vios2 = new HostingPartition('vios2', vscsi('vios2'));
  const script: { time: number; event: FaultlineEvent }[] = [];
  for (let beat = 0; beat <= 2400; beat += 60) {
    if (beat < 120 || beat >= 720) script.push({ time: beat, event: vios2.heartbeat(at(beat)) });
  }
  script.push({ time: 700, event: vios2.iplCompleted(at(700), at(690)) });
  const degradedAt = new Map(clients.map((client, index) => [client.hostId, 130 + index * 3]));
  /** While a plan runs (issued, not yet done) its agent is busy; then its mirrors are in sync. */
  const plans = new Map<string, { from: number; done: number }>();
  const byId = new Map(clients.map((client) => [client.hostId, client]));
  return live(
    script,
    (plan, time) => {
      const client = byId.get(plan.hostId) as MdClient;
      const done = time + 90;
      plans.set(client.hostId, { from: time, done });
      return [
        ...progressOf(client, plan, done - 20),
        ...client.mirrors.map((mirror) => client.healthy(mirror, at(done), plan.id)),
      ];
    },
    2400,
    (time) =>
      clients.flatMap((client, index) => {
        const events: FaultlineEvent[] = [];
        const down = degradedAt.get(client.hostId) as number;
        if (time === down) events.push(...faulty(client).map((mirror) => client.degraded(mirror, at(time))));
        const plan = plans.get(client.hostId);
        if ((time - 1 - index) % 60 === 0 && (plan === undefined || time < plan.from || time > plan.done)) {
          const healed = plan !== undefined && time > plan.done;
          events.push(client.heartbeat(at(time), time < down || healed ? [] : faulty(client)));
        }
        return events;
      }),
  );
};

/**
 * A SAN port goes away under four multipath hosts (DESIGN §4 v3 `scsi.online`): `dbofl01`'s leg,
 * active until then, is set `offline` by the SCSI layer; `dbofl02`'s leg had been offline since
 * long before (paged as a local fault then); the two others come back by themselves. The canary
 * `dbofl01` gets `scsi.online` before its reinstate; `dbofl02` gets the reinstate alone, which fails
 * on an offline device: its domain halts and a person is paged. Every host heartbeats each minute.
 */
const sanPortOfflineLeg = (): FaultlineEvent[] => {
  const hosts = ['dbofl01', 'dbofl02', 'dbofl03', 'dbofl04'].map((name) => new MultipathHost(name));
  const [offlined, offlineBefore, ...others] = hosts as [
    MultipathHost,
    MultipathHost,
    MultipathHost,
    MultipathHost,
  ];
  type LegState = 'active' | 'offline' | 'failed';
  const states = new Map<string, LegState>(hosts.map((host) => [host.hostId, 'active']));
  const changes: { time: number; host: MultipathHost; state: LegState }[] = [
    { time: 100, host: offlineBefore, state: 'offline' },
    { time: 400, host: offlined, state: 'offline' },
    ...others.map((host, index) => ({ time: 401 + index, host, state: 'failed' as const })),
    ...others.map((host, index) => ({ time: 500 + index, host, state: 'active' as const })),
  ];
  const busy = new Map<string, number>();
  const byId = new Map(hosts.map((host) => [host.hostId, host]));
  return live(
    [],
    (plan, time) => {
      const host = byId.get(plan.hostId) as MultipathHost;
      busy.set(host.hostId, time + 30);
      if (host === offlineBefore) return progressOf(host, plan, time + 5, { failAt: 1 });
      states.set(host.hostId, 'active');
      return [
        ...progressOf(host, plan, time + 5),
        host.path('path.restored', at(time + 20), 'active', plan.id),
      ];
    },
    1800,
    (time) =>
      hosts.flatMap((host, index) => {
        const events: FaultlineEvent[] = [];
        for (const change of changes) {
          if (change.time !== time || change.host !== host) continue;
          states.set(host.hostId, change.state);
          events.push(
            host.path(change.state === 'active' ? 'path.restored' : 'path.lost', at(time), change.state),
          );
        }
        if ((time - 5 - index) % 60 === 0 && time > (busy.get(host.hostId) ?? Number.NEGATIVE_INFINITY))
          events.push(host.heartbeat(at(time), states.get(host.hostId) ?? 'active'));
        return events;
      }),
  );
};

const AIX_VOLUMES = ['hd2', 'hd4', 'hd9var'] as const;

/**
 * AIX observed (issue 15): vios2 IPLs under four Linux md clients and three AIX clients whose
 * rootvg copies on vios2's disk go stale. Once vios2 is back the Linux clients are healed in waves;
 * the AIX clients get no plan (no runbook for LVM mirrors yet) and a person is paged for them. Their
 * copies stay stale (nobody ran `syncvg`), as their heartbeats keep saying.
 */
const aixVios2StaleCopy = (): FaultlineEvent[] => {
  const rng = random(20261501);
  const linux = ['lnxaix01', 'lnxaix02', 'lnxaix03', 'lnxaix04'].map((name) => new VscsiClient(name, rng));
  const aix = ['aixprd01', 'aixprd02', 'aixprd03'].map((name) => new AixClient(name, AIX_VOLUMES));
  const vios2 = new HostingPartition('vios2', vscsi('vios2'));
  const script: { time: number; event: FaultlineEvent }[] = [];
  for (let beat = 0; beat <= 2400; beat += 60) {
    if (beat < 120 || beat >= 720) script.push({ time: beat, event: vios2.heartbeat(at(beat)) });
  }
  linux.forEach((client, index) => {
    script.push({ time: 1 + index * 0.01, event: client.heartbeat(at(1 + index * 0.01)) });
    const degradedAt = 130 + rng.int(0, 20);
    script.push({ time: degradedAt, event: client.rootDegraded(at(degradedAt)) });
  });
  aix.forEach((client, index) => {
    const offset = 2 + index * 0.01;
    script.push({ time: offset, event: client.heartbeat(at(offset)) });
    const staleAt = 130 + rng.int(0, 20);
    AIX_VOLUMES.forEach((volume, order) => {
      script.push({ time: staleAt + order * 0.1, event: client.stale(volume, at(staleAt + order * 0.1)) });
    });
    for (let beat = staleAt + 30; beat <= 2400; beat += 60)
      script.push({ time: beat, event: client.heartbeat(at(beat), { stale: true }) });
  });
  script.push({ time: 700, event: vios2.iplCompleted(at(700), at(690)) });
  const byId = new Map(linux.map((client) => [client.hostId, client]));
  return live(
    script.sort((a, b) => a.time - b.time),
    (plan, time) => healClient(byId.get(plan.hostId) as VscsiClient, plan, time),
    2400,
  );
};

const directory = join(import.meta.dirname, '..', 'events', 'examples', 'storms');
mkdirSync(directory, { recursive: true });
const storms = {
  'vios2-ipl-40-clients': viosIpl(),
  'ldoms-alternate-reboot': ldomsReboot(),
  'san-controller-port': controllerPort(),
  'vios2-ipl-heartbeats-first': viosIplHeartbeatsFirst(),
  'vios1-crash-under-vios2-outage': vios1CrashUnderVios2Outage(),
  'vios2-announced-ipl-under-degraded-client': announcedIplUnderDegradedClient(),
  'san-reinstate-does-not-stick': reinstateDoesNotStick(),
  'san-reinstate-path-not-back': reinstatePathNotBack(),
  'vios2-ipl-announcement-lost': viosIplAnnouncementLost(),
  'single-client-read-back': singleClientReadBack(),
  'single-client-disk-still-reads': singleClientDiskStillReads(),
  'ldoms-guests-placed-by-control': ldomsGuestsPlacedByControl(),
  'vios2-ipl-runbooks-of-issue-14': vios2IplRunbooks(),
  'san-port-offline-leg': sanPortOfflineLeg(),
  'aix-vios2-stale-copy': aixVios2StaleCopy(),
};
for (const [name, events] of Object.entries(storms)) {
  writeFileSync(
    join(directory, `${name}.ndjson`),
    `${events.map((event) => JSON.stringify(event)).join('\n')}\n`,
  );
  console.log(`wrote ${name}.ndjson (${events.length} events)`);
}
