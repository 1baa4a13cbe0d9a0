import { exposuresOf, isPathUsable, mapsOf } from './exposure.ts';
import { arrayDomains, criticalReason } from './host.ts';
import { deriveId } from './ids.ts';
import { page, resolveIncident, timeline } from './incidents.ts';
import type { CriticalGroup, DomainSlice, HostSlice, Incident, PathRecord } from './model.ts';
import { byKey, sortedKeys, sortStrings, uniqueSorted } from './order.ts';
import { toMs } from './time.ts';
import type { Transaction } from './transaction.ts';

/**
 * Double faults and exposure (docs/architecture.md §5.4). An array whose remaining in-sync members
 * all depend on down domains (or that has none left), or a map left with no usable path, is
 * critical: one incident and one `critical` page per set of domains (a pair, for a mirror over two
 * servers), whichever comes first — the second domain going down, or the clients' symptoms. To know
 * at once which hosts a domain going down leaves critical, each domain slice keeps a bounded list
 * of the hosts exposed on it, maintained from each host's own decisions.
 */

/** How many exposed hosts of each group, and how many hosts of one double fault, a domain slice names. */
const EXPOSED_CAP = 64;
const GROUP_HOSTS_CAP = 100;

const sortedUnique = uniqueSorted;

/** The key of a set of failure domains: the same set, in any order, gives the same key. */
export const groupKey = (domains: Iterable<string>): string => sortedUnique(domains).join(' + ');

/**
 * Why a map may be critical: no usable path left (known from a path event that counted none
 * active, or from a heartbeat's full list), or every usable path through a down domain (a map with
 * every path still usable too: a single point of failure whose one domain is down).
 */
const mapCriticalReason = (
  map: string,
  paths: readonly PathRecord[],
  isPathLost: (path: PathRecord) => boolean,
): string | undefined => {
  const usable = paths.filter(isPathUsable);
  if (usable.length === 0) {
    const known =
      paths.some((path) => path.activePaths === 0) || paths.every((path) => path.activePaths === undefined);
    return known ? `multipath map ${map} has no active path` : undefined;
  }
  return usable.every(isPathLost)
    ? `multipath map ${map}'s remaining paths all go through down domains`
    : undefined;
};

type CriticalResource = { resource: string; domains: string[]; reason: string };

/**
 * A host with every array healthy and every path usable, no double fault, and exposed on no domain
 * (a single point of failure is): nothing to check (the hot path).
 */
const isUntroubled = (host: HostSlice): boolean => {
  if (Object.keys(host.doubleFaults).length > 0 || host.exposedOn !== undefined) return false;
  for (const name in host.arrays) {
    const record = host.arrays[name];
    if (
      record !== undefined &&
      (record.health !== 'healthy' || record.members.some((m) => m.state === 'last-erred'))
    )
      return false;
  }
  for (const key in host.paths) {
    const record = host.paths[key];
    if (record !== undefined && !isPathUsable(record)) return false;
  }
  return true;
};

/** Every resource of the host that is critical now, sorted: arrays by name, then maps (`map:<name>`). */
/**
 * A usable path through a down domain is lost, unless the host reported it usable since the domain
 * went down (`path.restored` while the domain waits for its clients' confirmations): it works.
 */
const isPathLost = (txn: Transaction, path: PathRecord): boolean => {
  const domain = txn.readDomain(path.failureDomain);
  if (domain.state !== 'down') return false;
  const downAt = domain.episode?.lastDownAt;
  return downAt === undefined || toMs(path.changedAt) <= toMs(downAt);
};

export const criticalResources = (txn: Transaction, host: HostSlice): CriticalResource[] => {
  const isDomainDown = (failureDomain: string): boolean => !txn.isDomainUp(failureDomain);
  const found: CriticalResource[] = [];
  for (const name of sortedKeys(host.arrays)) {
    const record = host.arrays[name];
    if (record === undefined) continue;
    const reason = criticalReason(record, isDomainDown);
    if (reason !== undefined)
      found.push({ resource: name, domains: sortStrings([...arrayDomains(record)]), reason });
  }
  for (const [map, paths] of Object.entries(mapsOf(host.paths))) {
    const reason = mapCriticalReason(map, paths, (path) => isPathLost(txn, path));
    if (reason !== undefined)
      found.push({
        resource: `map:${map}`,
        domains: sortedUnique(paths.map((path) => path.failureDomain)),
        reason,
      });
  }
  return found;
};

const withoutKey = <T>(record: Record<string, T>, key: string): Record<string, T> => {
  const { [key]: _dropped, ...rest } = record;
  return rest;
};

