import type { DiskProbed, HostHeartbeat } from '../../events/index.ts';
import { goDown, goUp, join, openEpisode } from './episodes.ts';
import { storageDomains } from './host.ts';
import type { ArrayRecord, DiskProbe, Episode, HostSlice, PathRecord } from './model.ts';
import { byKey, sortedKeys, sortStrings, uniqueSorted } from './order.ts';
import { toMs } from './time.ts';
import type { Transaction } from './transaction.ts';

/**
 * Domains with a single client (docs/architecture.md §5.3), and clients confirming their storage is
 * back (§5.2). A domain like the seed's own layout — one partition mirrored across two hosting
 * partitions that run no agent — has no second client to confirm an outage and no server to say it
 * is back, so its one client's probes of the member's disk decide:
 *
 * - **Known clients.** Each domain slice counts the hosts with storage on it (arrays or paths),
 *   naming the first few, kept from each host's own decisions.
 * - **Probes.** A client probes each disk that holds a faulty, missing or Maintenance member every
 *   interval and reports it in its heartbeat's `disks` (`deviceState`, `readable`, `wwid`) and, when
 *   it reads again, as `disk.probed` without `planid` (with each partition's superblock `uuid`). The
 *   host slice keeps the last two probes of each such disk by `seq`, so reordered reports converge.
 * - **Outage of one host.** After the hold-down, a symptom on a domain whose only known client is
 *   this host, that no server vouches for (`DomainSlice.servers` empty), where the client cannot read
 *   the member's disk (its latest probe: not `running`, or the read failed) is an outage of that one
 *   host: it gets a plan once the domain is back. A member whose disk still reads, or whose disk was
 *   never probed, stays a local fault (paged, no plan). A paged local fault whose disk stops reading
 *   later becomes that outage (as a local fault joins an outage others report later).
 * - **Back.** Its server's announcement or new boot (./servers.ts), or two successive probes that
 *   read each such disk after it went down, with the identity it had: every `wwid` a probe carries is
 *   the one the disk had before (and the two agree), every superblock `uuid` is its array's, and
 *   between them the pair carried both (a heartbeat's disk carries the `wwid`, a `disk.probed` the
 *   superblocks). Then the stability period, then the plan. One read alone never brings it up.
 */

/** How many clients a domain slice names; beyond, they are only counted. */
const CLIENTS_NAMED = 4;
/** Probes kept per disk: the two that must agree. */
const PROBES_KEPT = 2;

const MISSING_OR_FAULTY = (state: string): boolean => state !== 'in-sync' && state !== 'spare';

/** Keeps the domains' client counts in step with the host's storage domains (only on a change). */
export const updateClientOf = (txn: Transaction, host: HostSlice): void => {
  const before = host.clientOf ?? {};
  if (isClientOfExactly(host, before)) return;
  const now = storageDomains(host);
  const beforeKeys = sortedKeys(before);
  for (const failureDomain of now) {
    if (before[failureDomain] === true) continue;
    const domain = txn.domain(failureDomain);
    const clients = domain.clients ?? { hosts: [], count: 0 };
    domain.clients = {
      hosts:
        clients.hosts.length < CLIENTS_NAMED && !clients.hosts.includes(host.hostId)
          ? [...clients.hosts, host.hostId].sort()
          : clients.hosts,
      count: clients.count + 1,
    };
  }
  for (const failureDomain of beforeKeys) {
    if (now.includes(failureDomain)) continue;
    const domain = txn.domain(failureDomain);
    const clients = domain.clients ?? { hosts: [], count: 0 };
    const count = Math.max(0, clients.count - 1);
    if (count === 0) delete domain.clients;
    else domain.clients = { hosts: clients.hosts.filter((hostId) => hostId !== host.hostId), count };
  }
  if (now.length === 0) delete host.clientOf;
  else host.clientOf = Object.fromEntries(now.map((failureDomain) => [failureDomain, true as const]));
};

/**
 * Whether the host's storage domains (`storageDomains`) are exactly the keys of `clientOf`: the
 * same sets, without building and sorting them (the case of nearly every event).
 */
const isClientOfExactly = (host: HostSlice, clientOf: Record<string, true>): boolean => {
  const seen: string[] = [];
  const visit = (failureDomain: string): boolean => {
    if (!Object.hasOwn(clientOf, failureDomain)) return false;
    if (!seen.includes(failureDomain)) seen.push(failureDomain);
    return true;
  };
  for (const name in host.arrays) {
    const record = host.arrays[name] as ArrayRecord;
    for (const member of record.members) if (!visit(member.failureDomain)) return false;
    for (const member of record.known) if (!visit(member.failureDomain)) return false;
  }
  for (const key in host.paths) if (!visit((host.paths[key] as PathRecord).failureDomain)) return false;
  return seen.length === Object.keys(clientOf).length;
};

