import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../../agent/executor/step-context.ts';
import type { FakeModel } from '../../../sim/fake-host/host-model.mjs';
import {
  createFakeHost,
  type FakeHost,
  mdClientModel,
  progressRows,
  type RemoteHalf,
  seedMdClientSuperblocks,
} from '../../helpers/fake-host.ts';
import { FAKE_TIMING } from './field-case.ts';
import { fastPathPlan, fullPlan, LAYOUT, lastProgress, runOn, UP_TO_RESCAN } from './harness.ts';

/**
 * What goes wrong in the field, reproduced by the fakes: a disk that comes back under another
 * name, partition nodes that appear late, a device held open, mdadm refusing `--re-add` and
 * `--add`, a resync that stalls, an operator's stop file.
 */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const made of hosts.splice(0)) made.remove();
});

const mdHost = (remote: RemoteHalf, change: (model: FakeModel) => void = () => undefined): FakeHost => {
  const model = mdClientModel(LAYOUT, remote);
  change(model);
  const host = createFakeHost(model);
  seedMdClientSuperblocks(host, LAYOUT, remote);
  hosts.push(host);
  return host;
};

const remoteLun = (model: FakeModel) => {
  const lun = model.luns[LAYOUT.hctl];
  if (lun === undefined) throw new Error('no remote LUN');
  return lun;
};

