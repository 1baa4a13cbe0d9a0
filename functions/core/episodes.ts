import type { Notification } from '../../events/index.ts';
import type { Runbook, RunbookMode } from './config.ts';
import { recheckExposed } from './critical.ts';
import { isHealthyOn, isPathHealthy, servedOf } from './host.ts';
import { deriveId } from './ids.ts';
import { escalate, newIncident, page, resolveIncident, timeline } from './incidents.ts';
import type { DomainSlice, Episode, HostEpisode, HostSlice, LocalFault, ServedDomain } from './model.ts';
import { silenceTimes, stallTimes } from './stall.ts';
import { addSeconds, sameTime, toMs, toTime } from './time.ts';
import type { Transaction } from './transaction.ts';

/**
 * Episodes (docs/architecture.md §5.1–5.3, 5.6, 5.9, 5.10): the rules that move a failure domain down
 * and up, join hosts to its outage, page it once the grouping window has passed (`info` when it was
 * announced), and resolve it; the pages themselves are sent through ./incidents.ts.
 */

export const runbookOf = (failureDomain: string): Runbook => {
  if (failureDomain.startsWith('vdisk:')) return 'svm-ldoms';
  if (failureDomain.startsWith('fc:')) return 'multipath';
  return 'md-vscsi';
};

export const modeOf = (txn: Transaction, failureDomain: string): RunbookMode =>
  txn.config.runbooks[runbookOf(failureDomain)];

const isOpen = (episode: Episode | undefined): episode is Episode =>
  episode !== undefined && episode.incident.status !== 'resolved';

export const openEpisode = (domain: DomainSlice): Episode | undefined =>
  isOpen(domain.episode) ? domain.episode : undefined;

/** How a domain went down: announced by its server first, and the symptoms that took it down. */
export type DownOptions = { announced?: boolean; symptoms?: readonly { hostId: string; at: string }[] };

/**
 * Takes a domain down: opens its episode and incident, or, during an episode that was up, counts a
 * flap (the incident is no longer up). Either way, the clients that reported it (the symptoms given, else those still in the grouping list) and
 * those with a paged local fault on it join the incident; the hosts exposed on it are checked for a
 * double fault at once (§5.4), which for an announced outage is before the server stops.
 */
export const goDown = (
  txn: Transaction,
  domain: DomainSlice,
  at: string,
  reason: string,
  options: DownOptions = {},
): void => {
  if (domain.state === 'down') return;
  domain.state = 'down';
  const symptoms = options.symptoms ?? domain.recentSymptoms;
  domain.recentSymptoms = [];
  const episode = openEpisode(domain);
  if (episode !== undefined) {
    episode.lastDownAt = at;
    delete episode.upAt;
    delete episode.dispatchAt;
    if (episode.halted === undefined) episode.incident.status = 'awaiting-recovery';
    episode.incident.upAt = null;
    txn.touch(episode.incident);
    timeline(
      txn,
      episode.incident.id,
      `${domain.failureDomain} down again (${reason}): a flap`,
      undefined,
      'down',
    );
    countFlap(txn, domain, episode, at);
    joinReporters(txn, domain, episode.incident.id, symptoms, at);
    recheckExposed(txn, domain, at);
    return;
  }
  const incident = newIncident(
    'outage',
    deriveId('inc', 'outage', domain.failureDomain, at),
    domain.failureDomain,
    at,
    `${domain.failureDomain} is down (${reason})`,
    { downAt: at, upAt: null },
  );
  domain.episode = {
    incident,
    downAt: at,
    lastDownAt: at,
    downReason: reason,
    unhealthy: 0,
    waiting: 0,
    wave: 0,
    dispatched: 0,
    canaryDone: false,
    approvedWave: -1,
    slots: {},
    flaps: [],
    hasPaths: false,
    ...(options.announced === true ? { announced: true } : {}),
  };
  txn.touch(incident);
  timeline(txn, incident.id, `${domain.failureDomain} down: ${reason}`, undefined, 'down');
  joinReporters(txn, domain, incident.id, symptoms, at);
  recheckExposed(txn, domain, at);
};

