import type { GuestDisk } from '../../events/index.ts';
import { controlLook, controlOwnDomains } from '../../probes/control-domain.ts';
import { parseLdmServices, type VirtualDiskService } from '../../probes/ldm-services.ts';
import type { AgentConfig } from '../config.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { ServeStateStore } from './serve-state.ts';
import { describeResult } from './server-commands.ts';
import { readBoot, type ServerTools } from './server-host.ts';
import type { OwnDomains, ServerCheck, ServerRole } from './server-role.ts';

/**
 * An LDoms control domain: it watches its service domains with `ldm list -p` at every check and
 * says, once per change and across its own restarts, `domain.going-down` for one it sees stop and
 * `domain.rebooted` for one it sees run again (probes/service-domains.ts), each for
 * `vdisk:<this host>/<service domain>`. Its heartbeats list the service domains that run in
 * `serves` and its guests' disks (`ldm list -o disk -p`) in `guests`.
 *
 * The control domain (the domain with the `c` flag, `primary`) serves disks too when it runs a
 * virtual disk service; it cannot watch itself stop, so its own reboot is announced like a hosting
 * partition's IPL: `domain.rebooted` once per boot, once `ldm` lists its virtual disk service, and
 * `announce going-down` at its shutdown.
 *
 * What a look at `ldm` says is decided in probes/control-domain.ts (pure); this role runs the tools
 * and keeps the memory. Solaris SPARC has no Node.js, so on real hardware the control domain runs
 * the sh agent, which posts the raw `ldm` outputs for the control plane to read with the same
 * parsers and the same decision; this role is the Node agent's, for a host whose `ldm` answers
 * (the simulated fleet, or a future Node port).
 */

const LDM_TIMEOUT_MS = 30_000;

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
    const services = (await this.services()) ?? [];

    const disksArgv = ['ldm', 'list', '-o', 'disk', '-p'];
    const disks = await this.tools.run(disksArgv, { timeoutMs: LDM_TIMEOUT_MS });
    if (disks.exitCode !== 0) {
      this.warnOnce(`cannot list the guests' disks: ${describeResult(disksArgv, disks)}`);
    }
    const recorded = this.state.state;
    const look = controlLook({
      hostId: this.config.hostId,
      ldmList: list.stdout,
      ldmDisks: disks.exitCode === 0 ? disks.stdout : null,
      services,
      configuredRoles: this.config.control?.serviceDomains,
      guestNames: this.config.control?.guestHostIds,
      memory: { serviceDomains: recorded.serviceDomains, announcedBoot: recorded.announcedBoot },
      boot: { bootKey: boot.bootKey, bootedAt: boot.bootedAt },
      now,
    });
    for (const reason of look.unplaced) this.warnOnce(`guest disk not reported: ${reason}`);
    if (look.guests !== undefined) this.lastGuests = look.guests;
    const guests = this.lastGuests;
    this.lastServes = look.serves;
    const next = { ...look.memory.serviceDomains };
    const ownDomains = look.ownDomains;
    // Written when a domain changed, appeared or went, or the own boot was announced; the times of
    // unchanged looks stay in memory (after a restart the older recorded look still tells a reboot).
    const persist =
      look.changed ||
      look.announcedOwn ||
      !sameUpStates(next, recorded.serviceDomains) ||
      JSON.stringify(recorded.ownDomains) !== JSON.stringify(ownDomains);
    const announcedBoot = look.announcedOwn ? look.memory.announcedBoot : undefined;
    return {
      drafts: look.drafts,
      report: { ...base, serves: look.serves, ...(guests === undefined ? {} : { guests }) },
      commit: () => {
        const change = (state: typeof recorded) => ({
          ...state,
          serviceDomains: next,
          ownDomains,
          ...(announcedBoot === undefined ? {} : { announcedBoot }),
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
      return controlOwnDomains({
        hostId: this.config.hostId,
        ldmList: list.exitCode === 0 ? list.stdout : null,
        services,
        configuredRoles: this.config.control?.serviceDomains,
      });
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
