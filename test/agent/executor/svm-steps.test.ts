import { afterEach, describe, expect, it } from 'vitest';
import type { FakeModel } from '../../../sim/fake-host/host-model.mjs';
import { createFakeHost, type FakeHost } from '../../helpers/fake-host.ts';
import {
  changingDuringWait,
  type Execution,
  execute,
  guestModel,
  probeC0d1,
  RUNBOOK,
  replaceC0d1s0,
  replicaFlags,
  replicas,
  restore,
  returnedGuest,
  returnedTwoDiskGuest,
  waitD10,
} from './svm-guest.ts';

/**
 * The SVM runbook against a state database that behaves as Solaris's does: replicas on the
 * returned disk stay in error after it is back and after `metareplace`, so `svm.metareplace`
 * must not refuse for them alone, and `svm.metadb-restore` re-creates them, each of its guards
 * refused with its own code and nothing run, and never with `-f`.
 */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const made of hosts.splice(0)) made.remove();
});
const track = (host: FakeHost): FakeHost => {
  hosts.push(host);
  return host;
};

const lastReport = ({ execution }: Execution) => execution.steps[execution.steps.length - 1];

/** No `-f` in any command the executor ran. */
const expectNeverForced = (host: FakeHost) => {
  for (const argv of host.actions()) expect(argv.slice(1), argv.join(' ')).not.toContain('-f');
};

/** The plan stopped at `step` refused with `code`, and nothing after the mirror's repair ran. */
const expectRefused = (run: Execution, step: number, code: string): string => {
  expect(run.execution.outcome).toBe('refused');
  expect(lastReport(run)).toMatchObject({ step, outcome: 'refused', code });
  return lastReport(run)?.detail ?? '';
};

const metadbActions = (host: FakeHost) => host.actions().filter((argv) => argv[0] === 'metadb');

const REPAIR = [['metareplace', '-e', 'd10', 'c0d1s0']];

describe('the fake guest', () => {
  it('keeps the replicas of the returned disk in error after it is back and after metareplace', async () => {
    const host = track(returnedGuest());
    expect(replicaFlags(host)).toEqual([
      'c0d0s7:apluom',
      'c0d0s7:apluo',
      'c0d0s7:apluo',
      'c0d1s7:Wpl',
      'c0d1s7:Wpl',
      'c0d1s7:Wpl',
    ]);
    await execute(track(host), [probeC0d1, replaceC0d1s0, waitD10]);
    expect(replicaFlags(host).filter((flags) => flags.startsWith('c0d1s7'))).toEqual([
      'c0d1s7:Wpl',
      'c0d1s7:Wpl',
      'c0d1s7:Wpl',
    ]);
  });
});

describe('svm.metareplace and the state database', () => {
  it('re-enables the component while the only replicas in error are on the disk being repaired (exactly half active)', async () => {
    const host = track(returnedGuest());
    const run = await execute(host, [probeC0d1, replaceC0d1s0]);
    expect(run.execution.outcome).toBe('succeeded');
    expect(host.actions()).toEqual(REPAIR);
  });

  it('refuses while a replica on another disk is in error (metadb-unhealthy)', async () => {
    const host = track(
      createFakeHost(
        guestModel([
          ...replicas('c0d0s7', 2, 'apluo', true),
          ...replicas('c0d0s7', 1, 'Wpl'),
          ...replicas('c0d1s7', 3, 'apluo'),
        ]),
      ),
    );
    const run = await execute(host, [probeC0d1, replaceC0d1s0]);
    expect(expectRefused(run, 1, 'metadb-unhealthy')).toContain('c0d0s7 (Wpl)');
    expect(host.actions()).toEqual([]);
  });

  it('refuses when replicas on both disks are in error (metadb-unhealthy)', async () => {
    const host = track(returnedGuest([...replicas('c0d0s7', 3, 'Wpl'), ...replicas('c0d1s7', 3, 'apluo')]));
    const run = await execute(host, [probeC0d1, replaceC0d1s0]);
    expect(expectRefused(run, 1, 'metadb-unhealthy')).toContain('off the repaired disk c0d1');
    expect(host.actions()).toEqual([]);
  });

  it('refuses when fewer than half of the replicas are active (metadb-unhealthy)', async () => {
    const host = track(
      returnedGuest([...replicas('c0d0s7', 2, 'apluo', true), ...replicas('c0d1s7', 3, 'apluo')]),
    );
    const run = await execute(host, [probeC0d1, replaceC0d1s0]);
    expect(expectRefused(run, 1, 'metadb-unhealthy')).toBe('only 2 of 5 replicas are active');
  });
});

