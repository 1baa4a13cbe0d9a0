import { ConsoleName, DiskName, FailureDomain, type GuestDisk, type LdomsDomain } from '../events/index.ts';
import { LDM_RECORD_TYPE, ldmRecords, type VirtualDiskService } from './ldm-services.ts';
import { type ProbeWarning, WarningLog } from './tool-text.ts';

/**
 * `ldm list -o disk -p` (`ldm list-domain -o disk -p`, `ldm(8)`) on a control domain: for every
 * domain a `DOMAIN|name=...|` record, then the virtual disk services it runs (`VDS|name=...|
 * nclients=...` with their `|vol=...` volumes) and the virtual disks it uses:
 *
 * ```
 * VERSION 1.6
 * DOMAIN|name=primary|
 * VDS|name=primary-vds0|nclients=2
 * |vol=ldg1-root|opts=|dev=/dev/zvol/dsk/rpool/ldg1-root|mpgroup=
 * DOMAIN|name=ldg1|
 * VDISK|name=vdisk0|vol=ldg1-root@primary-vds0|timeout=|dev=disk@0|server=primary|mpgroup=|id=0
 * ```
 *
 * A guest names the disk `dev=disk@<id>` as `c0d<id>` (the vdc driver's controller 0), and the
 * disk is served by the domain in `server=`, or, where an older `ldm` prints no `server`, by the
 * domain that runs the service after the `@` of `vol=`. From that the control domain's heartbeat
 * says which failure domain each guest disk depends on (docs/architecture.md §3 `guests`), so a
 * guest's SVM members carry `vdisk:<control>/<service domain>` with no hand-written topology.
 */

/** A guest's virtual disk as `ldm` lists it. */
export type LdmVirtualDisk = {
  /** The vdisk's name in the domain's configuration: `vdisk0`. */
  name: string;
  /** The volume and the service exporting it: `ldg1-root` and `primary-vds0`. */
  volume: string;
  service: string;
  /** The device id (`dev=disk@<id>`, else `id=`): the guest's `c0d<id>`. */
  id: number;
  /** The domain serving it (`server=`), when `ldm` says. */
  server: string | null;
  /** The multipath group of a disk reachable through several service domains, when it has one. */
  mpgroup: string | null;
};

export type LdmDomainDisks = { name: string; services: VirtualDiskService[]; vdisks: LdmVirtualDisk[] };

export type LdmDisksReading = { domains: LdmDomainDisks[]; version: string | null; warnings: ProbeWarning[] };

const DEVICE_ID = /^disk@(\d{1,4})$/;

const readVirtualDisk = (fields: ReadonlyMap<string, string>): LdmVirtualDisk | string => {
  const name = fields.get('name') ?? '';
  const vol = fields.get('vol') ?? '';
  const at = vol.lastIndexOf('@');
  if (at <= 0 || at === vol.length - 1) return `vdisk ${name}: vol '${vol}' is not <volume>@<service>`;
  const idText = DEVICE_ID.exec(fields.get('dev') ?? '')?.[1] ?? fields.get('id');
  if (idText === undefined || !/^\d{1,4}$/.test(idText)) return `vdisk ${name}: no device id (dev=disk@<id>)`;
  const server = fields.get('server') ?? '';
  if (server !== '' && !ConsoleName.safeParse(server).success) return `vdisk ${name}: server '${server}'`;
  const mpgroup = fields.get('mpgroup') ?? '';
  return {
    name,
    volume: vol.slice(0, at),
    service: vol.slice(at + 1),
    id: Number(idText),
    server: server === '' ? null : server,
    mpgroup: mpgroup === '' ? null : mpgroup,
  };
};

