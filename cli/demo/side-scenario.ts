import { setTimeout as delay } from 'node:timers/promises';
import type { ControlDomain } from '../../sim/control-domain.ts';
import type { ControlPlane, IncidentSummary } from '../../sim/control-plane-client.ts';
import { DemoError } from '../../sim/errors.ts';
import type { SimStorageHost, StorageHostKind } from '../../sim/storage-host.ts';

/**
 * The demo's side scenarios (run-demo.ts), beside vios2's outage: the LDoms guests lose the
 * submirror their alternate service domain serves while that domain reboots, and the multipath
 * hosts lose the paths through one FC port. Each is its own incident, opened, healed and resolved
 * while the md clients' outage runs.
 */

/** An incident of the LDoms guests or the multipath hosts, resolved. */
export type SideIncident = { scenario: StorageHostKind; incident: IncidentSummary };

/** Polls `probe` until it answers, or fails the demo at its deadline, saying what it waited for. */
export type Until = <T>(what: string, probe: () => Promise<T | undefined>) => Promise<T>;

/** What a side scenario runs on: the demo's hosts, its control plane and its clock. */
export type SideScenarioSetup = {
  /** The LDoms guests and the multipath hosts; the scenario takes those of its kind. */
  storageHosts: readonly SimStorageHost[];
  /** The LDoms guests' control domain, when there are guests. */
  controlDomain: ControlDomain | undefined;
  controlPlane: ControlPlane;
  /** The incidents open before the demo began: not the demo's. */
  existing: ReadonlySet<string>;
  outageSeconds: number;
  until: Until;
  say: (line: string) => void;
};

/**
 * The LDoms guests' and the multipath hosts' fault, beside vios2's: the server goes (the
 * control domain announces its alternate service domain going down first), the hosts join its
 * incident, it comes back, and the incident resolves with every host healthy.
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
    await until('domain.going-down accepted', async () => {
      await control.alternateGoingDown();
      return true;
    });
    say(`${control.hostId} announces its alternate service domain going DOWN (${failureDomain})`);
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
  await Promise.all(hosts.map((host) => host.faultBack()));
  if (control !== undefined) {
    await until('domain.rebooted accepted', async () => {
      await control.alternateRebooted();
      return true;
    });
    say(`${control.hostId}: the alternate service domain is BACK (domain.rebooted)`);
  } else {
    say(`FC port ${failureDomain} is BACK: multipathd reinstates most paths by itself`);
  }
  const resolved = await until(`the incident of ${failureDomain} resolved`, async () => {
    const current = (await controlPlane.incident(opened.id)).incident;
    if (current.status === 'halted') throw haltedError(current);
    if (current.status !== 'resolved' || !hosts.every((host) => host.isHealthy())) return undefined;
    return current;
  });
  say(`incident ${resolved.id} RESOLVED: ${resolved.failureDomain}`);
  return { scenario: kind, incident: resolved };
};

/** The demo fails when the control plane halts a healing: an operator must look. */
export const haltedError = (incident: IncidentSummary): DemoError =>
  new DemoError(
    'not-healed',
    `the control plane halted the healing of ${incident.id}: see \`faultline incident ${incident.id}\``,
  );
