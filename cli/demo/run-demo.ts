import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { SinglePointOfFailureBody } from '../../events/index.ts';
import { registerDemoSink } from '../../local/pages.ts';
import { SimClient } from '../../sim/client.ts';
import { SERVICE_DOMAINS, SimControlDomain, vdiskDomain } from '../../sim/control-domain.ts';
import { ControlPlane, type IncidentSummary } from '../../sim/control-plane-client.ts';
import { DemoError } from '../../sim/errors.ts';
import { DEMO_SYSTEM, vscsiDomain } from '../../sim/managed-system.ts';
import { SIM_AGENT_INTERVALS, type SimulatedAgentHost } from '../../sim/simulated-agent-host.ts';
import type { SimulatedServer } from '../../sim/simulated-server.ts';
import { SimStorageHost, type StorageHostKind } from '../../sim/storage-host.ts';
import { SimVios, type ViosClient } from '../../sim/vios.ts';
import { LiveView } from './live-view.ts';
import { type Page, type PageSink, startPageSink } from './page-sink.ts';
import {
  haltedError,
  runSideScenario,
  type SideIncident,
  type SideScenarioSetup,
  type Until,
} from './side-scenario.ts';
import { runSingleClientScenario, SINGLE_CLIENT_PARTITIONS, singleClient } from './single-client.ts';
import { SPOF_CLIENT, SPOF_PARTITION, spofClient, spofLine, spofListed, spofTrouble } from './spof-client.ts';
import type { StabilityTimings } from './stability-countdown.ts';
import { detectText, healText, incidentTimes } from './time-to-heal.ts';
import { VARIANT_STORY, variantClients, variantLine, variantViosClients } from './variant-clients.ts';

/**
 * `faultline demo`: a simulated fleet on the running control plane, healing with no operator in the
 * loop. `clients` Linux partitions (sim/client.ts), each running the real agent over its own
 * simulated host, mirror their disks over vios1 and vios2, two VIOS (sim/vios.ts) that run the real
 * agent too, as role `hosting` with the `vios` serving check. vios2 shuts down: its `rc.shutdown`
 * runs `faultline-agent announce going-down` through its agent, then it stops and its clients' halves
 * fail; the control plane opens one outage. vios2 IPLs in a new boot, its agent starts, and once
 * its virtual target devices are `Available` it announces `ipl.completed` itself; the control plane
 * heals the clients in waves (a canary first) while the demo's page sink receives the trigger and
 * the resolve. Meanwhile an LDoms guest loses the submirror its alternate service domain serves
 * while that domain reboots (`ldm stop`/`ldm start` on a control domain whose real agent announces
 * both and reports which service domain serves each guest disk, sim/control-domain.ts), a few
 * multipath hosts lose the paths through one FC port (sim/storage-host.ts), and a client alone on
 * two hosting partitions that run no agent (single-client.ts) loses one and heals from its own
 * read-backs: each is its own incident, run by side-scenario.ts and single-client.ts. One more
 * client has both halves on vios1 (spof-client.ts): the topology lists it as a single point of
 * failure and vios2's outage leaves it alone. Two more of vios2's clients are laid out as some in
 * the field are (variant-clients.ts): one whose arrays have no write-intent bitmap on an mdadm
 * that refuses the stale `--add`, one with a root and a data disk from each VIOS; they are in
 * vios2's outage with the plain clients.
 *
 * The operator token registers the servers with their grants and mints every agent token before
 * anything runs; after that the demo only reads with it (incidents, topology): every event
 * comes from an agent with its own token. The demo ends when every incident is resolved and every
 * simulated host is healthy, or fails with the reason at its deadline; `cleanup` then stops every
 * agent together, servers and clients alike, as `systemctl stop` does (no shutdown, nothing
 * announced), so the control plane loses contact with the whole fleet at once.
 */

export const DEMO_DEFAULTS = {
  clients: 40,
  /** LDoms guests with an SVM mirror over the primary and the alternate service domain. */
  ldomsGuests: 1,
  /** Multipath hosts behind the failing FC port: at least two, so the fault is an outage. */
  multipathHosts: 3,
  /** Clients alone on two hosting partitions that run no agent (the seed's own layout). */
  singleClients: 1,
  /** How long vios2 stays down once the outage is seen (its IPL may take longer: sim/vios.ts). */
  outageSeconds: 3,
  /** How long a booted VIOS takes to configure its virtual devices (its targets `Defined` meanwhile). */
  viosConfigureSeconds: 2,
  /** The whole demo's deadline: the control plane's default stability period alone is a minute. */
  timeoutSeconds: 900,
  /** How long the demo waits for the resolve page once the incident resolved. */
  pageWaitSeconds: 30,
  pollMs: 500,
} as const;

