import {
  inSyncDomainsOf,
  isMapSinglePointOfFailure,
  isPathUsable,
  isSinglePointOfFailure,
  losesLastInSyncHalf,
  mapLosesAllActivePaths,
  mapsOf,
  pathDomainsOf,
} from './exposure.ts';
import type { ArrayHealth, ArrayRecord, HostSlice, PathRecord } from './model.ts';

/**
 * The topology and the impact of docs/architecture.md §5.4 and §6, read from host slices: which
 * failure domains each client's arrays and multipath maps depend on, which of them are single
 * points of failure (every half on one domain: mirrored on paper only), and what one domain going
 * down now would cost (the clients that lose a half, and those that would lose their last good
 * copy or usable path). Pure and per host, so a reader can fold it over a fleet page by page; the
 * per-resource rules are ./exposure.ts's, shared with the core's double-fault and planned
 * maintenance rules so the warning and the page can never disagree.
 */

const sortedUnique = (values: Iterable<string>): string[] => [...new Set(values)].sort();
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** One member of an array with the failure domain its copy depends on. */
export type MemberDependency = {
  device: string;
  disk: string;
  state: string;
  failureDomain: string;
  submirror?: string;
};

/** An array, its members, and the domains it depends on (members it has, or had since it was last healthy). */
export type ArrayTopology = {
  array: string;
  kind: string;
  level: string;
  health: ArrayHealth;
  members: MemberDependency[];
  domains: string[];
  /** Where its good copies are now: the domains of its in-sync members. */
  inSyncDomains: string[];
  singlePointOfFailure: boolean;
};

/** One path of a multipath map with the failure domain it goes through. */
export type PathDependency = { path: string; hctl: string; state: string; failureDomain: string };

/** A multipath map, its paths, and the domains it depends on. */
export type MapTopology = {
  map: string;
  wwid: string;
  paths: PathDependency[];
  domains: string[];
  /** Where its usable (active or ghost) paths go through now. */
  usableDomains: string[];
  singlePointOfFailure: boolean;
};

/** A host with its storage and every failure domain it depends on. */
export type HostTopology = {
  hostId: string;
  role?: string;
  platform?: string;
  domains: string[];
  arrays: ArrayTopology[];
  maps: MapTopology[];
};

/** An array or a map whose halves all depend on one domain: that server going down takes every copy. */
export type SinglePointOfFailure = {
  hostId: string;
  kind: 'array' | 'map';
  /** The array or map name. */
  name: string;
  failureDomain: string;
};

/** The topology of a set of hosts (by host id) and their single points of failure. */
export type Topology = { hosts: HostTopology[]; singlePointsOfFailure: SinglePointOfFailure[] };

/** What one domain going down costs one array or map of a host. */
export type ResourceImpact = {
  kind: 'array' | 'map';
  name: string;
  /** Whether it is already short of a copy or a path before the domain goes. */
  degraded: boolean;
  /** The domains that still hold a good copy or a usable path once it is gone: none is the last one lost. */
  remainingDomains: string[];
  losesLast: boolean;
};

/** A host that loses something when the domain goes down, and whether it loses a last copy. */
export type HostImpact = { hostId: string; losesLast: boolean; resources: ResourceImpact[] };

/** `GET /v1/domains/:id/impact`: the hosts that lose a half, and those that would lose their last one. */
export type DomainImpact = {
  failureDomain: string;
  /** Every host that loses a copy or a path, by host id. */
  hosts: HostImpact[];
  /** How many of them keep a good copy of everything elsewhere. */
  losingHalf: number;
  /** How many would lose the last good copy of an array, or the last usable path of a map. */
  losingLast: number;
};

const memberOf = (member: ArrayRecord['members'][number]): MemberDependency => ({
  device: member.device,
  disk: member.disk,
  state: member.state,
  failureDomain: member.failureDomain,
  ...(member.submirror === undefined ? {} : { submirror: member.submirror }),
});

const arraysOf = (host: HostSlice): ArrayRecord[] =>
  Object.keys(host.arrays)
    .sort(byName)
    .map((name) => host.arrays[name] as ArrayRecord);

const arrayTopologyOf = (array: ArrayRecord): ArrayTopology => ({
  array: array.array,
  kind: array.kind,
  level: array.level,
  health: array.health,
  members: array.members.map(memberOf),
  domains: sortedUnique([...array.members, ...array.known].map((member) => member.failureDomain)),
  inSyncDomains: inSyncDomainsOf(array),
  singlePointOfFailure: isSinglePointOfFailure(array),
});