describe('the executor against real failures', () => {
  it('fails disk.verify when the disk comes back under another name, and adds nothing', async () => {
    const host = mdHost('offline', (model) => {
      remoteLun(model).comesBackAs = 'sdq';
    });
    const run = await runOn(host, fullPlan(host));
    expect(run.result).toMatchObject({ outcome: 'failed', code: 'disk-identity-changed' });
    expect(lastProgress(run.events)).toMatchObject({ step: 6, action: 'disk.verify', outcome: 'failed' });
    expect(lastProgress(run.events)?.detail).toContain('came back as sdq, not sdb');
    expect(host.actions()).toEqual(UP_TO_RESCAN);
    expect(host.model().arrays.md0?.members.map((member) => member.device)).toEqual(['sda1']);
  });

  it('waits for partition nodes that appear late, then verifies and adds', async () => {
    const host = mdHost('offline', (model) => {
      remoteLun(model).partitionDelayMs = 4_000;
    });
    const run = await runOn(host, fullPlan(host));
    expect(run.result).toMatchObject({ outcome: 'succeeded' });
    const verify = run.result.steps.find((step) => step.action === 'disk.verify');
    expect(verify?.durationMs).toBeGreaterThanOrEqual(4_000);
    expect(host.actions().slice(UP_TO_RESCAN.length)).toEqual([
      ['mdadm', '/dev/md0', '--re-add', '/dev/sdb1'],
      ['mdadm', '/dev/md1', '--re-add', '/dev/sdb2'],
    ]);
  });

  it('fails disk.verify when partition nodes never appear within the deadline (partition-missing)', async () => {
    const host = mdHost('offline', (model) => {
      remoteLun(model).partitionDelayMs = 3_600_000;
    });
    const run = await runOn(host, fullPlan(host));
    expect(run.result).toMatchObject({ outcome: 'failed', code: 'partition-missing' });
    expect(host.actions()).toEqual(UP_TO_RESCAN);
  });

  it('fails scsi.delete when the kernel answers EBUSY (device held open) and rescans nothing', async () => {
    const host = mdHost('offline', (model) => {
      remoteLun(model).heldOpen = true;
    });
    const run = await runOn(host, fullPlan(host));
    expect(run.result).toMatchObject({ outcome: 'failed', code: 'device-busy' });
    expect(lastProgress(run.events)).toMatchObject({ step: 4, action: 'scsi.delete', outcome: 'failed' });
    expect(host.actions()).toEqual(UP_TO_RESCAN.slice(0, 4));
    expect(host.model().luns[LAYOUT.hctl]?.attached).toBe('sdb');
  });

  it('without a bitmap, adds with --add and stops when mdadm 3.2.3 says the device reports being an active member', async () => {
    const host = mdHost('back', (model) => {
      model.mdadmVersion = '3.2.3';
      for (const array of Object.values(model.arrays)) array.bitmap = false;
    });
    const run = await runOn(host, fastPathPlan(host));
    expect(run.result).toMatchObject({ outcome: 'failed', code: 'add-refused', branch: 'fastPath' });
    expect(lastProgress(run.events)?.detail).toContain('reports being an active member for /dev/md0');
    expect(host.actions()).toEqual([
      ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--add', '/dev/sdb1'],
    ]);
  });

  it('falls back to --add when mdadm refuses the --re-add, and reports both refusals of mdadm 3.2.3', async () => {
    const host = mdHost('back', (model) => {
      model.mdadmVersion = '3.2.3';
      const md0 = model.arrays.md0;
      if (md0 !== undefined) md0.bitmapEventsCleared = 1_830;
    });
    const run = await runOn(host, fastPathPlan(host));
    expect(run.result).toMatchObject({ outcome: 'failed', code: 'add-refused' });
    const detail = lastProgress(run.events)?.detail ?? '';
    expect(detail).toContain('mdadm: --re-add for /dev/sdb1 to /dev/md0 is not possible');
    expect(detail).toContain('reports being an active member');
    expect(host.actions()).toEqual([
      ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--re-add', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--add', '/dev/sdb1'],
    ]);
  });

  it('fails md.wait-sync only after stallSeconds without progress, reporting progress meanwhile', async () => {
    const host = mdHost('back');
    host.update((model) => {
      const md0 = model.arrays.md0;
      if (md0 !== undefined) md0.reAddRatePerSecond = 0.5;
    });
    const plan = fastPathPlan(host);
    const stallAt = 30;
    let slept = 0;
    let stalled = false;
    const clock: Clock = {
      now: host.clock.now,
      sleep: async (ms) => {
        slept += ms;
        // Progress for half a minute, then the resync hangs.
        if (slept > stallAt * 1000 && !stalled) {
          stalled = true;
          host.update((model) => void Object.assign(model.arrays.md0 ?? {}, { stalled: true }));
        }
        await host.clock.sleep(ms);
      },
    };
    const run = await runOn(host, plan, {
      clock,
      timing: { ...FAKE_TIMING, syncPollMs: 5_000, progressReportMs: 5_000 },
    });
    expect(run.result).toMatchObject({ outcome: 'failed', code: 'sync-stalled' });
    const wait = run.result.steps.find((step) => step.action === 'md.wait-sync');
    expect(wait?.durationMs).toBeGreaterThanOrEqual((stallAt + 600) * 1000);
    const recovering = run.events.filter((event) => event.type === 'mirror.recovering');
    expect(recovering.length).toBeGreaterThan(2);
    expect(recovering.every((event) => event.planid === plan.id)).toBe(true);
  });

  it('fails md.wait-sync at once when a member fails during the resync (member-failed)', async () => {
    const host = mdHost('back');
    const clock: Clock = {
      now: host.clock.now,
      sleep: async (ms) => {
        host.update((model) => {
          const sda1 = model.arrays.md0?.members.find((member) => member.device === 'sda1');
          if (sda1 !== undefined) sda1.state = 'faulty';
        });
        await host.clock.sleep(ms);
      },
    };
    const run = await runOn(host, fastPathPlan(host), { clock });
    expect(run.result).toMatchObject({ outcome: 'failed', code: 'member-failed' });
  });

  it('stops at the next step when the stop file appears during a plan', async () => {
    const host = mdHost('offline');
    let calls = 0;
    const run = await runOn(host, fullPlan(host), {
      runProgram: async (program, args, options) => {
        const result = await host.runInProcess(program, args, options);
        if (args.includes('--fail')) {
          calls += 1;
          writeFileSync(host.stopFile, '');
        }
        return result;
      },
    });
    expect(calls).toBe(1);
    expect(run.result).toMatchObject({ outcome: 'refused', code: 'stop-file' });
    expect(progressRows(run.events).slice(-2)).toEqual([
      [2, 'steps', 'md.remove', 'started', undefined],
      [2, 'steps', 'md.remove', 'refused', 'stop-file'],
    ]);
    expect(host.actions()).toEqual(UP_TO_RESCAN.slice(0, 1));
  });

  it('stops waiting for a resync when the stop file appears', async () => {
    const host = mdHost('back');
    const clock: Clock = {
      now: host.clock.now,
      sleep: async (ms) => {
        writeFileSync(host.stopFile, '');
        await host.clock.sleep(ms);
      },
    };
    const run = await runOn(host, fastPathPlan(host), { clock });
    expect(run.result).toMatchObject({ outcome: 'failed', code: 'stop-file' });
    expect(lastProgress(run.events)).toMatchObject({
      action: 'md.wait-sync',
      branch: 'fastPath',
      outcome: 'failed',
    });
  });

  it('runs the field order with programs found on the search path (no program runner injected)', async () => {
    const host = mdHost('offline');
    const run = await runOn(host, fullPlan(host));
    expect(run.result.outcome).toBe('succeeded');
    expect(host.actions()).toEqual([
      ...UP_TO_RESCAN,
      ['mdadm', '/dev/md0', '--re-add', '/dev/sdb1'],
      ['mdadm', '/dev/md1', '--re-add', '/dev/sdb2'],
    ]);
    expect(host.reads()).toContainEqual(['udevadm', 'settle', '--timeout=10']);
  });
});