export type DemoOptions = {
  clients: number;
  /** Defaults to DEMO_DEFAULTS.ldomsGuests; 0 leaves the LDoms guests out. */
  ldomsGuests?: number;
  /** Defaults to DEMO_DEFAULTS.multipathHosts; 0 leaves them out, 1 is refused. */
  multipathHosts?: number;
  /** Defaults to DEMO_DEFAULTS.singleClients; 0 leaves the one-client layout out. */
  singleClients?: number;
  url: string;
  operatorToken: string | undefined;
  /** The control plane's data folder (its plan public key), when the key is not given. */
  dataDir: string;
  planPublicKeyPem?: string;
  sinkPort: number;
  sinkHost?: string;
  outageSeconds: number;
  timeoutSeconds: number;
  tty: boolean;
  write: (text: string) => void;
  /**
   * The control plane's stability period, path reinstate delay and runbook modes, for the countdown
   * while a domain that is back waits to be stable; the defaults of docs/architecture.md §5 otherwise.
   */
  timings?: StabilityTimings;
  /** Aborted to stop the demo early (its output's reader went away): the fleet is cleaned up. */
  stop?: AbortSignal;
};

export type { SideIncident };

export type DemoResult = {
  /** The vios2 outage. */
  incident: IncidentSummary;
  /** The vios2 outage's pages. */
  pages: Page[];
  /** The incidents of the LDoms guests' alternate service domain, of the FC port and of the single clients, resolved. */
  sideIncidents: SideIncident[];
  /** The single points of failure the control plane's topology lists (the vios1-only client's arrays). */
  singlePointsOfFailure: SinglePointOfFailureBody[];
  /** Every page the sink received. */
  sinkPages: Page[];
  /** The vios2 outage's time to detect and time to heal, in seconds, as the control plane counts them (./time-to-heal.ts). */
  timeToDetectSeconds: number | null;
  timeToHealSeconds: number | null;
  wallSeconds: number;
};

/** A running demo: its hosts (for tests to watch) and how it ends. */
export type DemoRun = {
  clients: SimClient[];
  /** vios2's clients laid out otherwise, in its outage too: no bitmap (mdadm 3.2.3), two disks. */
  variantClients: SimClient[];
  /** The client whose two halves both come from vios1, kept apart: vios2's outage is not its. */
  spofClients: SimClient[];
  /** The LDoms guests and the multipath hosts. */
  storageHosts: SimStorageHost[];
  /** The clients alone on hosting partitions that run no agent. */
  singleClients: SimClient[];
  /** vios1, vios2 and the LDoms control domain, each running the real agent in its server role. */
  servers: SimulatedServer[];
  view: LiveView;
  done: Promise<DemoResult>;
  /** Stops every agent together (servers and clients, no shutdown), the sink, and removes the simulated hosts. */
  cleanup: () => Promise<void>;
};

const hostName = (index: number): string => `lnx${String(index + 1).padStart(3, '0')}`;
const storageHostName = (kind: StorageHostKind, index: number): string =>
  `${kind === 'ldoms-guest' ? 'ldg' : 'mpx'}${String(index + 1).padStart(2, '0')}`;
/** The control domain of the LDoms guests. */
const CONTROL_DOMAIN = 'ctl1';
/** The VIOS of the md clients; vios2 is the one that IPLs. */
const VIOS = { first: 'vios1', second: 'vios2' } as const;
/** The first client's partition id; each client's adapters name it. */
const FIRST_CLIENT_PARTITION_ID = 3;

const readPlanKey = (options: DemoOptions): string => {
  if (options.planPublicKeyPem !== undefined) return options.planPublicKeyPem;
  const path = join(options.dataDir, 'plan-public-key.pem');
  if (!existsSync(path)) {
    throw new DemoError(
      'api-error',
      `no plan public key at ${path}: run the demo with --data pointing at the folder \`faultline up\` uses (the agents verify every plan with its key)`,
    );
  }
  return readFileSync(path, 'utf8');
};

