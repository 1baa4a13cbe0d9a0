import type { SinglePointOfFailureBody } from '../../events/index.ts';
import { SimClient, type SimClientOptions } from '../../sim/client.ts';
import type { ControlPlane } from '../../sim/control-plane-client.ts';
import type { Until } from './side-scenario.ts';

/**
 * The demo's single point of failure (docs/architecture.md §5.4, §6): one more Linux client,
 * `lnxspof01`, whose two md halves both come from vios1, so it is mirrored on paper only.
 * `faultline topology --spof` must list its arrays; vios2's outage must leave it alone (nothing of
 * it depends on vios2: no symptom, no page, no plan), and it must end healthy with nothing run.
 */

export const SPOF_CLIENT = 'lnxspof01';
/** The hosting partition that serves both of its halves. */
export const SPOF_PARTITION = 'vios1';

/** The client, built like the others but with its second half on vios1 too. */
export const spofClient = async (
  controlPlane: ControlPlane,
  options: Omit<SimClientOptions, 'hostId' | 'agentToken' | 'remotePartition'>,
): Promise<SimClient> =>
  new SimClient({
    ...options,
    hostId: SPOF_CLIENT,
    agentToken: await controlPlane.mintAgentToken(SPOF_CLIENT),
    remotePartition: SPOF_PARTITION,
  });

/** Waits until the control plane's topology lists the client's two arrays as single points of failure. */
export const spofListed = (controlPlane: ControlPlane, until: Until): Promise<SinglePointOfFailureBody[]> =>
  until(`${SPOF_CLIENT}'s arrays listed as single points of failure`, async () => {
    const found = (await controlPlane.singlePointsOfFailure()).filter((spof) => spof.hostId === SPOF_CLIENT);
    return found.length >= 2 ? found : undefined;
  });

/** Why the client fails the demo, if it does: vios2's outage touched it, or it is not healthy. */
export const spofTrouble = (client: SimClient): string | undefined => {
  if (client.actions().length > 0) return `${client.hostId} (ran ${client.actions().length} command(s))`;
  return client.isHealthy() ? undefined : client.hostId;
};

/** The summary's line about it. */
export const spofLine = (spofs: readonly SinglePointOfFailureBody[]): string =>
  `single points of failure (faultline topology --spof): ${spofs
    .map((spof) => `${spof.hostId} ${spof.kind} ${spof.name} (every half on ${spof.failureDomain})`)
    .join(', ')}; untouched by vios2's outage`;
