import type {
  ArrayReport,
  FailureDomain,
  Member,
  SnapshotDisk,
  SnapshotMap,
  SnapshotPath,
} from '../../events/index.ts';
import { localFailureDomain } from '../../probes/failure-domain.ts';
import {
  adapterKind,
  aixPathAddress,
  connectionFailureDomain,
  LSPATH_SCAN_FORMAT,
  type LspathPathReading,
  lspathPathState,
  overriddenAdapterDomain,
  parseLspath,
} from '../../probes/lspath.ts';
import { parseLspv, parseLspvLogicalVolumes } from '../../probes/lspv.ts';
import {
  type LogicalVolumeReading,
  type PhysicalVolumeReading,
  parseLsvgActive,
  parseLsvgLogicalVolumes,
  parseLsvgPhysicalVolumes,
} from '../../probes/lsvg.ts';
import type { ProbeWarning } from '../../probes/tool-text.ts';
import { overriddenFailureDomain } from '../../probes/topology.ts';
import { limit, type ScanContext, type ScanWarning, SNAPSHOT_LIMITS, toolRequest } from './scan-context.ts';

/**
 * The AIX section of a host scan (scan.ts), observed only: no runbook acts on AIX yet (§2), so the
 * core pages for what this reports.
 *
 * **LVM mirrors.** Each varied-on volume group (`lsvg -o`) has its logical volumes read (`lsvg -l
 * <vg>`) and its disks with their states (`lsvg -p <vg>`); a logical volume with two or three
 * copies is an array of kind `lvm`, level `raid1`. Its members are the disks that hold it, from
 * `lspv -l <disk>` for each disk of a group with a mirrored volume; a disk `lspv -l` cannot read (a
 * missing disk may not answer) is taken to hold every mirrored volume of its group that the readable
 * disks leave short of its copies. A member on a disk LVM lists `missing` or `removed` is `faulty`:
 * its copy takes no writes, so its partitions go stale, and §3 has no closer state (`maintenance`
 * and `last-erred` are SVM's words, `rebuilding` would say a resync runs, which only `syncvg` starts).
 * The array is `degraded` while LV STATE says `stale` or a member is faulty. A stale volume whose
 * disks are all back (`varyonvg` re-activated them; `syncvg` has not run) has every member in sync
 * and the array degraded: `lsvg` does not say which copy is stale.
 *
 * **MPIO paths** (`lspath -F "name path_id parent connection status"`, else plain `lspath`): each
 * disk with two or more paths is a map named after the disk, its WWID the disk's PVID (`lspv`) or,
 * without one, its name; each path has the stand-in address of `aixPathAddress` and its state from
 * `lspathPathState`. A disk with one path is no map (as a Linux disk without dm-multipath is not).
 *
 * **Failure domains.** AIX does not show which VIOS serves a client adapter. An override names it:
 * `adapters` (`{"vscsi1": "vscsi:<system>/vios2"}`) places every path through that adapter, and a
 * disk whose paths all sit on one domain takes it; a `disks` override pins a disk (its LVM members)
 * whatever its paths say. Without one, a Fibre Channel path is on its target port (`fc:<wwpn>` from
 * its connection), as a Linux NPIV path whose VIOS cannot be read; anything else is `local:<host>`,
 * the contract's word for "not known", with one warning per adapter.
 */

/** What the AIX section found. */
export type AixScan = { arrays: ArrayReport[]; maps: SnapshotMap[]; disks: SnapshotDisk[] };

/** The physical volume states whose copies take no writes. */
const LOST_PHYSICAL_VOLUME_STATES: ReadonlySet<PhysicalVolumeReading['state']> = new Set([
  'missing',
  'removed',
]);

