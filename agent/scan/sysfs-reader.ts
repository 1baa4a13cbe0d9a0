import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  type BootId,
  type DeviceState,
  DiskName,
  type FailureDomain,
  Hctl,
  type HostId,
  MdUuid,
  ScsiHost,
} from '../../events/index.ts';
import { bootIdFromProcStat, parseBootId, UNKNOWN_BOOT_ID } from '../../probes/boot-id.ts';
import {
  canonicalWwid,
  fcFailureDomain,
  hostingPartitionName,
  localFailureDomain,
  stripNul,
  systemFromDeviceTree,
  systemFromLocationCode,
  systemFromVirtualLocationCode,
  vscsiFailureDomain,
} from '../../probes/failure-domain.ts';
import { deviceStateOf } from '../../probes/report-states.ts';
import type { ProbeWarning } from '../../probes/tool-text.ts';
import { overriddenFailureDomain, type TopologyOverrides } from '../../probes/topology.ts';

/**
 * Reads what a Linux host (or a tree laid out like one: a sosreport, a fixture) shows under
 * `proc/`, `sys/` and `dev/` about its disks, SCSI hosts and md arrays. All paths are taken under
 * `root`; nothing is written. Missing files are normal (a sosreport keeps only part of sysfs) and
 * read as unknown.
 *
 * Files read, per disk `sdX` under `sys/block/`: the `device` link (resolved: its path holds the
 * SCSI host `hostN` and ends in the `H:C:T:L` address), `size` (512-byte sectors),
 * `device/state`, `device/wwid` or `wwid`, `device/ioerr_cnt`, and for a dm device `dm/uuid` and
 * `slaves/`. Per SCSI host, under `sys/class/scsi_host/hostN/`: `proc_name` (else the `driver` link
 * of the adapter that holds `hostN`), for ibmvscsi `partition_name`, `partition_number` and
 * `vhost_loc`, for ibmvfc (NPIV through a VIOS) `partition_name` and `drc_name`. Per FC target,
 * `sys/class/fc_transport/targetH:C:T/port_name`. From the device tree,
 * `proc/device-tree/ibm,partition-name`, `model` and `system-id`. Per md array,
 * `sys/block/mdN/md/level` and each `dev-<member>/state` and `slot`; the array UUIDs from the udev
 * links `dev/disk/by-id/md-uuid-*`. The boot id from `proc/sys/kernel/random/boot_id`, else the
 * `btime` of `proc/stat`.
 */

/** A SCSI host as sysfs describes it. */
export type ScsiHostInfo = {
  host: string;
  /** `ibmvscsi`, `ibmvfc`, `qla2xxx`, `virtio_scsi`, ...; null when sysfs does not say. */
  driver: string | null;
  /** ibmvscsi, ibmvfc: the hosting partition (VIOS) the adapter logged in to (null until it heard from it). */
  partitionName: string | null;
  partitionNumber: number | null;
  /** ibmvscsi: the adapter's location code, which names the managed system. */
  vhostLoc: string | null;
  /** ibmvfc: the DRC name of the VIOS's virtual FC server adapter, a virtual location code naming the system. */
  drcName: string | null;
};

/** Where a disk's failure domain came from. */
export type FailureDomainSource = 'override' | 'vscsi' | 'npiv' | 'fc' | 'multipath' | 'local';

/** A disk under `sys/block` with everything the snapshot and the fingerprints need. */
export type BlockDiskInfo = {
  disk: string;
  hctl: string | null;
  scsiHost: string | null;
  /** The SCSI host's driver, else the device's own driver (`virtio_blk`, `nvme`), else `unknown`. */
  driver: string;
  sizeBytes: number | null;
  wwid: string | null;
  /** The raw `device/state` text, kept for fingerprints. */
  sysfsState: string | null;
  deviceState: DeviceState | null;
  ioErrorCount: number | null;
  /** For a dm device: `dm/uuid` (`mpath-3600...` for a multipath map) and its slaves. */
  dmUuid: string | null;
  slaves: string[];
  /** The `port_name` of the FC remote port behind the disk's target, for FC-attached disks. */
  fcTargetPort: string | null;
  failureDomain: FailureDomain;
  failureDomainSource: FailureDomainSource;
};

/** Every disk and SCSI host of a host, keyed by name, with what could not be named. */
export type HostTopology = {
  disks: Map<string, BlockDiskInfo>;
  scsiHosts: Map<string, ScsiHostInfo>;
  warnings: ProbeWarning[];
};

/** The host id names the `local:` fallback; the overrides come from the config. */
export type ReadTopologyOptions = { root: string; hostId: HostId; topology?: TopologyOverrides | undefined };

