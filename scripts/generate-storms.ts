import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryWorld } from '../cli/replay/memory-world.ts';
import type { FaultlineEvent, Member, UnsignedPlan } from '../events/index.ts';
import { DEFAULT_CORE_CONFIG } from '../functions/core/index.ts';
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

/**
 * `npx tsx scripts/generate-storms.ts`: writes the example storms of events/examples/storms/, one per
 * field case of docs/architecture.md §1. Each is what a fleet really sent, agents carrying out their plans
 * included, with `receivedat` stamped as ingest would, so `faultline replay` tells the whole story.
 */

type Respond = (plan: UnsignedPlan, time: number) => FaultlineEvent[];

/** Runs a fleet live: scripted events, plus what each agent sends back for the plans it gets. */
const live = (
  script: { time: number; event: FaultlineEvent }[],
  respond: Respond,
  end: number,
): FaultlineEvent[] => {
  const world = new MemoryWorld(DEFAULT_CORE_CONFIG);
  const recorded: FaultlineEvent[] = [];
  const queue = [...script].sort((a, b) => a.time - b.time);
  let seen = 0;
  for (let time = queue[0]?.time ?? 0; time <= end; time += 1) {
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
};
for (const [name, events] of Object.entries(storms)) {
  writeFileSync(
    join(directory, `${name}.ndjson`),
    `${events.map((event) => JSON.stringify(event)).join('\n')}\n`,
  );
  console.log(`wrote ${name}.ndjson (${events.length} events)`);
}
