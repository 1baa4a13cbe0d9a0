import { describe, expect, it } from 'vitest';
import type { HostSnapshot } from '../../events/index.ts';
import type { DetectionState } from '../../probes/detection-state.ts';
import type { EventDraft } from '../../probes/event-draft.ts';
import {
  detectChanges,
  initialDetectionState,
  mirrorPhase,
  PROGRESS_REPORT_STEP_PERCENT,
} from '../../probes/snapshot-diff.ts';
import { hostSnapshot, member, mirror, multipathMap, VIOS2, vscsiDisk } from '../helpers/agent-snapshots.ts';

const healthy = hostSnapshot();
const degraded = hostSnapshot({
  arrays: [mirror({ state: 'degraded', members: [member('sda1'), member('sdb1', 'faulty')] })],
});
const recovering = hostSnapshot({
  arrays: [mirror({ state: 'recovering', members: [member('sda1'), member('sdb1', 'rebuilding')] })],
});

/** The data of a path event, for assertions on path drafts. */
const pathData = (draft: EventDraft) => {
  if (draft.type !== 'path.lost' && draft.type !== 'path.restored')
    throw new Error(`${draft.type} is not a path event`);
  return draft.data;
};

/** Runs detection over a sequence of snapshots, returning the drafts of each step. */
const run = (snapshots: HostSnapshot[], progress: number[] = []) => {
  let state: DetectionState | undefined;
  return snapshots.map((snapshot, index) => {
    const percent = progress[index];
    const changes = detectChanges(
      state,
      snapshot,
      percent === undefined ? new Map() : new Map([['md0', { progress: percent, finishMinutes: 4.2 }]]),
    );
    state = changes.state;
    return changes;
  });
};

describe('mirrorPhase', () => {
  it.each([
    ['clean', [member('sda1'), member('sdb1')], 'healthy'],
    ['checking', [member('sda1'), member('sdb1')], 'healthy'],
    ['degraded', [member('sda1')], 'degraded'],
    ['clean', [member('sda1'), member('sdb1', 'faulty')], 'degraded'],
    ['recovering', [member('sda1'), member('sdb1', 'rebuilding')], 'recovering'],
    ['resyncing', [member('sda1'), member('sdb1')], 'recovering'],
    ['inactive', [member('sda1', 'spare')], 'inactive'],
  ] as const)('reads a %s array with %j as %s', (state, members, phase) => {
    expect(mirrorPhase(mirror({ state, members: [...members] }))).toBe(phase);
  });
});

