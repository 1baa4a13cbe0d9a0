import { describe, expect, it } from 'vitest';
import { parseLspv, parseLspvLogicalVolumes } from '../../probes/lspv.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

describe('parseLspv', () => {
  it('reads each disk with its PVID, volume group and state; none and None are absent', () => {
    expect(parseLspv(fixtureText('lspv/lspv.txt'))).toEqual({
      physicalVolumes: [
        { disk: 'hdisk0', pvid: '00f6db0a6c7aece5', volumeGroup: 'rootvg', state: 'active' },
        { disk: 'hdisk1', pvid: '00f6db0a6c7b0d21', volumeGroup: 'rootvg', state: 'active' },
        { disk: 'hdisk2', pvid: '00f6db0a8d2e4c19', volumeGroup: 'datavg', state: 'active' },
        { disk: 'hdisk3', pvid: null, volumeGroup: null, state: null },
      ],
      warnings: [],
    });
  });

  it('warns about a line whose disk, PVID or group is not one', () => {
    const reading = parseLspv(
      ['sdb  00f6db0a6c7aece5  rootvg  active', 'hdisk4  not-a-pvid  rootvg', 'hdisk5  none  root/vg'].join(
        '\n',
      ),
    );
    expect(reading.physicalVolumes).toEqual([]);
    expect(reading.warnings.map((warning) => [warning.line, warning.reason])).toEqual([
      [1, 'not an lspv line'],
      [2, 'not an lspv line'],
      [3, "hdisk5: 'root/vg' is not a volume group name"],
    ]);
  });
});

describe('parseLspvLogicalVolumes (lspv -l)', () => {
  it('reads the logical volumes with partitions on the disk', () => {
    const reading = parseLspvLogicalVolumes(fixtureText('lspv/lspv-l-hdisk0.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.disk).toBe('hdisk0');
    expect(reading.logicalVolumes).toHaveLength(12);
    expect(reading.logicalVolumes[0]).toEqual({
      name: 'hd5',
      logicalPartitions: 1,
      physicalPartitions: 1,
      mountPoint: null,
    });
    expect(reading.logicalVolumes.find((volume) => volume.name === 'livedump')?.mountPoint).toBe(
      '/var/adm/ras/livedump',
    );
  });

  it('names no disk for the message LVM prints when it cannot read a missing disk', () => {
    const reading = parseLspvLogicalVolumes(fixtureText('lspv/lspv-l-missing.txt'));
    expect(reading.disk).toBe(null);
    expect(reading.logicalVolumes).toEqual([]);
    expect(reading.warnings).toHaveLength(2);
  });

  it('reads one disk only: a second disk line ends the reading', () => {
    const reading = parseLspvLogicalVolumes(
      ['hdisk0:', 'hd5  1  1  01..00..00..00..00  N/A', 'hdisk1:', 'hd6  8  8  00..08..00..00..00  N/A'].join(
        '\n',
      ),
    );
    expect(reading.logicalVolumes.map((volume) => volume.name)).toEqual(['hd5']);
    expect(reading.warnings.map((warning) => warning.line)).toEqual([3]);
  });
});