/**
 * The clients whose symptoms took the domain down (first, or again in a flap) and those with a
 * paged local fault on it join its incident (a host already in it is only counted again if it
 * had healed: `join`).
 */
const joinReporters = (
  txn: Transaction,
  domain: DomainSlice,
  incidentId: string,
  symptoms: readonly { hostId: string; at: string }[],
  at: string,
): void => {
  const joining = [
    ...domain.localHosts.map((hostId) => ({ hostId, at })),
    ...symptoms.filter((symptom) => !domain.localHosts.includes(symptom.hostId)),
  ];
  for (const symptom of joining) {
    txn.followUp({
      type: 'internal.join',
      hostId: symptom.hostId,
      failureDomain: domain.failureDomain,
      incidentId,
      at: symptom.at,
    });
  }
  domain.localHosts = [];
};

/**
 * Opens a domain's episode from its clients' symptoms and joins them to it. When the server already
 * announced it was back after those symptoms happened (late, spooled symptoms), the episode is up
 * at once: its clients are healed, not left waiting for an up event that already came.
 */
export const openFromSymptoms = (
  txn: Transaction,
  domain: DomainSlice,
  symptoms: readonly { hostId: string; at: string }[],
  reason: string,
): void => {
  const downAt = symptoms.reduce(
    (first, symptom) => (toMs(symptom.at) < toMs(first) ? symptom.at : first),
    txn.now,
  );
  goDown(txn, domain, downAt, reason, { symptoms });
  if (domain.episode === undefined) return;
  if (domain.lastUpAt !== undefined && toMs(domain.lastUpAt) > toMs(downAt)) {
    goUp(txn, domain, domain.lastUpAt, 'its server was already back when the symptoms arrived');
  }
};

/** A flap (§5.6): revoke what was not delivered and, after K flaps in the window, halt until resumed. */
const countFlap = (txn: Transaction, domain: DomainSlice, episode: Episode, at: string): void => {
  const horizon = toMs(at) - txn.config.flapWindowSeconds * 1000;
  episode.flaps = [...episode.flaps.filter((flap) => toMs(flap) > horizon), at];
  for (const slot of Object.values(episode.slots).sort((a, b) => (a.hostId < b.hostId ? -1 : 1))) {
    if (slot.started) continue;
    txn.emit({ type: 'plan.revoke', planId: slot.planId, hostId: slot.hostId });
    txn.followUp({ type: 'internal.revoke', hostId: slot.hostId, planId: slot.planId, at, requeue: true });
    timeline(txn, episode.incident.id, `revoked undelivered plan ${slot.planId}`, slot.hostId);
    delete episode.slots[slot.hostId];
    episode.dispatched = Math.max(0, episode.dispatched - 1);
  }
  if (episode.flaps.length >= txn.config.flapLimit) {
    halt(
      txn,
      domain,
      episode,
      `${domain.failureDomain} flapped ${episode.flaps.length} times within the hour`,
      true,
    );
  }
};

export const halt = (
  txn: Transaction,
  domain: DomainSlice,
  episode: Episode,
  reason: string,
  untilResumed: boolean,
  details?: Notification['details'],
): void => {
  episode.halted = { at: txn.now, reason, untilResumed };
  episode.incident.status = 'halted';
  txn.touch(episode.incident);
  timeline(txn, episode.incident.id, `halted: ${reason}`, undefined, 'halted');
  if (!domain.maintenance)
    escalate(txn, episode.incident, `Faultline halted ${domain.failureDomain}: ${reason}`, details);
};

/** Brings a domain up (§5.2): plans may start after the stability period. */
export const goUp = (txn: Transaction, domain: DomainSlice, at: string, reason: string): void => {
  if (domain.state === 'up') return;
  domain.state = 'up';
  // Its exposed hosts have their last good copy back: their double faults may end (§5.4).
  recheckExposed(txn, domain, at);
  const episode = openEpisode(domain);
  if (episode === undefined) return;
  episode.upAt = at;
  delete episode.downBy;
  delete episode.confirmedBy;
  const delay = Math.max(
    txn.config.stabilitySeconds,
    episode.hasPaths ? txn.config.pathReinstateDelaySeconds : 0,
  );
  episode.dispatchAt = addSeconds(at, delay);
  episode.incident.upAt = at;
  if (episode.halted === undefined) episode.incident.status = 'remediating';
  txn.touch(episode.incident);
  timeline(txn, episode.incident.id, `${domain.failureDomain} up since ${at}: ${reason}`, undefined, 'up');
};

