import { ConsoleName } from '../events/index.ts';
import { type ProbeWarning, toolLines, WarningLog } from './tool-text.ts';

/**
 * The parseable records the Oracle VM Server for SPARC manager prints (`ldm(8)`, `-p`): a
 * `VERSION 1.x` line, then one record per line, `TYPE|key=value|key=value...`, a record's
 * sub-records on lines that start with `|` (`|vol=ldg1-root|opts=|dev=/dev/zvol/dsk/...`). Values
 * never hold `|`; a value may be empty (`opts=`), and a record may end in `|`
 * (`DOMAIN|name=primary|`). This file reads `ldm list-services -p`:
 *
 * ```
 * VERSION 1.6
 * VCC|name=primary-vcc0|ldom=primary|port-range=5000-5100
 * VSW|name=primary-vsw0|ldom=primary|mac-addr=00:14:4f:f8:5c:1e|net-dev=net0|...
 * VDS|name=primary-vds0|ldom=primary
 * |vol=ldg1-root|opts=|dev=/dev/zvol/dsk/rpool/ldg1-root|mpgroup=
 * VDS|name=alternate-vds0|ldom=alternate
 * |vol=ldg1-data|opts=|dev=/dev/dsk/c1t5000CCA02A1B2C40d0s2|mpgroup=data
 * ```
 *
 * A domain with a `VDS` exports virtual disks: it is a service domain whose reboot takes its
 * guests' disks away (docs/architecture.md §3, `vdisk:<control>/<service domain>`).
 */

/** One `key=value` record of `ldm ... -p`, with its type (`VDS`, `DOMAIN`) or `''` for a `|...` sub-record. */
export type LdmRecord = { type: string; fields: ReadonlyMap<string, string>; line: number; text: string };

/** Splits parseable `ldm` output into records; `VERSION` and blank lines are not records. */
export const ldmRecords = (text: string): { records: LdmRecord[]; version: string | null } => {
  const records: LdmRecord[] = [];
  let version: string | null = null;
  for (const line of toolLines(text)) {
    const trimmed = line.text.trim();
    if (trimmed === '') continue;
    const versionLine = /^VERSION\s+(\S+)$/.exec(trimmed);
    if (versionLine !== null) {
      version = versionLine[1] ?? null;
      continue;
    }
    const [type = '', ...parts] = trimmed.split('|');
    const fields = new Map<string, string>();
    for (const part of parts) {
      const equals = part.indexOf('=');
      if (equals > 0) fields.set(part.slice(0, equals), part.slice(equals + 1));
    }
    records.push({ type, fields, line: line.number, text: line.text });
  }
  return { records, version };
};

/** A virtual disk service and the domain that runs it. */
export type VirtualDiskService = { name: string; domain: string; volumes: string[] };

export type LdmServicesReading = {
  services: VirtualDiskService[];
  version: string | null;
  warnings: ProbeWarning[];
};

/** A record type as `ldm` prints them (`VCC`, `VSW`, `VDS`, `DOMAIN`, `VDISK`); anything else is not ldm output. */
export const LDM_RECORD_TYPE = /^[A-Z][A-Z0-9_]{0,31}$/;

/** Reads `ldm list-services -p`. Never throws. */
export const parseLdmServices = (text: string): LdmServicesReading => {
  const log = new WarningLog();
  const services: VirtualDiskService[] = [];
  const { records, version } = ldmRecords(text);
  let current: VirtualDiskService | null = null;
  for (const record of records) {
    if (record.type === '') {
      const volume = record.fields.get('vol');
      if (current !== null && volume !== undefined && volume !== '') current.volumes.push(volume);
      continue;
    }
    current = null;
    if (record.type !== 'VDS') {
      if (!LDM_RECORD_TYPE.test(record.type)) log.add(record.line, record.text, 'not an ldm -p line');
      continue;
    }
    const name = record.fields.get('name');
    const domain = record.fields.get('ldom');
    if (name === undefined || !ConsoleName.safeParse(name).success) {
      log.add(record.line, record.text, 'a VDS record without a service name');
      continue;
    }
    if (domain === undefined || !ConsoleName.safeParse(domain).success) {
      log.add(record.line, record.text, `VDS ${name} names no domain (ldom=)`);
      continue;
    }
    current = { name, domain, volumes: [] };
    services.push(current);
  }
  return { services, version, warnings: log.collect() };
};

/** The domains that export at least one virtual disk service, in the order `ldm` lists them. */
export const serviceDomainsOf = (services: readonly VirtualDiskService[]): string[] => [
  ...new Set(services.map((service) => service.domain)),
];
