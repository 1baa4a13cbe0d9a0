import { pathExists } from '../../../agent/executor/host-files.ts';
import { executePlan, type PlanExecution } from '../../../agent/executor/plan-executor.ts';
import type { Clock, ExecutorTiming } from '../../../agent/executor/step-context.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import type { FaultlineEvent, PlanStep, UnsignedPlan } from '../../../events/index.ts';
import type { FakeModel, FakeSuperblock } from '../../../sim/fake-host/host-model.mjs';
import {
  createFakeHost,
  DATA_OFFSET_BYTES_FOR_TESTS,
  DISK_BYTES,
  type FakeHost,
  mdClientModel,
  partitionBytes,
  type RemoteHalf,
  recordingSink,
  seedMdClientSuperblocks,
} from '../../helpers/fake-host.ts';
import { FAKE_TIMING, signed } from './field-case.ts';
import { KEYS, LAYOUT, planOn, probeSdb, VIOS2 } from './harness.ts';

/**
 * The md steps run by the executor itself (plan-executor.ts) on a fake host, past plan admission:
 * the steps a capability list does not yet name run here as they will in a plan the agent admits.
 */

export type Execution = { execution: PlanExecution; events: FaultlineEvent[] };

/** Signs and executes a plan on the fake host, its tools called in process, the stop file honoured. */
export const executeOn = async (
  host: FakeHost,
  plan: UnsignedPlan,
  options: { clock?: Clock; timing?: Partial<ExecutorTiming> } = {},
): Promise<Execution> => {
  const model = host.model();
  const sink = recordingSink({ hostId: model.hostId, bootId: model.bootId }, host.clock.now);
  const execution = await executePlan(signed(plan, KEYS), {
    host: { root: host.root, hostId: model.hostId, topology: undefined, runProgram: host.runInProcess },
    clock: options.clock ?? host.clock,
    timing: { ...FAKE_TIMING, ...options.timing },
    writeSysfs: host.writeSysfs,
    stopRequested: () => pathExists(host.stopFile),
    emit: (draft) => void sink.emit([{ ...draft, planid: plan.id }]),
    log: memoryLog(),
  });
  return { execution, events: sink.events };
};

/**
 * What udev's md rule does when a disk goes away, before any plan runs: `mdadm -If <partition>`
 * for each of its partitions (the fake's copy of it, sim/fake-host/fake-mdadm.mjs), which fails
 * and removes the member and leaves its superblock naming the array. It shows among the host's
 * actions, first.
 */
export const removedByUdev = async (host: FakeHost, ...partitions: string[]): Promise<void> => {
  for (const partition of partitions) {
    const result = await host.runInProcess('mdadm', ['-If', partition]);
    if (result.exitCode !== 0) throw new Error(`mdadm -If ${partition}: ${result.stderr}`);
  }
};

/** The md client of LAYOUT, changed as a test needs before its superblocks are seeded. */
export const mdClient = (
  remote: RemoteHalf,
  change: (model: FakeModel) => void = () => undefined,
): FakeHost => {
  const model = mdClientModel(LAYOUT, remote);
  change(model);
  const host = createFakeHost(model);
  seedMdClientSuperblocks(host, LAYOUT, remote);
  return host;
};

/** Every array of the model without a write-intent bitmap, on the mdadm given; full rebuilds take 4 s. */
export const withoutBitmap =
  (mdadmVersion?: string) =>
  (model: FakeModel): void => {
    for (const array of Object.values(model.arrays)) {
      array.bitmap = false;
      array.ratePerSecond = 25;
    }
    if (mdadmVersion !== undefined) model.mdadmVersion = mdadmVersion;
  };

const [ROOT, SWAP] = LAYOUT.mirrors;

/** `disk.verify` of sdb back at its address, with the partitions given. */
export const verifySdb = (partitions: { device: string; array: string; uuid?: string }[] = []): PlanStep => ({
  action: 'disk.verify',
  disk: 'sdb',
  hctl: LAYOUT.hctl,
  sizeBytes: DISK_BYTES,
  partitions,
});

