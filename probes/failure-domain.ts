import { ConsoleName, FailureDomain, type HostId, Wwid } from '../events/index.ts';

/**
 * How a disk's failure domain is named (docs/architecture.md §3), from what sysfs shows. Pure: the reader
 * (`sysfs-reader.ts`) hands over the text of the files.
 *
 * For ibmvscsi the domain is `vscsi:<system>/<partition>`: the partition is the hosting partition
 * (VIOS or IBM i) the adapter logged in to, which the driver stores in the host's `partition_name`
 * after the adapter-info exchange; the system comes from the location code the driver reports in
 * `vhost_loc` (`U9080.M9S.78AB12C-V3-C2`: machine type, model and serial). Both sides of a vSCSI
 * connection live in the same managed system, so the system is named as the HMC names a managed
 * system by default, `Server-<type>-<model>-SN<serial>` (`Server-9080-M9S-SN78AB12C`), which a
 * hosting partition, an HMC and a client all derive alike. A topology override may name it
 * otherwise.
 *
 * NPIV (ibmvfc) paths go through a VIOS too, so they carry the same domain: the client adapter's
 * NPIV login answer names the VIOS in the host's `partition_name` and its virtual FC server
 * adapter in `drc_name` (a virtual location code, `U9080.M9S.78AB12C-V1-C30`), which names the
 * system as `vhost_loc` does. One VIOS IPL is then one incident whether its clients' disks come by
 * vSCSI or by NPIV. The host's `port_loc_code` is the physical FC port's location code, whose
 * prefix names an I/O enclosure (`U78D3.001.WZS0ABC-P1-C6-T1`), not the system: it is never used.
 */

/** The HMC's default managed-system name from a Power location code such as `U9080.M9S.78AB12C-V3-C2`. */
export const systemFromLocationCode = (locationCode: string): string | null => {
  const match = /^U([A-Za-z0-9]{4})\.([A-Za-z0-9]{3})\.([A-Za-z0-9]{5,8})(?:-|$)/.exec(locationCode.trim());
  if (match === null) return null;
  return consoleNameOrNull(`Server-${match[1]}-${match[2]}-SN${match[3]}`);
};

/**
 * The system named by a virtual slot's location code (`U9080.M9S.78AB12C-V1-C30`: an ibmvfc host's
 * `drc_name`), or null for any other location code (a physical port's names its enclosure).
 */
export const systemFromVirtualLocationCode = (locationCode: string): string | null =>
  /-V\d{1,4}-C\d{1,5}(?:-|$)/.test(locationCode.trim()) ? systemFromLocationCode(locationCode) : null;

/**
 * The same system name from the device tree (`/proc/device-tree/model` = `IBM,9080-M9S`,
 * `system-id` = `IBM,0278AB12C`: a two-character plant code then the seven-character serial), for
 * kernels whose ibmvscsi has no `vhost_loc`.
 */
export const systemFromDeviceTree = (model: string, systemId: string): string | null => {
  const typeModel = /^IBM,([A-Za-z0-9]{4})-([A-Za-z0-9]{3})$/.exec(stripNul(model));
  const serial = /^IBM,[A-Za-z0-9]{2}([A-Za-z0-9]{7})$/.exec(stripNul(systemId));
  if (typeModel === null || serial === null) return null;
  return consoleNameOrNull(`Server-${typeModel[1]}-${typeModel[2]}-SN${serial[1]}`);
};

/** Device-tree properties end in NUL; sysfs attributes in a newline. */
export const stripNul = (text: string): string => text.replace(/\0+$/, '').trim();

/**
 * The hosting partition (or VIOS) named in an ibmvscsi or ibmvfc host's `partition_name`, or null
 * when the adapter never heard from its server (ibmvfc before its NPIV login shows it empty): the driver then still holds its own default (`UNKNOWN`) or this
 * partition's own name, which it sends to the server before the reply overwrites it.
 */
export const hostingPartitionName = (
  partitionName: string,
  ownPartitionName: string | null,
): string | null => {
  const name = stripNul(partitionName);
  if (name === '' || name === 'UNKNOWN') return null;
  if (ownPartitionName !== null && name === stripNul(ownPartitionName)) return null;
  return consoleNameOrNull(name);
};

/** `vscsi:<system>/<partition>`, or null when either part is not a console name. */
export const vscsiFailureDomain = (system: string, partition: string): FailureDomain | null =>
  failureDomainOrNull(`vscsi:${system}/${partition}`);

/** `fc:<wwpn>` from an FC remote port's `port_name` (`0x500507680b21ac1c`). */
export const fcFailureDomain = (portName: string): FailureDomain | null => {
  const match = /^(?:0x)?([0-9A-Fa-f]{16})$/.exec(portName.trim());
  return match === null ? null : failureDomainOrNull(`fc:${(match[1] ?? '').toLowerCase()}`);
};

/** `local:<hostId>`: what serves the storage is this host itself, or is not known (docs/architecture.md §3). */
export const localFailureDomain = (hostId: HostId): FailureDomain => {
  const domain = failureDomainOrNull(`local:${hostId}`);
  if (domain === null) throw new RangeError(`'${hostId}' is not a host id`);
  return domain;
};

/**
 * A disk's WWID from sysfs (`device/wwid` or `wwid`) in the form multipath and `scsi_id` print:
 * `naa.600507680c...` → `3600507680c...`, `eui.0025...` → `20025...`, `t10.IBM VDASD ...` →
 * `1IBM_VDASD_...` (runs of spaces as one `_`). Null when nothing usable is there.
 */
export const canonicalWwid = (sysfsWwid: string): string | null => {
  const text = stripNul(sysfsWwid);
  const typed = /^(naa|eui|t10)\.(.+)$/i.exec(text);
  let wwid = text;
  if (typed !== null) {
    const body = typed[2] ?? '';
    const type = (typed[1] ?? '').toLowerCase();
    if (type === 'naa') wwid = `3${body.toLowerCase()}`;
    else if (type === 'eui') wwid = `2${body.toLowerCase()}`;
    else wwid = `1${body.trim().replace(/\s+/g, '_')}`;
  }
  return Wwid.safeParse(wwid).success ? wwid : null;
};

const consoleNameOrNull = (name: string): string | null =>
  ConsoleName.safeParse(name).success ? name : null;

const failureDomainOrNull = (domain: string): FailureDomain | null =>
  FailureDomain.safeParse(domain).success ? domain : null;