/** Whether a symptom that happened at `at` belongs to the domain's open episode. */
export const belongsToEpisode = (episode: Episode, at: string): boolean =>
  episode.upAt === undefined || toMs(at) <= toMs(episode.upAt);

/**
 * A host already counted in the domain's open incident, marked healthy there, is degraded again on
 * the domain by a report of its own (no `planid`: not Faultline's work): it counts as unhealthy again
 * (§5.10: the outage resolves only when every affected array and path is healthy). During the outage
 * (`waiting`) the outage explains it and its server's return heals it with a plan; after its server
 * was back (`failed`, with the reason) it is a new fault, paged as a local fault after its hold-down
 * (§5.3), or a flap if others report too (§5.6). Returns whether the host was counted again.
 */
export const relapse = (
  txn: Transaction,
  host: HostSlice,
  domain: DomainSlice,
  at: string,
  during: boolean,
): boolean => {
  const episode = openEpisode(domain);
  if (episode === undefined) return false;
  const current = host.episodes[episode.incident.id];
  if (current?.status !== 'healthy' || isHealthyOn(host, domain.failureDomain)) return false;
  const record = txn.own(host.episodes, episode.incident.id);
  if (record === undefined) return false;
  episode.unhealthy += 1;
  if (during) {
    record.status = 'waiting';
    delete record.reason;
    episode.waiting += 1;
    if (episode.dispatchAt !== undefined) txn.requestWake(domain.failureDomain);
  } else {
    record.status = 'failed';
    record.reason = `degraded again at ${at}, after its server was back`;
  }
  txn.touch(episode.incident);
  timeline(
    txn,
    episode.incident.id,
    during
      ? `${host.hostId} degraded again during the outage: waiting for a plan again`
      : `${host.hostId} degraded again at ${at}, after ${domain.failureDomain} was back: a new fault, not this outage's`,
    host.hostId,
  );
  return true;
};

/** Adds a host to the domain's open incident: an affected-host row with its own status. */
export const join = (txn: Transaction, host: HostSlice, domain: DomainSlice, at: string): void => {
  const episode = openEpisode(domain);
  if (episode === undefined) return;
  const incident = episode.incident;
  if (host.episodes[incident.id] !== undefined) {
    relapse(txn, host, domain, at, true);
    return;
  }
  const healthy = isHealthyOn(host, domain.failureDomain);
  const record: HostEpisode = {
    incidentId: incident.id,
    failureDomain: domain.failureDomain,
    status: healthy ? 'healthy' : 'waiting',
    joinedAt: at,
    attempt: 0,
  };
  host.episodes[incident.id] = record;
  incident.affectedHosts += 1;
  if (!healthy) {
    episode.unhealthy += 1;
    episode.waiting += 1;
  }
  if (
    Object.values(host.paths).some(
      (path) => path.failureDomain === domain.failureDomain && !isPathHealthy(path.state),
    )
  ) {
    episode.hasPaths = true;
  }
  txn.touch(incident);
  timeline(txn, incident.id, `${host.hostId} affected`, host.hostId);
  for (const [resource, fault] of Object.entries(host.localFaults)) {
    if (fault.failureDomain !== domain.failureDomain) continue;
    if (fault.incident !== undefined) {
      resolveIncident(txn, { ...fault.incident }, `merged into outage ${incident.id}`);
    }
    delete host.localFaults[resource];
  }
  if (domain.localHosts.includes(host.hostId))
    domain.localHosts = domain.localHosts.filter((hostId) => hostId !== host.hostId);
  if (
    !incident.paged &&
    !domain.maintenance &&
    !host.maintenance &&
    !healthy &&
    episode.pageAt === undefined
  ) {
    episode.pageAt = addSeconds(episode.downAt, txn.config.groupingWindowSeconds);
  }
  pageOutage(txn, domain);
  if (episode.dispatchAt !== undefined && !healthy) txn.requestWake(domain.failureDomain);
};

