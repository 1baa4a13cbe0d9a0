import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient } from '../../sim/client.ts';
import { SimControlDomain } from '../../sim/control-domain.ts';
import { ControlPlane, type IncidentDetail, type IncidentSummary } from '../../sim/control-plane-client.ts';
import { hmcName, type ManagedSystem, vscsiDomain } from '../../sim/managed-system.ts';
import { SimNpivClient } from '../../sim/npiv-client.ts';
import type { SimulatedAgentHost } from '../../sim/simulated-agent-host.ts';
import type { SimulatedServer } from '../../sim/simulated-server.ts';
import { SimStorageHost } from '../../sim/storage-host.ts';
import { SimVios } from '../../sim/vios.ts';
import { type FaultlineUp, startFaultlineUp, until } from '../helpers/faultline-up.ts';

/**
 * Healing with no operator in the loop (#13's acceptance), end to end: `faultline up` as a child
 * process on 127.0.0.1, driven over HTTP only by real agents over simulated hosts: md clients,
 * NPIV clients and an LDoms guest with the real executor, two VIOS per managed system and an LDoms
 * control domain with the real agent in their server roles. The operator token registers the
 * servers with their grants and mints every agent token, all before any agent runs; afterwards it
 * only reads (incidents). Each case has its own managed system (or control domain), so they run
 * side by side on one control plane:
 *
 * (a) vios2 shuts down (its agent announces going-down) and IPLs in a new boot (its agent
 *     announces `ipl.completed` once its serving check passes): its 10 clients heal;
 * (b) the same with vios2's `ipl.completed` lost on its way: only its new-boot heartbeat listing
 *     its domain says it is back;
 * (c) a client alone on two hosting partitions that run no agent heals when its disk reads again;
 * (d) an LDoms guest heals from its control domain's reports alone (its own agent knows no service
 *     domain);
 * (e) a VIOS serving two clients by vSCSI and two by NPIV going down is one incident.
 *
 * 10 and 6 md clients, not 40: the demo's test (test/cli/demo/) runs 40 beside the others; here five
 * fleets share two cores.
 */

const CASE_SECONDS = 300;

const data = mkdtempSync(join(tmpdir(), 'faultline-no-operator-'));
const planeDir = join(data, 'plane');
let plane: FaultlineUp | undefined;
let url = '';
let controlPlane: ControlPlane;

/** Every server and host of every case, stopped and removed at the end. */
const servers: SimulatedServer[] = [];
const agentHosts: SimulatedAgentHost[] = [];

const systemOf = (serial: string): ManagedSystem => ({ type: '9080', model: 'M9S', serial });

/** A managed system with two VIOS running the real agent, and its clients. */
type ViosFleet = {
  system: ManagedSystem;
  vios1: SimVios;
  vios2: SimVios;
  md: SimClient[];
  npiv: SimNpivClient[];
};

type Registration = { planPublicKeyPem: string };

const viosFleet = async (
  name: string,
  system: ManagedSystem,
  counts: { md: number; npiv: number; firstIndex: number },
  registration: Registration,
  vios2Loses: readonly 'ipl.completed'[] = [],
): Promise<ViosFleet> => {
  const mdIds = Array.from(
    { length: counts.md },
    (_, index) => `${name}-lnx${String(index + 1).padStart(2, '0')}`,
  );
  const npivIds = Array.from({ length: counts.npiv }, (_, index) => `${name}-npiv${index + 1}`);
  const clients = (ids: string[], first: number) =>
    ids.map((hostId, index) => ({ hostId, partitionId: first + index }));
  const vios = async (partition: 'vios1' | 'vios2', lparId: number) => {
    const hostId = `${name}-${partition}`;
    const server = new SimVios({
      hostId,
      partition,
      system,
      lparId,
      vscsiClients: clients(mdIds, 3),
      npivClients: clients(npivIds, 3 + mdIds.length),
      url,
      agentToken: await controlPlane.mintAgentToken(hostId, {
        role: 'hosting',
        serves: [vscsiDomain(partition, system)],
      }),
      ...(partition === 'vios2' ? { loses: vios2Loses } : {}),
    });
    servers.push(server);
    return server;
  };
  const vios1 = await vios('vios1', 1);
  const vios2 = await vios('vios2', 2);
  const md: SimClient[] = [];
  for (const [index, hostId] of mdIds.entries()) {
    md.push(
      new SimClient({
        hostId,
        index: counts.firstIndex + index,
        system,
        url,
        agentToken: await controlPlane.mintAgentToken(hostId),
        planPublicKeyPem: registration.planPublicKeyPem,
      }),
    );
  }
  const npiv: SimNpivClient[] = [];
  for (const [index, hostId] of npivIds.entries()) {
    npiv.push(
      new SimNpivClient({
        hostId,
        index: counts.firstIndex + counts.md + index,
        system,
        stuckPath: index === 0,
        url,
        agentToken: await controlPlane.mintAgentToken(hostId),
        planPublicKeyPem: registration.planPublicKeyPem,
      }),
    );
  }
  agentHosts.push(...md, ...npiv);
  return { system, vios1, vios2, md, npiv };
};

