import {
  type PlanRunResult,
  type RunPlanDependencies,
  runPlan,
} from '../../../agent/executor/plan-runner.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import type { FaultlineEvent, PlanStep, UnsignedPlan } from '../../../events/index.ts';
import { DISK_BYTES, type FakeHost, recordingSink } from '../../helpers/fake-host.ts';
import { FAKE_TIMING, type PlanKeys, planKeys, signed } from './field-case.ts';

/** Running plans on a fake host from a test: one signing key, plans built around their steps. */

export const KEYS: PlanKeys = planKeys();

let planCounter = 0;

/** A plan for the fake host, issued a few seconds before its clock, valid 15 minutes. */
export const planOn = (
  host: FakeHost,
  steps: [PlanStep, ...PlanStep[]],
  overrides: Partial<UnsignedPlan> = {},
): UnsignedPlan => {
  planCounter += 1;
  return {
    id: `pln-test-${planCounter}-${Math.floor(host.clock.now() / 1000)}`,
    incidentId: 'inc-test',
    hostId: host.model().hostId,
    attempt: 1,
    wave: 0,
    issuedAt: new Date(host.clock.now() - 5_000).toISOString(),
    ttlSeconds: 900,
    mode: 'execute',
    steps,
    ...overrides,
  };
};

export type Run = { result: PlanRunResult; events: FaultlineEvent[]; log: ReturnType<typeof memoryLog> };

/** Signs (unless given a raw input) and runs a plan on the fake host through its programs on PATH. */
export const runOn = async (
  host: FakeHost,
  plan: UnsignedPlan | unknown,
  options: Partial<RunPlanDependencies> & { raw?: boolean; inProcess?: boolean } = {},
): Promise<Run> => {
  const model = host.model();
  const identity = options.identity ?? { hostId: model.hostId, bootId: model.bootId };
  const sink = recordingSink(identity, host.clock.now);
  const log = memoryLog();
  const { raw, inProcess, ...dependencies } = options;
  const input = raw === true ? plan : signed(plan as UnsignedPlan, KEYS);
  const result = await runPlan(input, {
    config: host.config({ planPublicKey: KEYS.publicKey }),
    identity,
    sink,
    log,
    ...(inProcess === true ? { runProgram: host.runInProcess } : { searchPath: host.searchPath }),
    writeSysfs: host.writeSysfs,
    clock: host.clock,
    timing: FAKE_TIMING,
    ...dependencies,
  });
  return { result, events: sink.events, log };
};

/** The outcome and code of the last `command.progress` of a run. */
export const lastProgress = (events: readonly FaultlineEvent[]) => {
  const progress = events.filter((event) => event.type === 'command.progress');
  const last = progress[progress.length - 1];
  return last?.type === 'command.progress' ? last.data : undefined;
};

/** A client with `md0` (root) and `md1` (swap) mirrored over `sda` (vios1) and `sdb` (vios2, at 1:0:2:0). */
export const LAYOUT = {
  hostId: 'lnxclient07.example.net',
  localDisk: 'sda',
  remoteDisk: 'sdb',
  hctl: '1:0:2:0',
  scsiHost: 'host1',
  mirrors: [
    { array: 'md0', uuid: '7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a', partition: 1 },
    { array: 'md1', uuid: '3b1c2f4e:8a9d0b1c:2e3f4a5b:6c7d8e9f', partition: 2 },
  ],
} as const;

export const VIOS1 = 'vscsi:Server-9080-M9S-SN78AB12C/vios1';
export const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';
export const FOREIGN_UUID = 'aaaabbbb:ccccdddd:eeeeffff:00001111';

export const probeSdb: PlanStep = {
  action: 'disk.probe',
  disk: 'sdb',
  hctl: '1:0:2:0',
  scsiHost: 'host1',
  failureDomain: VIOS2,
};

/** The fast path the core plans for LAYOUT when only md0's sdb1 failed. */
export const fastPathPlan = (host: FakeHost, overrides: Partial<UnsignedPlan> = {}): UnsignedPlan =>
  planOn(
    host,
    [
      probeSdb,
      { action: 'md.fail', array: 'md1', member: 'sdb2' },
      { action: 'md.remove', array: 'md0', member: 'sdb1' },
      { action: 'md.remove', array: 'md1', member: 'sdb2' },
    ],
    {
      fastPath: [
        { action: 'md.remove', array: 'md0', member: 'sdb1' },
        { action: 'md.add', array: 'md0', member: 'sdb1', uuid: LAYOUT.mirrors[0].uuid },
        { action: 'md.wait-sync', array: 'md0', stallSeconds: 600 },
      ],
      ...overrides,
    },
  );

/** The full plan the core makes for LAYOUT after vios2 returned (the field order of §1). */
export const fullPlan = (host: FakeHost, overrides: Partial<UnsignedPlan> = {}): UnsignedPlan => {
  const [root, swap] = LAYOUT.mirrors;
  return planOn(
    host,
    [
      probeSdb,
      { action: 'md.fail', array: swap.array, member: 'sdb2' },
      { action: 'md.remove', array: root.array, member: 'sdb1' },
      { action: 'md.remove', array: swap.array, member: 'sdb2' },
      { action: 'scsi.delete', hctl: LAYOUT.hctl },
      { action: 'scsi.rescan', scsiHost: LAYOUT.scsiHost, channel: 0, target: 2, lun: 0 },
      {
        action: 'disk.verify',
        disk: 'sdb',
        hctl: LAYOUT.hctl,
        sizeBytes: DISK_BYTES,
        partitions: [
          { device: 'sdb1', array: root.array, uuid: root.uuid },
          { device: 'sdb2', array: swap.array, uuid: swap.uuid },
        ],
      },
      { action: 'md.add', array: root.array, member: 'sdb1', uuid: root.uuid },
      { action: 'md.add', array: swap.array, member: 'sdb2', uuid: swap.uuid },
      { action: 'md.wait-sync', array: root.array, stallSeconds: 600 },
      { action: 'md.wait-sync', array: swap.array, stallSeconds: 600 },
    ],
    overrides,
  );
};

/** The host-changing commands of the field order up to and including the rescan. */
export const UP_TO_RESCAN = [
  ['mdadm', '/dev/md1', '--fail', '/dev/sdb2'],
  ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
  ['mdadm', '/dev/md1', '--remove', '/dev/sdb2'],
  ['write', '/sys/class/scsi_device/1:0:2:0/device/delete', '1'],
  ['write', '/sys/class/scsi_host/host1/scan', '0 2 0'],
];