export const zeroSdb1: PlanStep = {
  action: 'md.zero-superblock',
  array: ROOT.array,
  member: 'sdb1',
  uuid: ROOT.uuid,
};
export const zeroSdb2: PlanStep = {
  action: 'md.zero-superblock',
  array: SWAP.array,
  member: 'sdb2',
  uuid: SWAP.uuid,
};

/**
 * The full plan of LAYOUT after vios2 returned, for arrays without a bitmap: the field order of §1
 * with `md.zero-superblock` right before each `md.add` (DESIGN §4), or without it (the plan of
 * before, which mdadm 3.1.5 to 3.2.3 refuse at its `md.add`).
 */
export const noBitmapFullPlan = (host: FakeHost, options: { zero: boolean }): UnsignedPlan =>
  planOn(host, [
    probeSdb,
    { action: 'md.fail', array: SWAP.array, member: 'sdb2' },
    { action: 'md.remove', array: ROOT.array, member: 'sdb1' },
    { action: 'md.remove', array: SWAP.array, member: 'sdb2' },
    { action: 'scsi.delete', hctl: LAYOUT.hctl },
    { action: 'scsi.rescan', scsiHost: LAYOUT.scsiHost, channel: 0, target: 2, lun: 0 },
    verifySdb([
      { device: 'sdb1', array: ROOT.array, uuid: ROOT.uuid },
      { device: 'sdb2', array: SWAP.array, uuid: SWAP.uuid },
    ]),
    ...(options.zero ? [zeroSdb1] : []),
    { action: 'md.add', array: ROOT.array, member: 'sdb1', uuid: ROOT.uuid },
    ...(options.zero ? [zeroSdb2] : []),
    { action: 'md.add', array: SWAP.array, member: 'sdb2', uuid: SWAP.uuid },
    { action: 'md.wait-sync', array: ROOT.array, stallSeconds: 600 },
    { action: 'md.wait-sync', array: SWAP.array, stallSeconds: 600 },
  ]);

/** The `command.progress` of a step of a run. */
export const progressOf = (events: readonly FaultlineEvent[], action: string) =>
  events.flatMap((event) =>
    event.type === 'command.progress' && event.data.action === action && event.data.outcome !== 'started'
      ? [event.data]
      : [],
  );

/**
 * A client whose root and swap mirrors (LAYOUT: `sda`/`sdb`) and data mirror `md2` (`sdc1` from
 * vios1, `sdd1` from vios2 at 1:0:3:0) both lose their vios2 half: one plan covers `sdb` and
 * `sdd` (DESIGN §4). Each vios2 disk is `offline` (the VIOS is back, the disk is not) or `back`
 * by itself; either way its faulty member's superblock is behind its array.
 */
export const DATA = {
  array: 'md2',
  uuid: '5e6f7a8b:9c0d1e2f:3a4b5c6d:7e8f9a0b',
  partition: 1,
  local: { disk: 'sdc', hctl: '0:0:2:0' },
  remote: { disk: 'sdd', hctl: '1:0:3:0', target: 3 },
  events: 960,
} as const;

export const twoDiskClient = (sdb: 'offline' | 'back', sdd: 'offline' | 'back'): FakeHost => {
  const model = mdClientModel(LAYOUT, sdb);
  const lun = (name: string, running: boolean) => ({
    name,
    attached: name,
    exported: true,
    state: running ? 'running' : 'offline',
    readable: running,
    sizeBytes: DISK_BYTES,
    partitions: [{ number: DATA.partition, sizeBytes: partitionBytes(DATA.partition) }],
    partitionsAt: 0,
    heldOpen: false,
  });
  model.luns[DATA.local.hctl] = lun(DATA.local.disk, true);
  model.luns[DATA.remote.hctl] = lun(DATA.remote.disk, sdd === 'back');
  model.arrays[DATA.array] = {
    uuid: DATA.uuid,
    name: `${model.ownPartition}:2`,
    level: 'raid1',
    metadata: '1.2',
    raidDevices: 2,
    sizeKiB: (partitionBytes(DATA.partition) - DATA_OFFSET_BYTES_FOR_TESTS) / 1024,
    bitmap: true,
    events: DATA.events,
    nextDescriptor: 2,
    members: [
      { device: `${DATA.local.disk}${DATA.partition}`, descriptor: 0, slot: 0, state: 'in_sync' },
      { device: `${DATA.remote.disk}${DATA.partition}`, descriptor: 1, slot: 1, state: 'faulty' },
    ],
    recovery: null,
    ratePerSecond: 2,
    reAddRatePerSecond: 20,
    stalled: false,
  };
  const host = createFakeHost(model);
  seedMdClientSuperblocks(host, LAYOUT, sdb);
  const superblock = (slot: number, events: number): FakeSuperblock => ({
    uuid: DATA.uuid,
    name: `${model.ownPartition}:2`,
    level: 'raid1',
    raidDevices: 2,
    events,
    role: 'active',
    slot,
    bitmap: true,
  });
  host.setSuperblock(DATA.local.hctl, DATA.partition, superblock(0, DATA.events));
  host.setSuperblock(DATA.remote.hctl, DATA.partition, superblock(1, DATA.events - 42));
  return host;
};

