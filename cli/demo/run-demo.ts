import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { SinglePointOfFailureBody } from '../../events/index.ts';
import { SimClient } from '../../sim/client.ts';
import { ControlDomain, SERVICE_DOMAINS, vdiskDomain } from '../../sim/control-domain.ts';
import { ControlPlane, type IncidentSummary, type Stats } from '../../sim/control-plane-client.ts';
import { DemoError } from '../../sim/errors.ts';
import { HostingPartition, vscsiDomain } from '../../sim/hosting-partition.ts';
import { SIM_AGENT_INTERVALS } from '../../sim/simulated-agent-host.ts';
import { SimStorageHost, type StorageHostKind } from '../../sim/storage-host.ts';
import { LiveView } from './live-view.ts';
import { type Page, type PageSink, startPageSink } from './page-sink.ts';
import {
  haltedError,
  runSideScenario,
  type SideIncident,
  type SideScenarioSetup,
  type Until,
} from './side-scenario.ts';
import { SPOF_CLIENT, SPOF_PARTITION, spofClient, spofLine, spofListed, spofTrouble } from './spof-client.ts';

/**
 * `faultline demo`: a simulated fleet on the running control plane. `clients` Linux partitions
 * (sim/client.ts), each running the real agent over its own simulated host, mirror their disks
 * over vios1 and vios2 (sim/hosting-partition.ts). vios2 goes down, its clients' halves fail, the
 * control plane opens one outage; vios2 comes back (`ipl.completed`), and the control plane heals
 * the clients in waves (a canary first) while the demo's page sink receives the trigger and the
 * resolve. Meanwhile an LDoms guest loses the submirror its alternate service domain serves while
 * that domain reboots (its control domain announces both, sim/control-domain.ts), and a few
 * multipath hosts lose the paths through one FC port (sim/storage-host.ts): each is its own incident,
 * run by side-scenario.ts. One more client has both halves on vios1 (spof-client.ts): the topology
 * lists it as a single point of failure and vios2's outage leaves it alone. The demo ends when
 * every incident is resolved and every simulated host is healthy, or fails with the reason at its deadline.
 */

export const DEMO_DEFAULTS = {
  clients: 40,
  /** LDoms guests with an SVM mirror over the primary and the alternate service domain. */
  ldomsGuests: 1,
  /** Multipath hosts behind the failing FC port: at least two, so the fault is an outage. */
  multipathHosts: 3,
  /** How long vios2 stays down once the outage is seen. */
  outageSeconds: 3,
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
};

export type { SideIncident };

export type DemoResult = {
  /** The vios2 outage. */
  incident: IncidentSummary;
  /** The vios2 outage's pages. */
  pages: Page[];
  /** The incidents of the LDoms guests' alternate service domain and of the FC port, resolved. */
  sideIncidents: SideIncident[];
  /** The single points of failure the control plane's topology lists (the vios1-only client's arrays). */
  singlePointsOfFailure: SinglePointOfFailureBody[];
  /** Every page the sink received. */
  sinkPages: Page[];
  /** vios2 down → incident opened, and vios2 back → incident resolved, in seconds. */
  timeToDetectSeconds: number;
  timeToHealSeconds: number;
  stats: Stats | undefined;
  wallSeconds: number;
};

/** A running demo: its clients (for tests to watch) and how it ends. */
export type DemoRun = {
  clients: SimClient[];
  /** The client whose two halves both come from vios1, kept apart: vios2's outage is not its. */
  spofClients: SimClient[];
  /** The LDoms guests and the multipath hosts. */
  storageHosts: SimStorageHost[];
  view: LiveView;
  done: Promise<DemoResult>;
  /** Stops the agents, the partitions and the sink, and removes the simulated hosts. */
  cleanup: () => Promise<void>;
};

const hostName = (index: number): string => `lnx${String(index + 1).padStart(3, '0')}`;
const storageHostName = (kind: StorageHostKind, index: number): string =>
  `${kind === 'ldoms-guest' ? 'ldg' : 'mpx'}${String(index + 1).padStart(2, '0')}`;
/** The control domain of the LDoms guests. */
const CONTROL_DOMAIN = 'ctl1';

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
const tenths = (value: number | null | undefined): number | null =>
  value === null || value === undefined ? null : Math.round(value * 10) / 10;

