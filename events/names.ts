import { z } from 'zod';

/**
 * Names of hosts, devices, arrays and SCSI addresses as the real tools print them.
 *
 * Every name that can reach an argument vector or a sysfs path on a host is validated here against
 * the shapes real ones have, so that nothing carrying `/`, `..`, whitespace or a shell
 * metacharacter ever gets past the edge: the agent builds `/dev/<member>` and
 * `/sys/class/scsi_device/<hctl>/...` from these strings.
 */

const linuxWholeDisk = String.raw`(?:sd|vd|xvd|hd)[a-z]{1,4}|nvme\d{1,3}n\d{1,4}|dm-\d{1,6}|mmcblk\d{1,3}|loop\d{1,5}|hdisk\d{1,5}`;
const linuxPartition = String.raw`(?:sd|vd|xvd|hd)[a-z]{1,4}\d{1,3}|nvme\d{1,3}n\d{1,4}p\d{1,3}|mmcblk\d{1,3}p\d{1,3}|loop\d{1,5}p\d{1,3}|md\d{1,5}p\d{1,3}`;
const solarisWholeDisk = String.raw`c\d{1,4}(?:t[0-9A-Fa-f]{1,32})?d\d{1,4}`;
const solarisSlice = String.raw`c\d{1,4}(?:t[0-9A-Fa-f]{1,32})?d\d{1,4}[sp]\d{1,2}`;

const anchored = (source: string): RegExp => new RegExp(`^(?:${source})$`);

/** A whole disk: `sdb`, `nvme0n1`, `dm-3`, `c0d1`, `c0t5000CCA02A1B2C3Dd0`. */
export const DiskName = z
  .string()
  .regex(
    anchored(`${linuxWholeDisk}|${solarisWholeDisk}`),
    'not a disk name such as sdb, nvme0n1, dm-3 or c0d1',
  );
export type DiskName = z.infer<typeof DiskName>;

/** A block device: a whole disk or one of its partitions or slices (`sdb3`, `nvme0n1p2`, `c0d0s0`). */
export const DeviceName = z
  .string()
  .regex(
    anchored(`${linuxWholeDisk}|${linuxPartition}|${solarisWholeDisk}|${solarisSlice}`),
    'not a device name such as sdb3, nvme0n1p2, dm-3 or c0d0s0',
  );
export type DeviceName = z.infer<typeof DeviceName>;

/** A software mirror as the kernel or SVM names it: `md0`, `md127`, `md_d0`, `d0`. */
export const ArrayName = z
  .string()
  .regex(/^(?:md\d{1,5}|md_d\d{1,5}|d\d{1,5})$/, 'not an array name such as md0, md127 or d10');
export type ArrayName = z.infer<typeof ArrayName>;

/** An SVM metadevice (mirror or submirror): `d10`, `d20`. */
export const MetadeviceName = z.string().regex(/^d\d{1,5}$/, 'not an SVM metadevice name such as d10');
export type MetadeviceName = z.infer<typeof MetadeviceName>;

/** A SCSI address `H:C:T:L`, as in `/sys/class/scsi_device/<hctl>`. */
export const Hctl = z
  .string()
  .regex(/^\d{1,5}:\d{1,5}:\d{1,5}:\d{1,20}$/, 'not a SCSI address H:C:T:L such as 1:0:2:0');
export type Hctl = z.infer<typeof Hctl>;

/** A SCSI host as in `/sys/class/scsi_host/<host>`: `host1`. */
export const ScsiHost = z.string().regex(/^host\d{1,5}$/, 'not a SCSI host such as host1');
export type ScsiHost = z.infer<typeof ScsiHost>;

const label = '[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?';

/** A host id: a host name or FQDN (labels of letters, digits, `-` and `_`). */
export const HostId = z
  .string()
  .max(253)
  .regex(
    anchored(`${label}(?:\\.${label})*`),
    'not a host id: letters, digits, - and _ in dot-separated labels',
  );
export type HostId = z.infer<typeof HostId>;

/** A name from a management console: an LDoms domain, an IBM i partition, a managed system. */
const consoleName = '[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?';
export const ConsoleName = z
  .string()
  .regex(new RegExp(`^(?!.*\\.\\.)${consoleName}$`), 'not a partition, domain or system name');
export type ConsoleName = z.infer<typeof ConsoleName>;

/** A multipath map, by alias (`mpatha`, `oradata01`) or by WWID. */
export const MapName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, 'not a multipath map name such as mpatha');
export type MapName = z.infer<typeof MapName>;

/** A SCSI/NVMe world-wide identifier as multipath and sysfs print it. */
export const Wwid = z
  .string()
  .regex(
    /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
    'not a WWID such as 3600a0b80001234560000abcd12345678',
  );
export type Wwid = z.infer<typeof Wwid>;

/** An md array UUID as mdadm prints it: four groups of eight hex digits joined by `:`. */
export const MdUuid = z
  .string()
  .regex(/^[0-9a-f]{8}(?::[0-9a-f]{8}){3}$/, 'not an md UUID such as 3b1c2f4e:8a9d0b1c:2e3f4a5b:6c7d8e9f');
export type MdUuid = z.infer<typeof MdUuid>;

/**
 * What serves a piece of storage, identical whether the client or the server derives it:
 * `vscsi:<system>/<partition>`, `vdisk:<control>/<service-domain>`, `fc:<target port WWPN>`,
 * `local:<hostId>`. The only names that carry a `/`, and never as a path.
 */
export const FailureDomain = z
  .string()
  .max(300)
  .regex(
    new RegExp(
      `^(?!.*\\.\\.)(?:(?:vscsi|vdisk):${consoleName}/${consoleName}|fc:[0-9a-f]{16}|local:${label}(?:\\.${label})*)$`,
    ),
    'not a failure domain such as vscsi:<system>/<partition>, vdisk:<control>/<domain>, fc:<wwpn> or local:<host>',
  );
export type FailureDomain = z.infer<typeof FailureDomain>;

/** Ids Faultline derives (incidents, plans, notifications) and ids agents choose for events. */
export const Identifier = z
  .string()
  .regex(
    /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
    'not an identifier: letters, digits and . _ : - only',
  );
export type Identifier = z.infer<typeof Identifier>;

/** A boot id (Linux `/proc/sys/kernel/random/boot_id`, or a derived one), compared only for equality. */
export const BootId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, 'not a boot id');
export type BootId = z.infer<typeof BootId>;

/** An RFC 3339 timestamp with a zone (`Z` or an offset). */
export const Rfc3339 = z.iso.datetime({ offset: true, message: 'not an RFC 3339 time' });
export type Rfc3339 = z.infer<typeof Rfc3339>;

/** A refusal or error code: `last-in-sync-member`, `holders-present`. */
export const Code = z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'not a code such as holders-present');
export type Code = z.infer<typeof Code>;