const seconds = (ms: number): number => Math.round(ms / 100) / 10;
const clockTime = (at: number): string => new Date(at).toISOString().slice(11, 19);

export const startDemo = async (options: DemoOptions): Promise<DemoRun> => {
  const started = Date.now();
  const controlPlane = new ControlPlane(options.url, options.operatorToken);
  const ldomsGuests = options.ldomsGuests ?? DEMO_DEFAULTS.ldomsGuests;
  const multipathHosts = options.multipathHosts ?? DEMO_DEFAULTS.multipathHosts;
  const singleClients = options.singleClients ?? DEMO_DEFAULTS.singleClients;
  if (multipathHosts === 1) {
    throw new DemoError(
      'invalid-option',
      'one multipath host alone makes a local fault, not an outage: give at least 2, or 0',
    );
  }
  await controlPlane.check();
  const planPublicKeyPem = readPlanKey(options);
  const clients: SimClient[] = [];
  const variants: SimClient[] = [];
  /** Every client of vios2's outage: the plain ones and the other layouts. */
  const vios2Clients = (): SimClient[] => [...clients, ...variants];
  const spofClients: SimClient[] = [];
  const storageHosts: SimStorageHost[] = [];
  const singleClientHosts: SimClient[] = [];
  const servers: SimulatedServer[] = [];
  const view = new LiveView(
    options.write,
    options.tty,
    vios2Clients,
    () => [...storageHosts, ...singleClientHosts],
    options.timings === undefined ? {} : { timings: options.timings },
  );
  const deadline = started + options.timeoutSeconds * 1000;

  const waves = new Map<number, string[]>();
  const seenPlans = new Set<string>();
  const onPlanFetched = (hostId: string, planId: string, wave: number) => {
    if (seenPlans.has(planId)) return;
    seenPlans.add(planId);
    const hosts = waves.get(wave) ?? [];
    hosts.push(hostId);
    waves.set(wave, hosts);
    view.say(wave === 0 ? `canary: ${hostId} fetched its plan` : `wave ${wave}: ${hostId} fetched its plan`);
  };
  const onLog = (hostId: string, level: string, message: string) => {
    if (level !== 'info' || !message.includes('admitted')) view.say(`${hostId}: ${message}`);
  };
  let cleaned = false;
  const onServerLog = (hostId: string, _level: string, message: string) => {
    // Once the demo is over its agents stopping is no news.
    if (!cleaned) view.say(`${hostId}: ${message}`);
  };

  const sink: PageSink = await startPageSink(options.sinkPort, options.sinkHost, (page) =>
    view.say(
      `page ${page.event_action.toUpperCase()} at the sink: ${page.payload?.summary ?? page.dedup_key ?? ''}`,
    ),
  );
  // Registered in the control plane's data folder: only then do its pages come here (local/pages.ts).
  const unregisterSink = registerDemoSink(options.dataDir, Number(new URL(sink.url).port));
  const agentHosts = (): SimulatedAgentHost[] => [
    ...vios2Clients(),
    ...spofClients,
    ...storageHosts,
    ...singleClientHosts,
  ];
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    view.stop();
    // Every agent stops at once, servers and clients alike, cleanly: `systemctl stop` is no
    // shutdown and announces nothing, so the control plane loses contact with the whole fleet.
    const everyone = [...servers, ...agentHosts()];
    await Promise.all(everyone.map((host) => host.stop().catch(() => undefined)));
    for (const host of everyone) host.remove();
    unregisterSink();
    await sink.close();
  };

  const existing = new Set<string>();
  try {
    for (const incident of await controlPlane.incidents()) existing.add(incident.id);
    view.headline = `${options.url}, sink ${sink.url}`;
    const { url } = options;

    // Registration, with the operator token, before anything runs: each server with its grant
    // (role and domains, §3 "Sender binding"), then an agent token for every host. From here on
    // the demo only reads with the operator token.
    // Every vSCSI client by its partition id: the plain clients, the vios1-only one, the other layouts.
    const partitionId = (index: number) => FIRST_CLIENT_PARTITION_ID + index;
    const plain: ViosClient[] = Array.from({ length: options.clients }, (_, index) => ({
      hostId: hostName(index),
      partitionId: partitionId(index),
    }));
    const spof: ViosClient = { hostId: SPOF_CLIENT, partitionId: partitionId(options.clients) };
    const others = variantViosClients(partitionId(options.clients + 1));
    for (const [lparId, partition] of [
      [1, VIOS.first],
      [2, VIOS.second],
    ] as const) {
      servers.push(
        new SimVios({
          hostId: partition,
          system: DEMO_SYSTEM,
          lparId,
          vscsiClients: [...plain, ...(partition === SPOF_PARTITION ? [spof] : []), ...others],
          url,
          agentToken: await controlPlane.mintAgentToken(partition, {
            role: 'hosting',
            serves: [vscsiDomain(partition)],
          }),
          onLog: onServerLog,
        }),
      );
    }
    if (ldomsGuests > 0) {
      const guests = Array.from({ length: ldomsGuests }, (_, index) => storageHostName('ldoms-guest', index));
      // Its grant names the failure domains of its service domains: `vdisk:ctl1/primary`, `.../alternate`.
      const serves = Object.values(SERVICE_DOMAINS).map((service) => vdiskDomain(CONTROL_DOMAIN, service));
      servers.push(
        new SimControlDomain({
          hostId: CONTROL_DOMAIN,
          guests,
          url,
          agentToken: await controlPlane.mintAgentToken(CONTROL_DOMAIN, { role: 'control', serves }),
          onLog: onServerLog,
        }),
      );
    }
    for (let index = 0; index < options.clients; index += 1) {
      const hostId = hostName(index);
      clients.push(
        new SimClient({
          hostId,
          index,
          url,
          agentToken: await controlPlane.mintAgentToken(hostId),
          planPublicKeyPem,
          onLog,
          onPlanFetched,
        }),
      );
    }
    variants.push(
      ...(await variantClients(controlPlane, {
        firstIndex: options.clients + 1 + singleClients,
        url,
        planPublicKeyPem,
        onLog,
        onPlanFetched,
      })),
    );
    spofClients.push(
      await spofClient(controlPlane, { index: options.clients, url, planPublicKeyPem, onLog }),
    );
    const sides: [StorageHostKind, number][] = [
      ['ldoms-guest', ldomsGuests],
      ['multipath', multipathHosts],
    ];
    for (const [kind, count] of sides) {
      for (let index = 0; index < count; index += 1) {
        const hostId = storageHostName(kind, index);
        storageHosts.push(
          new SimStorageHost({
            kind,
            hostId,
            index,
            url,
            agentToken: await controlPlane.mintAgentToken(hostId),
            planPublicKeyPem,
            controlDomain: CONTROL_DOMAIN,
            stuckPath: kind === 'multipath' && index === count - 1,
            onLog,
            onPlanFetched,
          }),
        );
      }
    }
    for (let index = 0; index < singleClients; index += 1) {
      singleClientHosts.push(
        await singleClient(controlPlane, index, {
          clientIndex: options.clients + 1 + index,
          url,
          planPublicKeyPem,
          onLog,
          onPlanFetched,
        }),
      );
    }

    view.start();
    view.say(
      `${clients.length} clients, each a real agent over a simulated host (md0 root, md1 swap over vios1 and vios2)`,
    );
    view.say(
      'vios1 and vios2 run the real agent too (role hosting, serving check: ioscli lsmap), registered with their grants',
    );
    view.say(VARIANT_STORY);
    view.say(`${SPOF_CLIENT}: md0 and md1 with both halves on ${SPOF_PARTITION}, mirrored on paper only`);
    if (ldomsGuests > 0)
      view.say(
        `${ldomsGuests} LDoms guest(s): SVM d10 over ${CONTROL_DOMAIN}'s primary and alternate service domains; ${CONTROL_DOMAIN} runs the real agent (role control, ldm) and reports which domain serves each guest disk`,
      );
    if (multipathHosts > 0)
      view.say(`${multipathHosts} multipath hosts: mpatha over two FC ports, one of them about to fail`);
    for (const client of singleClientHosts)
      view.say(
        `${client.hostId}: alone on ${SINGLE_CLIENT_PARTITIONS.local} and ${SINGLE_CLIENT_PARTITIONS.remote} of its own system, which run no agent`,
      );
    // The servers boot first, as a fleet does: each agent lists what it serves once its check passes.
    for (const server of servers) await server.start();
    for (const host of agentHosts()) await host.start();
    await Promise.all(agentHosts().map((host) => host.scanNow('demo baseline')));
    await Promise.all(servers.map((server) => server.checkNow()));
    view.say(
      `every host reported healthy storage; ${servers.map((server) => server.hostId).join(', ')} heartbeat, each listing what it serves`,
    );
  } catch (error) {
    await cleanup();
    throw error;
  }

  const vios2 = servers.find((server) => server.hostId === VIOS.second) as SimVios;
  const domain = vios2.failureDomain;
  const controlDomain = servers.find(
    (server): server is SimControlDomain => server instanceof SimControlDomain,
  );

  const run = async (): Promise<DemoResult> => {
    // Wait for the agents' first heartbeats to be delivered before the fault.
    await delay(SIM_AGENT_INTERVALS.scanSeconds * 2000);

    const tolerant = async <T>(what: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await what();
      } catch (error) {
        if (error instanceof DemoError && error.code === 'control-plane-unreachable') {
          view.headline = `control plane not answering at ${options.url}: retrying`;
          return undefined;
        }
        throw error;
      }
    };
    const until: Until = async (what, probe) => {
      for (;;) {
        const value = await tolerant(probe);
        if (value !== undefined) return value;
        if (Date.now() > deadline) {
          throw new DemoError('timed-out', `timed out after ${options.timeoutSeconds} s waiting for ${what}`);
        }
        await delay(DEMO_DEFAULTS.pollMs);
      }
    };

    const say = (line: string) => view.say(line);
    const watch = (incident: IncidentSummary, hasPaths: boolean) => view.watch(incident, hasPaths);
    const side: SideScenarioSetup = {
      storageHosts,
      controlDomain,
      controlPlane,
      existing,
      outageSeconds: options.outageSeconds,
      until,
      say,
      watch,
    };
    const sideRuns = Promise.all([
      runSideScenario('ldoms-guest', side).then((incident) => (incident === undefined ? [] : [incident])),
      runSideScenario('multipath', side).then((incident) => (incident === undefined ? [] : [incident])),
      runSingleClientScenario({
        clients: singleClientHosts,
        controlPlane,
        existing,
        outageSeconds: options.outageSeconds,
        until,
        say,
        watch,
      }),
    ]).then((runs) => runs.flat());
    // Awaited once vios2's outage is healed; a failure meanwhile is not left unhandled.
    sideRuns.catch(() => undefined);

    const announced = await vios2.shutdown();
    view.say(`vios2 shuts down: rc.shutdown runs faultline-agent announce going-down: ${announced.message}`);
    await Promise.all(vios2Clients().map((client) => client.remoteDown()));
    view.say(`vios2 is DOWN: ${vios2Clients().length} clients lose the md half it serves (${domain})`);

    const ours = (incident: IncidentSummary) =>
      !existing.has(incident.id) && incident.failureDomain === domain;
    const opened = await until('the outage incident', async () =>
      (await controlPlane.incidents()).find((incident) => ours(incident) && incident.kind === 'outage'),
    );
    view.incident = opened;
    view.say(`incident ${opened.id} OPENED: ${opened.kind} of ${opened.failureDomain} (${opened.status})`);

    const affected = await until('every client in the incident', async () => {
      const detail = await controlPlane.incident(opened.id);
      view.incident = detail.incident;
      return detail.incident.affectedHosts >= vios2Clients().length ? detail.incident : undefined;
    });
    view.say(
      `hosts affected: ${affected.affectedHosts}; vios2 stays down ${options.outageSeconds} s at least`,
    );
    await delay(options.outageSeconds * 1000);

    const bootAt = vios2.iplAt();
    view.say(
      bootAt > Date.now() + 1000
        ? `vios2 IPLs: it boots at ${clockTime(bootAt)} (AIX keeps its boot record to the minute: it must postdate the shutdown)`
        : 'vios2 IPLs',
    );
    await vios2.ipl();
    view.say(
      `vios2 booted (boot ${vios2.boots}, a new boot id); its agent runs but lists nothing while lsmap shows its target devices Defined`,
    );
    await delay(DEMO_DEFAULTS.viosConfigureSeconds * 1000);
    await Promise.all(vios2Clients().map((client) => client.remoteBack()));
    vios2.configure();
    await vios2.checkNow();
    view.say(
      "vios2 configured its virtual devices (lsmap: every target Available): its agent lists its domain and announces ipl.completed; the clients' disks answer again after a rescan",
    );

    let lastStatus = affected.status;
    const resolved = await until('the incident resolved and every client healthy', async () => {
      const detail = await controlPlane.incident(opened.id);
      view.incident = detail.incident;
      const current = detail.incident;
      view.watch(current, false);
      if (current.status !== lastStatus) {
        // Resolved is said below, once every client is healthy too.
        if (current.status !== 'resolved')
          view.say(`incident ${current.id} is ${current.status}${current.escalated ? ' (escalated)' : ''}`);
        lastStatus = current.status;
      }
      if (current.status === 'halted') throw haltedError(current);
      if (current.status !== 'resolved') return undefined;
      return vios2Clients().every((client) => client.isHealthy()) ? current : undefined;
    });
    view.say(
      `incident ${resolved.id} RESOLVED: ${resolved.failureDomain}, ${vios2Clients().length} clients healthy; ${healText(resolved)}`,
    );
    const sideIncidents = await sideRuns;
    const singlePointsOfFailure = await spofListed(controlPlane, until);

    // Every incident that paged has its resolve delivered to the sink.
    const pageDeadline = Date.now() + DEMO_DEFAULTS.pageWaitSeconds * 1000;
    const paged = (id: string, action: string) =>
      sink.pages.some((page) => page.event_action === action && page.dedup_key === id);
    const ids = [opened.id, ...sideIncidents.map((side) => side.incident.id)];
    for (const id of ids) {
      while ((id === opened.id || paged(id, 'trigger')) && !paged(id, 'resolve')) {
        if (Date.now() > pageDeadline) {
          throw new DemoError(
            'not-healed',
            `incident ${id} resolved but its resolve page never reached ${sink.url}`,
          );
        }
        await delay(DEMO_DEFAULTS.pollMs);
      }
    }
    const unhealthy = vios2Clients()
      .filter((client) => !client.isHealthy())
      .map((client) => client.hostId);
    for (const host of [...storageHosts, ...singleClientHosts])
      if (!host.isHealthy()) unhealthy.push(host.hostId);
    unhealthy.push(...spofClients.flatMap((client) => spofTrouble(client) ?? []));
    if (unhealthy.length > 0)
      throw new DemoError('not-healed', `clients not healthy: ${unhealthy.join(', ')}`);
    return {
      incident: resolved,
      pages: sink.pages.filter((page) => page.dedup_key === opened.id),
      sideIncidents,
      singlePointsOfFailure,
      sinkPages: [...sink.pages],
      timeToDetectSeconds: incidentTimes(resolved).detectSeconds,
      timeToHealSeconds: incidentTimes(resolved).healSeconds,
      wallSeconds: seconds(Date.now() - started),
    };
  };

  return {
    clients,
    variantClients: variants,
    spofClients,
    storageHosts,
    singleClients: singleClientHosts,
    servers,
    view,
    done: run(),
    cleanup,
  };
};