const probeSdd: PlanStep = {
  action: 'disk.probe',
  disk: DATA.remote.disk,
  hctl: DATA.remote.hctl,
  scsiHost: LAYOUT.scsiHost,
  failureDomain: VIOS2,
};

const verifySdd: PlanStep = {
  action: 'disk.verify',
  disk: DATA.remote.disk,
  hctl: DATA.remote.hctl,
  sizeBytes: DISK_BYTES,
  partitions: [{ device: 'sdd1', array: DATA.array, uuid: DATA.uuid }],
};

/**
 * The plan the core makes for twoDiskClient after vios2 returned (functions/core/planners/md-vscsi.ts):
 * a probe per disk, then each disk's field order (sdb's, then sdd's), then one wait per array; its
 * fast path re-adds only the faulty members, each disk's part opening with its `disk.verify`.
 */
export const twoDiskPlan = (host: FakeHost, overrides: Partial<UnsignedPlan> = {}): UnsignedPlan => {
  const sdbVerify = verifySdb([
    { device: 'sdb1', array: ROOT.array, uuid: ROOT.uuid },
    { device: 'sdb2', array: SWAP.array, uuid: SWAP.uuid },
  ]);
  const wait = (array: string): PlanStep => ({ action: 'md.wait-sync', array, stallSeconds: 600 });
  return planOn(
    host,
    [
      probeSdb,
      probeSdd,
      { action: 'md.fail', array: SWAP.array, member: 'sdb2' },
      { action: 'md.remove', array: ROOT.array, member: 'sdb1' },
      { action: 'md.remove', array: SWAP.array, member: 'sdb2' },
      { action: 'scsi.delete', hctl: LAYOUT.hctl },
      { action: 'scsi.rescan', scsiHost: LAYOUT.scsiHost, channel: 0, target: 2, lun: 0 },
      sdbVerify,
      { action: 'md.add', array: ROOT.array, member: 'sdb1', uuid: ROOT.uuid },
      { action: 'md.add', array: SWAP.array, member: 'sdb2', uuid: SWAP.uuid },
      { action: 'md.remove', array: DATA.array, member: 'sdd1' },
      { action: 'scsi.delete', hctl: DATA.remote.hctl },
      {
        action: 'scsi.rescan',
        scsiHost: LAYOUT.scsiHost,
        channel: 0,
        target: DATA.remote.target,
        lun: 0,
      },
      verifySdd,
      { action: 'md.add', array: DATA.array, member: 'sdd1', uuid: DATA.uuid },
      wait(ROOT.array),
      wait(SWAP.array),
      wait(DATA.array),
    ],
    {
      fastPath: [
        sdbVerify,
        { action: 'md.remove', array: ROOT.array, member: 'sdb1' },
        { action: 'md.add', array: ROOT.array, member: 'sdb1', uuid: ROOT.uuid },
        verifySdd,
        { action: 'md.remove', array: DATA.array, member: 'sdd1' },
        { action: 'md.add', array: DATA.array, member: 'sdd1', uuid: DATA.uuid },
        wait(ROOT.array),
        wait(DATA.array),
      ],
      ...overrides,
    },
  );
};