/** Reads every disk under `sys/block` and derives its failure domain. */
export const readHostTopology = async (options: ReadTopologyOptions): Promise<HostTopology> => {
  const { root } = options;
  const warnings: ProbeWarning[] = [];
  const names = (await listDirectory(join(root, 'sys', 'block'))).filter(
    (name) => DiskName.safeParse(name).success && !name.startsWith('loop'),
  );
  const deviceTree = await readDeviceTree(root);
  const hostInfos = new Map<string, Promise<ScsiHostInfo>>();
  const hostInfo = (host: string, adapterPath: string | null): Promise<ScsiHostInfo> => {
    let info = hostInfos.get(host);
    if (info === undefined) {
      info = readScsiHost(root, host, adapterPath);
      hostInfos.set(host, info);
    }
    return info;
  };

  const raw = await Promise.all(names.map((name) => readBlockDisk(root, name, hostInfo)));
  const scsiHosts = new Map<string, ScsiHostInfo>();
  for (const [host, info] of hostInfos) scsiHosts.set(host, await info);

  const local = localFailureDomain(options.hostId);
  const disks = new Map<string, BlockDiskInfo>();
  for (const disk of raw) {
    const host = disk.scsiHost === null ? undefined : scsiHosts.get(disk.scsiHost);
    const resolved = resolveFailureDomain(disk, host, deviceTree, options.topology, warnings);
    disks.set(disk.disk, {
      ...disk,
      failureDomain: resolved?.domain ?? local,
      failureDomainSource: resolved?.source ?? 'local',
    });
  }
  for (const disk of disks.values()) {
    if (disk.slaves.length === 0 || disk.failureDomainSource === 'override') continue;
    const domains = new Set(disk.slaves.map((slave) => disks.get(slave)?.failureDomain ?? local));
    const [only] = domains;
    if (domains.size === 1 && only !== undefined && only !== local) {
      disk.failureDomain = only;
      disk.failureDomainSource = 'multipath';
    }
  }
  return { disks, scsiHosts, warnings };
};

type DeviceTree = { ownPartitionName: string | null; model: string | null; systemId: string | null };

const readDeviceTree = async (root: string): Promise<DeviceTree> => {
  const [ownPartitionName, model, systemId] = await Promise.all([
    readText(join(root, 'proc', 'device-tree', 'ibm,partition-name')),
    readText(join(root, 'proc', 'device-tree', 'model')),
    readText(join(root, 'proc', 'device-tree', 'system-id')),
  ]);
  return { ownPartitionName, model, systemId };
};

type RawDisk = Omit<BlockDiskInfo, 'failureDomain' | 'failureDomainSource'>;

const readBlockDisk = async (
  root: string,
  disk: string,
  hostInfo: (host: string, adapterPath: string | null) => Promise<ScsiHostInfo>,
): Promise<RawDisk> => {
  const base = join(root, 'sys', 'block', disk);
  const devicePath = await resolveLink(join(base, 'device'));
  const address = devicePath === null ? null : scsiAddressOf(devicePath);
  const [size, state, deviceWwid, ownWwid, ioErrors, dmUuid, slaves] = await Promise.all([
    readText(join(base, 'size')),
    readText(join(base, 'device', 'state')),
    readText(join(base, 'device', 'wwid')),
    readText(join(base, 'wwid')),
    readText(join(base, 'device', 'ioerr_cnt')),
    readText(join(base, 'dm', 'uuid')),
    listDirectory(join(base, 'slaves')),
  ]);
  const host = address === null ? null : await hostInfo(address.scsiHost, address.adapterPath);
  const fcTargetPort = address === null ? null : await readText(fcTargetPortPath(root, address.hctl));
  const sectors = size === null ? null : /^\d{1,18}$/.exec(size.trim())?.[0];
  const sizeBytes = sectors === undefined || sectors === null ? null : Number(sectors) * 512;
  const wwidText = deviceWwid ?? ownWwid;
  return {
    disk,
    hctl: address?.hctl ?? null,
    scsiHost: address?.scsiHost ?? null,
    driver: host?.driver ?? (await deviceDriver(base)) ?? 'unknown',
    sizeBytes: sizeBytes !== null && Number.isSafeInteger(sizeBytes) ? sizeBytes : null,
    wwid: wwidText === null ? null : canonicalWwid(wwidText),
    sysfsState: state === null ? null : stripNul(state),
    deviceState: state === null ? null : deviceStateOf(state),
    ioErrorCount: ioErrors === null ? null : parseCounter(ioErrors),
    dmUuid: dmUuid === null ? null : stripNul(dmUuid) || null,
    slaves: slaves.filter((slave) => DiskName.safeParse(slave).success),
    fcTargetPort: fcTargetPort === null ? null : stripNul(fcTargetPort) || null,
  };
};

