import { setTimeout as delay } from 'node:timers/promises';
import { ldomsLayout } from './fake-host/fake-ldm.mjs';
import { runServerTool } from './fake-host/server-tools.mjs';
import { type SimServerOptions, SimulatedServer } from './simulated-server.ts';

/**
 * A simulated LDoms control domain running the real agent as role `control` (docs/architecture.md
 * §3): it watches its service domains with `ldm list -p` every second and says itself
 * `domain.going-down` for one it sees stop and `domain.rebooted` for one it sees run again, lists
 * those that run in `serves`, and reports its guests' disks from `ldm list -o disk -p` in
 * `guests` (which service domain serves each guest's `c0d<id>`), so a guest's members carry
 * `vdisk:<control>/<service domain>` with no topology written by hand. Its `ldm` is the fake of
 * sim/fake-host/fake-ldm.mjs: a `primary` control domain and an `alternate` service domain, each
 * exporting one virtual disk to every guest (guest disk 0 from the primary, disk 1 from the
 * alternate); a guest's domain name is its host id (§3).
 *
 * Rebooting the alternate is what an operator does on the control domain: `ldm stop alternate`,
 * then `ldm start alternate`; the domain is in transition while it boots, then runs.
 */

/** The service domains of the simulated control domain, as `ldm` names them. */
export const SERVICE_DOMAINS = { primary: 'primary', alternate: 'alternate' } as const;

/** How long the alternate service domain takes to boot after `ldm start` (OpenBoot and Solaris). */
const SERVICE_DOMAIN_BOOT_SECONDS = 2;
const POLL_MS = 200;

export const vdiskDomain = (control: string, serviceDomain: string): string =>
  `vdisk:${control}/${serviceDomain}`;

export type SimControlDomainOptions = SimServerOptions & {
  /** The guests' domain names, which are their host ids. */
  guests: readonly string[];
};

export class SimControlDomain extends SimulatedServer {
  constructor(options: SimControlDomainOptions) {
    super(options, {
      role: 'control',
      platform: 'solaris',
      server: {
        now: null,
        ldoms: ldomsLayout({
          guests: [...options.guests],
          startedAt: Date.now() - 86_400_000,
          bootSeconds: SERVICE_DOMAIN_BOOT_SECONDS,
        }),
        vios: null,
      },
      section: {},
    });
  }

  /** The failure domains its service domains serve (its grant). */
  get serves(): string[] {
    return Object.values(SERVICE_DOMAINS).map((service) => vdiskDomain(this.hostId, service));
  }

  /** The failure domain of a service domain of it. */
  domainOf(serviceDomain: string): string {
    return vdiskDomain(this.hostId, serviceDomain);
  }

  #ldm(...argv: string[]): void {
    const result = runServerTool('ldm', argv, this.host.root);
    if (result.code !== 0) throw new Error(`ldm ${argv.join(' ')}: ${result.stderr.trim()}`);
  }

  /** `ldm stop <domain>`: it stops; the agent sees it at its next look (asked for now). */
  async stopServiceDomain(name: string): Promise<void> {
    this.#ldm('stop', name);
    await this.checkNow();
  }

  /**
   * `ldm start <domain>`, then it boots; resolves once `ldm list` shows it running normally (the
   * agent says `domain.rebooted` at its next look, within a second, or at `checkNow`).
   */
  async startServiceDomain(name: string): Promise<void> {
    this.#ldm('start', name);
    for (;;) {
      const list = runServerTool('ldm', ['list', '-p', name], this.host.root);
      if (/\|flags=-n/.test(list.stdout)) break;
      await delay(POLL_MS);
    }
  }
}
