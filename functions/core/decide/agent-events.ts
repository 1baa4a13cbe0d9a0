// The agent events of `decide` (docs/architecture.md §5.1–5.4, 5.8): storage symptoms, heartbeats, the
// server's going-down and up announcements; each changes the sending host's slice and the domains it
// implicates.
import type { FaultlineEvent, HostHeartbeat, MirrorDegraded } from '../../../events/index.ts';
import { clientConfirms, holdsMemberOn } from '../confirm.ts';
import { checkCritical, recheckIfExposedDown, updateExposure } from '../critical.ts';
import {
  belongsToEpisode,
  goDown,
  join,
  markHealthy,
  openEpisode,
  openFromSymptoms,
  relapse,
  reopenIfDuring,
} from '../episodes.ts';
import { isPathUsable } from '../exposure.ts';
import { guestDiskReports, placeGuestDisks } from '../guests.ts';
import {
  applyHeartbeat,
  applyMirrorEvent,
  applyPathEvent,
  implicatedByMembers,
  isHealthyOn,
  isResourceHealthy,
  pathKey,
  storageDomains,
} from '../host.ts';
import { textDigest } from '../ids.ts';
import { resolveIncident, timeline } from '../incidents.ts';
import type { ArrayRecord, HostSlice, PathRecord } from '../model.ts';
import { shallowCopy, sortedKeys, sortStrings, sortWith, uniqueSorted } from '../order.ts';
import {
  applyHeartbeatServes,
  heardFromClient,
  isOperatorAnnouncement,
  isServerOwnWord,
  learnAnnounced,
  migrateServes,
  type ServerAnnouncement,
  senderOf,
  serverBack,
  vouchByAnyEvent,
} from '../servers.ts';
import {
  forgetProbes,
  readBack,
  recordHeartbeatProbes,
  recordProbed,
  unreadAgain,
  updateClientOf,
  upgradeLocalFaults,
} from '../single-client.ts';
import { recordResyncProgress } from '../stall.ts';
import { addSeconds, latest, sameTime, toMs, toTime } from '../time.ts';
import type { Transaction } from '../transaction.ts';
import { applyProgress } from './command-progress.ts';

/** The failure domains an agent event implicates: `keysFor` loads them with the sending host. */
export const eventDomains = (event: FaultlineEvent): string[] => {
  switch (event.type) {
    case 'mirror.degraded':
    case 'mirror.recovering':
    case 'mirror.healthy':
      return uniqueSorted(event.data.members.map((member) => member.failureDomain));
    case 'path.lost':
    case 'path.restored':
    case 'domain.going-down':
    case 'domain.rebooted':
    case 'ipl.completed':
    case 'disk.probed':
      return [event.data.failureDomain];
    case 'host.heartbeat': {
      // A heartbeat names a few domains many times over: a list checked as it grows, then sorted.
      const domains: string[] = [];
      const add = (failureDomain: string): void => {
        if (!domains.includes(failureDomain)) domains.push(failureDomain);
      };
      for (const array of event.data.arrays) for (const member of array.members) add(member.failureDomain);
      for (const path of event.data.paths) add(path.failureDomain);
      for (const failureDomain of event.data.serves ?? []) add(failureDomain);
      // The domains of the disks it reports a probe of (`probedDomains`).
      for (const disk of event.data.disks)
        if (disk.deviceState !== undefined || disk.readable !== undefined) add(disk.failureDomain);
      return sortStrings(domains);
    }
    case 'command.progress':
      return [];
  }
};

/** When an event happened by the ingest's clock: the agent's time corrected by the skew its heartbeats show. */
const occurredAt = (host: HostSlice, event: FaultlineEvent): string => {
  const seen = event.receivedat ?? event.time;
  if (host.skewMs === undefined) return seen;
  const corrected = toMs(event.time) + host.skewMs;
  return corrected <= toMs(seen) ? (sameTime(corrected, event.time) ?? toTime(corrected)) : seen;
};