describe('detectChanges: mirrors', () => {
  it('reports nothing for a healthy host, first scan or not', () => {
    const [first, second] = run([healthy, healthy]);
    expect(first?.drafts).toEqual([]);
    expect(second?.drafts).toEqual([]);
  });

  it('sends mirror.degraded when md0 loses its in-sync member on VIOS2, with every member still shown', () => {
    const [, changes] = run([healthy, degraded]);
    expect(changes?.drafts).toEqual([
      {
        type: 'mirror.degraded',
        subject: 'md0',
        data: {
          array: 'md0',
          kind: 'md',
          level: 'raid1',
          members: [member('sda1'), { ...member('sdb1', 'faulty'), failureDomain: VIOS2 }],
          bitmap: true,
          uuid: '7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a',
        },
      },
    ]);
  });

  it('sends mirror.degraded when a faulty member has been removed from the array', () => {
    const removed = hostSnapshot({ arrays: [mirror({ state: 'degraded', members: [member('sda1')] })] });
    const [, , changes] = run([healthy, degraded, removed]);
    expect(changes?.drafts).toEqual([]);
    const [, direct] = run([healthy, removed]);
    expect(direct?.drafts.map((draft) => draft.type)).toEqual(['mirror.degraded']);
  });

  it('reports an array already degraded at the first scan', () => {
    const [first] = run([degraded]);
    expect(first?.drafts.map((draft) => draft.type)).toEqual(['mirror.degraded']);
  });

  it('does not repeat mirror.degraded while nothing changes', () => {
    const steps = run([healthy, degraded, degraded, degraded]);
    expect(steps.flatMap((step) => step.drafts).map((draft) => draft.type)).toEqual(['mirror.degraded']);
  });

  it('sends mirror.recovering with progress as the resync starts, then every step, then mirror.healthy', () => {
    const steps = run(
      [healthy, degraded, recovering, recovering, recovering, recovering, healthy],
      [0, 0, 1.5, 5, 1.5 + PROGRESS_REPORT_STEP_PERCENT, 97, 100],
    );
    const drafts = steps.flatMap((step) => step.drafts);
    expect(
      drafts.map((draft) => [draft.type, 'progress' in draft.data ? draft.data.progress : null]),
    ).toEqual([
      ['mirror.degraded', null],
      ['mirror.recovering', 1.5],
      ['mirror.recovering', 11.5],
      ['mirror.recovering', 97],
      ['mirror.healthy', null],
    ]);
    expect(drafts[1]?.data).toMatchObject({ array: 'md0', finishMinutes: 4.2 });
    expect(drafts.at(-1)).toEqual({
      type: 'mirror.healthy',
      subject: 'md0',
      data: { array: 'md0', kind: 'md', level: 'raid1', members: [member('sda1'), member('sdb1')] },
    });
  });

  it('carries the sectors of md/sync_completed in mirror.recovering when the scan read them', () => {
    const changes = detectChanges(
      initialDetectionState(degraded),
      recovering,
      new Map([['md0', { progress: 35.2, syncedSectors: 29_360_128, totalSectors: 83_816_448 }]]),
    );
    expect(changes.drafts).toMatchObject([
      {
        type: 'mirror.recovering',
        data: { progress: 35.2, syncedSectors: 29_360_128, totalSectors: 83_816_448 },
      },
    ]);
  });

  it('reports progress 0 for a resync the kernel delayed and has no percentage for', () => {
    const [, changes] = run([degraded, recovering]);
    expect(changes?.drafts).toMatchObject([{ type: 'mirror.recovering', data: { progress: 0 } }]);
  });

  it('sends both mirror.degraded and mirror.recovering when a member drops straight into a rebuild', () => {
    const [, changes] = run([healthy, recovering], [0, 0]);
    expect(changes?.drafts.map((draft) => draft.type)).toEqual(['mirror.degraded', 'mirror.recovering']);
  });

  it('sends mirror.degraded when the rebuilding member fails again during recovery', () => {
    const failedAgain = hostSnapshot({
      arrays: [mirror({ state: 'degraded', members: [member('sda1'), member('sdb1', 'faulty')] })],
    });
    const steps = run([degraded, recovering, failedAgain], [0, 30, 0]);
    expect(steps[2]?.drafts.map((draft) => draft.type)).toEqual(['mirror.degraded']);
  });

  it('sends mirror.healthy after an unclean-shutdown resync, which was never degraded', () => {
    const resyncing = hostSnapshot({ arrays: [mirror({ state: 'resyncing' })] });
    const steps = run([resyncing, healthy], [40]);
    expect(steps.flatMap((step) => step.drafts).map((draft) => draft.type)).toEqual([
      'mirror.recovering',
      'mirror.healthy',
    ]);
  });

  it('sends mirror.degraded when an array goes inactive, and nothing for an array first seen inactive', () => {
    const inactive = hostSnapshot({
      arrays: [mirror({ state: 'inactive', members: [member('sda1', 'spare'), member('sdb1', 'spare')] })],
    });
    expect(run([healthy, inactive])[1]?.drafts.map((draft) => draft.type)).toEqual(['mirror.degraded']);
    expect(run([inactive])[0]?.drafts).toEqual([]);
  });

  it('says nothing of an array that was stopped', () => {
    const [, changes] = run([degraded, hostSnapshot({ arrays: [] })]);
    expect(changes?.drafts).toEqual([]);
  });
});

