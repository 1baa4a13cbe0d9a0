import { AnnouncingHost } from './announcing-host.ts';
import type { ControlPlane } from './control-plane-client.ts';

/**
 * A simulated LDoms control domain: a small driver that speaks for it with its own agent token, as
 * its agent would (docs/architecture.md §1, "a control domain's agent reports that a service domain
 * rebooted"): heartbeats as role `control`, `domain.going-down` for the alternate service domain
 * before it reboots, and `domain.rebooted` with its new boot time once it is back. The control
 * domain itself stays up throughout. Its events are sealed by the agent's own envelope code
 * (announcing-host.ts).
 */

/** The service domains of the demo's control domain, as `ldm` names them. */
export const SERVICE_DOMAINS = { primary: 'primary', alternate: 'alternate' } as const;

export const vdiskDomain = (control: string, serviceDomain: string): string =>
  `vdisk:${control}/${serviceDomain}`;

export class ControlDomain extends AnnouncingHost {
  constructor(hostId: string, token: string, controlPlane: ControlPlane, heartbeatSeconds: number) {
    super(hostId, token, controlPlane, heartbeatSeconds, { platform: 'solaris', role: 'control' });
  }

  /** The failure domain of the alternate service domain's virtual disks. */
  get alternateDomain(): string {
    return vdiskDomain(this.hostId, SERVICE_DOMAINS.alternate);
  }

  protected get bootId(): string {
    const tail = this.hostId
      .replace(/[^0-9a-f]/g, '0')
      .padStart(12, '0')
      .slice(-12);
    return `c0d00000-0000-4000-8000-${tail}`;
  }

  /** The alternate service domain is about to reboot: announced before its disks go. */
  alternateGoingDown(): Promise<void> {
    return this.send({
      type: 'domain.going-down',
      subject: this.hostId,
      data: { failureDomain: this.alternateDomain, reason: 'alternate service domain rebooting' },
    });
  }

  /** The alternate service domain is back with a new boot. */
  alternateRebooted(): Promise<void> {
    return this.send({
      type: 'domain.rebooted',
      subject: this.hostId,
      data: {
        domain: SERVICE_DOMAINS.alternate,
        role: 'alternate',
        failureDomain: this.alternateDomain,
        bootedAt: new Date().toISOString(),
      },
    });
  }
}