const WINDOW_CAP = 64;

/** A symptom implicating a domain (§5.1–5.3): join its episode, open one, or wait out the hold-down. */
export const onSymptom = (
  txn: Transaction,
  host: HostSlice,
  resource: string,
  failureDomain: string,
  at: string,
): void => {
  const domain = txn.domain(failureDomain);
  reopenIfDuring(txn, domain, at);
  const episode = openEpisode(domain);
  if (episode !== undefined && belongsToEpisode(episode, at)) {
    join(txn, host, domain, at);
    return;
  }
  // A host this outage healed, degraded again after its server was back: counted again, and a new fault.
  if (episode !== undefined) relapse(txn, host, domain, at, false);
  const lastUpAt = domain.lastUpAt;
  if (
    episode === undefined &&
    lastUpAt !== undefined &&
    toMs(at) <= toMs(lastUpAt) &&
    toMs(lastUpAt) - toMs(at) <= txn.config.escalateDownSeconds * 1000 &&
    (domain.lastResolved === undefined || toMs(at) > toMs(domain.lastResolved.resolvedAt))
  ) {
    // The server rebooted after this symptom happened: the reboot explains it, even from one client.
    openFromSymptoms(txn, domain, [{ hostId: host.hostId, at }], `a symptom from before its server's reboot`);
    return;
  }
  if (
    episode === undefined &&
    domain.lastResolved !== undefined &&
    toMs(at) <= toMs(domain.lastResolved.resolvedAt)
  ) {
    timeline(txn, domain.lastResolved.incidentId, `late symptom ${resource} on ${host.hostId}`, host.hostId);
    return;
  }
  const window = txn.config.groupingWindowSeconds * 1000;
  const keep = toMs(at) - Math.max(window, txn.config.holdDownSeconds * 1000);
  const recent = domain.recentSymptoms.filter(
    (symptom) => toMs(symptom.at) >= keep && symptom.hostId !== host.hostId,
  );
  recent.push({ hostId: host.hostId, at });
  recent.sort((a, b) => toMs(a.at) - toMs(b.at) || (a.hostId < b.hostId ? -1 : 1));
  domain.recentSymptoms = recent.slice(-WINDOW_CAP);
  const grouped = recent.filter((symptom) => Math.abs(toMs(symptom.at) - toMs(at)) <= window);
  if (grouped.length >= txn.config.minClientsForOutage) {
    // Clients still in their hold-down join too: a lone symptom becomes part of the outage (§5.3).
    openFromSymptoms(txn, domain, recent, `symptoms from ${grouped.length} clients`);
    return;
  }
  if (host.localFaults[resource] === undefined) {
    host.localFaults[resource] = { resource, failureDomain, since: at };
  }
};

/** After any change to a host's resources: heal its episodes, close what healed, forget what ended. */
export const reconcileHost = (txn: Transaction, host: HostSlice, reason: string): void => {
  for (const record of sortWith(Object.values(host.episodes), (a, b) =>
    a.incidentId < b.incidentId ? -1 : 1,
  )) {
    const domain = txn.readDomain(record.failureDomain);
    if (domain.episode?.incident.id !== record.incidentId) {
      // Its incident ended: forget the host's part in it and its plans, so the slice stays small.
      delete host.episodes[record.incidentId];
      for (const plan of Object.values(host.plans)) {
        if (plan.incidentId === record.incidentId) delete host.plans[plan.id];
      }
      continue;
    }
    if (
      record.status !== 'healthy' &&
      record.status !== 'skipped' &&
      isHealthyOn(host, record.failureDomain)
    ) {
      markHealthy(txn, host, record.incidentId, reason);
    }
  }
  for (const [resource, fault] of Object.entries(host.localFaults)) {
    if (!isResourceHealthy(host, resource)) continue;
    if (fault.incident !== undefined)
      resolveIncident(txn, { ...fault.incident }, `${resource} healthy again`);
    delete host.localFaults[resource];
    const domain = txn.domain(fault.failureDomain);
    domain.localHosts = domain.localHosts.filter((hostId) => hostId !== host.hostId);
  }
  forgetProbes(host);
};

