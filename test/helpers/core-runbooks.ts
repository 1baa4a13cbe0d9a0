import type { FaultlineEvent, Member, PathState, PlanAction, ReplicaReport } from '../../events/index.ts';
import { Agent, type Random, SAN_PORT, vscsi } from './core-fleet.ts';
import { LdomsGuest } from './core-ldoms.ts';

/**
 * Builders for issue 14's runbooks (DESIGN §4 v3): Linux clients whose md arrays may lack a
 * write-intent bitmap and whose root and data disks may both come from one VIOS, agents that run
 * or lack the new actions, multipath hosts whose leg the SCSI layer set `offline`, and LDoms guests
 * whose state database replicas on a returned disk stay in error. Disk letters, SCSI addresses and
 * array numbers come from a seeded generator, as in ./core-fleet.ts.
 */

/** What the Linux agent runs once it implements the steps of issue 14. */
export const LINUX_ACTIONS: PlanAction[] = [
  'disk.probe',
  'md.fail',
  'md.remove',
  'scsi.delete',
  'scsi.rescan',
  'disk.verify',
  'md.zero-superblock',
  'md.add',
  'md.wait-sync',
  'scsi.online',
  'multipath.reinstate',
];

/** What the Linux agent ran before issue 14: the same, without md.zero-superblock and scsi.online. */
export const LINUX_ACTIONS_BEFORE: PlanAction[] = LINUX_ACTIONS.filter(
  (action) => action !== 'md.zero-superblock' && action !== 'scsi.online',
);

export type Side = 'stay' | 'fall';
export type ClientDisk = { disk: string; hctl: string; scsiHost: string; side: Side };
/** A mirror of the client; `bitmap` undefined: its agent does not say whether it has one. */
export type ClientMirror = {
  array: string;
  uuid: string;
  bitmap: boolean | undefined;
  disk: 'root' | 'data';
  partition: number;
};

const hex = (rng: Random, length: number) =>
  Array.from({ length }, () => '0123456789abcdef'[rng.int(0, 15)]).join('');

/**
 * A Linux client mirrored over vios1 (`stay`) and vios2 (`fall`): a root disk from each with a root
 * and a swap mirror, and, with `dataDisk`, a data disk from each with a data mirror. `bitmap` says
 * which mirrors have a write-intent bitmap (all by default); `capabilities` what its agent runs.
 */
export class MdClient extends Agent {
  readonly disks: Record<'root' | 'data', Record<Side, ClientDisk>>;
  readonly mirrors: ClientMirror[];
  readonly capabilities: PlanAction[];
  readonly stayDomain = vscsi('vios1');
  readonly fallDomain = vscsi('vios2');

  constructor(
    hostId: string,
    rng: Random,
    options: {
      dataDisk?: boolean;
      bitmap?: (mirror: 'root' | 'swap' | 'data') => boolean | undefined;
      capabilities?: PlanAction[];
    } = {},
  ) {
    super(hostId);
    const letters = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    const pick = () => {
      const letter = rng.pick(letters);
      letters.splice(letters.indexOf(letter), 1);
      return `sd${letter}`;
    };
    const targets = new Set<number>();
    const address = (host: number): string => {
      let target = rng.int(1, 15);
      while (targets.has(target)) target = (target % 15) + 1;
      targets.add(target);
      return `${host}:0:${target}:${rng.int(0, 3)}`;
    };
    const [stayHost, fallHost] = [rng.int(0, 4), rng.int(5, 9)];
    const disk = (side: Side): ClientDisk => {
      const host = side === 'stay' ? stayHost : fallHost;
      return { disk: pick(), hctl: address(host), scsiHost: `host${host}`, side };
    };
    this.disks = {
      root: { stay: disk('stay'), fall: disk('fall') },
      data: { stay: disk('stay'), fall: disk('fall') },
    };
    const bitmap = options.bitmap ?? (() => true);
    const uuid = () => Array.from({ length: 4 }, () => hex(rng, 8)).join(':');
    const root = rng.int(0, 3);
    this.mirrors = [
      { array: `md${root}`, uuid: uuid(), bitmap: bitmap('root'), disk: 'root', partition: 1 },
      { array: `md${root + 10}`, uuid: uuid(), bitmap: bitmap('swap'), disk: 'root', partition: 2 },
      ...(options.dataDisk === true
        ? [
            {
              array: `md${root + 20}`,
              uuid: uuid(),
              bitmap: bitmap('data'),
              disk: 'data' as const,
              partition: 1,
            },
          ]
        : []),
    ];
    this.capabilities = options.capabilities ?? LINUX_ACTIONS;
  }

