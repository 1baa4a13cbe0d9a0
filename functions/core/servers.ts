import type {
  DomainGoingDown,
  DomainRebooted,
  FaultlineEvent,
  HostHeartbeat,
  IplCompleted,
} from '../../events/index.ts';
import { goDown, goUp, openEpisode, openFromSymptoms } from './episodes.ts';
import { servedOf } from './host.ts';
import { timeline } from './incidents.ts';
import type { HostSlice, ServedDomain } from './model.ts';
import { latest, toMs } from './time.ts';
import type { Transaction } from './transaction.ts';

/**
 * Servers (docs/architecture.md §3 "Who says a server is down or back", §5.2): what a hosting
 * partition or a control domain says of the failure domains it serves, and what the core makes of it.
 *
 * - **Vouching.** A server vouches for a domain each time a heartbeat lists it in `serves` (its
 *   serving check passes; ingest refused any claim beyond its grant), or, for an agent whose
 *   heartbeats carry no `serves`, with any event after its own `ipl.completed` or
 *   `domain.going-down` named the domain. A domain nothing vouched for in `silentHeartbeats`
 *   intervals is down: its server went silent, or it still heartbeats but no longer lists the
 *   domain (its serving check fails: not serving, whatever it announced). That silence takes the
 *   domain down once; the next vouch starts it anew.
 * - **Back.** A heartbeat listing a domain from a boot other than the one that last listed it (or,
 *   for a domain the host never listed, than its last event's boot) is a new boot: with `bootedAt`
 *   (corrected by the host's skew) after the domain went down it brings the domain up exactly as
 *   `ipl.completed` does; booted before, it is stale and changes nothing. A boot is judged by
 *   `bootid`, never by a moved `bootedAt` (an NTP step moves it). A server whose own silence took
 *   the domain down and that lists it again in the same boot brings it back too: it did not go
 *   down, it was unreachable or its serving check failed, and its serving check passes again.
 * - Each domain slice names the hosts vouching for it now (`servers`): a domain none vouches for has
 *   "no agent of the server heartbeating" (§5.3, single-client domains).
 */

/** How many servers a domain slice names: one server per domain is the rule, a few the exception. */
const SERVERS_CAP = 16;

/** Who sent an event, for the timeline: the sender ingest stamped (`agent:<host>`, `operator:<label>`), else its host. */
export const senderOf = (event: FaultlineEvent): string => event.sentby ?? event.hostid;

/** Replaces a slice's legacy single `serves` with `served`, on a host this decision writes. */
export const migrateServes = (host: HostSlice): void => {
  if (host.serves === undefined) return;
  const served = servedOf(host);
  delete host.serves;
  if (host.served === undefined && Object.keys(served).length > 0) host.served = served;
};

const setServed = (host: HostSlice, failureDomain: string, entry: ServedDomain): void => {
  host.served = { ...(host.served ?? {}), [failureDomain]: entry };
};

const isVouching = (entry: ServedDomain | undefined): boolean =>
  entry?.listed === true && entry.silentAt !== entry.vouchedAt;

/** Keeps the domain's `servers` naming the host exactly while it vouches for the domain. */
const syncServers = (txn: Transaction, host: HostSlice, failureDomain: string): void => {
  const vouching = isVouching(host.served?.[failureDomain]);
  const current = txn.readDomain(failureDomain).servers ?? [];
  if (current.includes(host.hostId) === vouching) return;
  const others = current.filter((hostId) => hostId !== host.hostId);
  if (vouching && others.length >= SERVERS_CAP) return;
  const domain = txn.domain(failureDomain);
  const next = vouching ? [...others, host.hostId].sort() : others;
  if (next.length === 0) delete domain.servers;
  else domain.servers = next;
};

/**
 * Any event of a host whose heartbeats carry no `serves` vouches for the domains its announcements
 * named (the rule before heartbeats carried `serves`: its heartbeats stopping is its silence).
 */