const refreshSlots = (txn: Transaction, host: HostSlice): void => {
  for (const record of Object.values(host.episodes)) {
    if (record.status !== 'planned') continue;
    const domain = txn.readDomain(record.failureDomain);
    const slot = domain.episode?.slots[host.hostId];
    if (slot === undefined) continue;
    const remaining = toMs(slot.expiresAt) - toMs(txn.now);
    if (remaining >= (txn.config.slotTimeoutSeconds * 1000) / 2) continue;
    const writable = txn.domain(record.failureDomain).episode?.slots[host.hostId];
    if (writable !== undefined) writable.expiresAt = addSeconds(txn.now, txn.config.slotTimeoutSeconds);
  }
};

/**
 * What a heartbeat says about the host's storage; an agent serialises it the same way each time.
 * `replicas` only when present, so a heartbeat without them keeps the digest it had before the field.
 */
const heartbeatDigest = (event: HostHeartbeat): string => {
  const { arrays, paths, disks, replicas } = event.data;
  return textDigest(
    'sha1',
    JSON.stringify(replicas === undefined ? [arrays, paths, disks] : [arrays, paths, disks, replicas]),
    'base64',
  );
};
/**
 * A server's own announcement sent in a boot before the one that last listed its domain (`seq` runs
 * on across boots): that later boot serves the domain, so the announcement is stale.
 */
const isFromEarlierBoot = (host: HostSlice, event: ServerAnnouncement): boolean => {
  if (!isServerOwnWord(host, event)) return false;
  const entry = host.served?.[event.data.failureDomain];
  return entry?.listed === true && entry.boot !== event.bootid && entry.seq > event.seq;
};

/**
 * A server's announcement (§3, §5.2), within its grant or from an operator: going down, or back
 * (`ipl.completed`, `domain.rebooted`). The timeline names who sent it.
 */
const applyServerEvent = (
  txn: Transaction,
  host: HostSlice,
  event: ServerAnnouncement,
  at: string,
  seen: string,
): void => {
  const sender = senderOf(event);
  const failureDomain = event.data.failureDomain;
  if (event.type === 'domain.going-down') {
    if (isFromEarlierBoot(host, event)) {
      // Delivered late (a spool, SQS): the server already listed the domain from a later boot.
      const open = openEpisode(txn.readDomain(failureDomain));
      if (open !== undefined)
        timeline(
          txn,
          open.incident.id,
          `stale going-down of ${failureDomain} from ${sender}'s boot ${event.bootid} ignored: it serves it again from a later boot`,
        );
      return;
    }
    learnAnnounced(txn, host, event, seen);
    const down = openEpisode(txn.readDomain(failureDomain));
    if (down !== undefined && !down.announced && toMs(at) <= toMs(down.downAt)) {
      // Announced first, delivered late: still an announced outage, if it was not paged yet.
      const episode = txn.domain(failureDomain).episode;
      if (episode !== undefined) episode.announced = true;
    }
    const reason = event.data.reason ?? 'announced going down';
    const wasDown = txn.readDomain(failureDomain).state === 'down';
    goDown(txn, txn.domain(failureDomain), at, `${reason}, announced by ${sender}`, { announced: true });
    const open = openEpisode(txn.readDomain(failureDomain));
    if (wasDown && open !== undefined)
      timeline(
        txn,
        open.incident.id,
        `${sender} announced ${failureDomain} going down (${reason}): already down`,
      );
    return;
  }
  if (event.type === 'ipl.completed') learnAnnounced(txn, host, event, seen);
  serverBack(txn, host, failureDomain, event.data.bootedAt, at, `${event.type} from ${sender}`);
};