/**
 * A host turned critical (§5.4: no plan for a host that holds a double fault): each plan of its still
 * undelivered (issued, not started) is revoked, its slot freed and its row skipped, so its domain's
 * waves issue it nothing more; the waves are woken to go on with the others. A plan already running
 * cannot be called back: it is named, for the page and the timeline (the agent's own guards, which
 * refuse to fail a last in-sync member, are the last line). Returns what is already running.
 */
const revokeUndelivered = (txn: Transaction, host: HostSlice, reason: string): string[] => {
  const running: string[] = [];
  for (const id of sortedKeys(host.plans)) {
    const current = host.plans[id];
    if (current === undefined || (current.status !== 'issued' && current.status !== 'started')) continue;
    const domain = txn.readDomain(current.failureDomain);
    const open =
      domain.episode?.incident.id === current.incidentId && domain.episode.incident.status !== 'resolved';
    const slot = open ? domain.episode?.slots[host.hostId] : undefined;
    const started = current.status === 'started' || (slot?.planId === id && slot.started);
    if (started) {
      const text = `plan ${id} is already running on ${host.hostId}, which now holds a double fault (${reason}): its agent's own guards are the last line`;
      running.push(text);
      if (open) timeline(txn, current.incidentId, text, host.hostId);
      continue;
    }
    const plan = txn.own(host.plans, id);
    if (plan === undefined) continue;
    plan.status = 'revoked';
    txn.emit({ type: 'plan.revoke', planId: id, hostId: host.hostId });
    if (!open) continue;
    const episode = txn.domain(current.failureDomain).episode;
    if (episode === undefined) continue;
    const record = txn.own(host.episodes, current.incidentId);
    if (record !== undefined && record.status === 'planned' && record.planId === id) {
      record.status = 'skipped';
      record.reason = `double fault: ${reason}`;
      episode.unhealthy = Math.max(0, episode.unhealthy - 1);
      episode.skipped = (episode.skipped ?? 0) + 1;
    }
    if (episode.slots[host.hostId]?.planId === id) {
      delete episode.slots[host.hostId];
      episode.dispatched = Math.max(0, episode.dispatched - 1);
    }
    timeline(
      txn,
      episode.incident.id,
      `revoked undelivered plan ${id}: ${host.hostId} holds a double fault (${reason})`,
      host.hostId,
    );
    txn.requestWake(current.failureDomain);
  }
  return running;
};

/** The domain whose going down made a host critical, and how many hosts it listed as exposed. */
export type CriticalCause = { failureDomain: string; hosts: number };

/** Joins a host's critical resource to its double fault, opening it (and paging) if it is the first. */
const joinGroup = (
  txn: Transaction,
  host: HostSlice,
  found: CriticalResource,
  cause?: CriticalCause,
): void => {
  const key = groupKey(found.domains);
  const home = txn.domain(found.domains[0] ?? `local:${host.hostId}`);
  const current = home.critical?.[key];
  let group: CriticalGroup;
  if (current === undefined || current.incident.status === 'resolved') {
    const others =
      cause !== undefined && cause.hosts > 1
        ? ` and ${cause.hosts - 1} other host(s) whose last good copy depends on ${cause.failureDomain}`
        : '';
    const what = found.domains.length === 1 ? 'single point of failure on' : 'double fault on';
    const incident: Incident = {
      id: deriveId('inc', 'double-fault', key, txn.now),
      kind: 'double-fault',
      failureDomain: home.failureDomain,
      status: 'open',
      escalated: false,
      affectedHosts: 0,
      openedAt: txn.now,
      resolvedAt: null,
      hostId: host.hostId,
      resource: found.resource,
      summary: `Critical: ${what} ${key}: ${found.reason} on ${host.hostId}${others}; no automatic step will touch it`,
      paged: false,
    };
    group = { incident, domains: found.domains, hosts: [], beyond: 0 };
    timeline(txn, incident.id, `${what} ${key}`);
  } else {
    group = { ...current, incident: { ...current.incident }, hosts: [...current.hosts] };
  }
  const incident = group.incident;
  const counted = Object.values(host.doubleFaults).some((other) => other.id === incident.id);
  if (!counted) {
    if (group.hosts.length < GROUP_HOSTS_CAP) group.hosts = [...group.hosts, host.hostId].sort();
    else group.beyond += 1;
    incident.affectedHosts += 1;
  }
  home.critical = { ...(home.critical ?? {}), [key]: group };
  txn.touch(incident);
  timeline(txn, incident.id, `double fault: ${found.reason}`, host.hostId);
  const running = revokeUndelivered(txn, host, found.reason);
  for (const text of running) timeline(txn, incident.id, text, host.hostId);
  if (!host.maintenance) {
    const summary = running.length === 0 ? incident.summary : `${incident.summary}; ${running.join('; ')}`;
    page(txn, incident, 'critical', summary, { host: host.hostId, resource: found.resource });
  }
  host.doubleFaults[found.resource] = { ...incident };
};

