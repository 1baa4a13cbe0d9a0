import { MemoryWorld } from '../../cli/replay/memory-world.ts';
import type { FaultlineEvent, Member, UnsignedPlan } from '../../events/index.ts';
import { type CoreConfig, type CoreInput, DEFAULT_CORE_CONFIG } from '../../functions/core/index.ts';

/**
 * Builders for driving the core with a simulated fleet: agents that number their events, clients
 * with md mirrors over two VIOS, LDoms guests, multipath hosts, and an executor that plays a plan's
 * progress back the way a healthy agent would. Names, disk letters and SCSI addresses are drawn
 * from a seeded generator so that a planner that hard-codes `sdb` fails.
 */

/** A small deterministic PRNG (mulberry32). */
export const random = (seed: number) => {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number): number => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    word: (length: number): string =>
      Array.from({ length }, () => 'abcdefghijklmnopqrstuvwxyz'[Math.floor(next() * 26)]).join(''),
  };
};
export type Random = ReturnType<typeof random>;

/** The seed for this run: `FAULTLINE_TEST_SEED` to reproduce one, else drawn anew. */
export const SEED = Number(process.env.FAULTLINE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));

export const T0 = Date.parse('2026-11-22T03:00:00.000Z');
export const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

export const SYSTEM = 'Server-9080-M9S-SN78AB12C';
export const vscsi = (partition: string): string => `vscsi:${SYSTEM}/${partition}`;

/** An agent: numbers its events with a strictly increasing `seq` and stamps them as ingest would. */
export class Agent {
  private seq = 0;
  bootid: string;

  constructor(
    readonly hostId: string,
    readonly role: 'client' | 'hosting' | 'control' = 'client',
    bootid = `boot-${hostId}`,
  ) {
    this.bootid = bootid;
  }

  event<T extends FaultlineEvent['type']>(
    type: T,
    subject: string,
    data: Extract<FaultlineEvent, { type: T }>['data'],
    time: string,
    options: { planid?: string; receivedat?: string } = {},
  ): Extract<FaultlineEvent, { type: T }> {
    this.seq += 1;
    return {
      specversion: '1.0',
      id: `${this.hostId}:${this.bootid}:${this.seq}`,
      source: `faultline-agent://${this.hostId}`,
      type,
      time,
      subject,
      datacontenttype: 'application/json',
      hostid: this.hostId,
      bootid: this.bootid,
      seq: this.seq,
      receivedat: options.receivedat ?? time,
      ...(options.planid === undefined ? {} : { planid: options.planid }),
      data,
    } as Extract<FaultlineEvent, { type: T }>;
  }
}

type MirrorSpec = { array: string; uuid: string; partition: number };

/** A Linux client with a root and a swap mirror, one half on each VIOS. */
export class VscsiClient extends Agent {
  readonly localDisk: string;
  readonly remoteDisk: string;
  readonly hctl: string;
  readonly scsiHost: string;
  readonly mirrors: MirrorSpec[];

  constructor(
    hostId: string,
    rng: Random,
    readonly stayDomain = vscsi('vios1'),
    readonly fallDomain = vscsi('vios2'),
  ) {
    super(hostId);
    const letters = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const first = rng.pick(letters);
    const second = rng.pick(letters.filter((letter) => letter !== first));
    this.localDisk = `sd${first}`;
    this.remoteDisk = `sd${second}`;
    const scsiHostNumber = rng.int(0, 9);
    this.scsiHost = `host${scsiHostNumber}`;
    this.hctl = `${scsiHostNumber}:0:${rng.int(1, 15)}:${rng.int(0, 3)}`;
    const uuid = () =>
      Array.from({ length: 4 }, () =>
        Array.from({ length: 8 }, () => '0123456789abcdef'[rng.int(0, 15)]).join(''),
      ).join(':');
    const root = rng.int(0, 3);
    this.mirrors = [
      { array: `md${root}`, uuid: uuid(), partition: 1 },
      { array: `md${root + 10}`, uuid: uuid(), partition: 2 },
    ];
  }

  member(mirror: MirrorSpec, side: 'stay' | 'fall', state: Member['state']): Member {
    const disk = side === 'stay' ? this.localDisk : this.remoteDisk;
    return {
      device: `${disk}${mirror.partition}`,
      disk,
      state,
      failureDomain: side === 'stay' ? this.stayDomain : this.fallDomain,
    };
  }

  get root(): MirrorSpec {
    return this.mirrors[0] as MirrorSpec;
  }

  get swap(): MirrorSpec {
    return this.mirrors[1] as MirrorSpec;
  }