/** Applies an agent event to its host's slice and to the domains it implicates, then reconciles the host. */
export const applyEvent = (txn: Transaction, received: FaultlineEvent): void => {
  if (isOperatorAnnouncement(received)) {
    // An operator's announcement acts on the domain only: no host slice for `operator` (§3).
    const seenAt = received.receivedat ?? received.time;
    applyServerEvent(txn, txn.readHost(received.hostid), received, seenAt, seenAt);
    return;
  }
  const host = txn.host(received.hostid);
  // An LDoms guest's members and disks on the service domains its control domain reported (§3).
  const event = placeGuestDisks(host, received);
  migrateServes(host);
  const seen = event.receivedat ?? event.time;
  const at = occurredAt(host, event);
  const fresh = host.lastSeq === undefined || event.seq > host.lastSeq;
  const bootBefore = host.bootId;
  const skewBefore = host.skewMs;
  const heardBefore = host.lastSeenAt;
  host.lastSeenAt = host.lastSeenAt === undefined ? seen : latest(host.lastSeenAt, seen);
  if (fresh) {
    host.bootId = event.bootid;
    host.lastSeq = event.seq;
  }
  vouchByAnyEvent(txn, host, seen);
  refreshSlots(txn, host);
  const ownWork = event.planid !== undefined;
  let changed = false;
  switch (event.type) {
    case 'host.heartbeat': {
      host.role = event.data.role;
      host.platform = event.data.platform;
      host.capabilities = event.data.capabilities;
      host.intervalSeconds = event.data.intervalSeconds;
      if (event.receivedat !== undefined && fresh) host.skewMs = toMs(event.receivedat) - toMs(event.time);
      applyHeartbeatServes(txn, host, event, { seen, at, bootBefore, skewBefore });
      for (const report of guestDiskReports(host, event, seen)) txn.followUp(report);
      const probed = recordHeartbeatProbes(host, event, at);
      // The digest only matters for a heartbeat newer than the last one applied: hashed only then.
      const newer = host.heartbeatSeq === undefined || event.seq > host.heartbeatSeq;
      const digest = newer ? heartbeatDigest(event) : undefined;
      if (digest !== undefined && digest !== host.heartbeatDigest) {
        host.heartbeatDigest = digest;
        host.heartbeatSeq = event.seq;
        const before = { arrays: shallowCopy(host.arrays), paths: shallowCopy(host.paths) };
        changed = applyHeartbeat(host, event, at);
        // A heartbeat that shows an array degraded or a path failed is a symptom like the event (§5.8).
        for (const symptom of heartbeatSymptoms(host, before, event.seq)) {
          if (!isOwnWorkOn(txn, host, symptom.failureDomain, event.seq))
            onSymptom(txn, host, symptom.resource, symptom.failureDomain, at);
        }
      }
      for (const failureDomain of probed) onProbe(txn, host, failureDomain);
      break;
    }
    case 'mirror.degraded': {
      const previous = host.arrays[event.data.array];
      changed = applyMirrorEvent(host, event, at);
      if (changed && !ownWork) {
        for (const failureDomain of implicatedByMembers(previous, (event as MirrorDegraded).data.members)) {
          onSymptom(txn, host, `array:${event.data.array}`, failureDomain, at);
        }
      }
      break;
    }
    case 'mirror.recovering':
      changed = applyMirrorEvent(host, event, at);
      recordResyncProgress(txn, host, event);
      break;
    case 'mirror.healthy':
      changed = applyMirrorEvent(host, event, at);
      break;
    case 'path.lost':
      changed = applyPathEvent(host, event, at);
      if (changed && !ownWork) {
        onSymptom(
          txn,
          host,
          `path:${pathKey(event.data.map, event.data.path, event.data.hctl)}`,
          event.data.failureDomain,
          at,
        );
      }
      break;
    case 'path.restored': {
      changed = applyPathEvent(host, event, at);
      if (changed && !ownWork)
        clientConfirms(
          txn,
          host,
          event.data.failureDomain,
          at,
          `${host.hostId} reports ${event.data.path} restored`,
        );
      break;
    }
    case 'disk.probed': {
      if (ownWork) break;
      const reads = event.data.deviceState === 'running' && event.data.readable;
      if (reads && holdsMemberOn(host, event.data.disk, event.data.failureDomain))
        clientConfirms(
          txn,
          host,
          event.data.failureDomain,
          at,
          `${host.hostId} reads ${event.data.disk} again`,
        );
      if (recordProbed(host, event, at)) onProbe(txn, host, event.data.failureDomain);
      break;
    }
    case 'command.progress':
      applyProgress(txn, host, event);
      break;
    default:
      applyServerEvent(txn, host, event, at, seen);
  }
  if (changed) {
    // What an event changed, the next heartbeat is compared with anew (its digest may equal an older one's).
    if (event.type !== 'host.heartbeat') delete host.heartbeatDigest;
    checkCritical(txn, host);
    updateExposure(txn, host);
  } else recheckIfExposedDown(txn, host);
  if (changed || (host.clientOf === undefined && storageDomains(host).length > 0)) updateClientOf(txn, host);
  heardFromClient(txn, host, { heardBefore, seen, at });
  reconcileHost(txn, host, event.type);
};