export const startDemo = async (options: DemoOptions): Promise<DemoRun> => {
  const started = Date.now();
  const controlPlane = new ControlPlane(options.url, options.operatorToken);
  const ldomsGuests = options.ldomsGuests ?? DEMO_DEFAULTS.ldomsGuests;
  const multipathHosts = options.multipathHosts ?? DEMO_DEFAULTS.multipathHosts;
  if (multipathHosts === 1) {
    throw new DemoError(
      'invalid-option',
      'one multipath host alone makes a local fault, not an outage: give at least 2, or 0',
    );
  }
  await controlPlane.check();
  const planPublicKeyPem = readPlanKey(options);
  const clients: SimClient[] = [];
  const spofClients: SimClient[] = [];
  const storageHosts: SimStorageHost[] = [];
  const view = new LiveView(
    options.write,
    options.tty,
    () => clients,
    () => storageHosts,
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

  const sink: PageSink = await startPageSink(options.sinkPort, options.sinkHost, (page) =>
    view.say(
      `page ${page.event_action.toUpperCase()} at the sink: ${page.payload?.summary ?? page.dedup_key ?? ''}`,
    ),
  );
  const partitions: HostingPartition[] = [];
  let controlDomain: ControlDomain | undefined;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    view.stop();
    for (const partition of partitions) partition.stop();
    controlDomain?.stop();
    const hosts = [...clients, ...spofClients, ...storageHosts];
    await Promise.all(hosts.map((client) => client.stop().catch(() => undefined)));
    for (const client of hosts) client.remove();
    await sink.close();
  };

  const existing = new Set<string>();
  try {
    for (const incident of await controlPlane.incidents()) existing.add(incident.id);
    view.headline = `${options.url}, sink ${sink.url}`;
    const heartbeatError = (error: Error) =>
      view.say(`a hosting partition's heartbeat failed: ${error.message}`);
    for (const hostId of ['vios1', 'vios2']) {
      // Registered as a server with its grant before it sends anything (§3 "Sender binding").
      const partition = new HostingPartition(
        hostId,
        await controlPlane.mintAgentToken(hostId, { role: 'hosting', serves: [vscsiDomain(hostId)] }),
        controlPlane,
        SIM_AGENT_INTERVALS.heartbeatSeconds,
      );
      partitions.push(partition);
      await partition.start(heartbeatError);
    }
    for (let index = 0; index < options.clients; index += 1) {
      const hostId = hostName(index);
      clients.push(
        new SimClient({
          hostId,
          index,
          url: options.url,
          agentToken: await controlPlane.mintAgentToken(hostId),
          planPublicKeyPem,
          onLog,
          onPlanFetched,
        }),
      );
    }
    const { url } = options;
    spofClients.push(
      await spofClient(controlPlane, { index: options.clients, url, planPublicKeyPem, onLog }),
    );
    if (ldomsGuests > 0) {
      controlDomain = new ControlDomain(
        CONTROL_DOMAIN,
        await controlPlane.mintAgentToken(CONTROL_DOMAIN, {
          role: 'control',
          serves: Object.values(SERVICE_DOMAINS).map((service) => vdiskDomain(CONTROL_DOMAIN, service)),
        }),
        controlPlane,
        SIM_AGENT_INTERVALS.heartbeatSeconds,
      );
      await controlDomain.start((error) =>
        view.say(`the control domain's heartbeat failed: ${error.message}`),
      );
    }
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
            url: options.url,
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
    view.start();
    view.say(
      `${clients.length} clients, each a real agent over a simulated host (md0 root, md1 swap over vios1 and vios2)`,
    );
    view.say(`${SPOF_CLIENT}: md0 and md1 with both halves on ${SPOF_PARTITION}, mirrored on paper only`);
    if (ldomsGuests > 0)
      view.say(
        `${ldomsGuests} LDoms guest(s): SVM d10 over ${CONTROL_DOMAIN}'s primary and alternate service domains`,
      );
    if (multipathHosts > 0)
      view.say(`${multipathHosts} multipath hosts: mpatha over two FC ports, one of them about to fail`);
    for (const client of [...clients, ...spofClients]) await client.start();
    for (const host of storageHosts) await host.start();
    const everyHost = [...clients, ...spofClients, ...storageHosts];
    await Promise.all(everyHost.map((client) => client.scanNow('demo baseline')));
    view.say('every host reported healthy storage; vios1, vios2 and the control domain heartbeat');
  } catch (error) {
    await cleanup();
    throw error;
  }

  const vios2 = partitions[1] as HostingPartition;
  const domain = vscsiDomain('vios2');

  const run = async (): Promise<DemoResult> => {
    // Wait for the agents' first heartbeats to be delivered before the fault.
    await delay(SIM_AGENT_INTERVALS.scanSeconds * 2000);
    const downAt = Date.now();
    vios2.goDown();
    await Promise.all(clients.map((client) => client.vios2Down()));
    view.say(`vios2 goes DOWN: ${clients.length} clients lose the md half it serves (${domain})`);

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

    const side: SideScenarioSetup = {
      storageHosts,
      controlDomain,
      controlPlane,
      existing,
      outageSeconds: options.outageSeconds,
      until,
      say: (line) => view.say(line),
    };
    const sideRuns = Promise.all([runSideScenario('ldoms-guest', side), runSideScenario('multipath', side)]);
    // Awaited once vios2's outage is healed; a failure meanwhile is not left unhandled.
    sideRuns.catch(() => undefined);

    const ours = (incident: IncidentSummary) =>
      !existing.has(incident.id) && incident.failureDomain === domain;
    const opened = await until('the outage incident', async () =>
      (await controlPlane.incidents()).find((incident) => ours(incident) && incident.kind === 'outage'),
    );
    view.incident = opened;
    view.say(`incident ${opened.id} OPENED: ${opened.kind} of ${opened.failureDomain} (${opened.status})`);
    const openedAt = Date.parse(opened.openedAt);

    const affected = await until('every client in the incident', async () => {
      const detail = await controlPlane.incident(opened.id);
      view.incident = detail.incident;
      return detail.incident.affectedHosts >= clients.length ? detail.incident : undefined;
    });
    view.say(`hosts affected: ${affected.affectedHosts}; vios2 stays down ${options.outageSeconds} s`);
    await delay(options.outageSeconds * 1000);

    await Promise.all(clients.map((client) => client.vios2Back()));
    const backAt = Date.now();
    await until('ipl.completed accepted', async () => {
      await vios2.comeBack();
      return true;
    });
    view.say('vios2 is BACK: ipl.completed posted; its disks answer again after a rescan');

    let lastStatus = affected.status;
    const resolved = await until('the incident resolved and every client healthy', async () => {
      const detail = await controlPlane.incident(opened.id);
      view.incident = detail.incident;
      const current = detail.incident;
      if (current.status !== lastStatus) {
        view.say(`incident ${current.id} is ${current.status}${current.escalated ? ' (escalated)' : ''}`);
        lastStatus = current.status;
      }
      if (current.status === 'halted') throw haltedError(current);
      if (current.status !== 'resolved') return undefined;
      return clients.every((client) => client.isHealthy()) ? current : undefined;
    });
    const resolvedAt = Date.parse(resolved.resolvedAt ?? new Date().toISOString());
    const sideIncidents = (await sideRuns).filter((side) => side !== undefined);
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
    const stats = await tolerant(() => controlPlane.stats());
    const unhealthy = clients.filter((client) => !client.isHealthy()).map((client) => client.hostId);
    for (const host of storageHosts) if (!host.isHealthy()) unhealthy.push(host.hostId);
    unhealthy.push(...spofClients.flatMap((client) => spofTrouble(client) ?? []));
    if (unhealthy.length > 0)
      throw new DemoError('not-healed', `clients not healthy: ${unhealthy.join(', ')}`);
    return {
      incident: resolved,
      pages: sink.pages.filter((page) => page.dedup_key === opened.id),
      sideIncidents,
      singlePointsOfFailure,
      sinkPages: [...sink.pages],
      timeToDetectSeconds: seconds(openedAt - downAt),
      timeToHealSeconds: seconds(resolvedAt - backAt),
      stats,
      wallSeconds: seconds(Date.now() - started),
    };
  };

  return { clients, spofClients, storageHosts, view, done: run(), cleanup };
};

