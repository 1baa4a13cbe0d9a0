import type {
  ArrayReport,
  ArrayState,
  HostHeartbeat,
  Member,
  MirrorDegraded,
  MirrorHealthy,
  MirrorRecovering,
  PathLost,
  PathReport,
  PathRestored,
} from '../../events/index.ts';
import type {
  ArrayHealth,
  ArrayRecord,
  DomainSlice,
  HostEpisode,
  HostPlan,
  HostSlice,
  Incident,
  LocalFault,
  PathRecord,
  ServedDomain,
  Watermark,
} from './model.ts';
import { sortByConsistent, sortStrings } from './order.ts';
import { lossAfter, withOlderSighting } from './path-loss.ts';

/** A host's resources: per-resource last-writer-wins by `(bootid, seq)`, and what they say about health. */

export const freshHost = (hostId: string): HostSlice => ({
  hostId,
  maintenance: false,
  arrays: {},
  paths: {},
  disks: {},
  episodes: {},
  plans: {},
  localFaults: {},
  doubleFaults: {},
});

export const freshDomain = (failureDomain: string): DomainSlice => ({
  failureDomain,
  state: 'up',
  maintenance: false,
  recentSymptoms: [],
  localHosts: [],
});

/** `seq` is strictly increasing per agent across restarts, so it alone orders one agent's events. */
export const isNewer = (watermark: Watermark | undefined, seq: number): boolean =>
  watermark === undefined || seq > watermark.seq;

/**
 * A path record's key: its map, its device and its SCSI address. The address keeps apart the legs
 * an AIX host reports under one name (MPIO names the hdisk, not the path: `hdisk2` through
 * `vscsi0` and through `vscsi1`), each leg its own record.
 */
export const pathKey = (map: string, path: string, hctl: string): string => `${map}/${path}@${hctl}`;

const IN_SYNC: Member['state'] = 'in-sync';
const HEALTHY_PATH_STATES = new Set(['active', 'ghost']);

export const isPathHealthy = (state: string): boolean => HEALTHY_PATH_STATES.has(state);

const healthOfState = (state: ArrayState, members: readonly Member[]): ArrayHealth => {
  if (state === 'recovering' || state === 'resyncing') return 'recovering';
  if (state === 'degraded' || state === 'inactive') return 'degraded';
  return members.every((member) => member.state === IN_SYNC || member.state === 'spare')
    ? 'healthy'
    : 'degraded';
};

const mergeKnown = (known: readonly Member[], members: readonly Member[]): Member[] => {
  const byDevice = new Map(known.map((member) => [member.device, member]));
  for (const member of members) byDevice.set(member.device, member);
  return sortByConsistent([...byDevice.values()], (a, b) =>
    a.device < b.device ? -1 : a.device > b.device ? 1 : 0,
  );
};

const arrayRecord = (
  previous: ArrayRecord | undefined,
  report: Pick<ArrayReport, 'array' | 'kind' | 'level' | 'members'> & {
    bitmap?: boolean | undefined;
    uuid?: string | undefined;
  },
  health: ArrayHealth,
  watermark: Watermark,
  at: string,
): ArrayRecord => {
  const record: ArrayRecord = {
    array: report.array,
    kind: report.kind,
    level: report.level,
    members: report.members,
    known: health === 'healthy' ? [...report.members] : mergeKnown(previous?.known ?? [], report.members),
    health,
    watermark,
    changedAt: at,
  };
  const uuid = report.uuid ?? previous?.uuid;
  const bitmap = report.bitmap ?? previous?.bitmap;
  if (uuid !== undefined) record.uuid = uuid;
  if (bitmap !== undefined) record.bitmap = bitmap;
  return record;
};

const EVENT_HEALTH = {
  'mirror.degraded': 'degraded',
  'mirror.recovering': 'recovering',
  'mirror.healthy': 'healthy',
} as const satisfies Record<string, ArrayHealth>;

/** Applies a mirror event to its array if it is newer than what the host slice holds. */
export const applyMirrorEvent = (
  host: HostSlice,
  event: MirrorDegraded | MirrorRecovering | MirrorHealthy,
  at: string,
): boolean => {
  const previous = host.arrays[event.data.array];
  if (!isNewer(previous?.watermark, event.seq)) return false;
  host.arrays[event.data.array] = arrayRecord(
    previous,
    event.data,
    EVENT_HEALTH[event.type],
    { bootid: event.bootid, seq: event.seq },
    at,
  );
  return true;
};