const fcTargetPortPath = (root: string, hctl: string): string => {
  const [host, channel, target] = hctl.split(':');
  return join(root, 'sys', 'class', 'fc_transport', `target${host}:${channel}:${target}`, 'port_name');
};

/**
 * The SCSI host and address in a resolved device path such as
 * `/sys/devices/vio/30000003/host1/target1:0:2/1:0:2:0`, with the adapter's path (the folder that
 * holds `host1`), or null when the path is not a SCSI device.
 */
export const scsiAddressOf = (
  devicePath: string,
): { hctl: string; scsiHost: string; adapterPath: string | null } | null => {
  const segments = devicePath.split('/');
  const hctl = segments[segments.length - 1] ?? '';
  const hostIndex = segments.findIndex((segment) => ScsiHost.safeParse(segment).success);
  const scsiHost = segments[hostIndex];
  if (!Hctl.safeParse(hctl).success || scsiHost === undefined) return null;
  if (hctl.split(':')[0] !== scsiHost.slice('host'.length)) return null;
  const adapterPath = hostIndex > 0 ? segments.slice(0, hostIndex).join('/') : null;
  return { hctl, scsiHost, adapterPath: adapterPath === '' ? null : adapterPath };
};

const readScsiHost = async (
  root: string,
  host: string,
  adapterPath: string | null,
): Promise<ScsiHostInfo> => {
  const base = join(root, 'sys', 'class', 'scsi_host', host);
  const [procName, partitionName, partitionNumber, vhostLoc, drcName] = await Promise.all([
    readText(join(base, 'proc_name')),
    readText(join(base, 'partition_name')),
    readText(join(base, 'partition_number')),
    readText(join(base, 'vhost_loc')),
    readText(join(base, 'drc_name')),
  ]);
  const adapterDriver = adapterPath === null ? null : await linkName(join(adapterPath, 'driver'));
  const driver = driverName(procName) ?? adapterDriver;
  return {
    host,
    driver,
    partitionName: partitionName === null ? null : stripNul(partitionName) || null,
    partitionNumber: partitionNumber === null ? null : parseCounter(partitionNumber),
    vhostLoc: vhostLoc === null ? null : stripNul(vhostLoc) || null,
    drcName: drcName === null ? null : stripNul(drcName) || null,
  };
};

/**
 * `vscsi:<system>/<partition>` of an ibmvscsi or ibmvfc host: the partition from its
 * `partition_name`, the system from its own location code (`vhost_loc`, `drc_name`), else from the
 * device tree (the client and its VIOS are in one managed system). Null when either is unknown.
 */
const viosFailureDomain = (host: ScsiHostInfo, deviceTree: DeviceTree): FailureDomain | null => {
  const partition =
    host.partitionName === null
      ? null
      : hostingPartitionName(host.partitionName, deviceTree.ownPartitionName);
  const ownCode =
    host.driver === 'ibmvscsi'
      ? host.vhostLoc === null
        ? null
        : systemFromLocationCode(host.vhostLoc)
      : host.drcName === null
        ? null
        : systemFromVirtualLocationCode(host.drcName);
  const system =
    ownCode ??
    (deviceTree.model === null || deviceTree.systemId === null
      ? null
      : systemFromDeviceTree(deviceTree.model, deviceTree.systemId));
  return partition === null || system === null ? null : vscsiFailureDomain(system, partition);
};

const resolveFailureDomain = (
  disk: RawDisk,
  host: ScsiHostInfo | undefined,
  deviceTree: DeviceTree,
  topology: TopologyOverrides | undefined,
  warnings: ProbeWarning[],
): { domain: FailureDomain; source: FailureDomainSource } | null => {
  const override = overriddenFailureDomain(topology, disk.disk, disk.scsiHost);
  if (override !== null) return { domain: override, source: 'override' };
  if (host?.driver === 'ibmvscsi') {
    const domain = viosFailureDomain(host, deviceTree);
    if (domain !== null) return { domain, source: 'vscsi' };
    warnings.push({
      line: 0,
      text: `sys/class/scsi_host/${host.host}`,
      reason: `${disk.disk}: cannot name the hosting partition or system of ${host.host}; reported as local`,
    });
    return null;
  }
  // NPIV through a VIOS: the VIOS's domain, as its vSCSI disks have; a capture without the
  // host's attributes (a sosreport keeps part of sysfs) falls back to the FC target port.
  if (host?.driver === 'ibmvfc') {
    const domain = viosFailureDomain(host, deviceTree);
    if (domain !== null) return { domain, source: 'npiv' };
  }
  const fc = disk.fcTargetPort === null ? null : fcFailureDomain(disk.fcTargetPort);
  if (fc !== null) return { domain: fc, source: 'fc' };
  return null;
};