/** Keeps a probe among the disk's last two by `seq`. Returns whether it was kept. */
const recordProbe = (host: HostSlice, disk: string, probe: DiskProbe): boolean => {
  const kept = host.probes?.[disk] ?? [];
  if (kept.some((other) => other.seq === probe.seq)) return false;
  const next = [...kept, probe].sort((a, b) => a.seq - b.seq).slice(-PROBES_KEPT);
  if (!next.includes(probe)) return false;
  host.probes = { ...(host.probes ?? {}), [disk]: next };
  return true;
};

/** The domains of the disks a heartbeat reports a probe of (`deviceState` or `readable` set). */
export const probedDomains = (event: HostHeartbeat): string[] =>
  event.data.disks
    .filter((disk) => disk.deviceState !== undefined || disk.readable !== undefined)
    .map((disk) => disk.failureDomain);

/** Records the probes a heartbeat's `disks` report; returns the domains of the disks probed. */
export const recordHeartbeatProbes = (host: HostSlice, event: HostHeartbeat, at: string): string[] => {
  const domains: string[] = [];
  for (const disk of event.data.disks) {
    if (disk.deviceState === undefined && disk.readable === undefined) continue;
    const reads = (disk.deviceState ?? 'running') === 'running' && disk.readable === true;
    const probe: DiskProbe = {
      seq: event.seq,
      at,
      reads,
      ...(disk.wwid === undefined ? {} : { wwid: disk.wwid }),
    };
    if (recordProbe(host, disk.disk, probe)) domains.push(disk.failureDomain);
  }
  return uniqueSorted(domains);
};

/** Records a client's own probe (`disk.probed` without `planid`). Returns whether it was kept. */
export const recordProbed = (host: HostSlice, event: DiskProbed, at: string): boolean => {
  const uuids: Record<string, string> = {};
  for (const partition of event.data.partitions) {
    if (partition.uuid !== undefined) uuids[partition.device] = partition.uuid;
  }
  return recordProbe(host, event.data.disk, {
    seq: event.seq,
    at,
    reads: event.data.deviceState === 'running' && event.data.readable,
    ...(Object.keys(uuids).length === 0 ? {} : { uuids }),
  });
};

/** Forgets the probes once every array of the host is healthy: a new fault starts anew. */
export const forgetProbes = (host: HostSlice): void => {
  if (host.probes === undefined) return;
  if (Object.values(host.arrays).some((record) => record.health !== 'healthy')) return;
  delete host.probes;
};

/** The disks of an array's members on a domain that left the in-sync state or vanished. */
const memberDisksOn = (host: HostSlice, resource: string, failureDomain: string): string[] => {
  if (!resource.startsWith('array:')) return [];
  const record = host.arrays[resource.slice('array:'.length)];
  if (record === undefined) return [];
  const present = new Set(record.members.map((member) => member.device));
  const disks = new Set<string>();
  for (const member of record.members)
    if (member.failureDomain === failureDomain && MISSING_OR_FAULTY(member.state)) disks.add(member.disk);
  for (const member of record.known)
    if (member.failureDomain === failureDomain && !present.has(member.device)) disks.add(member.disk);
  return sortStrings([...disks]);
};

/** Whether the host's latest probe of the disk failed to read it; unknown (never probed) is not. */
const cannotRead = (host: HostSlice, disk: string): boolean => {
  const latestProbe = host.probes?.[disk]?.at(-1);
  return latestProbe !== undefined && !latestProbe.reads;
};

/**
 * The member disks that make a symptom an outage of one host (§5.3), or undefined when it is not:
 * the domain's only known client is this host, no server vouches for the domain, and the client
 * cannot read any of the member's disks on it.
 */
export const singleClientDisks = (
  txn: Transaction,
  host: HostSlice,
  resource: string,
  failureDomain: string,
): string[] | undefined => {
  const domain = txn.readDomain(failureDomain);
  if (domain.clients?.count !== 1 || domain.clients.hosts[0] !== host.hostId) return undefined;
  if ((domain.servers ?? []).length > 0) return undefined;
  const disks = memberDisksOn(host, resource, failureDomain);
  if (disks.length === 0 || !disks.every((disk) => cannotRead(host, disk))) return undefined;
  return disks;
};

/** The wwid the host last reported for a disk: from its heartbeat, else from a probe. */
const knownWwid = (host: HostSlice, disk: string): string | undefined =>
  host.disks[disk]?.wwid ?? [...(host.probes?.[disk] ?? [])].reverse().find((probe) => probe.wwid)?.wwid;

/**
 * Opens the outage of one host (§5.3) at its symptom's time and joins the host to it; its local
 * fault on the domain, paged or not, ends as merged. The disks and the wwid each had are kept: what
 * its read-back must show again.
 */
export const openSingleClientOutage = (
  txn: Transaction,
  host: HostSlice,
  failureDomain: string,
  since: string,
  disks: readonly string[],
): void => {
  const domain = txn.domain(failureDomain);
  goDown(
    txn,
    domain,
    since,
    `its only known client ${host.hostId} cannot read ${disks.join(', ')} and no agent of its server heartbeats`,
    { symptoms: [] },
  );
  const episode = openEpisode(domain);
  if (episode === undefined) return;
  if (episode.singleClient === undefined) {
    episode.singleClient = {
      hostId: host.hostId,
      disks: disks.map((disk) => {
        const wwid = knownWwid(host, disk);
        return wwid === undefined ? { disk } : { disk, wwid };
      }),
    };
  }
  join(txn, host, domain, since);
};