describe('svm.metadb-restore', () => {
  it('heals the guest whose replicas stayed in error: metareplace, wait-sync, then metadb -d and metadb -a -c', async () => {
    const host = track(returnedGuest());
    const run = await execute(host, RUNBOOK);
    expect(run.execution).toMatchObject({ outcome: 'succeeded', branch: 'steps' });
    expect(host.actions()).toEqual([
      ...REPAIR,
      ['metadb', '-d', 'c0d1s7'],
      ['metadb', '-a', '-c', '3', 'c0d1s7'],
    ]);
    expectNeverForced(host);
    expect(replicaFlags(host).filter((flags) => flags.startsWith('c0d1s7'))).toEqual([
      'c0d1s7:au',
      'c0d1s7:au',
      'c0d1s7:au',
    ]);
    expect(host.model().svm?.mirrors[0]?.submirrors.map((submirror) => submirror.state)).toEqual([
      'Okay',
      'Okay',
    ]);
    expect(lastReport(run)).toMatchObject({ action: 'svm.metadb-restore', outcome: 'succeeded' });
    expect(lastReport(run)?.detail).toContain('3 replicas on c0d1s7 active');
  });

  it('heals a guest whose root and data disks both came back, replicas in error on both: one plan', async () => {
    const host = track(returnedTwoDiskGuest());
    expect(replicaFlags(host).filter((flags) => flags.includes('W'))).toEqual([
      'c0d1s7:Wpl',
      'c0d1s7:Wpl',
      'c0d2s7:Wpl',
    ]);
    const probeC0d2 = { ...probeC0d1, disk: 'c0d2' };
    const run = await execute(host, [
      probeC0d1,
      probeC0d2,
      replaceC0d1s0,
      { action: 'svm.metareplace', mirror: 'd20', component: 'c0d2s0' },
      waitD10,
      { action: 'svm.wait-sync', mirror: 'd20', stallSeconds: 600 },
      restore('c0d1s7', 2),
      restore('c0d2s7', 1),
    ]);
    expect(run.execution).toMatchObject({ outcome: 'succeeded', branch: 'steps' });
    expect(host.actions()).toEqual([
      ...REPAIR,
      ['metareplace', '-e', 'd20', 'c0d2s0'],
      ['metadb', '-d', 'c0d1s7'],
      ['metadb', '-a', '-c', '2', 'c0d1s7'],
      ['metadb', '-d', 'c0d2s7'],
      ['metadb', '-a', '-c', '1', 'c0d2s7'],
    ]);
    expectNeverForced(host);
    expect(replicaFlags(host).filter((flags) => !flags.startsWith('c0d0s7'))).toEqual([
      'c0d1s7:au',
      'c0d1s7:au',
      'c0d2s7:au',
    ]);
  });

  it('still refuses a plan repairing one disk while the other returned disk’s replicas are in error', async () => {
    const host = track(returnedTwoDiskGuest());
    const run = await execute(host, [probeC0d1, replaceC0d1s0]);
    expect(expectRefused(run, 1, 'metadb-unhealthy')).toContain('c0d2s7 (Wpl)');
    expect(host.actions()).toEqual([]);
  });

  it('in a dry-run checks every guard and runs nothing', async () => {
    const host = track(returnedGuest());
    const run = await execute(host, RUNBOOK, { mode: 'dry-run' });
    expect(run.execution.outcome).toBe('succeeded');
    expect(run.execution.steps.map((step) => step.outcome)).toEqual([
      'succeeded',
      'skipped',
      'skipped',
      'skipped',
    ]);
    expect(lastReport(run)?.detail).toContain('metadb -d c0d1s7; metadb -a -c 3 c0d1s7');
    expect(host.actions()).toEqual([]);
    const wrongCount = await execute(host, [probeC0d1, replaceC0d1s0, waitD10, restore('c0d1s7', 2)], {
      mode: 'dry-run',
    });
    expectRefused(wrongCount, 3, 'replica-count-mismatch');
    expect(host.actions()).toEqual([]);
  });

  it('refuses unless this plan’s svm.wait-sync succeeded in this run (wait-sync-not-succeeded)', async () => {
    const host = track(returnedGuest());
    const alone = await execute(host, [probeC0d1, restore('c0d1s7', 3)]);
    expectRefused(alone, 1, 'wait-sync-not-succeeded');
    const unwaited = await execute(host, [probeC0d1, replaceC0d1s0, restore('c0d1s7', 3), waitD10]);
    expect(expectRefused(unwaited, 2, 'wait-sync-not-succeeded')).toContain('d10');
    expect(metadbActions(host)).toEqual([]);
    // An earlier run's wait-sync does not count: the mirror is Okay now, but this plan waited for nothing.
    const later = await execute(host, [probeC0d1, restore('c0d1s7', 3)]);
    expectRefused(later, 1, 'wait-sync-not-succeeded');
    expect(metadbActions(host)).toEqual([]);
  });

  it('refuses a slice off the disk this plan repaired (slice-not-on-repaired-disk)', async () => {
    const host = track(returnedGuest());
    const run = await execute(host, [probeC0d1, replaceC0d1s0, waitD10, restore('c0d0s7', 3)]);
    expect(expectRefused(run, 3, 'slice-not-on-repaired-disk')).toContain('c0d1');
    expect(host.actions()).toEqual(REPAIR);
  });

  it('refuses a slice with no replica (no-replica-on-slice)', async () => {
    const host = track(returnedGuest());
    const run = await execute(host, [probeC0d1, replaceC0d1s0, waitD10, restore('c0d1s6', 1)]);
    expectRefused(run, 3, 'no-replica-on-slice');
    expect(host.actions()).toEqual(REPAIR);
  });

  it('refuses while a replica on the slice is not in error (replica-not-in-error)', async () => {
    const healthy = track(createFakeHost(guestModel()));
    const run = await execute(healthy, RUNBOOK);
    expectRefused(run, 3, 'replica-not-in-error');
    expect(healthy.actions()).toEqual(REPAIR);
    const mixed = track(
      createFakeHost(
        guestModel([
          ...replicas('c0d0s7', 3, 'apluo', true),
          ...replicas('c0d1s7', 2, 'Wpl'),
          ...replicas('c0d1s7', 1, 'apluo'),
        ]),
      ),
    );
    const partly = await execute(mixed, RUNBOOK);
    expect(expectRefused(partly, 3, 'replica-not-in-error')).toContain('1 of the 3 replicas on c0d1s7');
    expect(mixed.actions()).toEqual(REPAIR);
  });

  it('refuses when a replica on another disk went into error meanwhile (other-replica-not-active)', async () => {
    const host = track(returnedGuest());
    const clock = changingDuringWait(host, (model: FakeModel) => {
      const primary = model.svm?.metadb.find(
        (replica) => replica.device === 'c0d0s7' && !replica.flags.includes('m'),
      );
      if (primary !== undefined) primary.flags = 'Wpl';
    });
    const run = await execute(host, RUNBOOK, { clock });
    expect(expectRefused(run, 3, 'other-replica-not-active')).toContain('c0d0s7 (Wpl)');
    expect(host.actions()).toEqual(REPAIR);
  });

  it('refuses when the replicas on other disks are fewer than half (too-few-other-replicas)', async () => {
    // c0d1 also holds active replicas on s6: metareplace may run (4 of 6 active), but deleting
    // c0d1s7 would leave the replicas of other disks (2 of 6) without the half.
    const host = track(
      returnedGuest([
        ...replicas('c0d0s7', 2, 'apluo', true),
        ...replicas('c0d1s7', 2, 'apluo'),
        ...replicas('c0d1s6', 2, 'apluo'),
      ]),
    );
    host.update((model) => {
      for (const replica of model.svm?.metadb ?? []) if (replica.device === 'c0d1s6') replica.flags = 'apluo';
    });
    const run = await execute(host, [probeC0d1, replaceC0d1s0, waitD10, restore('c0d1s7', 2)]);
    expect(expectRefused(run, 3, 'too-few-other-replicas')).toContain('only 2 of 6');
    expect(host.actions()).toEqual(REPAIR);
  });

  it('refuses a count that is not the number of replicas on the slice (replica-count-mismatch)', async () => {
    const host = track(returnedGuest());
    const run = await execute(host, [probeC0d1, replaceC0d1s0, waitD10, restore('c0d1s7', 4)]);
    expect(expectRefused(run, 3, 'replica-count-mismatch')).toContain('metadb lists 3');
    expect(host.actions()).toEqual(REPAIR);
  });

  it('refuses when metadb gives no answer (metadb-unreadable)', async () => {
    const host = track(returnedGuest());
    const clock = changingDuringWait(host, (model: FakeModel) => {
      if (model.svm !== null) model.svm.metadb = [];
    });
    const run = await execute(host, RUNBOOK, { clock });
    expectRefused(run, 3, 'metadb-unreadable');
    expect(host.actions()).toEqual(REPAIR);
  });

  it('fails, saying the replicas were deleted and not re-created, when the disk stops answering again', async () => {
    const host = track(returnedGuest());
    // The alternate service domain goes down again during the resync: metadb -d of the replicas in
    // error still succeeds, metadb -a cannot open the slice.
    const clock = changingDuringWait(host, (model: FakeModel) => {
      const disk = model.solarisDisks?.c0d1;
      if (disk !== undefined) disk.readable = false;
    });
    const run = await execute(host, RUNBOOK, { clock });
    expect(run.execution.outcome).toBe('failed');
    expect(lastReport(run)).toMatchObject({ step: 3, outcome: 'failed', code: 'tool-failed' });
    expect(lastReport(run)?.detail).toContain('/dev/rdsk/c0d1s7: I/O error');
    expect(lastReport(run)?.detail).toContain('deleted and not re-created');
    expect(metadbActions(host)).toEqual([
      ['metadb', '-d', 'c0d1s7'],
      ['metadb', '-a', '-c', '3', 'c0d1s7'],
    ]);
    expectNeverForced(host);
  });
});
