import type { DomainRole, GuestDisk } from '../../events/index.ts';
import type { EventDraft } from '../../probes/event-draft.ts';
import { parseLdmList } from '../../probes/ldm.ts';
import { guestDisksOf, parseLdmDisks } from '../../probes/ldm-disks.ts';
import { parseLdmServices, serviceDomainsOf, type VirtualDiskService } from '../../probes/ldm-services.ts';
import { ldmDomainUptimes } from '../../probes/ldm-uptime.ts';
import type { AgentConfig } from '../config.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { ServeStateStore } from './serve-state.ts';
import { describeResult } from './server-commands.ts';
import { readBoot, type ServerTools } from './server-host.ts';
import type { OwnDomains, ServerCheck, ServerRole } from './server-role.ts';
import {
  type DomainSighting,
  domainRuns,
  serviceDomainChanges,
  serviceDomainRoles,
} from './service-domains.ts';

/**
 * An LDoms control domain: it watches its service domains with `ldm list -p` at every check and
 * says, once per change and across its own restarts, `domain.going-down` for one it sees stop and
 * `domain.rebooted` for one it sees run again (service-domains.ts), each for
 * `vdisk:<this host>/<service domain>`. Its heartbeats list the service domains that run in
 * `serves` and its guests' disks (`ldm list -o disk -p`) in `guests`.
 *
 * The control domain (the domain with the `c` flag, `primary`) serves disks too when it runs a
 * virtual disk service; it cannot watch itself stop, so its own reboot is announced like a hosting
 * partition's IPL: `domain.rebooted` once per boot, once `ldm` lists its virtual disk service, and
 * `announce going-down` at its shutdown.
 *
 * Solaris SPARC has no Node.js, so on real hardware the control domain runs the sh agent, which
 * posts the raw `ldm` outputs for the control plane to read with the same parsers; this role is
 * the Node agent's, for a host whose `ldm` answers (the simulated fleet, or a future Node port).
 */

const LDM_TIMEOUT_MS = 30_000;

const controlDomainOf = (domains: readonly { name: string; flags: string }[]): string =>
  domains.find((domain) => domain.flags[3] === 'c')?.name ?? 'primary';

export class ControlRole implements ServerRole {
  readonly role = 'control' as const;
  private lastServes: string[] = [];
  private lastGuests: GuestDisk[] | undefined;
  private lastServices: VirtualDiskService[] | undefined;
  private ldmFailing = false;
  private readonly warned = new Set<string>();

  constructor(
    private readonly config: Pick<AgentConfig, 'platform' | 'root' | 'hostId' | 'control'>,
    private readonly bootId: string,
    private readonly state: ServeStateStore,
    private readonly tools: ServerTools,
    private readonly log: AgentLog,
  ) {}