/** LVM mirrors and MPIO paths of an AIX host. */
export const scanAix = async (context: ScanContext): Promise<AixScan> => {
  const [activeOutput, lspvOutput, paths] = await Promise.all([
    context.runTool(toolRequest(context, 'lsvg', ['-o'], '')),
    context.runTool(toolRequest(context, 'lspv', [], '')),
    readPaths(context),
  ]);
  const pvids = new Map<string, string>();
  if (lspvOutput !== null) {
    const reading = parseLspv(lspvOutput);
    warn(context, 'lvm', reading.warnings);
    for (const volume of reading.physicalVolumes)
      if (volume.pvid !== null) pvids.set(volume.disk, volume.pvid);
  }
  const domains = pathDomains(context, paths);
  const local = localFailureDomain(context.hostId);
  const diskDomain = (disk: string): FailureDomain =>
    overriddenFailureDomain(context.topology, disk, null) ??
    onlyDomain(paths.filter((path) => path.device === disk).map((path) => domains.get(path) ?? local)) ??
    local;

  const arrays: ArrayReport[] = [];
  const volumeDisks = new Set<string>();
  if (activeOutput !== null) {
    const active = parseLsvgActive(activeOutput);
    warn(context, 'lvm', active.warnings);
    const groups = await Promise.all(active.volumeGroups.map((group) => readVolumeGroup(context, group)));
    for (const group of groups) {
      for (const volume of group.physicalVolumes) volumeDisks.add(volume.disk);
      arrays.push(...mirrorsOf(context, group, diskDomain));
    }
  }
  const disks = [...new Set([...volumeDisks, ...paths.map((path) => path.device)])]
    .sort(naturalOrder)
    .map((disk): SnapshotDisk => ({ disk, driver: driverOf(paths, disk), failureDomain: diskDomain(disk) }));
  return { arrays, maps: mapsOf(context, paths, domains, pvids), disks };
};

type VolumeGroupReading = {
  name: string;
  logicalVolumes: LogicalVolumeReading[];
  physicalVolumes: PhysicalVolumeReading[];
  /** Per disk, the logical volumes `lspv -l` lists on it; absent for a disk it could not read. */
  holdings: Map<string, Set<string>>;
};

/** `lsvg -l`, `lsvg -p`, and `lspv -l` of each disk when the group has a mirrored volume. */
const readVolumeGroup = async (context: ScanContext, name: string): Promise<VolumeGroupReading> => {
  const [logicalOutput, physicalOutput] = await Promise.all([
    context.runTool(toolRequest(context, 'lsvg', ['-l', name], '')),
    context.runTool(toolRequest(context, 'lsvg', ['-p', name], '')),
  ]);
  const logical = logicalOutput === null ? null : parseLsvgLogicalVolumes(logicalOutput);
  const physical = physicalOutput === null ? null : parseLsvgPhysicalVolumes(physicalOutput);
  warn(context, 'lvm', logical?.warnings ?? []);
  warn(context, 'lvm', physical?.warnings ?? []);
  const logicalVolumes = logical?.volumeGroups.find((group) => group.name === name)?.logicalVolumes ?? [];
  const physicalVolumes = physical?.volumeGroups.find((group) => group.name === name)?.physicalVolumes ?? [];
  const holdings = new Map<string, Set<string>>();
  if (logicalVolumes.some((volume) => volume.copies >= 2)) {
    const listings = await Promise.all(
      physicalVolumes.map((volume) => context.runTool(toolRequest(context, 'lspv', ['-l', volume.disk], ''))),
    );
    physicalVolumes.forEach((volume, index) => {
      const output = listings[index];
      if (output === null || output === undefined) return;
      const reading = parseLspvLogicalVolumes(output);
      if (reading.disk !== volume.disk) return;
      warn(context, 'lvm', reading.warnings);
      holdings.set(volume.disk, new Set(reading.logicalVolumes.map((listed) => listed.name)));
    });
  }
  return { name, logicalVolumes, physicalVolumes, holdings };
};

/** The mirrored logical volumes of a group as `lvm` arrays. */
const mirrorsOf = (
  context: ScanContext,
  group: VolumeGroupReading,
  diskDomain: (disk: string) => FailureDomain,
): ArrayReport[] => {
  const mirrored = group.logicalVolumes.filter((volume) => volume.copies >= 2);
  const holders = new Map<string, PhysicalVolumeReading[]>();
  for (const volume of mirrored) {
    holders.set(
      volume.name,
      group.physicalVolumes.filter((disk) => group.holdings.get(disk.disk)?.has(volume.name) === true),
    );
  }
  const unread = group.physicalVolumes.filter((disk) => !group.holdings.has(disk.disk));
  for (const volume of mirrored) {
    const known = holders.get(volume.name) ?? [];
    if (unread.length > 0 && known.length < volume.copies) holders.set(volume.name, [...known, ...unread]);
  }
  for (const disk of unread) {
    if (mirrored.length === 0) break;
    context.warnings.push({
      source: 'lvm',
      line: 0,
      text: `lspv -l ${disk.disk}`,
      reason: `${group.name}: lspv -l ${disk.disk} not read; ${disk.disk} is taken to hold the copies its group's other disks leave short`,
    });
  }
  return mirrored.map((volume): ArrayReport => {
    const members = (holders.get(volume.name) ?? []).map(
      (disk): Member => ({
        device: disk.disk,
        disk: disk.disk,
        state: LOST_PHYSICAL_VOLUME_STATES.has(disk.state) ? 'faulty' : 'in-sync',
        failureDomain: diskDomain(disk.disk),
      }),
    );
    return {
      array: volume.name,
      kind: 'lvm',
      level: 'raid1',
      state: volume.stale || members.some((member) => member.state !== 'in-sync') ? 'degraded' : 'clean',
      members: limit(members, SNAPSHOT_LIMITS.members, `members of ${volume.name}`, context),
    };
  });
};