/** Applies a path event to its path if it is newer than what the host slice holds. */
export const applyPathEvent = (host: HostSlice, event: PathLost | PathRestored, at: string): boolean => {
  const key = pathKey(event.data.map, event.data.path, event.data.hctl);
  const previous = host.paths[key];
  const sighting = { state: event.data.state, seq: event.seq, at };
  if (!isNewer(previous?.watermark, event.seq)) {
    if (previous !== undefined) host.paths[key] = withOlderSighting(previous, sighting);
    return false;
  }
  const lost = lossAfter(previous, sighting);
  host.paths[key] = {
    map: event.data.map,
    wwid: event.data.wwid,
    path: event.data.path,
    hctl: event.data.hctl,
    failureDomain: event.data.failureDomain,
    state: event.data.state,
    activePaths: event.data.activePaths,
    ...(lost === undefined ? {} : { lost }),
    watermark: { bootid: event.bootid, seq: event.seq },
    changedAt: at,
  };
  return true;
};

const pathRecord = (
  previous: PathRecord | undefined,
  report: PathReport,
  watermark: Watermark,
  at: string,
): PathRecord => {
  const lost = lossAfter(previous, { state: report.state, seq: watermark.seq, at });
  return { ...report, ...(lost === undefined ? {} : { lost }), watermark, changedAt: at };
};

/**
 * Applies a heartbeat's full picture: each array and path newer than its watermark is replaced,
 * and those the heartbeat no longer lists are dropped; disks and the state database replicas are
 * taken as the heartbeat gives them (the caller applies only a heartbeat newer than the last one),
 * replicas it omits forgotten. Returns whether an array or path changed.
 */
export const applyHeartbeat = (host: HostSlice, event: HostHeartbeat, at: string): boolean => {
  const watermark = { bootid: event.bootid, seq: event.seq };
  let changed = false;
  const arrays = new Set<string>();
  for (const report of event.data.arrays) {
    arrays.add(report.array);
    const previous = host.arrays[report.array];
    if (!isNewer(previous?.watermark, event.seq)) continue;
    const health = healthOfState(report.state, report.members);
    if (
      previous === undefined ||
      previous.health !== health ||
      JSON.stringify(previous.members) !== JSON.stringify(report.members)
    ) {
      changed = true;
    }
    host.arrays[report.array] = arrayRecord(previous, report, health, watermark, at);
  }
  for (const [name, record] of Object.entries(host.arrays)) {
    if (!arrays.has(name) && isNewer(record.watermark, event.seq)) {
      delete host.arrays[name];
      changed = true;
    }
  }
  const paths = new Set<string>();
  for (const report of event.data.paths) {
    const key = pathKey(report.map, report.path, report.hctl);
    paths.add(key);
    const previous = host.paths[key];
    if (!isNewer(previous?.watermark, event.seq)) {
      if (previous !== undefined)
        host.paths[key] = withOlderSighting(previous, { state: report.state, seq: event.seq, at });
      continue;
    }
    if (previous === undefined || previous.state !== report.state) changed = true;
    host.paths[key] = pathRecord(previous, report, watermark, at);
  }
  for (const [key, record] of Object.entries(host.paths)) {
    if (!paths.has(key) && isNewer(record.watermark, event.seq)) {
      delete host.paths[key];
      changed = true;
    }
  }
  host.disks = Object.fromEntries(event.data.disks.map((disk) => [disk.disk, disk]));
  if (event.data.replicas === undefined) delete host.replicas;
  else host.replicas = event.data.replicas;
  return changed;
};

/**
 * The failure domains a mirror event or a heartbeat's array implicates: members that newly left the
 * in-sync state, and members that vanished. A member that was already faulty before says nothing
 * new about its domain, so whichever of the two reports it first, the other implicates nothing.
 */
export const implicatedByMembers = (
  previous: ArrayRecord | undefined,
  members: readonly Member[],
): string[] => {
  const domains: string[] = [];
  const add = (failureDomain: string): void => {
    if (!domains.includes(failureDomain)) domains.push(failureDomain);
  };
  const before = previous?.members ?? [];
  for (const member of members) {
    const lost = member.state !== IN_SYNC && member.state !== 'spare';
    if (!lost) continue;
    // The state the previous report gave this device: its last listing, as a map by device keeps.
    let listed = false;
    let stateBefore: Member['state'] | undefined;
    for (let index = before.length - 1; index >= 0; index -= 1) {
      const other = before[index] as Member;
      if (other.device === member.device) {
        listed = true;
        stateBefore = other.state;
        break;
      }
    }
    const wasLost = listed && stateBefore !== IN_SYNC && stateBefore !== 'spare';
    if (!wasLost) add(member.failureDomain);
  }
  for (const member of previous?.known ?? []) {
    if (!members.some((other) => other.device === member.device)) add(member.failureDomain);
  }
  return sortStrings(domains);
};

/** Every failure domain an array's members (present or remembered) sit on. */
export const arrayDomains = (record: ArrayRecord): Set<string> => addArrayDomains(record, new Set());

/** Adds the failure domains of an array's members, present then remembered, to `domains`. */
const addArrayDomains = (record: ArrayRecord, domains: Set<string>): Set<string> => {
  for (const member of record.members) domains.add(member.failureDomain);
  for (const member of record.known) domains.add(member.failureDomain);
  return domains;
};

