import { describe, expect, it } from 'vitest';
import { formatSnapshotTable, humanSize } from '../../../agent/scan/snapshot-table.ts';
import type { HostSnapshot } from '../../../events/index.ts';

const SNAPSHOT: HostSnapshot = {
  hostId: 'lnxclient07',
  bootId: 'b7c1e5d2-4f0a-4c55-9d39-0e7d2a51c3f1',
  platform: 'linux',
  role: 'client',
  takenAt: '2026-11-22T03:10:00.000Z',
  arrays: [
    {
      array: 'md2',
      kind: 'md',
      level: 'raid1',
      state: 'recovering',
      members: [
        { device: 'sda3', disk: 'sda', state: 'in-sync', failureDomain: 'vscsi:S/vios1' },
        { device: 'sdb3', disk: 'sdb', state: 'rebuilding', failureDomain: 'vscsi:S/vios2' },
      ],
    },
  ],
  maps: [
    {
      map: 'mpatha',
      wwid: '3600a',
      paths: [{ path: 'sdc', hctl: '3:0:0:0', failureDomain: 'fc:500507680b21ac1c', state: 'failed' }],
    },
  ],
  disks: [
    {
      disk: 'sda',
      hctl: '0:0:1:0',
      scsiHost: 'host0',
      driver: 'ibmvscsi',
      sizeBytes: 53687091200,
      failureDomain: 'vscsi:S/vios1',
      deviceState: 'running',
    },
  ],
  domains: [{ name: 'primary', state: 'active', flags: '-n-cv-' }],
};

describe('formatSnapshotTable', () => {
  it('prints aligned sections for arrays with their sync progress, maps, disks and domains', () => {
    expect(formatSnapshotTable(SNAPSHOT, { md2: { progress: 35.2, finishMinutes: 4.1 } })).toBe(
      [
        'host lnxclient07  platform linux  role client  boot b7c1e5d2-4f0a-4c55-9d39-0e7d2a51c3f1  taken 2026-11-22T03:10:00.000Z',
        '',
        'ARRAY  KIND  LEVEL  STATE             MEMBER  DISK  MEMBER STATE  FAILURE DOMAIN',
        'md2    md    raid1  recovering 35.2%  sda3    sda   in-sync       vscsi:S/vios1',
        '                                      sdb3    sdb   rebuilding    vscsi:S/vios2',
        '',
        'MAP     WWID   PATH  HCTL     STATE   FAILURE DOMAIN',
        'mpatha  3600a  sdc   3:0:0:0  failed  fc:500507680b21ac1c',
        '',
        'DISK  HCTL     HOST   DRIVER    SIZE      STATE    FAILURE DOMAIN',
        'sda   0:0:1:0  host0  ibmvscsi  50.0 GiB  running  vscsi:S/vios1',
        '',
        'DOMAIN   STATE   FLAGS',
        'primary  active  -n-cv-',
        '',
      ].join('\n'),
    );
  });

  it("prints an SVM guest's state database replicas per slice", () => {
    const guest: HostSnapshot = {
      ...SNAPSHOT,
      platform: 'solaris',
      arrays: [],
      maps: [],
      disks: [],
      domains: [],
      replicas: [
        { slice: 'c0d0s7', count: 3, active: 3, erred: 0 },
        { slice: 'c0d1s7', count: 3, active: 0, erred: 3 },
      ],
    };
    expect(formatSnapshotTable(guest).split('\n').slice(2)).toEqual([
      'REPLICA SLICE  COUNT  ACTIVE  IN ERROR',
      'c0d0s7         3      3       0',
      'c0d1s7         3      0       3',
      '',
    ]);
  });

  it('says so when the host has no storage to show', () => {
    expect(formatSnapshotTable({ ...SNAPSHOT, arrays: [], maps: [], disks: [], domains: [] })).toContain(
      'no arrays, multipath maps, disks or domains found',
    );
  });

  it('writes sizes in binary units', () => {
    expect(humanSize(512)).toBe('512 B');
    expect(humanSize(1073741824)).toBe('1.0 GiB');
    expect(humanSize(1099511627776 * 3)).toBe('3.0 TiB');
  });
});
