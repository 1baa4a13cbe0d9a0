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
import type { HostSlice, PendingSilence, ServedDomain } from './model.ts';
import { byKey, sortedKeys, uniqueSorted } from './order.ts';
import { latest, toMs, toTime } from './time.ts';
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
 * - **Lost contact is not an outage.** The silence takes the domain down only while the control
 *   plane still hears the domain's clients: it is kept pending on the domain until one of its known
 *   clients is heard (any event). A client heard within its own heartbeat interval before the
 *   silence fell due means contact held: down at the server's last vouch. Clients that fell silent
 *   with the server (the demo ending, a site's network down) leave it pending: no outage, nothing
 *   to escalate; once a client is heard again and the server still vouches for nothing, the domain
 *   goes down then. A domain with no known client is never taken down by a silence (an outage with
 *   nothing to heal helps nobody) until a client of it is known and heard. The single-client rule of
 *   §5.3 does not wait: it reads the client's probe and only needs no server vouching.
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

/**
 * Keeps the domain's `servers` naming the host exactly while it vouches for the domain; a host that
 * vouches again ends its pending silence there.
 */
const syncServers = (txn: Transaction, host: HostSlice, failureDomain: string): void => {
  const vouching = isVouching(host.served?.[failureDomain]);
  if (vouching && txn.readDomain(failureDomain).silentServers?.[host.hostId] !== undefined)
    setPendingSilence(txn, failureDomain, host.hostId, undefined);
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
export const vouchByAnyEvent = (txn: Transaction, host: HostSlice, seen: string): void => {
  if (host.servesSeq !== undefined || host.served === undefined) return;
  for (const [failureDomain, entry] of byKey(Object.entries(host.served))) {
    if (toMs(entry.vouchedAt) >= toMs(seen)) continue;
    setServed(host, failureDomain, { ...entry, vouchedAt: seen });
    syncServers(txn, host, failureDomain);
  }
};

/** An announcement a hosting partition's own agent sent (not an operator's, not a control domain's for its service domain). */
export const isServerOwnWord = (host: HostSlice, event: FaultlineEvent): boolean =>
  host.role === 'hosting' && (event.sentby === undefined || event.sentby.startsWith('agent:'));

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
  if (!isServerOwnWord(host, event)) return;
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
  const listed = uniqueSorted(serves);
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
  for (const failureDomain of sortedKeys(servedOf(host))) syncServers(txn, host, failureDomain);
};

/** Sets or ends a server's pending silence on a domain (bounded as `servers` is). */
const setPendingSilence = (
  txn: Transaction,
  failureDomain: string,
  hostId: string,
  silence: PendingSilence | undefined,
): void => {
  const domain = txn.domain(failureDomain);
  const pending = { ...(domain.silentServers ?? {}) };
  if (silence === undefined) delete pending[hostId];
  else if (Object.keys(pending).length < SERVERS_CAP || pending[hostId] !== undefined)
    pending[hostId] = silence;
  if (Object.keys(pending).length === 0) delete domain.silentServers;
  else domain.silentServers = pending;
};

/**
 * A server's due silence (§5.2 "when its own heartbeats stop"), per domain: nothing vouched for the
 * domain in `silentHeartbeats` intervals. The host stops counting as the domain's server at once
 * (§5.3 reads that), and the silence is kept pending on the domain, if it is up: it takes the domain
 * down only while the domain's clients are heard. The clients the domain names are read at once (a
 * follow-up loads their slices: `silenceWhileClientsHeard`); any client heard later settles it too
 * (`heardFromClient`). A silence whose clients are silent too is a lost contact (the demo ending, a
 * site's network down), not an outage. It falls due once per vouch.
 */
export const checkServerSilence = (txn: Transaction, host: HostSlice): void => {
  const interval = host.intervalSeconds ?? txn.config.defaultHeartbeatSeconds;
  for (const [failureDomain, entry] of byKey(Object.entries(servedOf(host)))) {
    if (entry.silentAt === entry.vouchedAt) continue;
    const dueAt = toMs(entry.vouchedAt) + txn.config.silentHeartbeats * interval * 1000;
    if (dueAt > toMs(txn.now)) continue;
    setServed(host, failureDomain, { ...entry, silentAt: entry.vouchedAt });
    syncServers(txn, host, failureDomain);
    if (!txn.isDomainUp(failureDomain)) continue;
    const stillHeard = host.lastSeenAt !== undefined && toMs(host.lastSeenAt) > toMs(entry.vouchedAt);
    setPendingSilence(txn, failureDomain, host.hostId, {
      boot: entry.boot,
      vouchedAt: entry.vouchedAt,
      dueAt: toTime(dueAt),
      stillHeard,
    });
    const clients = txn.readDomain(failureDomain).clients?.hosts ?? [];
    if (clients.length > 0)
      txn.followUp({ type: 'internal.silence', hostId: host.hostId, failureDomain, clients, at: txn.now });
  }
};

/**
 * How far before a server's silence fell due a client must have been heard for contact to have held
 * through it, in the client's own heartbeat intervals: one interval, and half of one more for the
 * jitter of its heartbeats. Clients that stopped with their server (all heartbeating every interval,
 * the silence falling due three intervals after the server's last vouch) were last heard more than
 * two intervals before it.
 */
const CONTACT_WINDOW_INTERVALS = 1.5;

/**
 * A client of a domain is heard (any event) while a server's silence for it is pending: the control
 * plane still hears the domain's clients, so the silence takes it down. Had the client been heard
 * within `CONTACT_WINDOW_INTERVALS` of its own heartbeat interval before the silence fell due (its
 * last event before this one, or this one if it happened then), contact never broke: down at the
 * server's last vouch, as a silence always was. Otherwise contact with the domain's clients broke
 * too and is back now: down now, when the control plane hears a client again and the server still
 * vouches for nothing. A domain no longer up (taken down or brought back otherwise since) drops its
 * pending silences.
 */
export const heardFromClient = (
  txn: Transaction,
  host: HostSlice,
  context: { heardBefore: string | undefined; seen: string; at: string },
): void => {
  for (const failureDomain of sortedKeys(host.clientOf ?? {})) {
    const pending = txn.readDomain(failureDomain).silentServers;
    if (pending === undefined) continue;
    for (const [serverId, silence] of byKey(Object.entries(pending))) {
      if (serverId === host.hostId) continue;
      const held =
        heardThrough(txn, host, context.heardBefore, silence) ||
        (toMs(context.at) <= toMs(silence.dueAt) && heardThrough(txn, host, context.at, silence));
      silenceTakesDown(
        txn,
        failureDomain,
        serverId,
        silence,
        held ? undefined : { host, seen: context.seen },
      );
    }
  }
};

/** Whether a client heard at `heardAt` was heard through the silence (`CONTACT_WINDOW_INTERVALS`). */
const heardThrough = (
  txn: Transaction,
  client: HostSlice,
  heardAt: string | undefined,
  silence: PendingSilence,
): boolean => {
  if (heardAt === undefined) return false;
  const interval = client.intervalSeconds ?? txn.config.defaultHeartbeatSeconds;
  return toMs(heardAt) >= toMs(silence.dueAt) - CONTACT_WINDOW_INTERVALS * interval * 1000;
};

/**
 * Ends a server's pending silence on a domain: takes the domain down if it is still up, at the
 * server's last vouch (contact held), or, with `regained`, when that client was heard again.
 */
const silenceTakesDown = (
  txn: Transaction,
  failureDomain: string,
  serverId: string,
  silence: PendingSilence,
  regained?: { host: HostSlice; seen: string },
): void => {
  setPendingSilence(txn, failureDomain, serverId, undefined);
  if (!txn.isDomainUp(failureDomain)) return;
  const what = silence.stillHeard
    ? `its server ${serverId} heartbeats but no longer lists it in serves (its serving check fails)`
    : `its server ${serverId} went silent`;
  const domain = txn.domain(failureDomain);
  if (regained === undefined) goDown(txn, domain, silence.vouchedAt, what);
  else
    goDown(
      txn,
      domain,
      latest(regained.seen, silence.vouchedAt),
      `${what} at ${silence.vouchedAt}; its clients fell silent too (lost contact) until ${regained.host.hostId} was heard at ${regained.seen}`,
    );
  const episode = openEpisode(domain);
  if (episode !== undefined) episode.downBy = { hostId: serverId, boot: silence.boot };
};

/**
 * The follow-up of a server's due silence (`internal.silence`): the clients the domain names, read
 * (never written) from their slices. One of them heard through the silence means the control plane
 * still hears the domain: its silence takes it down now, at its last vouch. None heard leaves it
 * pending for the next client heard (`heardFromClient`).
 */
export const silenceWhileClientsHeard = (
  txn: Transaction,
  serverId: string,
  failureDomain: string,
  clients: readonly string[],
): void => {
  const silence = txn.readDomain(failureDomain).silentServers?.[serverId];
  if (silence === undefined) return;
  const heard = clients.some((hostId) => {
    const client = txn.readHost(hostId);
    return client.lastSeenAt !== undefined && heardThrough(txn, client, client.lastSeenAt, silence);
  });
  if (heard) silenceTakesDown(txn, failureDomain, serverId, silence);
};

/**
 * An announcement an operator posted (`faultline announce`: sender `operator:<label>`, or, unstamped,
 * host id `operator`): it acts on the domain only, and keeps no host (no slice, topology, client or
 * served domains of a host `operator`).
 */
export const isOperatorAnnouncement = (event: FaultlineEvent): event is ServerAnnouncement =>
  (event.type === 'domain.going-down' ||
    event.type === 'ipl.completed' ||
    event.type === 'domain.rebooted') &&
  (event.sentby === undefined ? event.hostid === OPERATOR_HOST : event.sentby.startsWith('operator:'));

/** The host id and boot id of an operator's announcements (cli/operator-announce.ts). */
const OPERATOR_HOST = 'operator';

/** The announcements of §3 that name a domain going down or coming back. */
export type ServerAnnouncement = DomainGoingDown | IplCompleted | DomainRebooted;