  mirror(name: 'root' | 'swap' | 'data'): ClientMirror {
    const index = { root: 0, swap: 1, data: 2 }[name];
    const mirror = this.mirrors[index];
    if (mirror === undefined) throw new Error(`${this.hostId} has no ${name} mirror`);
    return mirror;
  }

  /** The disk of a mirror's member on one side. */
  diskOf(mirror: ClientMirror, side: Side): ClientDisk {
    return this.disks[mirror.disk][side];
  }

  /** A mirror's member on one side (`sdb1`). */
  device(mirror: ClientMirror, side: Side): string {
    return `${this.diskOf(mirror, side).disk}${mirror.partition}`;
  }

  member(mirror: ClientMirror, side: Side, state: Member['state']): Member {
    return {
      device: this.device(mirror, side),
      disk: this.diskOf(mirror, side).disk,
      state,
      failureDomain: side === 'stay' ? this.stayDomain : this.fallDomain,
    };
  }

  private members(mirror: ClientMirror, fall: Member['state']): Member[] {
    return [this.member(mirror, 'stay', 'in-sync'), this.member(mirror, 'fall', fall)];
  }

  /** Its heartbeat: every mirror clean, but those in `faulty`, whose vios2 member is faulty. */
  heartbeat(time: string, faulty: readonly ClientMirror[] = []): FaultlineEvent {
    const usedDisks = new Set(this.mirrors.map((mirror) => mirror.disk));
    return this.event(
      'host.heartbeat',
      this.hostId,
      {
        platform: 'linux',
        role: 'client',
        agentVersion: '0.1.0',
        intervalSeconds: 60,
        capabilities: this.capabilities,
        arrays: this.mirrors.map((mirror) => ({
          array: mirror.array,
          kind: 'md' as const,
          level: 'raid1',
          state: faulty.includes(mirror) ? ('degraded' as const) : ('clean' as const),
          members: this.members(mirror, faulty.includes(mirror) ? 'faulty' : 'in-sync'),
          ...(mirror.bitmap === undefined ? {} : { bitmap: mirror.bitmap }),
          uuid: mirror.uuid,
        })),
        paths: [],
        disks: (['root', 'data'] as const)
          .filter((name) => usedDisks.has(name))
          .flatMap((name) =>
            (['stay', 'fall'] as const).map((side) => {
              const disk = this.disks[name][side];
              return {
                disk: disk.disk,
                hctl: disk.hctl,
                scsiHost: disk.scsiHost,
                driver: 'ibmvscsi',
                sizeBytes: 53_687_091_200,
                failureDomain: side === 'stay' ? this.stayDomain : this.fallDomain,
              };
            }),
          ),
      },
      time,
    );
  }

  /** A mirror's vios2 member fails (`mdadm --monitor` reports it). */
  degraded(mirror: ClientMirror, time: string): FaultlineEvent {
    return this.event(
      'mirror.degraded',
      mirror.array,
      {
        array: mirror.array,
        kind: 'md',
        level: 'raid1',
        members: this.members(mirror, 'faulty'),
        ...(mirror.bitmap === undefined ? {} : { bitmap: mirror.bitmap }),
        uuid: mirror.uuid,
      },
      time,
    );
  }

  healthy(mirror: ClientMirror, time: string, planid?: string): FaultlineEvent {
    return this.event(
      'mirror.healthy',
      mirror.array,
      { array: mirror.array, kind: 'md', level: 'raid1', members: this.members(mirror, 'in-sync') },
      time,
      planid === undefined ? {} : { planid },
    );
  }
}

export const MPATH_WWID = '3600507680c80810c1800000000000a3f';

/**
 * A host with `mpatha` over two SAN ports: its leg `sdq` through `SAN_PORT`, `sdr` through the other.
 * Its heartbeats list both legs' disks, as the agent's scan lists every SCSI disk.
 */