/** The paths of `lspath -F ...`, else of plain `lspath`. */
const readPaths = async (context: ScanContext): Promise<LspathPathReading[]> => {
  const output =
    (await context.runTool(toolRequest(context, 'lspath', ['-F', LSPATH_SCAN_FORMAT], ''))) ??
    (await context.runTool(toolRequest(context, 'lspath', [], '')));
  if (output === null) return [];
  const reading = parseLspath(output);
  warn(context, 'lspath', reading.warnings);
  return reading.paths;
};

/** Each path's failure domain, with one warning per adapter nothing names. */
const pathDomains = (
  context: ScanContext,
  paths: readonly LspathPathReading[],
): Map<LspathPathReading, FailureDomain> => {
  const domains = new Map<LspathPathReading, FailureDomain>();
  const unnamed = new Set<string>();
  for (const path of paths) {
    const domain = overriddenAdapterDomain(context.topology, path.parent) ?? connectionFailureDomain(path);
    if (domain === null) unnamed.add(path.parent);
    domains.set(path, domain ?? localFailureDomain(context.hostId));
  }
  for (const adapter of [...unnamed].sort(naturalOrder)) {
    context.warnings.push({
      source: 'lspath',
      line: 0,
      text: adapter,
      reason: `${adapter}: no topology override names the server behind it; its paths are reported on ${localFailureDomain(context.hostId)}`,
    });
  }
  return domains;
};

/** The disks with two or more paths, as maps. */
const mapsOf = (
  context: ScanContext,
  paths: readonly LspathPathReading[],
  domains: ReadonlyMap<LspathPathReading, FailureDomain>,
  pvids: ReadonlyMap<string, string>,
): SnapshotMap[] => {
  const byDisk = new Map<string, LspathPathReading[]>();
  for (const path of paths) byDisk.set(path.device, [...(byDisk.get(path.device) ?? []), path]);
  const maps: SnapshotMap[] = [];
  for (const [disk, legs] of [...byDisk].sort(([left], [right]) => naturalOrder(left, right))) {
    if (legs.length < 2) continue;
    const reported = legs.map(
      (path, ordinal): SnapshotPath => ({
        path: disk,
        hctl: aixPathAddress(path, ordinal),
        failureDomain: domains.get(path) ?? localFailureDomain(context.hostId),
        state: lspathPathState(path.status),
      }),
    );
    maps.push({
      map: disk,
      wwid: pvids.get(disk) ?? disk,
      paths: limit(reported, SNAPSHOT_LIMITS.paths, `paths of ${disk}`, context),
    });
  }
  return maps;
};

/** The one domain all of a disk's paths sit on, or null when none or several. */
const onlyDomain = (domains: readonly FailureDomain[]): FailureDomain | null => {
  const distinct = new Set(domains);
  return distinct.size === 1 ? ([...distinct][0] ?? null) : null;
};

/** A disk's driver as the kind of adapter its paths go through (`vscsi`, `fscsi`), `mpio` for several. */
const driverOf = (paths: readonly LspathPathReading[], disk: string): string => {
  const kinds = new Set(paths.filter((path) => path.device === disk).map((path) => adapterKind(path.parent)));
  if (kinds.size === 0) return 'unknown';
  return kinds.size === 1 ? ([...kinds][0] ?? 'unknown') : 'mpio';
};

const warn = (
  context: ScanContext,
  source: ScanWarning['source'],
  warnings: readonly ProbeWarning[],
): void => {
  for (const warning of warnings) context.warnings.push({ ...warning, source });
};

const naturalOrder = (left: string, right: string): number =>
  left.localeCompare(right, 'en', { numeric: true });