/** A probe of a disk on a domain was recorded: an outage of one host may open, or be read back. */
const onProbe = (txn: Transaction, host: HostSlice, failureDomain: string): void => {
  upgradeLocalFaults(txn, host, failureDomain);
  readBack(txn, host, failureDomain);
  unreadAgain(txn, host, failureDomain);
};

/**
 * What a heartbeat newly shows wrong, by the same rule as the events: an array's members that left
 * the in-sync state or vanished since the host's slice last saw them, and a path no longer usable.
 * Only resources this heartbeat updated count: an older heartbeat than an event changes nothing.
 */
const heartbeatSymptoms = (
  host: HostSlice,
  before: { arrays: Record<string, ArrayRecord>; paths: Record<string, PathRecord> },
  seq: number,
): { resource: string; failureDomain: string }[] => {
  const symptoms: { resource: string; failureDomain: string }[] = [];
  for (const name of sortedKeys(host.arrays)) {
    const record = host.arrays[name];
    if (record === undefined || record.watermark.seq !== seq) continue;
    for (const failureDomain of implicatedByMembers(before.arrays[name], record.members))
      symptoms.push({ resource: `array:${name}`, failureDomain });
  }
  for (const key of sortedKeys(host.paths)) {
    const record = host.paths[key];
    if (record === undefined || record.watermark.seq !== seq || isPathUsable(record)) continue;
    const previous = before.paths[key];
    if (previous === undefined || isPathUsable(previous))
      symptoms.push({ resource: `path:${key}`, failureDomain: record.failureDomain });
  }
  return symptoms;
};

/**
 * Whether Faultline's own work may explain what a heartbeat shows on a domain: the host is counted
 * unhealthy in its open incident (its plan is on the way or running), or a plan of its for the domain
 * runs or may still be fetched (issued within its TTL). A heartbeat carries no `planid`, so this is
 * how it opens nothing for a plan's own steps (a member the plan failed, removed or is resyncing). A
 * host marked healthy with no such plan is not: what its heartbeat shows wrong is a new symptom.
 */
const isOwnWorkOn = (txn: Transaction, host: HostSlice, failureDomain: string, seq: number): boolean => {
  const episode = openEpisode(txn.readDomain(failureDomain));
  const record = episode === undefined ? undefined : host.episodes[episode.incident.id];
  if (record !== undefined && record.status !== 'healthy') return true;
  // Sent before the host was marked healthy: what the plan's own steps looked like, delivered late.
  if (record?.healthySeq !== undefined && seq <= record.healthySeq) return true;
  const ttlMs = txn.config.planTtlSeconds * 1000;
  return Object.values(host.plans).some(
    (plan) =>
      plan.failureDomain === failureDomain &&
      (plan.status === 'started' ||
        (plan.status === 'issued' && toMs(txn.now) < toMs(plan.issuedAt) + ttlMs)),
  );
};
