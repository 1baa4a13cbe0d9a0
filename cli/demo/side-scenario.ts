import { setTimeout as delay } from 'node:timers/promises';
import { SERVICE_DOMAINS, type SimControlDomain } from '../../sim/control-domain.ts';
import type { ControlPlane, IncidentSummary } from '../../sim/control-plane-client.ts';
import { DemoError } from '../../sim/errors.ts';
import type { SimulatedAgentHost } from '../../sim/simulated-agent-host.ts';
import type { SimStorageHost, StorageHostKind } from '../../sim/storage-host.ts';
import { healText } from './time-to-heal.ts';

/**
 * The demo's side scenarios (run-demo.ts), beside vios2's outage: the LDoms guests lose the
 * submirror their alternate service domain serves while that domain reboots (`ldm stop`, `ldm
 * start` on the control domain, whose real agent says both itself), and the multipath hosts lose
 * the paths through one FC port. Each is its own incident, opened, healed and resolved while the md
 * clients' outage runs. The single clients' outages (single-client.ts) are side incidents too.
 */

/** An incident beside vios2's, resolved, with the hosts it healed. */
export type SideIncident = {
  scenario: StorageHostKind | 'single-client';
  incident: IncidentSummary;
  hosts: readonly SimulatedAgentHost[];
};

/** Polls `probe` until it answers, or fails the demo at its deadline, saying what it waited for. */
export type Until = <T>(what: string, probe: () => Promise<T | undefined>) => Promise<T>;

/** What a side scenario runs on: the demo's hosts, its control plane and its clock. */
export type SideScenarioSetup = {
  /** The LDoms guests and the multipath hosts; the scenario takes those of its kind. */
  storageHosts: readonly SimStorageHost[];
  /** The LDoms guests' control domain, running the real agent, when there are guests. */
  controlDomain: SimControlDomain | undefined;
  controlPlane: ControlPlane;
  /** The incidents open before the demo began: not the demo's. */
  existing: ReadonlySet<string>;
  outageSeconds: number;
  until: Until;
  say: (line: string) => void;
  /** The incident as last polled, for the live view's stability countdown; `hasPaths`: its hosts lost paths. */
  watch: (incident: IncidentSummary, hasPaths: boolean) => void;
};

/**
 * The LDoms guests' and the multipath hosts' fault, beside vios2's: the server goes (`ldm stop
 * alternate`: the control domain's agent sees it stop and announces it), the hosts join its
 * incident (the guests by the control domain's `guests` report: their own agents know no service
 * domain), it comes back (`ldm start alternate`: its agent announces `domain.rebooted` once it
 * runs), and the incident resolves with every host healthy.
 */
export const runSideScenario = async (
  kind: StorageHostKind,
  setup: SideScenarioSetup,
): Promise<SideIncident | undefined> => {
  const { controlPlane, until, say } = setup;
  const hosts = setup.storageHosts.filter((host) => host.kind === kind);
  const failureDomain = hosts[0]?.failureDomain;
  if (failureDomain === undefined) return undefined;
  const control = kind === 'ldoms-guest' ? setup.controlDomain : undefined;
  if (control !== undefined) {
    await control.stopServiceDomain(SERVICE_DOMAINS.alternate);
    say(
      `${control.hostId}: ldm stop ${SERVICE_DOMAINS.alternate}; its agent announces ${failureDomain} going DOWN`,
    );
  }
  await Promise.all(hosts.map((host) => host.faultDown()));
  say(
    kind === 'ldoms-guest'
      ? `${hosts.length} LDoms guest(s): the submirror on the alternate's virtual disk goes to Maintenance`
      : `FC port ${failureDomain} goes DOWN: its paths fail on ${hosts.length} multipath hosts`,
  );
  const opened = await until(`the incident of ${failureDomain}`, async () =>
    (await controlPlane.incidents()).find(
      (incident) => !setup.existing.has(incident.id) && incident.failureDomain === failureDomain,
    ),
  );
  say(`incident ${opened.id} OPENED: ${opened.kind} of ${opened.failureDomain}`);
  await until(`every host in the incident of ${failureDomain}`, async () => {
    const detail = await controlPlane.incident(opened.id);
    return detail.incident.affectedHosts >= hosts.length ? detail.incident : undefined;
  });
  await delay(setup.outageSeconds * 1000);
  if (control !== undefined) {
    await control.startServiceDomain(SERVICE_DOMAINS.alternate);
    await Promise.all(hosts.map((host) => host.faultBack()));
    await control.checkNow();
    say(
      `${control.hostId}: ldm start ${SERVICE_DOMAINS.alternate}; it runs again and its agent announces domain.rebooted`,
    );
  } else {
    await Promise.all(hosts.map((host) => host.faultBack()));
    say(`FC port ${failureDomain} is BACK: multipathd reinstates most paths by itself`);
  }
  const resolved = await until(`the incident of ${failureDomain} resolved`, async () => {
    const current = (await controlPlane.incident(opened.id)).incident;
    setup.watch(current, kind === 'multipath');
    if (current.status === 'halted') throw haltedError(current);
    if (current.status !== 'resolved' || !hosts.every((host) => host.isHealthy())) return undefined;
    return current;
  });
  say(`incident ${resolved.id} RESOLVED: ${resolved.failureDomain}; ${healText(resolved)}`);
  return { scenario: kind, incident: resolved, hosts };
};

/** The demo fails when the control plane halts a healing: an operator must look. */
export const haltedError = (incident: IncidentSummary): DemoError =>
  new DemoError(
    'not-healed',
    `the control plane halted the healing of ${incident.id}: see \`faultline incident ${incident.id}\``,
  );