  /**
   * A heartbeat: every mirror clean, or, with `faulty`, the root mirror degraded with that side's
   * member faulty (what an agent that restarts on a degraded host sends, and nothing else); with
   * `swapFaulty`, the swap mirror's falling-side member faulty too (as a plan's `md.fail` leaves it).
   */
  heartbeat(
    time: string,
    options: { faulty?: 'stay' | 'fall' | 'both'; swapFaulty?: boolean } = {},
  ): FaultlineEvent {
    const stateOf = (mirror: MirrorSpec, side: 'stay' | 'fall'): Member['state'] => {
      if (mirror === this.root)
        return options.faulty === side || options.faulty === 'both' ? 'faulty' : 'in-sync';
      return options.swapFaulty === true && side === 'fall' ? 'faulty' : 'in-sync';
    };
    const degraded = (mirror: MirrorSpec): boolean =>
      mirror === this.root ? options.faulty !== undefined : options.swapFaulty === true;
    return this.event(
      'host.heartbeat',
      this.hostId,
      {
        platform: 'linux',
        role: 'client',
        agentVersion: '0.1.0',
        intervalSeconds: 60,
        capabilities: [
          'disk.probe',
          'md.fail',
          'md.remove',
          'scsi.delete',
          'scsi.rescan',
          'disk.verify',
          'md.add',
          'md.wait-sync',
        ],
        arrays: this.mirrors.map((mirror) => ({
          array: mirror.array,
          kind: 'md' as const,
          level: 'raid1',
          state: degraded(mirror) ? ('degraded' as const) : ('clean' as const),
          members: [
            this.member(mirror, 'stay', stateOf(mirror, 'stay')),
            this.member(mirror, 'fall', stateOf(mirror, 'fall')),
          ],
          bitmap: true,
          uuid: mirror.uuid,
        })),
        paths: [],
        disks: [
          {
            disk: this.localDisk,
            hctl: '0:0:1:0',
            scsiHost: 'host0',
            driver: 'ibmvscsi',
            sizeBytes: 53_687_091_200,
            failureDomain: this.stayDomain,
          },
          {
            disk: this.remoteDisk,
            hctl: this.hctl,
            scsiHost: this.scsiHost,
            driver: 'ibmvscsi',
            sizeBytes: 53_687_091_200,
            failureDomain: this.fallDomain,
          },
        ],
      },
      time,
    );
  }

  /**
   * The root member on the falling side fails (or, with `side: 'stay'`, the one on the staying
   * side); the swap member on the same disk still shows in sync.
   */
  rootDegraded(time: string, options: { receivedat?: string; side?: 'stay' | 'fall' } = {}): FaultlineEvent {
    const side = options.side ?? 'fall';
    return this.event(
      'mirror.degraded',
      this.root.array,
      {
        array: this.root.array,
        kind: 'md',
        level: 'raid1',
        members: [
          this.member(this.root, 'stay', side === 'stay' ? 'faulty' : 'in-sync'),
          this.member(this.root, 'fall', side === 'fall' ? 'faulty' : 'in-sync'),
        ],
        bitmap: true,
        uuid: this.root.uuid,
      },
      time,
      options.receivedat === undefined ? {} : { receivedat: options.receivedat },
    );
  }

  /** Both halves lost: the stay side failed earlier, now the fall side too. */
  rootLost(time: string): FaultlineEvent {
    return this.event(
      'mirror.degraded',
      this.root.array,
      {
        array: this.root.array,
        kind: 'md',
        level: 'raid1',
        members: [this.member(this.root, 'stay', 'faulty'), this.member(this.root, 'fall', 'faulty')],
        uuid: this.root.uuid,
      },
      time,
    );
  }

  healthy(mirror: MirrorSpec, time: string, planid?: string): FaultlineEvent {
    return this.event(
      'mirror.healthy',
      mirror.array,
      {
        array: mirror.array,
        kind: 'md',
        level: 'raid1',
        members: [this.member(mirror, 'stay', 'in-sync'), this.member(mirror, 'fall', 'in-sync')],
      },
      time,
      planid === undefined ? {} : { planid },
    );
  }
}

/** A hosting partition (a VIOS or IBM i) that announces its shutdown and its IPL. */
export class HostingPartition extends Agent {
  constructor(
    hostId: string,
    readonly failureDomain: string,
  ) {
    super(hostId, 'hosting');
  }

  heartbeat(time: string): FaultlineEvent {
    return this.event(
      'host.heartbeat',
      this.hostId,
      {
        platform: 'linux',
        role: 'hosting',
        agentVersion: '0.1.0',
        intervalSeconds: 60,
        capabilities: [],
        arrays: [],
        paths: [],
        disks: [],
      },
      time,
    );
  }

  goingDown(time: string): FaultlineEvent {
    return this.event(
      'domain.going-down',
      this.hostId,
      { failureDomain: this.failureDomain, reason: 'IPL' },
      time,
    );
  }

