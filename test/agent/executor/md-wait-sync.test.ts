import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../../agent/executor/step-context.ts';
import type { FaultlineEvent, PlanStep } from '../../../events/index.ts';
import type { FakeModel } from '../../../sim/fake-host/host-model.mjs';
import type { FakeHost } from '../../helpers/fake-host.ts';
import { ONE_TIB_KIB, rebuildingAtSpeedLimitMin } from '../../helpers/fake-md-sync.ts';
import { LAYOUT, planOn, probeSdb } from './harness.ts';
import { executeOn, mdClient, progressOf } from './md-harness.ts';

/**
 * `md.wait-sync` (DESIGN §4) measures progress in sectors (`md/sync_completed`, and mdstat's live
 * position), so a large array resyncing at the kernel's minimum speed is not called stalled; a
 * resync queued behind another array on the same disks (`resync=DELAYED`) waits while the one
 * ahead of it moves; only no sector of progress for `stallSeconds` fails it.
 */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});
const track = (host: FakeHost): FakeHost => {
  hosts.push(host);
  return host;
};

const [ROOT, SWAP] = LAYOUT.mirrors;

const recovering = (events: readonly FaultlineEvent[], array: string) =>
  events.flatMap((event) =>
    event.type === 'mirror.recovering' && event.data.array === array ? [event.data] : [],
  );

/** The host's clock, with the stop file created once `afterMs` of waiting have passed. */
const stopAfter = (host: FakeHost, afterMs: number): Clock => {
  let slept = 0;
  return {
    now: host.clock.now,
    sleep: async (ms, signal) => {
      slept += ms;
      if (slept >= afterMs) writeFileSync(host.stopFile, '');
      await host.clock.sleep(ms, signal);
    },
  };
};

/** Both halves of sdb out of their arrays, so the plan adds both back: md1 queues behind md0. */
const bothRemoved = (change: (model: FakeModel) => void) => (model: FakeModel) => {
  const swap = model.arrays.md1?.members.find((member) => member.device === 'sdb2');
  if (swap !== undefined) swap.state = 'faulty';
  change(model);
};

const addBoth: PlanStep[] = [
  { action: 'md.remove', array: ROOT.array, member: 'sdb1' },
  { action: 'md.remove', array: SWAP.array, member: 'sdb2' },
  { action: 'md.add', array: ROOT.array, member: 'sdb1', uuid: ROOT.uuid },
  { action: 'md.add', array: SWAP.array, member: 'sdb2', uuid: SWAP.uuid },
];

describe('md.wait-sync', () => {
  it('does not call a 1 TiB resync at speed_limit_min stalled: its sectors move while its percentage stands still', async () => {
    const host = track(mdClient('back', (model) => rebuildingAtSpeedLimitMin(model, ROOT.array, 'sdb1')));
    const stallSeconds = 600;
    const run = await executeOn(
      host,
      planOn(host, [probeSdb, { action: 'md.wait-sync', array: ROOT.array, stallSeconds }]),
      // Four stall limits of waiting, then the operator's stop file ends the test.
      {
        clock: stopAfter(host, 4 * stallSeconds * 1000),
        timing: { syncPollMs: 60_000, progressReportMs: 60_000 },
      },
    );
    expect(run.execution.steps.at(-1)).toMatchObject({
      action: 'md.wait-sync',
      outcome: 'failed',
      code: 'stop-file',
    });
    const reports = recovering(run.events, ROOT.array);
    // 0.1 % of 1 TiB at 1,000 KiB/s takes 1,074 s: mdstat's percentage moved once in 2,400 s.
    expect(new Set(reports.map((report) => report.progress)).size).toBeLessThanOrEqual(3);
    const synced = reports.map((report) => report.syncedSectors ?? -1);
    // sync_completed moves every five minutes: seven checkpoints in 2,400 s.
    expect(new Set(synced).size).toBeGreaterThanOrEqual(7);
    expect(synced).toEqual([...synced].sort((left, right) => left - right));
    expect(reports.at(-1)).toMatchObject({ totalSectors: ONE_TIB_KIB * 2 });
  });

  it('still fails a resync that moves no sector for stallSeconds (sync-stalled)', async () => {
    const host = track(
      mdClient('back', (model) => {
        rebuildingAtSpeedLimitMin(model, ROOT.array, 'sdb1');
        const md0 = model.arrays.md0;
        if (md0 !== undefined) md0.stalled = true;
      }),
    );
    const run = await executeOn(
      host,
      planOn(host, [probeSdb, { action: 'md.wait-sync', array: ROOT.array, stallSeconds: 120 }]),
      { timing: { syncPollMs: 10_000 } },
    );
    expect(run.execution.steps.at(-1)).toMatchObject({ outcome: 'failed', code: 'sync-stalled' });
    expect(run.execution.steps.at(-1)?.detail).toContain(
      `md0: no sector of progress for 120 s (0 / ${ONE_TIB_KIB * 2} sectors (0%)`,
    );
  });

  it('waits for a resync queued as resync=DELAYED behind another array on the same disks, then sees it through', async () => {
    const host = track(
      mdClient(
        'back',
        bothRemoved((model) => {
          // md0's re-add takes 200 s, far past md1's stall limit of 60 s.
          const md0 = model.arrays.md0;
          if (md0 !== undefined) md0.reAddRatePerSecond = 0.5;
        }),
      ),
    );
    const run = await executeOn(
      host,
      planOn(host, [
        probeSdb,
        ...addBoth,
        { action: 'md.wait-sync', array: SWAP.array, stallSeconds: 60 },
        { action: 'md.wait-sync', array: ROOT.array, stallSeconds: 60 },
      ]),
      { timing: { syncPollMs: 10_000, progressReportMs: 20_000 } },
    );
    expect(run.execution.outcome, JSON.stringify(run.execution.steps.at(-1))).toBe('succeeded');
    const [swapWait] = progressOf(run.events, 'md.wait-sync');
    expect(swapWait?.durationMs).toBeGreaterThanOrEqual(190_000);
    // While queued it reports 0 %: not started, which the control plane counts as progress.
    const queued = recovering(run.events, SWAP.array).filter((report) => report.syncedSectors === undefined);
    expect(queued.length).toBeGreaterThanOrEqual(5);
    expect(queued.every((report) => report.progress === 0)).toBe(true);
  });

  it('fails a queued resync when the one ahead of it moves no sector either', async () => {
    const host = track(
      mdClient(
        'back',
        bothRemoved((model) => {
          const md0 = model.arrays.md0;
          if (md0 !== undefined) md0.stalled = true;
        }),
      ),
    );
    const run = await executeOn(
      host,
      planOn(host, [probeSdb, ...addBoth, { action: 'md.wait-sync', array: SWAP.array, stallSeconds: 60 }]),
      { timing: { syncPollMs: 5_000 } },
    );
    expect(run.execution.steps.at(-1)).toMatchObject({ outcome: 'failed', code: 'sync-stalled' });
    expect(run.execution.steps.at(-1)?.detail).toContain(
      'md1: no sector of progress for 60 s (queued (resync=DELAYED) behind md0 at',
    );
  });
});