describe('detectChanges: multipath', () => {
  it('sends path.lost with the remaining active paths when a path fails', () => {
    const [, changes] = run([healthy, hostSnapshot({ maps: [multipathMap({ sdd: 'failed' })] })]);
    expect(changes?.drafts).toEqual([
      {
        type: 'path.lost',
        subject: 'mpatha',
        data: {
          map: 'mpatha',
          wwid: '3600a0b80001234560000abcd12345678',
          path: 'sdd',
          hctl: '1:0:2:0',
          failureDomain: VIOS2,
          state: 'failed',
          activePaths: 1,
        },
      },
    ]);
  });

  it('sends path.restored when the path is back in its former state, once', () => {
    const steps = run([
      healthy,
      hostSnapshot({ maps: [multipathMap({ sdd: 'failed' })] }),
      hostSnapshot({ maps: [multipathMap({ sdd: 'pending' })] }),
      healthy,
      healthy,
    ]);
    const drafts = steps.flatMap((step) => step.drafts);
    expect(drafts.map((draft) => [draft.type, draft.data])).toEqual([
      ['path.lost', expect.objectContaining({ path: 'sdd', state: 'failed', activePaths: 1 })],
      ['path.restored', expect.objectContaining({ path: 'sdd', state: 'active', activePaths: 2 })],
    ]);
  });

  it('keeps a ghost (standby) path healthy, and reports a ghost going offline as lost', () => {
    const standby = hostSnapshot({ maps: [multipathMap({ sdd: 'ghost' })] });
    const offline = hostSnapshot({ maps: [multipathMap({ sdd: 'offline' })] });
    const steps = run([standby, standby, offline, standby]);
    expect(steps.flatMap((step) => step.drafts).map((draft) => [draft.type, pathData(draft).state])).toEqual([
      ['path.lost', 'offline'],
      ['path.restored', 'ghost'],
    ]);
  });

  it('reports a path that vanished from the map as lost (offline), and its return as restored', () => {
    const vanished = hostSnapshot({
      maps: [{ ...multipathMap(), paths: multipathMap().paths.filter((path) => path.path === 'sdc') }],
    });
    const steps = run([healthy, vanished, healthy]);
    expect(steps.flatMap((step) => step.drafts).map((draft) => [draft.type, pathData(draft).state])).toEqual([
      ['path.lost', 'offline'],
      ['path.restored', 'active'],
    ]);
  });

  it('reports a path already failed at the first scan', () => {
    const [first] = run([hostSnapshot({ maps: [multipathMap({ sdc: 'failed', sdd: 'failed' })] })]);
    expect(first?.drafts.map((draft) => [draft.type, pathData(draft).activePaths])).toEqual([
      ['path.lost', 0],
      ['path.lost', 0],
    ]);
  });
});

describe('detectChanges: disks', () => {
  it('names a disk that went away and came back running, for a disk.probed', () => {
    const gone = hostSnapshot({ disks: [vscsiDisk('sda')] });
    const steps = run([healthy, gone, gone, healthy, healthy]);
    expect(steps.map((step) => step.returnedDisks.map((disk) => disk.disk))).toEqual([
      [],
      [],
      [],
      ['sdb'],
      [],
    ]);
  });

  it('names a disk that was offline and is running again', () => {
    const offline = hostSnapshot({ disks: [vscsiDisk('sda'), vscsiDisk('sdb', 'offline')] });
    const steps = run([offline, healthy]);
    expect(steps.map((step) => step.returnedDisks.map((disk) => disk.disk))).toEqual([[], ['sdb']]);
  });

  it('does not call a disk first seen running a return', () => {
    expect(run([healthy])[0]?.returnedDisks).toEqual([]);
  });
});

describe('initialDetectionState', () => {
  it('diffs a snapshot against itself to nothing', () => {
    expect(detectChanges(initialDetectionState(degraded), degraded).drafts).toEqual([]);
  });
});
