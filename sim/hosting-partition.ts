import { sealEvent } from '../agent/detect/envelope.ts';
import type { EventDraft } from '../probes/event-draft.ts';
import type { ControlPlane } from './control-plane-client.ts';
import { DemoError } from './errors.ts';

/**
 * A simulated VIOS hosting partition: a small driver that speaks for it with its own agent token,
 * as its agent would (DESIGN.md §1, "the serving side reports too"): heartbeats as role `hosting`
 * while it runs, silence while it is down, and `ipl.completed` with a new boot once it is back.
 * Its events are sealed by the agent's own envelope code, so they are what a real agent sends.
 */

/** The managed system every simulated partition lives in, as the HMC names it. */
export const SIM_SYSTEM = 'Server-9080-M9S-SN78AB12C';

export const vscsiDomain = (partition: string): string => `vscsi:${SIM_SYSTEM}/${partition}`;

export class HostingPartition {
  readonly failureDomain: string;
  private seq = 0;
  private boot = 1;
  private up = true;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly hostId: string,
    private readonly token: string,
    private readonly controlPlane: ControlPlane,
    private readonly heartbeatSeconds: number,
  ) {
    this.failureDomain = vscsiDomain(hostId);
  }

  private get bootId(): string {
    const tail = `${this.hostId.replace(/[^0-9a-f]/g, '0')}${this.boot}`.padStart(12, '0').slice(-12);
    return `5e1f0000-0000-4000-8000-${tail}`;
  }

  private async send(draft: EventDraft): Promise<void> {
    this.seq += 1;
    const sealed = sealEvent(draft, { hostId: this.hostId, bootId: this.bootId }, this.seq, new Date());
    if (!sealed.ok) {
      throw new DemoError(
        'api-error',
        `${draft.type} of ${this.hostId} breaks the contract: ${JSON.stringify(sealed.issues)}`,
      );
    }
    await this.controlPlane.postEvents([sealed.event], this.token);
  }

  heartbeat(): Promise<void> {
    return this.send({
      type: 'host.heartbeat',
      subject: this.hostId,
      data: {
        platform: 'linux',
        role: 'hosting',
        agentVersion: 'demo',
        intervalSeconds: this.heartbeatSeconds,
        capabilities: [],
        arrays: [],
        paths: [],
        disks: [],
      },
    });
  }

  /** Heartbeats every interval while up; a failed one is retried at the next beat. */
  start(onError: (error: Error) => void): Promise<void> {
    this.timer = setInterval(() => {
      if (this.up) this.heartbeat().catch(onError);
    }, this.heartbeatSeconds * 1000);
    return this.heartbeat();
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

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
