import type { FaultlineEvent } from '../events/index.ts';
import { at, HostingPartition, random, VscsiClient, vscsi } from '../test/helpers/core-fleet.ts';

/**
 * The bench's storm, as agents send it: a heartbeat from vios2 and from each client, then each
 * client loses its half on vios2 (`md.degraded`), then vios2's IPL completes. One incident of
 * `clients` hosts on the failure domain `vios:vios2`.
 */
export const stormEvents = (clients: number, start = at(0)): FaultlineEvent[] => {
  const base = Date.parse(start);
  const time = (seconds: number): string => new Date(base + seconds * 1000).toISOString();
  const rng = random(7);
  const fleet = Array.from(
    { length: clients },
    (_, index) => new VscsiClient(`lpar${String(index).padStart(6, '0')}`, rng),
  );
  const vios2 = new HostingPartition('vios2', vscsi('vios2'));
  const events: FaultlineEvent[] = [vios2.heartbeat(time(0))];
  fleet.forEach((client, index) => {
    events.push(client.heartbeat(time(1 + index / 1000)));
  });
  fleet.forEach((client, index) => {
    events.push(client.rootDegraded(time(100 + index / 1000)));
  });
  events.push(vios2.iplCompleted(time(900), time(890)));
  return events;
};

export { vscsi as failureDomainOf } from '../test/helpers/core-fleet.ts';