/** A member as `sys/block/<md>/md/dev-<member>/` shows it. */
export type MdSysfsMember = { state: string; slot: string | null };

/** An array's md folder: the member states mdstat cannot give (which member rebuilds). */
export type MdSysfsArray = {
  level: string | null;
  members: Map<string, MdSysfsMember>;
};

/** The md folder of an array, or null when sysfs has none (a 2.4 kernel, a partial sosreport). */
export const readMdSysfs = async (root: string, array: string): Promise<MdSysfsArray | null> => {
  const base = join(root, 'sys', 'block', array, 'md');
  const entries = await listDirectory(base);
  if (entries.length === 0) return null;
  const level = await readText(join(base, 'level'));
  const members = new Map<string, MdSysfsMember>();
  await Promise.all(
    entries
      .filter((entry) => entry.startsWith('dev-'))
      .map(async (entry) => {
        const [state, slot] = await Promise.all([
          readText(join(base, entry, 'state')),
          readText(join(base, entry, 'slot')),
        ]);
        if (state !== null) {
          members.set(entry.slice('dev-'.length), {
            state: stripNul(state),
            slot: slot === null ? null : stripNul(slot),
          });
        }
      }),
  );
  return { level: level === null ? null : stripNul(level) || null, members };
};

/** Array UUIDs from the udev links `dev/disk/by-id/md-uuid-<uuid> -> ../../md0`. */
export const readMdUuidLinks = async (root: string): Promise<Map<string, string>> => {
  const directory = join(root, 'dev', 'disk', 'by-id');
  const uuids = new Map<string, string>();
  const links = (await listDirectory(directory)).filter((entry) => entry.startsWith('md-uuid-'));
  await Promise.all(
    links.map(async (link) => {
      const uuid = link.slice('md-uuid-'.length);
      const array = await linkName(join(directory, link));
      if (array !== null && MdUuid.safeParse(uuid).success) uuids.set(array, uuid);
    }),
  );
  return uuids;
};

/** The boot id and where it came from. */
export const readBootId = async (
  root: string,
): Promise<{ bootId: BootId; source: 'boot_id' | 'btime' | null }> => {
  const fromFile = await readText(join(root, 'proc', 'sys', 'kernel', 'random', 'boot_id'));
  const bootId = fromFile === null ? null : parseBootId(fromFile);
  if (bootId !== null) return { bootId, source: 'boot_id' };
  const stat = await readText(join(root, 'proc', 'stat'));
  const fromStat = stat === null ? null : bootIdFromProcStat(stat);
  if (fromStat !== null) return { bootId: fromStat, source: 'btime' };
  return { bootId: UNKNOWN_BOOT_ID, source: null };
};

/** Largest sysfs attribute read: one page is what the kernel gives. */
export const ATTRIBUTE_LIMIT = 64 * 1024;

/** A sysfs or proc file's text cut to `limit` characters, or null when it cannot be read. */
export const readText = async (path: string, limit: number = ATTRIBUTE_LIMIT): Promise<string | null> => {
  try {
    const text = await readFile(path, 'utf8');
    return text.length > limit ? text.slice(0, limit) : text;
  } catch {
    return null;
  }
};

/** A directory's entries, or none when it cannot be read. */
export const listDirectory = async (path: string): Promise<string[]> => {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
};

/** Where a link leads, resolved (sysfs links are relative); null when it does not resolve. */
const resolveLink = async (path: string): Promise<string | null> => {
  try {
    return await realpath(path);
  } catch {
    try {
      return join(dirname(path), await readlink(path));
    } catch {
      return null;
    }
  }
};

/** The last component of a link's target: `../../../bus/vio/drivers/ibmvscsi` → `ibmvscsi`. */
const linkName = async (path: string): Promise<string | null> => {
  try {
    const name = basename(await readlink(path));
    return name === '' ? null : name;
  } catch {
    return null;
  }
};

/** The device's own driver: `device/driver`, or for NVMe the controller's `device/device/driver`. */
const deviceDriver = async (base: string): Promise<string | null> =>
  driverName(await linkName(join(base, 'device', 'driver'))) ??
  driverName(await linkName(join(base, 'device', 'device', 'driver')));

const driverName = (text: string | null): string | null => {
  if (text === null) return null;
  const name = stripNul(text);
  return /^[A-Za-z0-9_-]{1,32}$/.test(name) ? name : null;
};

/** A sysfs counter in decimal or `0x` hex (`ioerr_cnt` is hex). */
const parseCounter = (text: string): number | null => {
  const value = stripNul(text);
  if (/^0x[0-9a-f]{1,12}$/i.test(value)) return Number.parseInt(value.slice(2), 16);
  if (/^\d{1,15}$/.test(value)) return Number(value);
  return null;
};
