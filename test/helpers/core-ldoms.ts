import type { FaultlineEvent, GuestDisk, Member, PlanAction } from '../../events/index.ts';
import { Agent } from './core-fleet.ts';

/**
 * Builders for an LDoms control domain and its guests as the shipped agents run them (DESIGN §3
 * heartbeat `guests`): the control domain's heartbeats carry `bootedAt`, `serves` (a
 * `vdisk:<control>/<service domain>` for each service domain that runs) and `guests` (which service
 * domain serves each guest's virtual disk); it says `domain.going-down` and `domain.rebooted` for a
 * service domain it sees stop and run again. A guest runs SVM mirror `d10` over `c0d0s0` (submirror
 * `d11`, served by `primary`) and `c0d1s0` (`d12`, served by `alternate`) and, with no topology file,
 * cannot tell which service domain serves which disk: its members carry `local:<its host id>`.
 */

/** A control domain running the service domains `primary` and `alternate`. */
export class ControlDomain extends Agent {
  readonly bootedAt: string;

  constructor(hostId: string, bootedAt: string) {
    super(hostId, 'control');
    this.bootedAt = bootedAt;
  }

  domainOf(serviceDomain: string): string {
    return `vdisk:${this.hostId}/${serviceDomain}`;
  }

  get primary(): string {
    return this.domainOf('primary');
  }

  get alternate(): string {
    return this.domainOf('alternate');
  }

  /** Its heartbeat: `serves` the service domains running (both, unless told), `guests` their disks. */
  heartbeat(
    time: string,
    options: { running?: readonly string[]; guests?: readonly GuestDisk[]; receivedat?: string } = {},
  ): FaultlineEvent {
    const running = options.running ?? ['primary', 'alternate'];
    return this.event(
      'host.heartbeat',
      this.hostId,
      {
        platform: 'solaris',
        role: 'control',
        agentVersion: '0.1.0',
        intervalSeconds: 60,
        capabilities: [],
        arrays: [],
        paths: [],
        disks: [],
        bootedAt: this.bootedAt,
        serves: running.map((serviceDomain) => this.domainOf(serviceDomain)),
        ...(options.guests === undefined ? {} : { guests: [...options.guests] }),
      },
      time,
      options.receivedat === undefined ? {} : { receivedat: options.receivedat },
    );
  }

  goingDown(serviceDomain: string, time: string): FaultlineEvent {
    return this.event(
      'domain.going-down',
      serviceDomain,
      { failureDomain: this.domainOf(serviceDomain), reason: `ldm stop-domain ${serviceDomain}` },
      time,
    );
  }

  rebooted(serviceDomain: string, time: string, bootedAt: string): FaultlineEvent {
    return this.event(
      'domain.rebooted',
      serviceDomain,
      {
        domain: serviceDomain,
        role: serviceDomain === 'primary' ? 'primary' : 'alternate',
        failureDomain: this.domainOf(serviceDomain),
        bootedAt,
      },
      time,
    );
  }
}

const SVM_ACTIONS: PlanAction[] = ['disk.probe', 'svm.metareplace', 'svm.wait-sync'];

/** An LDoms guest with SVM mirror `d10` over one virtual disk from each service domain. */
export class LdomsGuest extends Agent {
  /**
   * With `topology`, the failure domain its agent's topology file gives each disk (`c0d0`, `c0d1`);
   * without, each is `local:<host id>`.
   */
  constructor(
    hostId: string,
    readonly topology: Readonly<Record<string, string>> = {},
  ) {
    super(hostId);
  }

  private domainOfDisk(disk: string): string {
    return this.topology[disk] ?? `local:${this.hostId}`;
  }

  /** The disks as its control domain reports them in `guests`. */
  guestDisks(control: ControlDomain): GuestDisk[] {
    return [
      { guest: this.hostId, disk: 'c0d0', failureDomain: control.primary },
      { guest: this.hostId, disk: 'c0d1', failureDomain: control.alternate },
    ];
  }

  /** The two submirrors' components, in the states given (`c0d0s0`, then `c0d1s0`). */
  members(primary: Member['state'], alternate: Member['state']): Member[] {
    return [
      {
        device: 'c0d0s0',
        disk: 'c0d0',
        state: primary,
        failureDomain: this.domainOfDisk('c0d0'),
        submirror: 'd11',
      },
      {
        device: 'c0d1s0',
        disk: 'c0d1',
        state: alternate,
        failureDomain: this.domainOfDisk('c0d1'),
        submirror: 'd12',
      },
    ];
  }

  /** Its heartbeat: `d10` clean, or, with `alternate`, that component in the state given. */
  heartbeat(time: string, options: { alternate?: Member['state'] } = {}): FaultlineEvent {
    const alternate = options.alternate ?? 'in-sync';
    return this.event(
      'host.heartbeat',
      this.hostId,
      {
        platform: 'solaris',
        role: 'client',
        agentVersion: '0.1.0',
        intervalSeconds: 60,
        capabilities: SVM_ACTIONS,
        arrays: [
          {
            array: 'd10',
            kind: 'svm',
            level: 'raid1',
            state: alternate === 'in-sync' ? 'clean' : 'degraded',
            members: this.members('in-sync', alternate),
          },
        ],
        paths: [],
        disks: ['c0d0', 'c0d1'].map((disk) => ({
          disk,
          driver: 'vdc',
          failureDomain: this.domainOfDisk(disk),
        })),
      },
      time,
    );
  }

  /** Its alternate-domain component goes to Maintenance. */
  degraded(time: string, options: { receivedat?: string } = {}): FaultlineEvent {
    return this.event(
      'mirror.degraded',
      'd10',
      { array: 'd10', kind: 'svm', level: 'raid1', members: this.members('in-sync', 'maintenance') },
      time,
      options.receivedat === undefined ? {} : { receivedat: options.receivedat },
    );
  }

  /** Both submirrors Okay again, as its plan's `svm.wait-sync` leaves them. */
  healthy(time: string, planid?: string): FaultlineEvent {
    return this.event(
      'mirror.healthy',
      'd10',
      { array: 'd10', kind: 'svm', level: 'raid1', members: this.members('in-sync', 'in-sync') },
      time,
      planid === undefined ? {} : { planid },
    );
  }
}