/** The closing summary. */
export const summaryLines = (
  result: DemoResult,
  clients: readonly SimClient[],
  storageHosts: readonly SimStorageHost[] = [],
): string[] => {
  const hosts = [...clients, ...storageHosts];
  const plans = hosts.reduce((sum, client) => sum + client.plansAdmitted.length, 0);
  const servedAgain = hosts.reduce((sum, client) => sum + client.plansServedAgain, 0);
  const triggers = result.sinkPages.filter((page) => page.event_action === 'trigger').length;
  const resolves = result.sinkPages.filter((page) => page.event_action === 'resolve').length;
  const sideLines = result.sideIncidents.map((side) => {
    const hosts = storageHosts.filter((host) => host.kind === side.scenario);
    const commands = hosts.flatMap((host) =>
      host.actions().map((argv) => `${host.hostId}: ${argv.join(' ')}`),
    );
    return `incident ${side.incident.id} RESOLVED: ${side.incident.failureDomain}, ${hosts.length} ${side.scenario === 'ldoms-guest' ? 'LDoms guest(s)' : 'multipath hosts'} healthy; ran ${commands.length === 0 ? 'nothing' : commands.join(', ')}`;
  });
  const stat = (value: number | null | undefined) => {
    const shown = tenths(value);
    return shown === null ? '-' : `${shown} s`;
  };
  return [
    `incident ${result.incident.id} RESOLVED: ${result.incident.affectedHosts} hosts healed, ${plans} plans run (each once)`,
    `time to detect ${result.timeToDetectSeconds} s (vios2 down → incident open); time to heal ${result.timeToHealSeconds} s (vios2 back → resolved)`,
    `control plane stats: time to detect ${stat(result.stats?.timeToDetect?.meanSeconds)}, time to heal ${stat(result.stats?.timeToHeal?.meanSeconds)}`,
    ...sideLines,
    ...(result.singlePointsOfFailure.length === 0 ? [] : [spofLine(result.singlePointsOfFailure)]),
    `pages at the sink: ${triggers} trigger, ${resolves} resolve; demo wall time ${result.wallSeconds} s`,
    ...(servedAgain === 0 ? [] : [`plans served again after they ran (not run twice): ${servedAgain}`]),
  ];
};

/** Runs the demo to its end: 0 when healed, the error's exit code otherwise. */
export const runFleetDemo = async (options: DemoOptions): Promise<number> => {
  const demo = await startDemo(options);
  try {
    const result = await demo.done;
    demo.view.close(summaryLines(result, demo.clients, demo.storageHosts));
    return 0;
  } catch (error) {
    demo.view.close([`faultline demo: ${(error as Error).message}`]);
    return error instanceof DemoError ? error.exitCode : 1;
  } finally {
    await demo.cleanup();
  }
};
