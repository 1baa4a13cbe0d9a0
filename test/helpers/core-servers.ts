import type { DeviceState, FaultlineEvent } from '../../events/index.ts';
import { HostingPartition, type Random, SYSTEM, VscsiClient } from './core-fleet.ts';

/**
 * Builders for issue 13's servers and clients (DESIGN §3 "Who says a server is down or back",
 * §5.2–5.3): a hosting partition whose heartbeats carry `bootedAt` and `serves` and that reboots
 * without announcing it, and a client that probes the disk of its faulty member each interval and
 * reports it in its heartbeat's `disks` and as `disk.probed` without `planid` when it reads again.
 */

/** A hosting partition as the shipped agent runs it: heartbeats with `bootedAt` and `serves`. */
export class ServingPartition extends HostingPartition {
  bootedAt: string;

  constructor(hostId: string, failureDomain: string, bootedAt: string) {
    super(hostId, failureDomain);
    this.bootedAt = bootedAt;
  }

  /** A reboot: a new `bootid` and boot time; nothing is sent (its `ipl.completed` may be lost). */
  reboot(bootedAt: string): void {
    this.bootid = `${this.hostId}-boot-${bootedAt.slice(11, 19).replaceAll(':', '')}`;
    this.bootedAt = bootedAt;
  }

  /** A heartbeat listing its domain in `serves` (its serving check passes), or, `serving: false`, none. */
  servingHeartbeat(
    time: string,
    options: { serving?: boolean; receivedat?: string; bootedAt?: string } = {},
  ): FaultlineEvent {
    const event = this.heartbeat(time);
    if (event.type !== 'host.heartbeat') throw new Error('a heartbeat builder changed');
    return {
      ...event,
      ...(options.receivedat === undefined ? {} : { receivedat: options.receivedat }),
      data: {
        ...event.data,
        bootedAt: options.bootedAt ?? this.bootedAt,
        serves: options.serving === false ? [] : [this.failureDomain],
      },
    };
  }

  /** `ipl.completed` of the current boot, as its agent (or `sentby`, an operator) sends it. */
  announceIpl(time: string, sentby?: string): FaultlineEvent {
    const event = this.event(
      'ipl.completed',
      this.hostId,
      { partition: this.hostId, system: SYSTEM, failureDomain: this.failureDomain, bootedAt: this.bootedAt },
      time,
    );
    return sentby === undefined ? event : { ...event, sentby };
  }
}

/** What a client's probe of its remote disk found. */
export type Probe = { deviceState: DeviceState; readable: boolean };

export const UNREADABLE: Probe = { deviceState: 'offline', readable: false };
export const READABLE: Probe = { deviceState: 'running', readable: true };

/** A client whose agent probes the disk of its faulty member (the remote disk) every interval. */
export class ProbingClient extends VscsiClient {
  readonly remoteWwid: string;
  readonly localWwid: string;

  constructor(hostId: string, rng: Random, stayDomain?: string, fallDomain?: string) {
    super(hostId, rng, stayDomain, fallDomain);
    const hex = () => Array.from({ length: 24 }, () => '0123456789abcdef'[rng.int(0, 15)]).join('');
    this.localWwid = `3600507680c8081${hex()}`.slice(0, 33);
    this.remoteWwid = `3600507680c8082${hex()}`.slice(0, 33);
  }

  /**
   * A heartbeat whose disks carry their `wwid` and, with `probe`, the remote disk's last probe (or,
   * with `wwid`, the wwid the disk now reports: another LUN at the same address).
   */
  probingHeartbeat(
    time: string,
    options: { faulty?: 'stay' | 'fall' | 'both'; swapFaulty?: boolean; probe?: Probe; wwid?: string } = {},
  ): FaultlineEvent {
    const event = this.heartbeat(time, {
      ...(options.faulty === undefined ? {} : { faulty: options.faulty }),
      ...(options.swapFaulty === undefined ? {} : { swapFaulty: options.swapFaulty }),
    });
    if (event.type !== 'host.heartbeat') throw new Error('a heartbeat builder changed');
    return {
      ...event,
      data: {
        ...event.data,
        disks: event.data.disks.map((disk) =>
          disk.disk === this.remoteDisk
            ? { ...disk, wwid: options.wwid ?? this.remoteWwid, ...(options.probe ?? {}) }
            : { ...disk, wwid: this.localWwid },
        ),
      },
    };
  }

  /**
   * `disk.probed` without `planid` of the remote disk: its state, whether it reads, and each
   * partition's md superblock (the mirrors' own uuids, or `uuid` for another array's).
   */
  diskProbed(time: string, probe: Probe, options: { uuid?: string } = {}): FaultlineEvent {
    return this.event(
      'disk.probed',
      this.remoteDisk,
      {
        disk: this.remoteDisk,
        hctl: this.hctl,
        scsiHost: this.scsiHost,
        failureDomain: this.fallDomain,
        deviceState: probe.deviceState,
        readable: probe.readable,
        partitions: probe.readable
          ? this.mirrors.map((mirror) => ({
              device: `${this.remoteDisk}${mirror.partition}`,
              array: mirror.array,
              uuid: options.uuid ?? mirror.uuid,
              role: 'active' as const,
            }))
          : [],
      },
      time,
    );
  }
}
