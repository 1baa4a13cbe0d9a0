import type { DomainRole, GuestDisk, LdomsDomain } from '../events/index.ts';
import type { EventDraft } from './event-draft.ts';
import { parseLdmList } from './ldm.ts';
import { guestDisksOf, parseLdmDisks } from './ldm-disks.ts';
import { serviceDomainsOf, type VirtualDiskService } from './ldm-services.ts';
import { ldmDomainUptimes } from './ldm-uptime.ts';
import {
  type DomainSighting,
  domainRuns,
  type RecordedServiceDomain,
  serviceDomainChanges,
  serviceDomainRoles,
} from './service-domains.ts';

/**
 * What an LDoms control domain says of its service domains at one look (docs/architecture.md §3,
 * "Who says a server is down or back"), from the text of `ldm list -p` and `ldm list -o disk -p`
 * and what it remembered from the look before. Pure: the Node agent's control role
 * (agent/serve/control-role.ts) runs the tools and keeps the memory in `serve.json`; the control
 * plane reads the same outputs from the sh agent's collect (`POST /v1/agents/:hostId/collect`) and
 * keeps the memory with the host's last collect. Both get the same drafts from the same looks:
 *
 * - `domain.going-down` for a service domain seen to stop and `domain.rebooted` for one seen to
 *   run again (./service-domains.ts), each for `vdisk:<control host>/<service domain>`;
 * - the control domain's own `domain.rebooted`, once per boot, once it runs a virtual disk service
 *   (it cannot watch itself stop; its shutdown announces `going-down`, {@link controlOwnDomains});
 * - for its heartbeats, `serves` (the service domains that run, its own first) and `guests` (each
 *   guest's virtual disks with the service domain behind each, ./ldm-disks.ts).
 *
 * The service domains are the configuration's, else every domain that exports a virtual disk
 * service (in `ldm list-services -p` where the agent reads it, and in the `VDS` records of
 * `ldm list -o disk -p`), else those remembered.
 */

/** The control domain: the one `ldm list` flags `c` (column 4), `primary` when none is. */
export const controlDomainOf = (domains: readonly Pick<LdomsDomain, 'name' | 'flags'>[]): string =>
  domains.find((domain) => domain.flags[3] === 'c')?.name ?? 'primary';

/** The failure domain of a service domain of this control domain: `vdisk:<control host>/<domain>`. */
export const vdiskDomainOf = (controlHostId: string, serviceDomain: string): string =>
  `vdisk:${controlHostId}/${serviceDomain}`;

/** The boot the control domain announced its own `domain.rebooted` for. */
export type AnnouncedOwnBoot = {
  bootKey: string;
  bootedAt?: string | undefined;
  announcedAt: string;
  failureDomain: string;
};

/** What a control domain remembers between two looks. */
export type ControlMemory = {
  serviceDomains: Readonly<Record<string, RecordedServiceDomain>>;
  announcedBoot?: AnnouncedOwnBoot | undefined;
};

export type ControlLookInput = {
  /** The control domain's host id: the `<control>` of `vdisk:<control>/<service domain>`. */
  hostId: string;
  /** `ldm list -p`. */
  ldmList: string;
  /** `ldm list -o disk -p`, or null when it could not be read. */
  ldmDisks: string | null;
  /**
   * The virtual disk services: `ldm list-services -p` where the agent reads it, else the `VDS`
   * records of `ldm list -o disk -p` ({@link servicesOfDisks}). The control domain announces its
   * own boot only once one of them is its own.
   */
  services?: readonly VirtualDiskService[];
  /** The configuration's service domains and their roles (`control.serviceDomains`). */
  configuredRoles?: Readonly<Record<string, DomainRole>> | undefined;
  /** A guest's host id where it is not its domain name (`control.guestHostIds`). */
  guestNames?: Readonly<Record<string, string>> | undefined;
  memory: ControlMemory;
  /** This boot: a key that changes with the next boot, and the kernel's boot time when known. */
  boot: { bootKey: string; bootedAt: string | undefined };
  now: Date;
};

export type ControlLook = {
  /** `domain.going-down` and `domain.rebooted`, in the order to emit them. */
  drafts: EventDraft[];
  /** The failure domains served now, the control domain's own first. */
  serves: string[];
  /** The guests' disks, or undefined when `ldm list -o disk -p` was not read. */
  guests: GuestDisk[] | undefined;
  /** Guest disks left out, one reason each. */
  unplaced: string[];
  /** What to remember for the next look. */
  memory: ControlMemory;
  /** The failure domains its own shutdown takes away (its own, while it is a service domain). */
  ownDomains: string[];
  /** Whether a service domain changed: a memory worth writing down at once. */
  changed: boolean;
  /** Whether its own boot was announced at this look. */
  announcedOwn: boolean;
};

