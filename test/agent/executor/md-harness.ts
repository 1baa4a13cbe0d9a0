import { pathExists } from '../../../agent/executor/host-files.ts';
import { executePlan, type PlanExecution } from '../../../agent/executor/plan-executor.ts';
import type { Clock, ExecutorTiming } from '../../../agent/executor/step-context.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import type { FaultlineEvent, PlanStep, UnsignedPlan } from '../../../events/index.ts';
import type { FakeModel } from '../../../sim/fake-host/host-model.mjs';
import {
  createFakeHost,
  DISK_BYTES,
  type FakeHost,
  mdClientModel,
  type RemoteHalf,
  recordingSink,
  seedMdClientSuperblocks,
} from '../../helpers/fake-host.ts';
import { FAKE_TIMING, signed } from './field-case.ts';
import { KEYS, LAYOUT, planOn, probeSdb } from './harness.ts';

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