/** What a side incident's hosts are called in the summary. */
const SIDE_HOSTS: Readonly<Record<SideIncident['scenario'], string>> = {
  'ldoms-guest': 'LDoms guest(s)',
  multipath: 'multipath hosts',
  'single-client': 'single client(s) (no server agent)',
};

/** The state database replicas an LDoms guest's plan re-created (`metadb -a -c N <slice>`), if any. */
const replicaNote = (host: SimulatedAgentHost): string | undefined => {
  if (!(host instanceof SimStorageHost) || host.kind !== 'ldoms-guest') return undefined;
  const added = host.actions().filter((argv) => argv[0] === 'metadb' && argv[1] === '-a');
  if (added.length === 0) return undefined;
  const recreated = added.map((argv) => `${argv[3] ?? '1'} on ${argv.at(-1) ?? '?'}`).join(', ');
  return `${host.hostId}: replicas re-created (${recreated})`;
};

const plural = (count: number, one: string, many = `${one}s`): string =>
  `${count} ${count === 1 ? one : many}`;

/** The plans an incident's own hosts ran: each host is in one of the demo's incidents. */
const plansRun = (hosts: readonly SimulatedAgentHost[]): number =>
  hosts.reduce((sum, host) => sum + host.plansAdmitted.length, 0);