/** Reads `ldm list -o disk -p`. Never throws. */
export const parseLdmDisks = (text: string): LdmDisksReading => {
  const log = new WarningLog();
  const domains: LdmDomainDisks[] = [];
  const { records, version } = ldmRecords(text);
  let domain: LdmDomainDisks | null = null;
  let service: VirtualDiskService | null = null;
  for (const record of records) {
    if (record.type === 'DOMAIN') {
      service = null;
      const name = record.fields.get('name') ?? '';
      if (!ConsoleName.safeParse(name).success) {
        domain = null;
        log.add(record.line, record.text, `domain '${name}' is not a domain name`);
        continue;
      }
      domain = { name, services: [], vdisks: [] };
      domains.push(domain);
      continue;
    }
    if (record.type === '') {
      const volume = record.fields.get('vol');
      if (service !== null && volume !== undefined && volume !== '') service.volumes.push(volume);
      continue;
    }
    service = null;
    if (!LDM_RECORD_TYPE.test(record.type)) {
      log.add(record.line, record.text, 'not an ldm -p line');
      continue;
    }
    if (record.type !== 'VDS' && record.type !== 'VDISK') continue;
    if (domain === null) {
      log.add(record.line, record.text, `${record.type} before any DOMAIN record`);
      continue;
    }
    if (record.type === 'VDS') {
      const name = record.fields.get('name') ?? '';
      if (!ConsoleName.safeParse(name).success) {
        log.add(record.line, record.text, 'a VDS record without a service name');
        continue;
      }
      service = { name, domain: domain.name, volumes: [] };
      domain.services.push(service);
      continue;
    }
    const vdisk = readVirtualDisk(record.fields);
    if (typeof vdisk === 'string') log.add(record.line, record.text, vdisk);
    else domain.vdisks.push(vdisk);
  }
  return { domains, version, warnings: log.collect() };
};

export type GuestDiskOptions = {
  /** The control domain's host id: the `<control>` of `vdisk:<control>/<service domain>`. */
  controlHostId: string;
  /** Services from `ldm list-services -p`, to place a service this output does not list. */
  services?: readonly VirtualDiskService[];
  /** A guest's host id where it is not its domain name (the control domain's config). */
  guestNames?: Readonly<Record<string, string>>;
  /**
   * The domains of `ldm list -p`, whose `state` each guest disk then carries (`ldm list -o disk -p`
   * prints no state, and lists a bound or inactive domain's disks too): only a control domain where
   * the guest is active places its disks (§3 `guests`). A guest this list does not name carries none.
   */
  domains?: readonly Pick<LdomsDomain, 'name' | 'state'>[];
};

/** What {@link guestDisksOf} could not place, one line each. */
export type GuestDisks = { guests: GuestDisk[]; unplaced: string[] };

/**
 * Every guest disk with the failure domain of the service domain serving it, for the control
 * domain's heartbeat. A disk whose serving domain cannot be told, or whose names do not fit the
 * contract, is left out and said in `unplaced`.
 */
export const guestDisksOf = (reading: LdmDisksReading, options: GuestDiskOptions): GuestDisks => {
  const serviceDomain = new Map<string, string>();
  for (const service of options.services ?? []) serviceDomain.set(service.name, service.domain);
  for (const domain of reading.domains) {
    for (const service of domain.services) serviceDomain.set(service.name, domain.name);
  }
  const states = new Map((options.domains ?? []).map((domain) => [domain.name, domain.state]));
  const guests: GuestDisk[] = [];
  const unplaced: string[] = [];
  for (const domain of reading.domains) {
    const names = options.guestNames;
    const guest = names !== undefined && Object.hasOwn(names, domain.name) ? names[domain.name] : domain.name;
    const state = states.get(domain.name);
    for (const vdisk of domain.vdisks) {
      const server = vdisk.server ?? serviceDomain.get(vdisk.service) ?? null;
      if (server === null) {
        unplaced.push(`${domain.name} ${vdisk.name}: no domain runs ${vdisk.service}`);
        continue;
      }
      const disk = `c0d${vdisk.id}`;
      const failureDomain = `vdisk:${options.controlHostId}/${server}`;
      if (
        guest === undefined ||
        !ConsoleName.safeParse(guest).success ||
        !DiskName.safeParse(disk).success ||
        !FailureDomain.safeParse(failureDomain).success
      ) {
        unplaced.push(`${domain.name} ${vdisk.name}: ${guest ?? ''} ${disk} ${failureDomain} do not fit`);
        continue;
      }
      guests.push({ guest, disk, failureDomain, ...(state === undefined ? {} : { state }) });
    }
  }
  return { guests, unplaced };
};