/**
 * Sends the outage's first page once it is due (`pageAt`: the grouping window after it went down, so
 * an announcement made first but delivered late is known by then), or, with `now`, at once (it is
 * being resolved sooner: its trigger goes before its resolve). An announced outage is expected:
 * `info` until it runs past its limit, when it escalates (§5.9); any other is `error`.
 */
export const pageOutage = (txn: Transaction, domain: DomainSlice, now = false): void => {
  const episode = openEpisode(domain);
  if (episode?.pageAt === undefined || episode.incident.paged || domain.maintenance) return;
  if (!now && (toMs(episode.pageAt) > toMs(txn.now) || episode.unhealthy === 0)) return;
  const announced =
    episode.announced === true &&
    toMs(txn.now) < toMs(episode.lastDownAt) + txn.config.escalateDownSeconds * 1000;
  page(
    txn,
    episode.incident,
    announced ? 'info' : 'error',
    announced
      ? `${domain.failureDomain} is down as announced (${episode.downReason}); its clients' mirrors and paths are degraded`
      : `${domain.failureDomain} is down; its clients' mirrors and paths are degraded`,
    { downAt: episode.downAt },
  );
};

const COUNTED_UNHEALTHY = new Set<HostEpisode['status']>(['waiting', 'planned', 'failed', 'proposed']);

/** A host's storage on a domain is healthy again: free its slot, count it, and resolve when all are. */
export const markHealthy = (txn: Transaction, host: HostSlice, incidentId: string, why: string): void => {
  const record = txn.own(host.episodes, incidentId);
  if (record === undefined) return;
  const domain = txn.domain(record.failureDomain);
  const episode = openEpisode(domain);
  const wasCounted = COUNTED_UNHEALTHY.has(record.status);
  const wasWaiting = record.status === 'waiting';
  record.status = 'healthy';
  if (host.lastSeq !== undefined) record.healthySeq = host.lastSeq;
  if (episode === undefined || episode.incident.id !== record.incidentId) return;
  if (wasCounted) episode.unhealthy = Math.max(0, episode.unhealthy - 1);
  if (wasWaiting) episode.waiting = Math.max(0, episode.waiting - 1);
  if (episode.slots[host.hostId] !== undefined) {
    delete episode.slots[host.hostId];
    txn.requestWake(domain.failureDomain);
  }
  if (episode.canaryHost === host.hostId && !episode.canaryDone) {
    episode.canaryDone = true;
    episode.wave = Math.max(episode.wave, 1);
    txn.requestWake(domain.failureDomain);
  }
  timeline(txn, episode.incident.id, `${host.hostId} healthy (${why})`, host.hostId, 'healthy');
  maybeResolve(txn, domain);
};

/** Resolution (§5.10): every affected host healthy, the domain up and past its stability period. */
export const maybeResolve = (txn: Transaction, domain: DomainSlice): void => {
  const episode = openEpisode(domain);
  if (episode === undefined || domain.state !== 'up' || episode.unhealthy > 0) return;
  if (episode.dispatchAt === undefined || toMs(txn.now) < toMs(episode.dispatchAt)) return;
  const skipped = episode.skipped ?? 0;
  resolveDomainEpisode(
    txn,
    domain,
    skipped === 0
      ? 'every affected array and path is healthy'
      : `every host it could heal is healthy; ${skipped} host(s) left to a person (a double fault, or no safe plan) are paged on their own`,
  );
};

export const resolveDomainEpisode = (txn: Transaction, domain: DomainSlice, why: string): void => {
  const episode = domain.episode;
  if (episode === undefined) return;
  pageOutage(txn, domain, true);
  resolveIncident(txn, episode.incident, why);
  domain.lastResolved = { incidentId: episode.incident.id, resolvedAt: txn.now, episode };
  delete domain.episode;
};

/**
 * A symptom that happened during an episode that has since been resolved (a spooled event that
 * arrived late) reopens it, so the client is healed with the others rather than left degraded.
 */