/** Starts servers first, then their clients, and waits for their first reports. */
const boot = async (fleetServers: SimulatedServer[], hosts: SimulatedAgentHost[]): Promise<void> => {
  for (const server of fleetServers) await server.start();
  for (const host of hosts) await host.start();
  await Promise.all(hosts.map((host) => host.scanNow('baseline')));
  await Promise.all(fleetServers.map((server) => server.checkNow()));
  // Their first heartbeats delivered and correlated before the fault.
  await delay(3_000);
};

const incidentsOn = async (failureDomain: string): Promise<IncidentSummary[]> =>
  (await controlPlane.incidents()).filter((incident) => incident.failureDomain === failureDomain);

const resolvedWhenHealthy = (id: string, hosts: readonly SimulatedAgentHost[]): Promise<IncidentDetail> =>
  until(`incident ${id} resolved with every host healthy`, async () => {
    const detail = await controlPlane.incident(id);
    if (detail.incident.status === 'halted')
      throw new Error(`incident ${id} halted: ${JSON.stringify(detail.timeline)}`);
    return detail.incident.status === 'resolved' && hosts.every((host) => host.isHealthy())
      ? detail
      : undefined;
  });

const timelineText = (detail: IncidentDetail): string =>
  detail.timeline.map((entry) => JSON.stringify(entry)).join('\n');

/**
 * vios2 of a fleet shuts down (announcing it through its agent), its clients lose their halves, the
 * outage holds them all; vios2 IPLs in a new boot, configures its devices, the clients' disks come
 * back; resolves with every client healthy.
 */
const vios2Ipl = async (fleet: ViosFleet): Promise<{ opened: IncidentSummary; resolved: IncidentDetail }> => {
  const hosts = [...fleet.md, ...fleet.npiv];
  await boot([fleet.vios1, fleet.vios2], hosts);
  const announced = await fleet.vios2.shutdown();
  expect(announced.result.outcome).toBe('delivered');
  await Promise.all([...fleet.md, ...fleet.npiv].map((host) => host.remoteDown()));
  const domain = fleet.vios2.failureDomain;
  const opened = await until(`the outage of ${domain} holding every client`, async () => {
    const [incident] = await incidentsOn(domain);
    return incident !== undefined && incident.affectedHosts >= hosts.length ? incident : undefined;
  });
  await fleet.vios2.ipl();
  await delay(1_000);
  await Promise.all(hosts.map((host) => host.remoteBack()));
  fleet.vios2.configure();
  await fleet.vios2.checkNow();
  const resolved = await resolvedWhenHealthy(opened.id, hosts);
  return { opened, resolved };
};

/** Every host healed with its plan run once, doing what its fault needs. */
const expectHealedOnce = (hosts: readonly SimulatedAgentHost[]): void => {
  for (const host of hosts) {
    expect(host.isHealthy(), host.hostId).toBe(true);
    expect(host.actions(), host.hostId).toEqual(host.expectedActions());
    expect(new Set(host.plansAdmitted).size, host.hostId).toBe(host.plansAdmitted.length);
  }
};

let fleets: {
  a: ViosFleet;
  b: ViosFleet;
  e: ViosFleet;
  single: SimClient;
  control: SimControlDomain;
  guest: SimStorageHost;
};