/** A host's resource is no longer critical: it leaves its double fault, which resolves with its last host. */
const leaveGroup = (txn: Transaction, host: HostSlice, resource: string, why: string): void => {
  const held = host.doubleFaults[resource];
  delete host.doubleFaults[resource];
  if (held === undefined) return;
  if (Object.values(host.doubleFaults).some((other) => other.id === held.id)) return;
  const home = txn.readDomain(held.failureDomain);
  const entry = Object.entries(home.critical ?? {}).find(([, group]) => group.incident.id === held.id);
  if (entry === undefined) {
    // Not on the domain slice (a double fault from before groups): resolve the host's own copy.
    resolveIncident(txn, { ...held }, why);
    return;
  }
  const [key, current] = entry;
  const writable = txn.domain(held.failureDomain);
  const listed = current.hosts.includes(host.hostId);
  const group: CriticalGroup = {
    ...current,
    incident: { ...current.incident },
    hosts: current.hosts.filter((hostId) => hostId !== host.hostId),
    beyond: listed ? current.beyond : Math.max(0, current.beyond - 1),
  };
  timeline(txn, group.incident.id, `${host.hostId}: ${why}`, host.hostId);
  if (group.hosts.length === 0 && group.beyond === 0) {
    resolveIncident(txn, group.incident, `every array and map of ${key} has a good copy again`);
    writable.critical = withoutKey(writable.critical ?? {}, key);
    return;
  }
  writable.critical = { ...(writable.critical ?? {}), [key]: group };
  txn.touch(group.incident);
};

/**
 * After any change to a host (or when a domain it is exposed on went down): join each critical
 * resource to its double fault, and let go of those that have a good copy or path again.
 */
export const checkCritical = (txn: Transaction, host: HostSlice, cause?: CriticalCause): void => {
  if (isUntroubled(host)) return;
  const found = criticalResources(txn, host);
  const now = new Set(found.map((resource) => resource.resource));
  for (const resource of sortedKeys(host.doubleFaults)) {
    if (!now.has(resource)) leaveGroup(txn, host, resource, `${resource} is no longer critical`);
  }
  for (const resource of found) {
    if (host.doubleFaults[resource.resource] === undefined) joinGroup(txn, host, resource, cause);
  }
};

/** The group a host is counted in beyond its bound (`undefined`: listed, or counted before groups were). */
const countedGroup = (entry: 'listed' | 'counted' | { counted: string } | undefined): string | undefined =>
  typeof entry === 'object' ? entry.counted : undefined;

/**
 * Keeps the host listed as exposed on exactly the domains it is exposed on now (§5.4), in the group
 * of its resource's domains: named while its group has room, else counted in that group. The domain
 * slices a host decision loads (those its resources refer to) are the ones it may be listed on.
 */
