import { sealEvent } from '../agent/detect/envelope.ts';
import type { HostRole, Platform } from '../events/index.ts';
import type { EventDraft } from '../probes/event-draft.ts';
import type { ControlPlane } from './control-plane-client.ts';
import { DemoError } from './errors.ts';

/**
 * What the simulated hosts that run no storage agent share (the VIOS hosting partitions of
 * hosting-partition.ts, the LDoms control domain of control-domain.ts): a small driver speaks for
 * the host with its own agent token, as its agent would, sealing its events with the agent's own
 * envelope code (so they are what a real agent sends) and heartbeating every interval. A kind of
 * host adds its boot id and the events of its own story.
 */

/** A simulated host that only announces: heartbeats and the events of its reboots. */
export abstract class AnnouncingHost {
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly hostId: string,
    private readonly token: string,
    private readonly controlPlane: ControlPlane,
    protected readonly heartbeatSeconds: number,
    /** What its heartbeats say it is. */
    private readonly heartbeatAs: { platform: Platform; role: HostRole },
  ) {}

  /** The host's current boot, as its events carry it. */
  protected abstract get bootId(): string;

  /** Whether the host heartbeats now: a host that is down is silent. */
  protected beating(): boolean {
    return true;
  }

  /** Seals `draft` as the host's next event and posts it; a draft that breaks the contract throws. */
  protected async send(draft: EventDraft): Promise<void> {
    this.#seq += 1;
    const sealed = sealEvent(draft, { hostId: this.hostId, bootId: this.bootId }, this.#seq, new Date());
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
        platform: this.heartbeatAs.platform,
        role: this.heartbeatAs.role,
        agentVersion: 'demo',
        intervalSeconds: this.heartbeatSeconds,
        capabilities: [],
        arrays: [],
        paths: [],
        disks: [],
      },
    });
  }

  /** Heartbeats every interval while beating; a failed one is retried at the next beat. */
  start(onError: (error: Error) => void): Promise<void> {
    this.#timer = setInterval(() => {
      if (this.beating()) this.heartbeat().catch(onError);
    }, this.heartbeatSeconds * 1000);
    return this.heartbeat();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
