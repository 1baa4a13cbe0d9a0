import { goUp, openEpisode } from './episodes.ts';
import { isPathUsable } from './exposure.ts';
import { timeline } from './incidents.ts';
import type { HostSlice } from './model.ts';
import { isSingleClient } from './single-client.ts';
import { toMs } from './time.ts';
import type { Transaction } from './transaction.ts';

/**
 * Clients confirming their storage on a down domain is back (docs/architecture.md §5.2: a disk
 * reads again, a path is restored), for outages their clients reported together; an outage of one
 * host needs its own read-back (./single-client.ts).
 *
 * - **Only counted clients.** A confirmation counts only from a host the outage counts, and for a
 *   disk, only one holding its own member on that domain: any agent token can post a
 *   `path.restored` or a `disk.probed` naming any domain.
 * - **A quorum, as going down.** The domain is up once `minClientsForOutage` distinct counted clients
 *   confirmed it (fewer only when the outage counts fewer hosts): one agent token, even one that
 *   made itself counted with a forged symptom, cannot bring a domain up while its server is down,
 *   which would send plans onto it.
 * - **Whatever the order.** A client whose confirmation came before it was counted (its join is a
 *   follow-up, applied after its `path.restored` when the outbox runs late) confirms when it joins,
 *   from what its slice shows: a path on the domain usable again, or a disk of its member there
 *   read again, since the domain went down.
 * - A report from before the domain went down (spooled) is stale and changes nothing. The
 *   confirmations are kept on the episode (`confirmedBy`) until the domain is up.
 */

/** How many distinct counted clients must confirm the domain back. */
const quorum = (txn: Transaction, affectedHosts: number): number =>
  Math.max(1, Math.min(txn.config.minClientsForOutage, affectedHosts));

/** A client's confirmation that its storage on `failureDomain` is back, at `at`. */
export const clientConfirms = (
  txn: Transaction,
  host: HostSlice,
  failureDomain: string,
  at: string,
  reason: string,
): void => {
  const read = txn.readDomain(failureDomain);
  const current = openEpisode(read);
  if (read.state !== 'down' || current === undefined || isSingleClient(current)) return;
  if (toMs(at) <= toMs(current.lastDownAt)) return;
  if (host.episodes[current.incident.id]?.failureDomain !== failureDomain) {
    timeline(
      txn,
      current.incident.id,
      `${reason}: not taken as ${failureDomain} back (${host.hostId} is not among its affected clients)`,
    );
    return;
  }
  const domain = txn.domain(failureDomain);
  const episode = openEpisode(domain);
  if (episode === undefined) return;
  const before = episode.confirmedBy?.[host.hostId];
  if (before !== undefined && toMs(before) <= toMs(at)) return;
  episode.confirmedBy = { ...(episode.confirmedBy ?? {}), [host.hostId]: at };
  const confirmed = Object.entries(episode.confirmedBy).sort(
    ([a, x], [b, y]) => toMs(x) - toMs(y) || (a < b ? -1 : 1),
  );
  const needed = quorum(txn, episode.incident.affectedHosts);
  if (confirmed.length < needed) {
    timeline(
      txn,
      episode.incident.id,
      `${reason}: ${confirmed.length} of the ${needed} clients needed confirm ${failureDomain} back`,
    );
    return;
  }
  const quorate = confirmed.slice(0, needed);
  const upAt = quorate[quorate.length - 1]?.[1] ?? at;
  const names = quorate.map(([hostId]) => hostId).join(', ');
  goUp(txn, domain, upAt, `${reason} (${names} confirm it back)`);
};

/** Whether one of the host's arrays has a member on that disk served by that domain (as last reported). */
export const holdsMemberOn = (host: HostSlice, disk: string, failureDomain: string): boolean =>
  Object.values(host.arrays).some((array) =>
    [...array.members, ...array.known].some(
      (member) => member.disk === disk && member.failureDomain === failureDomain,
    ),
  );

/**
 * A client just counted in a down domain's outage confirms it back if its slice already shows its
 * storage there back since the domain went down: a usable path restored since, or its latest probe
 * of a member's disk there reading since.
 */
export const confirmsOnJoin = (txn: Transaction, host: HostSlice, failureDomain: string): void => {
  const read = txn.readDomain(failureDomain);
  const episode = openEpisode(read);
  if (read.state !== 'down' || episode === undefined) return;
  const since = toMs(episode.lastDownAt);
  for (const path of Object.values(host.paths).sort((a, b) => (a.path < b.path ? -1 : 1))) {
    if (path.failureDomain !== failureDomain || !isPathUsable(path)) continue;
    if (toMs(path.changedAt) <= since) continue;
    clientConfirms(txn, host, failureDomain, path.changedAt, `${host.hostId} reports ${path.path} restored`);
    return;
  }
  for (const [disk, probes] of Object.entries(host.probes ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const latest = probes[probes.length - 1];
    if (latest === undefined || !latest.reads || toMs(latest.at) <= since) continue;
    if (!holdsMemberOn(host, disk, failureDomain)) continue;
    clientConfirms(txn, host, failureDomain, latest.at, `${host.hostId} reads ${disk} again`);
    return;
  }
};
