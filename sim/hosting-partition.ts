import { AnnouncingHost } from './announcing-host.ts';
import type { ControlPlane } from './control-plane-client.ts';

/**
 * A simulated VIOS hosting partition: a small driver that speaks for it with its own agent token,
 * as its agent would (docs/architecture.md §1, "the serving side reports too"): heartbeats as role `hosting`
 * while it runs, silence while it is down, and `ipl.completed` with a new boot once it is back.
 * Its events are sealed by the agent's own envelope code (announcing-host.ts), so they are what a
 * real agent sends.
 */

/** The managed system every simulated partition lives in, as the HMC names it. */
export const SIM_SYSTEM = 'Server-9080-M9S-SN78AB12C';

export const vscsiDomain = (partition: string): string => `vscsi:${SIM_SYSTEM}/${partition}`;

export class HostingPartition extends AnnouncingHost {
  readonly failureDomain: string;
  private boot = 1;
  private up = true;

  constructor(hostId: string, token: string, controlPlane: ControlPlane, heartbeatSeconds: number) {
    super(hostId, token, controlPlane, heartbeatSeconds, { platform: 'linux', role: 'hosting' });
    this.failureDomain = vscsiDomain(hostId);
  }

  protected get bootId(): string {
    const tail = `${this.hostId.replace(/[^0-9a-f]/g, '0')}${this.boot}`.padStart(12, '0').slice(-12);
    return `5e1f0000-0000-4000-8000-${tail}`;
  }

  /** Heartbeats only while up. */
  protected override beating(): boolean {
    return this.up;
  }

  /** The partition goes down without a word (an IPL, a crash): its heartbeats stop. */
  goDown(): void {
    this.up = false;
  }

  /** The partition is back: a new boot, `ipl.completed`, heartbeats again. */
  async comeBack(): Promise<void> {
    this.boot += 1;
    const bootedAt = new Date().toISOString();
    await this.send({
      type: 'ipl.completed',
      subject: this.hostId,
      data: { partition: this.hostId, system: SIM_SYSTEM, failureDomain: this.failureDomain, bootedAt },
    });
    this.up = true;
    await this.heartbeat();
  }
}