export const vouchByAnyEvent = (host: HostSlice, seen: string): void => {
  if (host.servesSeq !== undefined || host.served === undefined) return;
  for (const [failureDomain, entry] of Object.entries(host.served)) {
    if (toMs(entry.vouchedAt) >= toMs(seen)) continue;
    setServed(host, failureDomain, { ...entry, vouchedAt: seen });
  }
};

/**
 * A hosting partition's own announcement (`ipl.completed`, `domain.going-down`, within its grant)
 * names a domain it serves. An operator's announcement teaches nothing: an operator is no server.
 */
export const learnAnnounced = (
  txn: Transaction,
  host: HostSlice,
  event: IplCompleted | DomainGoingDown,
  seen: string,
): void => {
  if (host.role !== 'hosting' || (event.sentby !== undefined && !event.sentby.startsWith('agent:'))) return;
  const failureDomain = event.data.failureDomain;
  const entry = servedOf(host)[failureDomain];
  const newer = entry === undefined || event.seq > entry.seq;
  setServed(host, failureDomain, {
    ...entry,
    vouchedAt: entry === undefined ? seen : latest(entry.vouchedAt, seen),
    listed: newer ? true : entry.listed,
    boot: newer ? event.bootid : entry.boot,
    seq: newer ? event.seq : entry.seq,
  });
  syncServers(txn, host, failureDomain);
};

/**
 * A server is back (§5.2): its `ipl.completed` or `domain.rebooted`, or its heartbeat from a new
 * boot. Booted before the domain went down, it is stale and only noted. Otherwise the domain is up
 * (the stability period, then the canary and the waves); with no episode open, symptoms its clients
 * reported are an outage its reboot explains, opened and brought up at once.
 */
export const serverBack = (
  txn: Transaction,
  host: HostSlice,
  failureDomain: string,
  bootedAtText: string,
  at: string,
  what: string,
  skewMs = host.skewMs,
): void => {
  const domain = txn.domain(failureDomain);
  const episode = openEpisode(domain);
  const bootedAt = toMs(bootedAtText) + (skewMs ?? 0);
  if (episode !== undefined && bootedAt <= toMs(episode.lastDownAt)) {
    timeline(txn, episode.incident.id, `stale ${what} (booted ${bootedAtText}) ignored`);
    return;
  }
  domain.lastUpAt = domain.lastUpAt === undefined ? at : latest(domain.lastUpAt, at);
  if (episode === undefined) {
    // A server that rebooted under symptoms its clients reported went down, whether or not enough
    // of them reported in time to say so: open its episode now so that they are healed.
    const symptoms = domain.recentSymptoms.filter((symptom) => toMs(symptom.at) <= toMs(at));
    const local = domain.localHosts
      .filter((hostId) => !symptoms.some((symptom) => symptom.hostId === hostId))
      .map((hostId) => ({ hostId, at }));
    if (symptoms.length + local.length > 0) {
      openFromSymptoms(txn, domain, [...symptoms, ...local], `${what} under its clients' symptoms`);
    }
  }
  const wasUp = domain.state === 'up';
  goUp(txn, domain, at, `${what} (booted ${bootedAtText})`);
  const open = openEpisode(domain);
  if (wasUp && open !== undefined) timeline(txn, open.incident.id, `${what}: ${failureDomain} already up`);
};

/** The server whose silence took the domain down lists it again in the same boot: it serves again. */
const resumeInSameBoot = (
  txn: Transaction,
  host: HostSlice,
  failureDomain: string,
  boot: string,
  seen: string,
  at: string,
): void => {
  const current = txn.readDomain(failureDomain);
  const episode = openEpisode(current);
  if (current.state !== 'down' || episode?.downBy === undefined) return;
  if (episode.downBy.hostId !== host.hostId || episode.downBy.boot !== boot) return;
  if (toMs(seen) <= toMs(episode.lastDownAt)) return;
  goUp(
    txn,
    txn.domain(failureDomain),
    at,
    `its server ${host.hostId} serves it again in the same boot (it was unreachable or not serving, it did not reboot)`,
  );
};

/**
 * The clock skew to correct a heartbeat's own `bootedAt` by: the smaller of the skew known before it
 * and the one it shows itself. A heartbeat delivered late from a spool shows its delay as skew, which
 * would move a stale boot after the outage; the smaller errs towards stale (the domain then waits
 * for its announcement or its clients), never towards a false up.
 */
