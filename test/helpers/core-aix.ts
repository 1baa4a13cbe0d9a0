import type { FaultlineEvent, Member, PathReport } from '../../events/index.ts';
import { Agent, vscsi } from './core-fleet.ts';

const VIOS1 = vscsi('vios1');
const VIOS2 = vscsi('vios2');

/**
 * An AIX client whose rootvg mirrors `hdisk0` (served by vios1) and `hdisk1` (vios2), as its agent
 * reports it (agent/scan/aix-scan.ts): each mirrored logical volume an `lvm` array, a copy on a
 * missing disk `faulty`. Its agent runs no plan action.
 */
export class AixClient extends Agent {
  constructor(
    hostId: string,
    readonly volumes: readonly string[] = ['hd4', 'hd9var'],
  ) {
    super(hostId);
  }

  members(hdisk1: Member['state']): Member[] {
    return [
      { device: 'hdisk0', disk: 'hdisk0', state: 'in-sync', failureDomain: VIOS1 },
      { device: 'hdisk1', disk: 'hdisk1', state: hdisk1, failureDomain: VIOS2 },
    ];
  }

  heartbeat(
    time: string,
    options: { stale?: boolean; hdisk1?: Member['state']; paths?: PathReport[] } = {},
  ): FaultlineEvent {
    return this.event(
      'host.heartbeat',
      this.hostId,
      {
        platform: 'aix',
        role: 'client',
        agentVersion: '0.1.0',
        intervalSeconds: 60,
        capabilities: [],
        arrays: this.volumes.map((volume) => ({
          array: volume,
          kind: 'lvm' as const,
          level: 'raid1',
          state: options.stale === true ? ('degraded' as const) : ('clean' as const),
          members: this.members(options.hdisk1 ?? (options.stale === true ? 'faulty' : 'in-sync')),
        })),
        paths: options.paths ?? [],
        disks: [
          { disk: 'hdisk0', driver: 'vscsi', failureDomain: VIOS1 },
          { disk: 'hdisk1', driver: 'vscsi', failureDomain: VIOS2 },
        ],
      },
      time,
    );
  }

  stale(volume: string, time: string): FaultlineEvent {
    return this.event(
      'mirror.degraded',
      volume,
      { array: volume, kind: 'lvm', level: 'raid1', members: this.members('faulty') },
      time,
    );
  }
}
