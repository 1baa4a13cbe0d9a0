import { executePlan, type PlanExecution } from '../../../agent/executor/plan-executor.ts';
import { createProgramRunner } from '../../../agent/executor/programs.ts';
import type { Clock } from '../../../agent/executor/step-context.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import type { PlanStep } from '../../../events/index.ts';
import type { EventDraft } from '../../../probes/event-draft.ts';
import type { FakeModel, FakeReplica } from '../../../sim/fake-host/host-model.mjs';
import { createFakeHost, type FakeHost, svmGuestModel } from '../../helpers/fake-host.ts';
import { FAKE_TIMING, signed } from './field-case.ts';
import { KEYS, planOn } from './harness.ts';

/**
 * An LDoms guest for the SVM steps: mirror `d10` of `d11` (`c0d0s0`, from the primary service
 * domain) and `d12` (`c0d1s0`, from the alternate, in Maintenance), with state database replicas
 * on both disks. The plans run through `executePlan` with the agent's program runner over the
 * fake tools on PATH (argument vectors, real processes), so a step the Solaris capabilities do not
 * list yet (`svm.metadb-restore`) runs as the executor runs it.
 */

export const GUEST = 'ldg1.example.net';

/** `count` replicas on `slice`, the first the master when `master` is set. */
export const replicas = (slice: string, count: number, flags: string, master = false): FakeReplica[] =>
  Array.from({ length: count }, (_, index) => ({
    device: slice,
    flags: master && index === 0 ? `${flags}m` : flags,
  }));

/** Three replicas on each disk's slice 7, all active: the usual two-disk guest. */
export const THREE_PER_DISK: FakeReplica[] = [
  ...replicas('c0d0s7', 3, 'apluo', true),
  ...replicas('c0d1s7', 3, 'apluo'),
];

export const guestModel = (metadb: FakeReplica[] = THREE_PER_DISK): FakeModel => {
  const model = svmGuestModel(GUEST);
  model.platform = 'solaris';
  if (model.svm !== null) model.svm.metadb = metadb.map((replica) => ({ ...replica }));
  return model;
};

/**
 * A guest whose alternate service domain rebooted and came back: `c0d1` stopped answering (SVM's
 * next commit flagged its replicas `W`), then answers again; the replicas stay in error.
 */
export const returnedGuest = (metadb: FakeReplica[] = THREE_PER_DISK): FakeHost => {
  const host = createFakeHost(guestModel(metadb));
  host.update((model) => {
    const disk = model.solarisDisks?.c0d1;
    if (disk !== undefined) disk.readable = false;
  });
  host.update((model) => {
    const disk = model.solarisDisks?.c0d1;
    if (disk !== undefined) disk.readable = true;
  });
  return host;
};

/** The guest's data disk `c0d2` and its mirror `d20` of `d21` (`c0d0s3`, primary) and `d22` (`c0d2s0`, in Maintenance). */
export const withDataDisk = (model: FakeModel): FakeModel => {
  model.solarisDisks = { ...model.solarisDisks, c0d2: { readable: true } };
  model.svm?.mirrors.push({
    name: 'd20',
    blocks: 20_972_736,
    resync: null,
    submirrors: [
      { name: 'd21', state: 'Okay', components: [{ device: 'c0d0s3', state: 'Okay' }] },
      { name: 'd22', state: 'Needs maintenance', components: [{ device: 'c0d2s0', state: 'Maintenance' }] },
    ],
  });
  return model;
};

/**
 * The guest with its data disk from the alternate domain too: mirror `d20` of `d21` (`c0d0s3`, from
 * the primary) and `d22` (`c0d2s0`, in Maintenance), and `metadb` replicas on both returned disks
 * (by default three on `c0d0s7`, two on `c0d1s7`, one on `c0d2s7`: half on each side). Both disks
 * stopped answering and answer again; their replicas stay in error.
 */
export const returnedTwoDiskGuest = (
  metadb: FakeReplica[] = [
    ...replicas('c0d0s7', 3, 'apluo', true),
    ...replicas('c0d1s7', 2, 'apluo'),
    ...replicas('c0d2s7', 1, 'apluo'),
  ],
): FakeHost => {
  const model = withDataDisk(guestModel(metadb));
  const host = createFakeHost(model);
  for (const readable of [false, true]) {
    host.update((changed) => {
      for (const disk of ['c0d1', 'c0d2']) {
        const entry = changed.solarisDisks?.[disk];
        if (entry !== undefined) entry.readable = readable;
      }
    });
  }
  return host;
};

export const probeC0d1: PlanStep = {
  action: 'disk.probe',
  disk: 'c0d1',
  failureDomain: 'vdisk:t5-control/alternate',
};
export const replaceC0d1s0: PlanStep = { action: 'svm.metareplace', mirror: 'd10', component: 'c0d1s0' };
export const waitD10: PlanStep = { action: 'svm.wait-sync', mirror: 'd10', stallSeconds: 600 };
export const restore = (slice: string, count: number): PlanStep => ({
  action: 'svm.metadb-restore',
  slice,
  count,
});

/** The SVM runbook of §4 for the returned `c0d1`: re-enable, wait, re-create its replicas. */
export const RUNBOOK: [PlanStep, ...PlanStep[]] = [probeC0d1, replaceC0d1s0, waitD10, restore('c0d1s7', 3)];

export type Execution = { execution: PlanExecution; events: EventDraft[] };

/** Runs a plan's steps on the guest, as the executor runs an admitted plan; `clock` may script the host. */
export const execute = async (
  host: FakeHost,
  steps: [PlanStep, ...PlanStep[]],
  options: { mode?: 'execute' | 'dry-run'; clock?: Clock; inProcess?: boolean } = {},
): Promise<Execution> => {
  const plan = signed(planOn(host, steps, { mode: options.mode ?? 'execute' }), KEYS);
  const events: EventDraft[] = [];
  const execution = await executePlan(plan, {
    host: {
      root: host.root,
      hostId: GUEST,
      topology: undefined,
      runProgram: options.inProcess === true ? host.runInProcess : createProgramRunner(host.searchPath),
    },
    clock: options.clock ?? host.clock,
    timing: FAKE_TIMING,
    writeSysfs: host.writeSysfs,
    stopRequested: async () => false,
    emit: (draft) => events.push(draft),
    log: memoryLog(),
  });
  return { execution, events };
};

/** The host's clock, with `change` made to the host at its first sleep (while a wait-sync polls). */
export const changingDuringWait = (host: FakeHost, change: (model: FakeModel) => void): Clock => {
  let changed = false;
  return {
    now: host.clock.now,
    sleep: async (ms, signal) => {
      if (!changed) {
        changed = true;
        host.update(change);
      }
      await host.clock.sleep(ms, signal);
    },
  };
};

/** The replicas' flags by slice, as the fake holds them. */
export const replicaFlags = (host: FakeHost): string[] =>
  (host.model().svm?.metadb ?? []).map((replica) => `${replica.device}:${replica.flags}`);