export const reopenIfDuring = (txn: Transaction, domain: DomainSlice, at: string): boolean => {
  const last = domain.lastResolved?.episode;
  if (last === undefined || openEpisode(domain) !== undefined || domain.state !== 'up') return false;
  const from = toMs(last.downAt) - txn.config.groupingWindowSeconds * 1000;
  if (last.upAt === undefined || toMs(at) < from || toMs(at) > toMs(last.upAt)) return false;
  last.incident.status = last.halted === undefined ? 'remediating' : 'halted';
  last.incident.resolvedAt = null;
  domain.episode = last;
  delete domain.lastResolved;
  txn.touch(last.incident);
  timeline(txn, last.incident.id, `reopened: a symptom from ${at}, during the outage, arrived late`);
  return true;
};

/**
 * The wake time for the earliest time due, never before now: the time `toTime` writes, taken from
 * now or the wake time already set when it is that very text (no new string per decision).
 */
const wakeTime = (txn: Transaction, earliest: number, current: string | undefined): string => {
  const ms = Math.max(earliest, toMs(txn.now));
  return sameTime(ms, txn.now) ?? sameTime(ms, current) ?? toTime(ms);
};

/** When the domain slice next needs a tick: dispatch, escalation, or a slot's expiry. */
export const scheduleDomain = (txn: Transaction, domain: DomainSlice): void => {
  const times: number[] = [];
  const episode = openEpisode(domain);
  if (txn.wantsWake(domain.failureDomain)) times.push(toMs(txn.now));
  // A wake already due is used up only by the tick that fires it: another decision on the domain
  // before that tick (the next input of a correlate batch, whose timers fire after the batch) keeps it.
  if (
    domain.wakeAt !== undefined &&
    toMs(domain.wakeAt) <= toMs(txn.now) &&
    !txn.firedWake(domain.failureDomain)
  ) {
    times.push(toMs(domain.wakeAt));
  }
  if (episode !== undefined) {
    if (episode.pageAt !== undefined && !episode.incident.paged) times.push(toMs(episode.pageAt));
    if (domain.state === 'down' && !episode.incident.escalated) {
      times.push(toMs(episode.lastDownAt) + txn.config.escalateDownSeconds * 1000);
    }
    if (
      domain.state === 'up' &&
      episode.dispatchAt !== undefined &&
      toMs(episode.dispatchAt) > toMs(txn.now)
    ) {
      times.push(toMs(episode.dispatchAt));
    }
    for (const slot of Object.values(episode.slots)) times.push(toMs(slot.expiresAt));
  }
  if (times.length === 0) delete domain.wakeAt;
  else domain.wakeAt = wakeTime(txn, Math.min(...times), domain.wakeAt);
};

/**
 * When the host slice next needs a tick: a local fault's hold-down, its silence as a server of each
 * domain, a plan's stall, its agent's silence during its incident.
 */
export const scheduleHost = (txn: Transaction, host: HostSlice): void => {
  // The earliest of them, kept as it goes (`Math.min` of them all, NaN included).
  let earliest = Number.POSITIVE_INFINITY;
  let any = false;
  const consider = (time: number): void => {
    earliest = Math.min(earliest, time);
    any = true;
  };
  for (const time of stallTimes(txn, host)) consider(time);
  for (const time of silenceTimes(txn, host)) consider(time);
  for (const resource in host.localFaults) {
    const fault = host.localFaults[resource] as LocalFault;
    if (fault.incident === undefined) consider(toMs(fault.since) + txn.config.holdDownSeconds * 1000);
  }
  // A server's silence for each domain it serves, until that silence has taken the domain down once.
  const interval = host.intervalSeconds ?? txn.config.defaultHeartbeatSeconds;
  const served = servedOf(host);
  for (const failureDomain in served) {
    const entry = served[failureDomain] as ServedDomain;
    if (entry.silentAt === entry.vouchedAt) continue;
    consider(toMs(entry.vouchedAt) + txn.config.silentHeartbeats * interval * 1000);
  }
  if (!any) delete host.wakeAt;
  else host.wakeAt = wakeTime(txn, earliest, host.wakeAt);
};
