import { describe, expect, it } from 'vitest';
import type { ArrayReport, HostSnapshot } from '../../events/index.ts';
import {
  disksReadAgain,
  disksToWatch,
  isRemoteFailureDomain,
  MAX_WATCHED_DISKS,
  readBackIdentity,
} from '../../probes/snapshot-diff.ts';
import {
  HOST_ID,
  hostSnapshot,
  MD0_UUID,
  member,
  mirror,
  VIOS2,
  vscsiDisk,
} from '../helpers/agent-snapshots.ts';

/** Which disks a client probes, and when a probe that reads again is news (§3 `disk.probed`). */

const degraded = (members = [member('sda1'), member('sdb1', 'faulty')]): ArrayReport =>
  mirror({ state: 'degraded', members });

const svm = (componentState: 'maintenance' | 'last-erred' | 'in-sync'): ArrayReport => ({
  array: 'd10',
  kind: 'svm',
  level: 'raid1',
  state: componentState === 'in-sync' ? 'clean' : 'degraded',
  members: [
    {
      device: 'c0d0s0',
      disk: 'c0d0',
      state: 'in-sync',
      failureDomain: 'vdisk:cdom1/primary',
      submirror: 'd11',
    },
    {
      device: 'c0d1s0',
      disk: 'c0d1',
      state: componentState,
      failureDomain: 'vdisk:cdom1/alternate',
      submirror: 'd12',
    },
  ],
});

describe('disksToWatch', () => {
  it('watches the disk of a faulty md member on a remote domain, with the arrays it is watched for', () => {
    const snapshot = hostSnapshot({
      arrays: [degraded(), { ...degraded([member('sda2'), member('sdb2', 'faulty')]), array: 'md1' }],
    });
    expect(disksToWatch(snapshot)).toEqual([{ disk: 'sdb', failureDomain: VIOS2, arrays: ['md0', 'md1'] }]);
  });

  it('watches neither in-sync nor rebuilding members, nor a faulty member on a local disk', () => {
    expect(disksToWatch(hostSnapshot())).toEqual([]);
    const rebuilding = hostSnapshot({
      arrays: [mirror({ state: 'recovering', members: [member('sda1'), member('sdb1', 'rebuilding')] })],
    });
    expect(disksToWatch(rebuilding)).toEqual([]);
    const local = hostSnapshot({
      arrays: [degraded([member('sda1'), member('sde1', 'faulty')])],
      disks: [vscsiDisk('sda'), { ...vscsiDisk('sde'), failureDomain: `local:${HOST_ID}` }],
    });
    expect(disksToWatch(local)).toEqual([]);
    expect(isRemoteFailureDomain(`local:${HOST_ID}`)).toBe(false);
  });

  it('watches a Maintenance SVM component, never a Last Erred one', () => {
    const guest = (state: 'maintenance' | 'last-erred') =>
      hostSnapshot({ platform: 'solaris', arrays: [svm(state)], maps: [], disks: [] });
    expect(disksToWatch(guest('maintenance'))).toEqual([
      { disk: 'c0d1', failureDomain: 'vdisk:cdom1/alternate', arrays: ['d10'] },
    ]);
    expect(disksToWatch(guest('last-erred'))).toEqual([]);
  });

  it('keeps watching a disk whose member went missing while the array stays degraded, then lets go', () => {
    const before = disksToWatch(hostSnapshot({ arrays: [degraded()] }));
    const previous = new Map(before.map((disk) => [disk.disk, disk]));
    const removed = hostSnapshot({
      arrays: [mirror({ state: 'degraded', members: [member('sda1')] })],
      disks: [vscsiDisk('sda')],
    });
    expect(disksToWatch(removed, previous)).toEqual([{ disk: 'sdb', failureDomain: VIOS2, arrays: ['md0'] }]);
    const readded = hostSnapshot({
      arrays: [mirror({ state: 'recovering', members: [member('sda1'), member('sdb1', 'rebuilding')] })],
    });
    expect(disksToWatch(readded, previous)).toEqual([]);
    expect(disksToWatch(removed)).toEqual([]);
  });

  it('keeps the remote domain of a disk that vanished while its member still shows, faulty', () => {
    const previous = new Map([['sdb', { disk: 'sdb', failureDomain: VIOS2, arrays: ['md0'] }]]);
    const vanished = hostSnapshot({
      arrays: [
        degraded([member('sda1'), { ...member('sdb1', 'faulty'), failureDomain: `local:${HOST_ID}` }]),
      ],
      disks: [vscsiDisk('sda')],
    });
    expect(disksToWatch(vanished, previous)).toEqual([
      { disk: 'sdb', failureDomain: VIOS2, arrays: ['md0'] },
    ]);
  });

  it(`watches at most ${MAX_WATCHED_DISKS} disks`, () => {
    const disks = Array.from(
      { length: MAX_WATCHED_DISKS + 6 },
      (_, index) => `sd${String.fromCharCode(97 + (index % 26))}${index}`,
    );
    const arrays = disks.map((disk, index) =>
      mirror({
        array: `md${index}`,
        state: 'degraded',
        members: [{ device: `${disk}1`, disk, state: 'faulty', failureDomain: VIOS2 }],
      }),
    );
    expect(disksToWatch(hostSnapshot({ arrays, disks: [] }))).toHaveLength(MAX_WATCHED_DISKS);
  });
});

describe('disksReadAgain', () => {
  const probedSdb = (readable: boolean, wwid?: string): HostSnapshot =>
    hostSnapshot({
      disks: [
        vscsiDisk('sda'),
        { ...vscsiDisk('sdb'), ...(wwid === undefined ? {} : { wwid }), deviceState: 'running', readable },
      ],
    });
  const identity = readBackIdentity(undefined, [{ device: 'sdb1', array: 'md0', uuid: MD0_UUID }]);
  const readBack = new Map([['sdb', identity]]);

  it('names a disk that did not read at the last scan and reads now', () => {
    expect(disksReadAgain(probedSdb(false), probedSdb(true), readBack, new Map())).toEqual(['sdb']);
  });

  it('is silent while a disk keeps reading the same, and for a disk readable from its first probe', () => {
    expect(disksReadAgain(probedSdb(true), probedSdb(true), readBack, readBack)).toEqual([]);
    expect(disksReadAgain(undefined, probedSdb(true), readBack, new Map())).toEqual([]);
    expect(disksReadAgain(hostSnapshot(), probedSdb(true), readBack, new Map())).toEqual([]);
    expect(disksReadAgain(probedSdb(false), probedSdb(false), new Map(), new Map())).toEqual([]);
  });

  it('names a disk still readable whose superblock UUID or WWID changed since it was reported', () => {
    const other = readBackIdentity(undefined, [
      { device: 'sdb1', uuid: 'aaaabbbb:ccccdddd:eeeeffff:00001111' },
    ]);
    expect(disksReadAgain(probedSdb(true), probedSdb(true), new Map([['sdb', other]]), readBack)).toEqual([
      'sdb',
    ]);
    expect(readBackIdentity('3600a0b8000', [])).not.toBe(readBackIdentity('3600a0b8001', []));
  });
});