/** The virtual disk services the `VDS` records of `ldm list -o disk -p` list, each with its domain. */
export const servicesOfDisks = (ldmDisks: string): VirtualDiskService[] =>
  parseLdmDisks(ldmDisks).domains.flatMap((domain) => domain.services);

/** One look (see the module's comment). */
export const controlLook = (input: ControlLookInput): ControlLook => {
  const reading = parseLdmList(input.ldmList);
  const uptimes = ldmDomainUptimes(input.ldmList);
  const controlDomain = controlDomainOf(reading.domains);
  const services = input.services ?? [];
  const domainOf = (serviceDomain: string): string => vdiskDomainOf(input.hostId, serviceDomain);

  let guests: GuestDisk[] | undefined;
  let unplaced: string[] = [];
  let exporting = serviceDomainsOf(services);
  if (input.ldmDisks !== null) {
    const disks = parseLdmDisks(input.ldmDisks);
    const placed = guestDisksOf(disks, {
      controlHostId: input.hostId,
      services,
      domains: reading.domains,
      ...(input.guestNames === undefined ? {} : { guestNames: input.guestNames }),
    });
    guests = placed.guests;
    unplaced = placed.unplaced;
    exporting = [
      ...new Set([
        ...exporting,
        ...disks.domains.filter((domain) => domain.services.length > 0).map((domain) => domain.name),
      ]),
    ];
  }
  if (exporting.length === 0) exporting = Object.keys(input.memory.serviceDomains);
  const roles = serviceDomainRoles(input.configuredRoles, exporting, controlDomain);

  // Every service domain but this one: it cannot watch itself stop (its own boot is below).
  const watched = new Map([...roles].filter(([name]) => name !== controlDomain));
  const sightings: DomainSighting[] = reading.domains.map((domain) => ({
    ...domain,
    uptimeSeconds: uptimes.get(domain.name) ?? null,
  }));
  const { changes, next } = serviceDomainChanges(input.memory.serviceDomains, sightings, watched, input.now);
  const drafts: EventDraft[] = changes.map((change) =>
    change.kind === 'down'
      ? {
          type: 'domain.going-down',
          subject: change.domain,
          data: { failureDomain: domainOf(change.domain), reason: change.reason },
        }
      : {
          type: 'domain.rebooted',
          subject: change.domain,
          data: {
            domain: change.domain,
            role: change.role,
            failureDomain: domainOf(change.domain),
            bootedAt: change.bootedAt,
          },
        },
  );

  const ownRole = roles.get(controlDomain);
  const ownRuns = ownRole !== undefined && services.some((service) => service.domain === controlDomain);
  const ownDomain = domainOf(controlDomain);
  const announced = input.memory.announcedBoot;
  const announceOwn =
    ownRuns && !(announced?.bootKey === input.boot.bootKey && announced.failureDomain === ownDomain);
  const bootedAt = input.boot.bootedAt ?? input.now.toISOString();
  if (announceOwn && ownRole !== undefined) {
    drafts.push({
      type: 'domain.rebooted',
      subject: controlDomain,
      data: { domain: controlDomain, role: ownRole, failureDomain: ownDomain, bootedAt },
    });
  }

  const serves = sightings
    .filter((domain) => watched.has(domain.name) && domainRuns(domain))
    .map((domain) => domainOf(domain.name));
  if (ownRuns) serves.unshift(ownDomain);
  return {
    drafts,
    serves,
    guests,
    unplaced,
    memory: {
      serviceDomains: next,
      announcedBoot: announceOwn
        ? {
            bootKey: input.boot.bootKey,
            bootedAt,
            announcedAt: input.now.toISOString(),
            failureDomain: ownDomain,
          }
        : announced,
    },
    ownDomains: ownRole === undefined ? [] : [ownDomain],
    changed: changes.length > 0,
    announcedOwn: announceOwn,
  };
};

/** The domains a control domain's own shutdown takes away, or why it names none. */
export type ControlOwnDomains = { domains: string[]; reason?: string };

/**
 * What `announce going-down` names on a control domain: its own failure domain while it is a
 * service domain (it runs a virtual disk service, and the configuration does not leave it out).
 */
export const controlOwnDomains = (input: {
  hostId: string;
  /** `ldm list -p`, or null when it could not be read (the control domain is then `primary`). */
  ldmList: string | null;
  services: readonly VirtualDiskService[];
  configuredRoles?: Readonly<Record<string, DomainRole>> | undefined;
}): ControlOwnDomains => {
  const controlDomain =
    input.ldmList === null ? 'primary' : controlDomainOf(parseLdmList(input.ldmList).domains);
  const roles = serviceDomainRoles(input.configuredRoles, serviceDomainsOf(input.services), controlDomain);
  return roles.has(controlDomain)
    ? { domains: [vdiskDomainOf(input.hostId, controlDomain)] }
    : {
        domains: [],
        reason: `the control domain ${controlDomain} is no service domain (it runs no virtual disk service, or control.serviceDomains leaves it out)`,
      };
};
