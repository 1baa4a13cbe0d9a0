import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryWorld } from '../cli/replay/memory-world.ts';
import type { FaultlineEvent, Member, UnsignedPlan } from '../events/index.ts';
import { DEFAULT_CORE_CONFIG } from '../functions/core/index.ts';
import {
  Agent,
  at,
  HostingPartition,
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

const directory = join(import.meta.dirname, '..', 'events', 'examples', 'storms');
mkdirSync(directory, { recursive: true });
const storms = {
  'vios2-ipl-40-clients': viosIpl(),
  'ldoms-alternate-reboot': ldomsReboot(),
  'san-controller-port': controllerPort(),
};
for (const [name, events] of Object.entries(storms)) {
  writeFileSync(
    join(directory, `${name}.ndjson`),
    `${events.map((event) => JSON.stringify(event)).join('\n')}\n`,
  );
  console.log(`wrote ${name}.ndjson (${events.length} events)`);
}