/** Whether a member of the array, present or remembered, sits on `failureDomain`. */
const hasMemberOn = (record: ArrayRecord, failureDomain: string): boolean => {
  for (const member of record.members) if (member.failureDomain === failureDomain) return true;
  for (const member of record.known) if (member.failureDomain === failureDomain) return true;
  return false;
};

/**
 * Whether the host's storage served by a domain is healthy: every array with a member on it is in
 * sync, and every path through it is back to active or ghost (a ghost is a healthy standby).
 */
export const isHealthyOn = (host: HostSlice, failureDomain: string): boolean => {
  for (const name in host.arrays) {
    const record = host.arrays[name] as ArrayRecord;
    if (record.health !== 'healthy' && hasMemberOn(record, failureDomain)) return false;
  }
  for (const key in host.paths) {
    const record = host.paths[key] as PathRecord;
    if (record.failureDomain === failureDomain && !isPathHealthy(record.state)) return false;
  }
  return true;
};

/**
 * Whether a resource a local fault names (`array:<name>` or `path:<map>/<path>@<hctl>`) is healthy again on
 * the host: what both a host's reconcile after an event and its hold-down timer ask.
 */
export const isResourceHealthy = (host: HostSlice, resource: string): boolean => {
  if (resource.startsWith('array:'))
    return host.arrays[resource.slice('array:'.length)]?.health !== 'degraded';
  if (resource.startsWith('path:')) {
    const path = host.paths[resource.slice('path:'.length)];
    return path === undefined || isPathHealthy(path.state);
  }
  return true;
};

/** Every failure domain a host refers to: what the loader must fetch with it. */
export const referencedDomains = (host: HostSlice): string[] => {
  const domains = new Set<string>();
  for (const name in host.arrays) addArrayDomains(host.arrays[name] as ArrayRecord, domains);
  for (const key in host.paths) domains.add((host.paths[key] as PathRecord).failureDomain);
  for (const id in host.episodes) domains.add((host.episodes[id] as HostEpisode).failureDomain);
  for (const resource in host.localFaults)
    domains.add((host.localFaults[resource] as LocalFault).failureDomain);
  for (const id in host.plans) domains.add((host.plans[id] as HostPlan).failureDomain);
  for (const resource in host.doubleFaults)
    domains.add((host.doubleFaults[resource] as Incident).failureDomain);
  for (const domain in host.exposedOn ?? {}) domains.add(domain);
  for (const domain in servedOf(host)) domains.add(domain);
  for (const domain in host.clientOf ?? {}) domains.add(domain);
  // An LDoms guest's disks placed by its control domain: its next event may implicate them.
  for (const domain of Object.values(host.vdisks?.domains ?? {})) domains.add(domain);
  return sortStrings([...domains]);
};

/**
 * The domains a host serves (`HostSlice.served`); a slice saved before `served` existed holds the
 * one domain its announcements taught in `serves`, read here as announced and vouched for by the
 * host's last event.
 */
export const servedOf = (host: HostSlice): Record<string, ServedDomain> => {
  if (host.served !== undefined || host.serves === undefined || host.lastSeenAt === undefined)
    return host.served ?? {};
  return {
    [host.serves]: {
      vouchedAt: host.lastSeenAt,
      listed: true,
      boot: host.bootId ?? '',
      seq: host.lastSeq ?? 0,
    },
  };
};

/**
 * The storage domains of a host: every failure domain its arrays' members (present or remembered)
 * and its paths sit on. What makes it a known client of a domain (§5.3).
 */
export const storageDomains = (host: HostSlice): string[] => {
  const domains = new Set<string>();
  for (const name in host.arrays) addArrayDomains(host.arrays[name] as ArrayRecord, domains);
  for (const key in host.paths) domains.add((host.paths[key] as PathRecord).failureDomain);
  return sortStrings([...domains]);
};

/**
 * Why an array may never be touched automatically (docs/architecture.md §5.4, §1): no in-sync member left,
 * every in-sync member on a down domain (a healthy array too: a single point of failure whose one
 * server is down, or a mirror whose two servers both are, has lost every copy whether or not its host
 * has said so yet), or an SVM component in Last Erred. Undefined when none.
 */
export const criticalReason = (
  record: ArrayRecord,
  isDomainDown: (failureDomain: string) => boolean,
): string | undefined => {
  if (record.members.some((member) => member.state === 'last-erred')) {
    return `${record.array} has a component in Last Erred`;
  }
  const inSync = record.members.filter((member) => member.state === IN_SYNC);
  if (inSync.length === 0)
    return record.health === 'healthy' ? undefined : `${record.array} has no in-sync member left`;
  if (inSync.every((member) => isDomainDown(member.failureDomain))) {
    const domains = new Set(inSync.map((member) => member.failureDomain));
    return record.health === 'healthy' && domains.size === 1
      ? `${record.array} has every copy on ${[...domains][0]}, which is down (a single point of failure)`
      : `${record.array}'s remaining in-sync members all depend on down domains`;
  }
  return undefined;
};
