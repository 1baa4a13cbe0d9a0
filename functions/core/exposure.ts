import type { ArrayRecord, HostSlice, PathRecord } from './model.ts';
import { sortByConsistent, sortedKeys, uniqueSorted } from './order.ts';

/**
 * Pure per-resource rules of docs/architecture.md §5.4: which failure domains still hold a good copy
 * of an array or a usable path of a multipath map, whether losing one domain loses the last of them
 * (the host is "exposed" on it), and whether a resource was never really redundant. Shared by the
 * core's double-fault and planned-maintenance rules and by the topology and impact readers (§6).
 */

const sortedUnique = uniqueSorted;

/**
 * The failure domains of an array's in-sync members, sorted: where its remaining good copies live.
 * A rebuilding, faulty or spare member holds no good copy, so it does not count.
 */
export const inSyncDomainsOf = (array: ArrayRecord): string[] =>
  sortedUnique(array.members.filter((member) => member.state === 'in-sync').map((m) => m.failureDomain));

/**
 * Whether losing `domain` loses the array's last good copy: it still has in-sync members and every
 * one of them depends on `domain`. An array with no in-sync member left is already lost, not exposed
 * on one domain, so this answers false for it (criticalReason in host.ts pages it on its own).
 */
export const losesLastInSyncHalf = (array: ArrayRecord, domain: string): boolean =>
  soleInSyncDomain(array) === domain;

/**
 * The one failure domain all of an array's in-sync members sit on: `inSyncDomainsOf` when it names
 * exactly one domain, without building it; undefined when they sit on none or on several.
 */
const soleInSyncDomain = (array: ArrayRecord): string | undefined => {
  let sole: string | undefined;
  for (const member of array.members) {
    if (member.state !== 'in-sync') continue;
    if (sole === undefined) sole = member.failureDomain;
    else if (member.failureDomain !== sole) return undefined;
  }
  return sole;
};

/**
 * Whether a failure domain names a host's own disks (`local:<host>`, §3): no other partition serves
 * them and no server announces them down, so a mirror over two of them is no server's single point
 * of failure, and no exposure a planned IPL could turn critical.
 */
export const isLocalDomain = (failureDomain: string): boolean => failureDomain.startsWith('local:');

/** Whether a resource's domains are one domain that a server serves (not local disks). */
const oneServedDomain = (domains: readonly string[]): boolean =>
  domains.length === 1 && !isLocalDomain(domains[0] as string);

/**
 * Whether every member the array has or had since it was last healthy sits on one failure domain
 * served by another partition: "mirrored" on paper, yet one server going down takes every copy. A
 * RAID1 over two local disks (`local:<host>`) is not one: no server stands behind it.
 */
export const isSinglePointOfFailure = (array: ArrayRecord): boolean =>
  oneServedDomain(sortedUnique([...array.members, ...array.known].map((member) => member.failureDomain)));

/** Path states that carry I/O or stand by ready to (a ghost is a healthy standby path). */
const USABLE_PATH_STATES: ReadonlySet<string> = new Set(['active', 'ghost']);

/** Whether a path can carry I/O now: active, or a ghost standing by. */
export const isPathUsable = (path: PathRecord): boolean => USABLE_PATH_STATES.has(path.state);

/** A host's paths grouped by multipath map, maps and paths in name order (stable for replay). */
export const mapsOf = (
  paths: Record<string, PathRecord> | readonly PathRecord[],
): Record<string, PathRecord[]> => {
  const list = Array.isArray(paths) ? paths : Object.values(paths as Record<string, PathRecord>);
  const sorted = sortByConsistent([...list], (a, b) =>
    a.map < b.map ? -1 : a.map > b.map ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
  );
  const maps: Record<string, PathRecord[]> = {};
  for (const path of sorted) {
    const group = maps[path.map];
    if (group === undefined) maps[path.map] = [path];
    else group.push(path);
  }
  return maps;
};

/** The failure domains of one map's usable paths, sorted: the same idea as `inSyncDomainsOf`. */
export const pathDomainsOf = (paths: readonly PathRecord[]): string[] =>
  sortedUnique(paths.filter(isPathUsable).map((path) => path.failureDomain));

/**
 * Whether losing `domain` takes the map's last usable path: it still has usable paths and all of them
 * go through `domain`. A map with none left is already down, not exposed.
 */
export const mapLosesAllActivePaths = (paths: readonly PathRecord[], domain: string): boolean => {
  const domains = pathDomainsOf(paths);
  return domains.length === 1 && domains[0] === domain;
};

/** Whether every path of the map, usable or not, goes through one failure domain (not local disks). */
export const isMapSinglePointOfFailure = (paths: readonly PathRecord[]): boolean =>
  oneServedDomain(sortedUnique(paths.map((path) => path.failureDomain)));

/** One resource of a host whose last good copy or usable path depends on one domain. */
export type Exposure = { resource: string; failureDomain: string };

/**
 * What a host is exposed on, sorted by resource: each array (`array:<name>`) whose in-sync members
 * all sit on one domain, and each map (`map:<name>`) whose usable paths all go through one domain:
 * exactly the resources `losesLastInSyncHalf` and `mapLosesAllActivePaths` say that domain going
 * down would take the last copy or path of, so the page before planned maintenance and the impact
 * (./topology.ts) name the same hosts. That is a resource whose other half is degraded, and a healthy
 * single point of failure alike (§5.4: "the clients whose last in-sync member depends on that
 * domain"). Local disks (`local:<host>`) are left out: no server announces them down.
 */
export const exposuresOf = (host: HostSlice): Exposure[] => {
  const exposures: Exposure[] = [];
  for (const name of sortedKeys(host.arrays)) {
    const domain = soleInSyncDomain(host.arrays[name] as ArrayRecord);
    if (domain !== undefined && !isLocalDomain(domain))
      exposures.push({ resource: `array:${name}`, failureDomain: domain });
  }
  for (const [map, paths] of Object.entries(mapsOf(host.paths))) {
    const domains = pathDomainsOf(paths);
    if (oneServedDomain(domains))
      exposures.push({ resource: `map:${map}`, failureDomain: domains[0] as string });
  }
  return exposures;
};

/** The domains a host is exposed on, sorted: where losing one server costs it its last copy or path. */
export const exposedDomainsOf = (host: HostSlice): string[] =>
  sortedUnique(exposuresOf(host).map((exposure) => exposure.failureDomain));