const mapTopologyOf = (map: string, paths: readonly PathRecord[]): MapTopology => ({
  map,
  wwid: paths[0]?.wwid ?? '',
  paths: paths.map((path) => ({
    path: path.path,
    hctl: path.hctl,
    state: path.state,
    failureDomain: path.failureDomain,
  })),
  domains: sortedUnique(paths.map((path) => path.failureDomain)),
  usableDomains: pathDomainsOf(paths),
  singlePointOfFailure: isMapSinglePointOfFailure(paths),
});

/** One host's arrays and maps with the domains each depends on. */
export const hostTopologyOf = (host: HostSlice): HostTopology => {
  const arrays = arraysOf(host).map(arrayTopologyOf);
  const maps = Object.entries(mapsOf(host.paths)).map(([map, paths]) => mapTopologyOf(map, paths));
  return {
    hostId: host.hostId,
    ...(host.role === undefined ? {} : { role: host.role }),
    ...(host.platform === undefined ? {} : { platform: host.platform }),
    domains: sortedUnique([...arrays, ...maps].flatMap((resource) => resource.domains)),
    arrays,
    maps,
  };
};

/** Whether any array member or path of the host depends on `domain`. */
export const dependsOn = (topology: HostTopology, domain: string): boolean =>
  topology.domains.includes(domain);

/** The host's arrays and maps that are single points of failure, arrays first, each by name. */
export const singlePointsOfFailureOf = (topology: HostTopology): SinglePointOfFailure[] => [
  ...topology.arrays
    .filter((array) => array.singlePointOfFailure)
    .map((array) => ({
      hostId: topology.hostId,
      kind: 'array' as const,
      name: array.array,
      failureDomain: array.domains[0] as string,
    })),
  ...topology.maps
    .filter((map) => map.singlePointOfFailure)
    .map((map) => ({
      hostId: topology.hostId,
      kind: 'map' as const,
      name: map.map,
      failureDomain: map.domains[0] as string,
    })),
];

/**
 * The topology of `hosts`, by host id; with `domain`, only the hosts that depend on it and the
 * single points of failure on it.
 */
export const topologyOf = (hosts: readonly HostSlice[], filter: { domain?: string } = {}): Topology => {
  const topologies = [...hosts]
    .sort((a, b) => byName(a.hostId, b.hostId))
    .map(hostTopologyOf)
    .filter((topology) => filter.domain === undefined || dependsOn(topology, filter.domain));
  return {
    hosts: topologies,
    singlePointsOfFailure: topologies
      .flatMap(singlePointsOfFailureOf)
      .filter((spof) => filter.domain === undefined || spof.failureDomain === filter.domain),
  };
};

/**
 * What `domain` going down now costs one host, or undefined when nothing of it depends on that
 * domain now: an array loses each in-sync member on it (its last when every in-sync member is on
 * it), a map each usable path through it (its last when every usable path goes through it). A
 * member or path already failed on that domain is lost already, not by this.
 */
export const hostImpactOf = (host: HostSlice, domain: string): HostImpact | undefined => {
  const resources: ResourceImpact[] = [];
  for (const array of arraysOf(host)) {
    const inSync = inSyncDomainsOf(array);
    if (!inSync.includes(domain)) continue;
    resources.push({
      kind: 'array',
      name: array.array,
      degraded: array.health !== 'healthy',
      remainingDomains: inSync.filter((other) => other !== domain),
      losesLast: losesLastInSyncHalf(array, domain),
    });
  }
  for (const [map, paths] of Object.entries(mapsOf(host.paths))) {
    const usable = pathDomainsOf(paths);
    if (!usable.includes(domain)) continue;
    resources.push({
      kind: 'map',
      name: map,
      degraded: !paths.every(isPathUsable),
      remainingDomains: usable.filter((other) => other !== domain),
      losesLast: mapLosesAllActivePaths(paths, domain),
    });
  }
  if (resources.length === 0) return undefined;
  return { hostId: host.hostId, losesLast: resources.some((resource) => resource.losesLast), resources };
};

/** The impact of `domain` from the hosts it hits (already in host id order), with the two counts. */
export const domainImpactOf = (domain: string, impacts: readonly HostImpact[]): DomainImpact => {
  const losingLast = impacts.filter((impact) => impact.losesLast).length;
  return { failureDomain: domain, hosts: [...impacts], losingHalf: impacts.length - losingLast, losingLast };
};

/** What `domain` going down now costs `hosts`: the hosts hit, by host id, and how many lose a last copy. */
export const impactOf = (hosts: readonly HostSlice[], domain: string): DomainImpact =>
  domainImpactOf(
    domain,
    [...hosts].sort((a, b) => byName(a.hostId, b.hostId)).flatMap((host) => hostImpactOf(host, domain) ?? []),
  );