export const updateExposure = (txn: Transaction, host: HostSlice): void => {
  const exposures = exposuresOf(host);
  if (exposures.length === 0 && host.exposedOn === undefined) return;
  const groups = new Map<string, string>();
  for (const exposure of exposures) {
    if (groups.has(exposure.failureDomain)) continue;
    const resource = exposure.resource.startsWith('array:')
      ? host.arrays[exposure.resource.slice('array:'.length)]
      : undefined;
    const domains = resource
      ? [...arrayDomains(resource)]
      : Object.values(host.paths)
          .filter((path) => `map:${path.map}` === exposure.resource)
          .map((path) => path.failureDomain);
    groups.set(exposure.failureDomain, groupKey(domains));
  }
  const before = host.exposedOn ?? {};
  const after: NonNullable<HostSlice['exposedOn']> = {};
  for (const failureDomain of sortedUnique([...Object.keys(before), ...groups.keys()])) {
    const key = groups.get(failureDomain);
    const was = before[failureDomain];
    const listedKey =
      was === 'listed'
        ? Object.entries(txn.readDomain(failureDomain).exposed?.groups ?? {}).find(([, hosts]) =>
            hosts.includes(host.hostId),
          )?.[0]
        : undefined;
    const wasKey = was === 'listed' ? listedKey : countedGroup(was);
    if (key !== undefined && was !== undefined && (was === 'counted' || wasKey === key)) {
      after[failureDomain] = was;
      continue;
    }
    const domain = txn.domain(failureDomain);
    const exposed = domain.exposed ?? { groups: {}, beyond: 0 };
    let groupsOf = { ...exposed.groups };
    let beyondOf = { ...(exposed.beyondOf ?? {}) };
    let beyond = exposed.beyond;
    if (was === 'listed' && listedKey !== undefined) {
      const rest = (groupsOf[listedKey] ?? []).filter((hostId) => hostId !== host.hostId);
      groupsOf = rest.length === 0 ? withoutKey(groupsOf, listedKey) : { ...groupsOf, [listedKey]: rest };
    } else if (was !== undefined && was !== 'listed') {
      beyond = Math.max(0, beyond - 1);
      const counted = countedGroup(was);
      if (counted !== undefined) {
        const left = Math.max(0, (beyondOf[counted] ?? 0) - 1);
        beyondOf = left === 0 ? withoutKey(beyondOf, counted) : { ...beyondOf, [counted]: left };
      }
    }
    if (key !== undefined) {
      if ((groupsOf[key] ?? []).length < EXPOSED_CAP) {
        groupsOf = { ...groupsOf, [key]: [...(groupsOf[key] ?? []), host.hostId].sort() };
        after[failureDomain] = 'listed';
      } else {
        beyond += 1;
        beyondOf = { ...beyondOf, [key]: (beyondOf[key] ?? 0) + 1 };
        after[failureDomain] = { counted: key };
      }
    }
    if (Object.keys(groupsOf).length === 0 && beyond === 0) delete domain.exposed;
    else
      domain.exposed = {
        groups: groupsOf,
        beyond,
        ...(Object.keys(beyondOf).length === 0 ? {} : { beyondOf }),
      };
  }
  if (Object.keys(after).length === 0) delete host.exposedOn;
  else host.exposedOn = after;
};

/** How many hosts a domain counts exposed in one group: those it names and those past the bound. */
const groupCount = (exposed: NonNullable<DomainSlice['exposed']>, key: string): number =>
  (exposed.groups[key]?.length ?? 0) + (exposed.beyondOf?.[key] ?? 0);

/**
 * A host exposed on a domain that is down now, with no double fault for it yet: a host counted past
 * its group's bound, which the domain going down could not name. Checked at its next event (a
 * heartbeat, at the latest), so every exposed host of every pair joins its double fault.
 */
export const recheckIfExposedDown = (txn: Transaction, host: HostSlice): void => {
  if (host.exposedOn === undefined) return;
  for (const [failureDomain, entry] of byKey(Object.entries(host.exposedOn))) {
    const domain = txn.readDomain(failureDomain);
    if (domain.state !== 'down') continue;
    const key = entry === 'listed' ? undefined : countedGroup(entry);
    const held = Object.keys(host.doubleFaults).length > 0;
    if (held && entry === 'listed') continue;
    const hosts = key === undefined || domain.exposed === undefined ? 1 : groupCount(domain.exposed, key);
    checkCritical(txn, host, { failureDomain, hosts });
  }
};

/**
 * A domain went down (announced, silent, or by its clients' symptoms) or came back: every host
 * listed as exposed on it now holds a critical resource, or has its last good copy back, so each is
 * checked at once, in its own decision (for an announced outage, before the server stops), with its
 * group's count for the page: every group names hosts, so every pair of domains pages at once. Hosts
 * counted past their group's bound are checked at their next event (`recheckIfExposedDown`).
 */
export const recheckExposed = (txn: Transaction, domain: DomainSlice, at: string): void => {
  const exposed = domain.exposed;
  if (exposed === undefined) return;
  const countOf = new Map<string, number>();
  for (const key of sortedKeys(exposed.groups)) {
    const count = groupCount(exposed, key);
    for (const hostId of exposed.groups[key] ?? [])
      countOf.set(hostId, Math.max(countOf.get(hostId) ?? 0, count));
  }
  const count = sortedUnique(Object.values(exposed.groups).flat()).length + exposed.beyond;
  for (const hostId of sortStrings([...countOf.keys()])) {
    txn.followUp({
      type: 'internal.critical',
      hostId,
      failureDomain: domain.failureDomain,
      at,
      exposed: countOf.get(hostId) ?? 1,
    });
  }
  const incidentId = domain.episode?.incident.id;
  if (domain.state === 'down' && incidentId !== undefined && count > 0) {
    timeline(txn, incidentId, `${count} host(s) had their last good copy or path on ${domain.failureDomain}`);
  }
};