const judgingSkew = (before: number | undefined, own: number | undefined): number | undefined =>
  before === undefined ? own : own === undefined ? before : Math.min(before, own);

/**
 * What a heartbeat's `serves` says (absent: an older agent, which says nothing here): each domain it
 * lists is vouched for, and a listing from a new boot is the server back; each domain the host's
 * latest word no longer lists is vouched for no more.
 */
export const applyHeartbeatServes = (
  txn: Transaction,
  host: HostSlice,
  event: HostHeartbeat,
  context: { seen: string; at: string; bootBefore: string | undefined; skewBefore: number | undefined },
): void => {
  const serves = event.data.serves;
  if (serves === undefined) return;
  const listed = [...new Set(serves)].sort();
  for (const failureDomain of listed) {
    const entry = servedOf(host)[failureDomain];
    const newer = entry === undefined || event.seq > entry.seq;
    setServed(host, failureDomain, {
      ...entry,
      vouchedAt: entry === undefined ? context.seen : latest(entry.vouchedAt, context.seen),
      listed: newer ? true : entry.listed,
      boot: newer ? event.bootid : entry.boot,
      seq: newer ? event.seq : entry.seq,
    });
    if (!newer) continue;
    const previousBoot = entry?.boot ?? context.bootBefore;
    if (previousBoot === undefined) continue;
    if (previousBoot === event.bootid) {
      resumeInSameBoot(txn, host, failureDomain, event.bootid, context.seen, context.at);
    } else if (event.data.bootedAt !== undefined) {
      serverBack(
        txn,
        host,
        failureDomain,
        event.data.bootedAt,
        context.at,
        `a heartbeat of ${host.hostId} from a new boot serving it`,
        judgingSkew(context.skewBefore, host.skewMs),
      );
    }
  }
  if (host.servesSeq === undefined || event.seq > host.servesSeq) {
    host.servesSeq = event.seq;
    for (const [failureDomain, entry] of Object.entries(servedOf(host))) {
      if (listed.includes(failureDomain) || !entry.listed || entry.seq > event.seq) continue;
      setServed(host, failureDomain, { ...entry, listed: false, seq: event.seq });
    }
  }
  for (const failureDomain of Object.keys(servedOf(host)).sort()) syncServers(txn, host, failureDomain);
};

/**
 * A server's due silence (§5.2 "when its own heartbeats stop"), per domain: nothing vouched for the
 * domain in `silentHeartbeats` intervals. It takes the domain down once (if it is up), at the last
 * vouch, and the host stops counting as the domain's server until it vouches again.
 */
export const checkServerSilence = (txn: Transaction, host: HostSlice): void => {
  const interval = host.intervalSeconds ?? txn.config.defaultHeartbeatSeconds;
  for (const [failureDomain, entry] of Object.entries(servedOf(host)).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (entry.silentAt === entry.vouchedAt) continue;
    if (toMs(entry.vouchedAt) + txn.config.silentHeartbeats * interval * 1000 > toMs(txn.now)) continue;
    setServed(host, failureDomain, { ...entry, silentAt: entry.vouchedAt });
    syncServers(txn, host, failureDomain);
    if (!txn.isDomainUp(failureDomain)) continue;
    const stillHeard = host.lastSeenAt !== undefined && toMs(host.lastSeenAt) > toMs(entry.vouchedAt);
    const reason = stillHeard
      ? `its server ${host.hostId} heartbeats but no longer lists it in serves (its serving check fails)`
      : `its server ${host.hostId} went silent`;
    const domain = txn.domain(failureDomain);
    goDown(txn, domain, entry.vouchedAt, reason);
    const episode = openEpisode(domain);
    if (episode !== undefined) episode.downBy = { hostId: host.hostId, boot: entry.boot };
  }
};

/** The announcements of §3 that name a domain going down or coming back. */
export type ServerAnnouncement = DomainGoingDown | IplCompleted | DomainRebooted;
