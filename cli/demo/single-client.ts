import { setTimeout as delay } from 'node:timers/promises';
import { SimClient, type SimClientOptions } from '../../sim/client.ts';
import type { ControlPlane, IncidentSummary } from '../../sim/control-plane-client.ts';
import { type ManagedSystem, vscsiDomain } from '../../sim/managed-system.ts';
import { haltedError, type SideIncident, type Until } from './side-scenario.ts';
import { healText } from './time-to-heal.ts';

/**
 * The demo's one-client layout, the seed's own (docs/architecture.md §1, §5.3): one Linux partition
 * on a managed system of its own, its root and swap mirrored across two hosting partitions, viosa
 * and viosb, that run NO agent at all. No server says it goes or comes back, and no other client
 * shares its domains. viosb goes down: the client's half on it fails every read (the disk watch's
 * `dd` gets an I/O error), and after the hold-down the control plane opens an outage of that one
 * host. viosb comes back: the disk reads again, the client says so itself (`disk.probed` without a
 * plan, its heartbeats' probed disks), and after two read-backs with the same WWID and superblock
 * UUID, and the stability period, its plan removes and re-adds the faulty member. Nobody posts
 * anything for the servers.
 */

/** The hosting partitions of each single client's system: its first half and the one that fails. */
export const SINGLE_CLIENT_PARTITIONS = { local: 'viosa', remote: 'viosb' } as const;

/** The managed system of the `index`th single client, each on its own (so it is its domains' only client). */
export const singleClientSystem = (index: number): ManagedSystem => ({
  type: '9009',
  model: '42A',
  serial: `21F64${index.toString(16).toUpperCase().padStart(2, '0')}`,
});

export const singleClientName = (index: number): string => `lnxsolo${String(index + 1).padStart(2, '0')}`;

/** The `index`th single client: md0 and md1 over viosa and viosb of its own system, its disks with WWIDs. */
export const singleClient = async (
  controlPlane: ControlPlane,
  index: number,
  options: Omit<
    SimClientOptions,
    'hostId' | 'agentToken' | 'index' | 'system' | 'localPartition' | 'remotePartition' | 'wwids'
  > & { clientIndex: number },
): Promise<SimClient> => {
  const { clientIndex, ...rest } = options;
  const hostId = singleClientName(index);
  return new SimClient({
    ...rest,
    hostId,
    index: clientIndex,
    agentToken: await controlPlane.mintAgentToken(hostId),
    system: singleClientSystem(index),
    localPartition: SINGLE_CLIENT_PARTITIONS.local,
    remotePartition: SINGLE_CLIENT_PARTITIONS.remote,
    wwids: true,
  });
};

/** What the scenario runs on. */
export type SingleClientSetup = {
  clients: readonly SimClient[];
  controlPlane: ControlPlane;
  existing: ReadonlySet<string>;
  outageSeconds: number;
  until: Until;
  say: (line: string) => void;
  /** The incident as last polled, for the live view's stability countdown. */
  watch: (incident: IncidentSummary, hasPaths: boolean) => void;
};

/** One single client's outage: viosb goes, the outage of one host opens, viosb is back, it heals. */
const runOne = async (client: SimClient, index: number, setup: SingleClientSetup): Promise<SideIncident> => {
  const { controlPlane, until, say } = setup;
  const failureDomain = vscsiDomain(SINGLE_CLIENT_PARTITIONS.remote, singleClientSystem(index));
  await client.remoteDown('io-errors');
  say(
    `${SINGLE_CLIENT_PARTITIONS.remote} of ${client.hostId}'s system (no agent) goes DOWN: its half cannot be read (dd: Input/output error); no other client, no server to ask`,
  );
  const opened = await until(`the incident of ${failureDomain}`, async () =>
    (await controlPlane.incidents()).find(
      (incident) => !setup.existing.has(incident.id) && incident.failureDomain === failureDomain,
    ),
  );
  say(`incident ${opened.id} OPENED: ${opened.kind} of ${opened.failureDomain} (${client.hostId} alone)`);
  await delay(setup.outageSeconds * 1000);
  await client.remoteBack();
  say(
    `${SINGLE_CLIENT_PARTITIONS.remote} is BACK: ${client.hostId} reads its disk again and says so (disk.probed); nobody else does`,
  );
  const resolved = await until(`the incident of ${failureDomain} resolved`, async () => {
    const current = (await controlPlane.incident(opened.id)).incident;
    setup.watch(current, false);
    if (current.status === 'halted') throw haltedError(current);
    return current.status === 'resolved' && client.isHealthy() ? current : undefined;
  });
  say(
    `incident ${resolved.id} RESOLVED: ${resolved.failureDomain}, ${client.hostId} healthy; ${healText(resolved)}`,
  );
  return { scenario: 'single-client', incident: resolved, hosts: [client] };
};

/** Every single client's outage, side by side. */
export const runSingleClientScenario = (setup: SingleClientSetup): Promise<SideIncident[]> =>
  Promise.all(setup.clients.map((client, index) => runOne(client, index, setup)));