export class MultipathHost extends Agent {
  readonly leg = { path: 'sdq', hctl: '2:0:1:3' };
  readonly other = { path: 'sdr', hctl: '3:0:1:3', failureDomain: 'fc:500507680c120a3f' };

  constructor(
    hostId: string,
    readonly capabilities: PlanAction[] = LINUX_ACTIONS,
  ) {
    super(hostId);
  }

  heartbeat(time: string, state: PathState): FaultlineEvent {
    return this.event(
      'host.heartbeat',
      this.hostId,
      {
        platform: 'linux',
        role: 'client',
        agentVersion: '0.1.0',
        intervalSeconds: 60,
        capabilities: this.capabilities,
        arrays: [],
        paths: [
          { map: 'mpatha', wwid: MPATH_WWID, ...this.leg, failureDomain: SAN_PORT, state },
          { map: 'mpatha', wwid: MPATH_WWID, ...this.other, state: 'active' },
        ],
        disks: [
          {
            disk: this.leg.path,
            hctl: this.leg.hctl,
            scsiHost: 'host2',
            driver: 'qla2xxx',
            failureDomain: SAN_PORT,
          },
          {
            disk: this.other.path,
            hctl: this.other.hctl,
            scsiHost: 'host3',
            driver: 'qla2xxx',
            failureDomain: this.other.failureDomain,
          },
        ],
      },
      time,
    );
  }

  /** Its leg through `SAN_PORT` lost (in `state`) or back, as `path.lost` and `path.restored` say. */
  path(type: 'path.lost' | 'path.restored', time: string, state: PathState, planid?: string): FaultlineEvent {
    return this.event(
      type,
      'mpatha',
      {
        map: 'mpatha',
        wwid: MPATH_WWID,
        ...this.leg,
        failureDomain: SAN_PORT,
        state,
        activePaths: state === 'active' ? 2 : 1,
      },
      time,
      planid === undefined ? {} : { planid },
    );
  }
}

/** What the Solaris agent runs once it implements the steps of issue 14. */
export const SOLARIS_ACTIONS: PlanAction[] = [
  'disk.probe',
  'svm.metareplace',
  'svm.wait-sync',
  'svm.metadb-restore',
];

/**
 * How one slice's replicas read in `metadb -i`: all active, all in error, neither (not committed
 * to), or one of the three active and two in error (`partly`).
 */
export type ReplicaState = 'active' | 'erred' | 'idle' | 'partly';

/**
 * An LDoms guest (./core-ldoms.ts: `d10` over `c0d0s0` on `primary` and `c0d1s0` on `alternate`)
 * whose agent reports its state database as the real layout of test/fixtures/agent/metadb has it:
 * three replicas on slice 7 of each disk (`c0d0s7`, `c0d1s7`). `replicas` is what its next heartbeats
 * say of each slice; null: they carry no `replicas` (an older agent, or `metadb` unread).
 */
export class ReplicaGuest extends LdomsGuest {
  replicas: { c0d0s7: ReplicaState; c0d1s7: ReplicaState } | null = { c0d0s7: 'active', c0d1s7: 'active' };

  constructor(
    hostId: string,
    readonly capabilities: PlanAction[] = SOLARIS_ACTIONS,
  ) {
    super(hostId);
  }

  /** The heartbeat `replicas` its state database gives now. */
  replicaReports(): ReplicaReport[] | undefined {
    if (this.replicas === null) return undefined;
    return Object.entries(this.replicas).map(([slice, state]) => ({
      slice,
      count: 3,
      active: state === 'active' ? 3 : state === 'partly' ? 1 : 0,
      erred: state === 'erred' ? 3 : state === 'partly' ? 2 : 0,
    }));
  }

  override heartbeat(time: string, options: { alternate?: Member['state'] } = {}): FaultlineEvent {
    const beat = super.heartbeat(time, options);
    if (beat.type !== 'host.heartbeat') throw new Error('LdomsGuest.heartbeat no longer builds a heartbeat');
    const replicas = this.replicaReports();
    return {
      ...beat,
      data: {
        ...beat.data,
        capabilities: this.capabilities,
        ...(replicas === undefined ? {} : { replicas }),
      },
    };
  }
}