  private domainOf(serviceDomain: string): string {
    return `vdisk:${this.config.hostId}/${serviceDomain}`;
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message) || this.warned.size > 256) return;
    this.warned.add(message);
    this.log.warn(message);
  }

  private async services(): Promise<VirtualDiskService[] | undefined> {
    const argv = ['ldm', 'list-services', '-p'];
    const result = await this.tools.run(argv, { timeoutMs: LDM_TIMEOUT_MS });
    if (result.exitCode !== 0) {
      this.warnOnce(`cannot list the virtual disk services: ${describeResult(argv, result)}`);
      return this.lastServices;
    }
    const reading = parseLdmServices(result.stdout);
    for (const warning of reading.warnings)
      this.warnOnce(`ldm list-services -p line ${warning.line}: ${warning.reason}`);
    this.lastServices = reading.services;
    return reading.services;
  }

  async check(now: Date): Promise<ServerCheck> {
    const boot = await readBoot(
      { platform: this.config.platform, root: this.config.root, bootId: this.bootId, now },
      this.tools,
    );
    const base = boot.bootedAt === undefined ? {} : { bootedAt: boot.bootedAt };
    const listArgv = ['ldm', 'list', '-p'];
    const list = await this.tools.run(listArgv, { timeoutMs: LDM_TIMEOUT_MS });
    if (list.exitCode !== 0) {
      // No look, no change: what it last saw stands until ldm answers again.
      if (!this.ldmFailing)
        this.log.warn(`cannot watch the service domains: ${describeResult(listArgv, list)}`);
      this.ldmFailing = true;
      return {
        drafts: [],
        report: {
          ...base,
          serves: this.lastServes,
          ...(this.lastGuests === undefined ? {} : { guests: this.lastGuests }),
        },
        commit: () => undefined,
      };
    }
    if (this.ldmFailing) this.log.info('ldm answers again');
    this.ldmFailing = false;
    const reading = parseLdmList(list.stdout);
    const uptimes = ldmDomainUptimes(list.stdout);
    const controlDomain = controlDomainOf(reading.domains);
    const services = (await this.services()) ?? [];

    const disksArgv = ['ldm', 'list', '-o', 'disk', '-p'];
    const disks = await this.tools.run(disksArgv, { timeoutMs: LDM_TIMEOUT_MS });
    let guests = this.lastGuests;
    let exporting = serviceDomainsOf(services);
    if (disks.exitCode === 0) {
      const diskReading = parseLdmDisks(disks.stdout);
      const placed = guestDisksOf(diskReading, {
        controlHostId: this.config.hostId,
        services,
        domains: reading.domains,
        ...(this.config.control?.guestHostIds === undefined
          ? {}
          : { guestNames: this.config.control.guestHostIds }),
      });
      for (const reason of placed.unplaced) this.warnOnce(`guest disk not reported: ${reason}`);
      guests = placed.guests;
      this.lastGuests = guests;
      exporting = [
        ...new Set([
          ...exporting,
          ...diskReading.domains.filter((domain) => domain.services.length > 0).map((domain) => domain.name),
        ]),
      ];
    } else {
      this.warnOnce(`cannot list the guests' disks: ${describeResult(disksArgv, disks)}`);
    }
    if (exporting.length === 0) exporting = Object.keys(this.state.state.serviceDomains);
    const roles = serviceDomainRoles(this.config.control?.serviceDomains, exporting, controlDomain);

    // Every service domain but this one: it cannot watch itself stop (its own boot is below).
    const watched = new Map([...roles].filter(([name]) => name !== controlDomain));
    const sightings: DomainSighting[] = reading.domains.map((domain) => ({
      ...domain,
      uptimeSeconds: uptimes.get(domain.name) ?? null,
    }));
    const { changes, next } = serviceDomainChanges(this.state.state.serviceDomains, sightings, watched, now);
    const drafts: EventDraft[] = changes.map((change) =>
      change.kind === 'down'
        ? {
            type: 'domain.going-down',
            subject: change.domain,
            data: { failureDomain: this.domainOf(change.domain), reason: change.reason },
          }
        : {
            type: 'domain.rebooted',
            subject: change.domain,
            data: {
              domain: change.domain,
              role: change.role,
              failureDomain: this.domainOf(change.domain),
              bootedAt: change.bootedAt,
            },
          },
    );

    const ownRole: DomainRole | undefined = roles.get(controlDomain);
    const ownRuns = ownRole !== undefined && services.some((service) => service.domain === controlDomain);
    const ownDomain = this.domainOf(controlDomain);
    const announced = this.state.state.announcedBoot;
    const announceOwn =
      ownRuns && !(announced?.bootKey === boot.bootKey && announced.failureDomain === ownDomain);
    const bootedAt = boot.bootedAt ?? now.toISOString();
    if (announceOwn && ownRole !== undefined) {
      drafts.push({
        type: 'domain.rebooted',
        subject: controlDomain,
        data: { domain: controlDomain, role: ownRole, failureDomain: ownDomain, bootedAt },
      });
    }

    const serves = sightings
      .filter((domain) => watched.has(domain.name) && domainRuns(domain))
      .map((domain) => this.domainOf(domain.name));
    if (ownRuns) serves.unshift(ownDomain);
    this.lastServes = serves;
    const ownDomains = ownRole === undefined ? [] : [ownDomain];
    const recorded = this.state.state;
    // Written when a domain changed, appeared or went, or the own boot was announced; the times of
    // unchanged looks stay in memory (after a restart the older recorded look still tells a reboot).
    const persist =
      changes.length > 0 ||
      announceOwn ||
      !sameUpStates(next, recorded.serviceDomains) ||
      JSON.stringify(recorded.ownDomains) !== JSON.stringify(ownDomains);
    return {
      drafts,
      report: { ...base, serves, ...(guests === undefined ? {} : { guests }) },
      commit: () => {
        const change = (state: typeof recorded) => ({
          ...state,
          serviceDomains: next,
          ownDomains,
          ...(announceOwn
            ? {
                announcedBoot: {
                  bootKey: boot.bootKey,
                  bootedAt,
                  announcedAt: now.toISOString(),
                  failureDomain: ownDomain,
                },
              }
            : {}),
        });
        if (persist) this.state.update(change);
        else this.state.updateInMemory(change);
      },
    };
  }

  async ownDomains(): Promise<OwnDomains> {
    const services = await this.services();
    if (services !== undefined) {
      const list = await this.tools.run(['ldm', 'list', '-p'], { timeoutMs: LDM_TIMEOUT_MS });
      const controlDomain =
        list.exitCode === 0 ? controlDomainOf(parseLdmList(list.stdout).domains) : 'primary';
      const roles = serviceDomainRoles(
        this.config.control?.serviceDomains,
        serviceDomainsOf(services),
        controlDomain,
      );
      return roles.has(controlDomain)
        ? { domains: [this.domainOf(controlDomain)] }
        : {
            domains: [],
            reason: `the control domain ${controlDomain} is no service domain (it runs no virtual disk service, or control.serviceDomains leaves it out)`,
          };
    }
    const recorded = this.state.state.ownDomains;
    if (recorded !== undefined)
      return recorded.length > 0
        ? { domains: recorded }
        : { domains: [], reason: 'the control domain runs no virtual disk service' };
    return { domains: [], reason: 'ldm does not answer and no earlier run recorded what this domain serves' };
  }
}

const sameUpStates = (
  left: Record<string, { up: boolean }>,
  right: Record<string, { up: boolean }>,
): boolean => {
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every((key) => Object.hasOwn(right, key) && right[key]?.up === left[key]?.up)
  );
};