const SINGLE_SYSTEM: ManagedSystem = { type: '9009', model: '42A', serial: 'A0E2E03' };

beforeAll(async () => {
  writeFileSync(
    join(data, 'faultline.json'),
    JSON.stringify({
      core: {
        groupingWindowSeconds: 10,
        holdDownSeconds: 10,
        stabilitySeconds: 1,
        escalateDownSeconds: 3600,
        maxPlansInFlight: 8,
        pathReinstateDelaySeconds: 5,
      },
      sweepIntervalSeconds: 0.2,
      queues: { waitTimeSeconds: 1, visibilityTimeoutSeconds: 5 },
      pollSeconds: { active: 1, idle: 5 },
      // Pages go to a port nobody listens on: this test is about healing, not paging.
      notify: {
        destinations: [
          {
            name: 'nowhere',
            kind: 'pagerduty',
            url: 'http://127.0.0.1:9/v2/enqueue',
            routingKey: 'R0UT1NGKEY0123456789abcd',
          },
        ],
      },
    }),
  );
  plane = await startFaultlineUp({ dataDir: planeDir, configFile: join(data, 'faultline.json') });
  url = plane.url;
  controlPlane = new ControlPlane(url, readFileSync(join(planeDir, 'operator-token'), 'utf8').trim());
  const registration = { planPublicKeyPem: readFileSync(join(planeDir, 'plan-public-key.pem'), 'utf8') };

  // Registration: every server with its grant, every agent token; nothing runs yet. From here on
  // the operator token only reads.
  const a = await viosFleet('a', systemOf('A0E2E01'), { md: 10, npiv: 0, firstIndex: 100 }, registration);
  const b = await viosFleet('b', systemOf('A0E2E02'), { md: 6, npiv: 0, firstIndex: 200 }, registration, [
    'ipl.completed',
  ]);
  const e = await viosFleet('e', systemOf('A0E2E05'), { md: 2, npiv: 2, firstIndex: 500 }, registration);
  const single = new SimClient({
    hostId: 'c-lnxsolo',
    index: 300,
    system: SINGLE_SYSTEM,
    localPartition: 'viosa',
    remotePartition: 'viosb',
    wwids: true,
    url,
    agentToken: await controlPlane.mintAgentToken('c-lnxsolo'),
    planPublicKeyPem: registration.planPublicKeyPem,
  });
  const controlId = 'd-ctl1';
  const control = new SimControlDomain({
    hostId: controlId,
    guests: ['d-ldg1'],
    url,
    agentToken: await controlPlane.mintAgentToken(controlId, {
      role: 'control',
      serves: ['vdisk:d-ctl1/primary', 'vdisk:d-ctl1/alternate'],
    }),
  });
  const guest = new SimStorageHost({
    kind: 'ldoms-guest',
    hostId: 'd-ldg1',
    index: 400,
    controlDomain: controlId,
    url,
    agentToken: await controlPlane.mintAgentToken('d-ldg1'),
    planPublicKeyPem: registration.planPublicKeyPem,
  });
  servers.push(control);
  agentHosts.push(single, guest);
  fleets = { a, b, e, single, control, guest };
}, 120_000);

afterAll(async () => {
  await Promise.all([...servers, ...agentHosts].map((host) => host.stop().catch(() => undefined)));
  for (const host of [...servers, ...agentHosts]) host.remove();
  await plane?.stop();
  rmSync(data, { recursive: true, force: true });
});