  iplCompleted(time: string, bootedAt: string): FaultlineEvent {
    this.bootid = `${this.bootid}-after-${bootedAt.slice(11, 19).replaceAll(':', '')}`;
    return this.event(
      'ipl.completed',
      this.hostId,
      { partition: this.hostId, system: SYSTEM, failureDomain: this.failureDomain, bootedAt },
      time,
    );
  }
}

/**
 * The progress a healthy agent reports for a plan, step by step, on the branch it chose; with
 * `failAt`, the step of that number ends `outcome` (failed by default) with `code`, and none after it runs.
 */
export const progressOf = (
  agent: Agent,
  plan: UnsignedPlan,
  start: number,
  options: { fastPath?: boolean; failAt?: number; outcome?: 'failed' | 'refused'; code?: string } = {},
): FaultlineEvent[] => {
  const events: FaultlineEvent[] = [];
  let clock = start;
  const report = (
    step: number,
    action: UnsignedPlan['steps'][number]['action'],
    branch: 'steps' | 'fastPath',
    outcome: 'started' | 'succeeded' | 'failed' | 'refused',
  ) => {
    events.push(
      agent.event(
        'command.progress',
        plan.hostId,
        {
          planId: plan.id,
          step,
          action,
          outcome,
          branch,
          ...(outcome === 'refused' ? { code: options.code ?? 'last-in-sync-member' } : {}),
          ...(outcome === 'failed' && options.code !== undefined ? { code: options.code } : {}),
        },
        at(clock),
        { planid: plan.id },
      ),
    );
    clock += 1;
  };
  const firstStep = plan.steps[0];
  if (firstStep === undefined) return events;
  report(0, firstStep.action, 'steps', 'started');
  report(0, firstStep.action, 'steps', 'succeeded');
  const branch = options.fastPath && plan.fastPath !== undefined ? plan.fastPath : plan.steps.slice(1);
  const name = options.fastPath && plan.fastPath !== undefined ? 'fastPath' : 'steps';
  branch.forEach((step, index) => {
    const number = name === 'fastPath' ? index : index + 1;
    if (options.failAt !== undefined && number === options.failAt) {
      report(number, step.action, name, options.outcome ?? 'failed');
      return;
    }
    if (options.failAt !== undefined && number > options.failAt) return;
    report(number, step.action, name, 'succeeded');
  });
  return events;
};

/** The world with the given config overrides, and a helper to feed it inputs in time order. */
export const worldWith = (overrides: Partial<CoreConfig> = {}) => {
  const world = new MemoryWorld({ ...DEFAULT_CORE_CONFIG, ...overrides }, { freezeInputs: true });
  const feed = (...inputs: CoreInput[]) => {
    for (const input of inputs) world.ingest(input);
  };
  return { world, feed };
};

export const hostNames = (rng: Random, count: number, prefix = rng.word(4)): string[] => {
  const names = new Set<string>();
  while (names.size < count) names.add(`${prefix}${rng.int(100, 9999)}`);
  return [...names];
};

/** The SAN target port of the multipath builders: one failure domain, as `fc:<target port WWPN>`. */
export const SAN_PORT = 'fc:500507680c110a3f';

/** A path of a host's `mpatha` lost or restored through `SAN_PORT`, with how many paths stay active. */
export const pathEvent = (
  host: Agent,
  type: 'path.lost' | 'path.restored',
  time: number,
  device: string,
  state: 'failed' | 'active',
  activePaths: number,
  planid?: string,
): FaultlineEvent =>
  host.event(
    type,
    'mpatha',
    {
      map: 'mpatha',
      wwid: '3600507680c80810c1800000000000a3f',
      path: device,
      hctl: '2:0:1:3',
      failureDomain: SAN_PORT,
      state,
      activePaths,
    },
    at(time),
    planid === undefined ? {} : { planid },
  );

/** A multipath host's heartbeat: `mpatha` over two ports, its path through `SAN_PORT` in `state`. */
export const multipathHeartbeat = (host: Agent, time: number, state: 'failed' | 'active'): FaultlineEvent =>
  host.event(
    'host.heartbeat',
    host.hostId,
    {
      platform: 'linux',
      role: 'client',
      agentVersion: '0.1.0',
      intervalSeconds: 60,
      capabilities: ['disk.probe', 'multipath.reinstate'],
      arrays: [],
      paths: [
        {
          map: 'mpatha',
          wwid: '3600507680c80810c1800000000000a3f',
          path: 'sdq',
          hctl: '2:0:1:3',
          failureDomain: SAN_PORT,
          state,
        },
        {
          map: 'mpatha',
          wwid: '3600507680c80810c1800000000000a3f',
          path: 'sdr',
          hctl: '3:0:1:3',
          failureDomain: 'fc:500507680c120a3f',
          state: 'active',
        },
      ],
      disks: [],
    },
    at(time),
  );
