import { describe, expect, it } from 'vitest';
import { diskOfDevice, isPartition } from '../../probes/block-device.ts';

describe('diskOfDevice', () => {
  it.each([
    ['sdb3', 'sdb'],
    ['sdb', 'sdb'],
    ['sdaa12', 'sdaa'],
    ['vda1', 'vda'],
    ['xvdb2', 'xvdb'],
    ['hda1', 'hda'],
    ['nvme0n1p2', 'nvme0n1'],
    ['nvme0n1', 'nvme0n1'],
    ['mmcblk0p1', 'mmcblk0'],
    ['dm-3', 'dm-3'],
    ['c0d1s0', 'c0d1'],
    ['c0t5000CCA02A1B2C3Dd0s2', 'c0t5000CCA02A1B2C3Dd0'],
  ])('puts %s on disk %s', (device, disk) => {
    expect(diskOfDevice(device)).toBe(disk);
  });

  it('gives no disk for a name that is not canonical or has none', () => {
    expect(diskOfDevice('md0p1')).toBeNull();
    expect(diskOfDevice('../sdb')).toBeNull();
    expect(diskOfDevice('')).toBeNull();
  });

  it('tells partitions from whole disks', () => {
    expect(isPartition('sdb3')).toBe(true);
    expect(isPartition('nvme0n1p2')).toBe(true);
    expect(isPartition('sdb')).toBe(false);
    expect(isPartition('md0')).toBe(false);
  });
});