/**
 * The closing summary: each incident with its own hosts, the plans they ran, and its time to detect
 * and time to heal (./time-to-heal.ts: the figures of the live view's RESOLVED lines and of
 * `faultline stats`), then the mean and the longest time to heal of the demo's incidents.
 */
export const summaryLines = (
  result: DemoResult,
  { clients, variantClients }: Pick<DemoRun, 'clients' | 'variantClients'>,
): string[] => {
  const vios2Hosts = [...clients, ...variantClients];
  const hosts = [...vios2Hosts, ...result.sideIncidents.flatMap((side) => side.hosts)];
  const servedAgain = hosts.reduce((sum, client) => sum + client.plansServedAgain, 0);
  const triggers = result.sinkPages.filter((page) => page.event_action === 'trigger').length;
  const resolves = result.sinkPages.filter((page) => page.event_action === 'resolve').length;
  const times = (incident: IncidentSummary) => `${detectText(incident)}, ${healText(incident)}`;
  const sideLines = result.sideIncidents.map((side) => {
    const commands = side.hosts.flatMap((host) =>
      host.actions().map((argv) => `${host.hostId}: ${argv.join(' ')}`),
    );
    const notes = side.hosts.flatMap((host) => replicaNote(host) ?? []);
    return `incident ${side.incident.id} RESOLVED: ${side.incident.failureDomain}, ${side.hosts.length} ${SIDE_HOSTS[side.scenario]} healed by ${plural(plansRun(side.hosts), 'plan')}; ${times(side.incident)}; ran ${commands.length === 0 ? 'nothing' : commands.join(', ')}${notes.map((note) => `; ${note}`).join('')}`;
  });
  const heals = [result.incident, ...result.sideIncidents.map((side) => side.incident)].flatMap(
    (incident) => incidentTimes(incident).healSeconds ?? [],
  );
  const tenths = (value: number) => Math.round(value * 10) / 10;
  return [
    `incident ${result.incident.id} RESOLVED: ${result.incident.failureDomain}, ${plural(vios2Hosts.length, 'host')} healed by ${plural(plansRun(vios2Hosts), 'plan')} (each run once); ${times(result.incident)}`,
    ...(variantClients.length === 0 ? [] : [variantLine(variantClients)]),
    ...sideLines,
    ...(heals.length === 0
      ? []
      : [
          `time to heal, from the control plane seeing the server back to the incident resolved (as \`faultline stats\` counts it): mean ${tenths(heals.reduce((sum, value) => sum + value, 0) / heals.length)} s, longest ${Math.max(...heals)} s, over these ${plural(heals.length, 'incident')}`,
        ]),
    ...(result.singlePointsOfFailure.length === 0 ? [] : [spofLine(result.singlePointsOfFailure)]),
    'no operator in the loop: the servers announced themselves with their own tokens; the operator token only registered them and read',
    `pages at the sink: ${triggers} trigger, ${resolves} resolve; demo wall time ${result.wallSeconds} s`,
    ...(servedAgain === 0 ? [] : [`plans served again after they ran (not run twice): ${servedAgain}`]),
  ];
};

/** Runs the demo to its end: 0 when healed, the error's exit code otherwise (1 when stopped early). */
export const runFleetDemo = async (options: DemoOptions): Promise<number> => {
  const demo = await startDemo(options);
  const stopped = new Promise<'stopped'>((resolve) => {
    if (options.stop?.aborted) resolve('stopped');
    options.stop?.addEventListener('abort', () => resolve('stopped'), { once: true });
  });
  // Once stopped, what the run still waits for fails at its deadline, with nobody waiting.
  demo.done.catch(() => undefined);
  try {
    const result = await Promise.race([demo.done, stopped]);
    if (result === 'stopped') {
      demo.view.stop();
      return 1;
    }
    demo.view.close(summaryLines(result, demo));
    return 0;
  } catch (error) {
    demo.view.close([`faultline demo: ${(error as Error).message}`]);
    return error instanceof DemoError ? error.exitCode : 1;
  } finally {
    await demo.cleanup();
  }
};