describe.concurrent('healing with no operator in the loop', () => {
  it(
    "(a) heals the 10 clients of a vios2 that shuts down and IPLs, from its own agent's announcements",
    async () => {
      const fleet = fleets.a;
      const { opened, resolved } = await vios2Ipl(fleet);
      expect(opened.kind).toBe('outage');
      expect(resolved.incident.affectedHosts).toBe(fleet.md.length);
      expect(await incidentsOn(fleet.vios2.failureDomain)).toHaveLength(1);
      expectHealedOnce(fleet.md);
      const said = timelineText(resolved);
      expect(said).toContain('announced by agent:a-vios2');
      expect(said).toContain('ipl.completed from agent:a-vios2');
      expect(said).not.toContain('operator:');
      expect(fleet.vios2.boots).toBe(2);
    },
    CASE_SECONDS * 1000,
  );

  it(
    "(b) heals them when vios2's ipl.completed is lost: its new-boot heartbeat listing its domain brings it up",
    async () => {
      const fleet = fleets.b;
      const { resolved } = await vios2Ipl(fleet);
      expect(resolved.incident.affectedHosts).toBe(fleet.md.length);
      expectHealedOnce(fleet.md);
      expect(fleet.vios2.lost.map((event) => event.type)).toContain('ipl.completed');
      const said = timelineText(resolved);
      expect(said).toContain('b-vios2 from a new boot');
      expect(said).not.toContain('ipl.completed from');
      expect(said).not.toContain('operator:');
    },
    CASE_SECONDS * 1000,
  );

  it(
    '(c) heals a client alone on hosting partitions that run no agent when its disk reads again',
    async () => {
      const client = fleets.single;
      await boot([], [client]);
      await client.remoteDown('io-errors');
      const domain = vscsiDomain('viosb', SINGLE_SYSTEM);
      const opened = await until('the outage of one host', async () => {
        const [incident] = await incidentsOn(domain);
        return incident?.kind === 'outage' ? incident : undefined;
      });
      expect(opened.affectedHosts).toBe(1);
      await client.remoteBack();
      const resolved = await resolvedWhenHealthy(opened.id, [client]);
      expect(resolved.incident.kind).toBe('outage');
      expect(client.plansAdmitted).toHaveLength(1);
      expectHealedOnce([client]);
      expect(client.expectedActions()).toEqual([
        ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
        ['mdadm', '/dev/md0', '--re-add', '/dev/sdb1'],
      ]);
      expect(await incidentsOn(domain)).toHaveLength(1);
      expect(await incidentsOn(vscsiDomain('viosa', SINGLE_SYSTEM))).toEqual([]);
    },
    CASE_SECONDS * 1000,
  );

  it(
    "(d) heals an LDoms guest from its control domain's reports alone",
    async () => {
      const { control, guest } = fleets;
      await boot([control], [guest]);
      await control.stopServiceDomain('alternate');
      await guest.faultDown();
      const domain = control.domainOf('alternate');
      const opened = await until("the guest in its service domain's incident", async () => {
        const [incident] = await incidentsOn(domain);
        return incident !== undefined && incident.affectedHosts >= 1 ? incident : undefined;
      });
      await control.startServiceDomain('alternate');
      await guest.faultBack();
      await control.checkNow();
      const resolved = await resolvedWhenHealthy(opened.id, [guest]);
      expect(resolved.affectedHosts.map((host) => host.hostId)).toEqual(['d-ldg1']);
      expectHealedOnce([guest]);
      // Its replicas on the returned disk stayed in error: the plan re-creates them after the resync.
      expect(guest.actions()).toEqual([
        ['metareplace', '-e', 'd10', 'c0d1s0'],
        ['metadb', '-d', 'c0d1s7'],
        ['metadb', '-a', '-c', '3', 'c0d1s7'],
      ]);
      const said = timelineText(resolved);
      expect(said).toContain('announced by agent:d-ctl1');
      expect(said).toContain('domain.rebooted from agent:d-ctl1');
    },
    CASE_SECONDS * 1000,
  );

  it(
    '(e) makes one incident of a VIOS serving two clients by vSCSI and two by NPIV going down',
    async () => {
      const fleet = fleets.e;
      const { resolved } = await vios2Ipl(fleet);
      const everyHost = [...fleet.md, ...fleet.npiv].map((host) => host.hostId).sort();
      expect(resolved.affectedHosts.map((host) => host.hostId).sort()).toEqual(everyHost);
      const onSystem = (await controlPlane.incidents()).filter(
        (incident) =>
          incident.failureDomain.includes(hmcName(fleet.system)) || incident.failureDomain.startsWith('fc:'),
      );
      expect(onSystem.map((incident) => [incident.kind, incident.failureDomain])).toEqual([
        ['outage', fleet.vios2.failureDomain],
      ]);
      expectHealedOnce([...fleet.md, ...fleet.npiv]);
    },
    CASE_SECONDS * 1000,
  );
});