/**
 * A paged local fault of this host on the domain whose disk a newer probe can no longer read: the
 * outage of one host it turns out to be (as a local fault joins an outage reported later).
 */
export const upgradeLocalFaults = (txn: Transaction, host: HostSlice, failureDomain: string): void => {
  if (openEpisode(txn.readDomain(failureDomain)) !== undefined) return;
  for (const [resource, fault] of byKey(Object.entries(host.localFaults))) {
    if (fault.failureDomain !== failureDomain || fault.incident === undefined) continue;
    const disks = singleClientDisks(txn, host, resource, failureDomain);
    if (disks === undefined) continue;
    openSingleClientOutage(txn, host, failureDomain, fault.since, disks);
    return;
  }
};

/** The superblock uuid each partition of the disk should carry: its array's. */
const expectedUuids = (host: HostSlice, disk: string): Map<string, string> => {
  const expected = new Map<string, string>();
  for (const record of Object.values(host.arrays)) {
    if (record.uuid === undefined) continue;
    for (const member of [...record.members, ...record.known])
      if (member.disk === disk) expected.set(member.device, record.uuid);
  }
  return expected;
};

/**
 * When the disk was read back twice with its identity (see the file's comment), the time of the
 * later of the two probes; else undefined.
 */
const readBackAt = (
  host: HostSlice,
  episode: Episode,
  expected: { disk: string; wwid?: string },
): string | undefined => {
  const pair = host.probes?.[expected.disk] ?? [];
  if (pair.length < PROBES_KEPT) return undefined;
  if (pair.some((probe) => !probe.reads || toMs(probe.at) <= toMs(episode.lastDownAt))) return undefined;
  const wwids = pair.flatMap((probe) => (probe.wwid === undefined ? [] : [probe.wwid]));
  const wwid = expected.wwid ?? wwids[0];
  if (wwids.some((other) => other !== wwid)) return undefined;
  if (expected.wwid !== undefined && wwids.length === 0) return undefined;
  const uuids = expectedUuids(host, expected.disk);
  const read = pair.flatMap((probe) => Object.entries(probe.uuids ?? {}));
  if (read.some(([device, uuid]) => uuids.has(device) && uuids.get(device) !== uuid)) return undefined;
  if (uuids.size > 0 && !read.some(([device, uuid]) => uuids.get(device) === uuid)) return undefined;
  return pair.reduce((last, probe) => (toMs(probe.at) > toMs(last) ? probe.at : last), pair[0]?.at ?? '');
};

/** The single client's read-back (§5.3): two successive probes of each disk bring its domain up. */
export const readBack = (txn: Transaction, host: HostSlice, failureDomain: string): void => {
  const current = txn.readDomain(failureDomain);
  const episode = openEpisode(current);
  const single = episode?.singleClient;
  if (episode === undefined || single === undefined || single.hostId !== host.hostId) return;
  if (current.state !== 'down') return;
  let upAt: string | undefined;
  for (const expected of single.disks) {
    const at = readBackAt(host, episode, expected);
    if (at === undefined) return;
    if (upAt === undefined || toMs(at) > toMs(upAt)) upAt = at;
  }
  if (upAt === undefined) return;
  goUp(
    txn,
    txn.domain(failureDomain),
    upAt,
    `${host.hostId} read ${single.disks.map((disk) => disk.disk).join(', ')} twice with the same wwid and superblock uuid`,
  );
};

/**
 * The single client cannot read its disk again after its read-back, before any plan went out: the
 * domain did not stay up (§5.3), so it is down again (a flap, §5.6), and waits for a new read-back.
 * Once its plan is out, the plan's own steps take the disk away, and its outcome says the rest.
 */
export const unreadAgain = (txn: Transaction, host: HostSlice, failureDomain: string): void => {
  const current = txn.readDomain(failureDomain);
  const episode = openEpisode(current);
  const single = episode?.singleClient;
  if (episode?.upAt === undefined || single === undefined || single.hostId !== host.hostId) return;
  if (current.state !== 'up' || host.episodes[episode.incident.id]?.status !== 'waiting') return;
  const upAt = episode.upAt;
  for (const { disk } of single.disks) {
    const latestProbe = host.probes?.[disk]?.at(-1);
    if (latestProbe === undefined || latestProbe.reads || toMs(latestProbe.at) <= toMs(upAt)) continue;
    goDown(txn, txn.domain(failureDomain), latestProbe.at, `${host.hostId} cannot read ${disk} again`);
    return;
  }
};

/** Whether an episode is an outage of one host, which only its own rules bring up. */
export const isSingleClient = (episode: Episode | undefined): boolean => episode?.singleClient !== undefined;
