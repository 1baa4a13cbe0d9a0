import { describe, expect, it } from 'vitest';
import { LsvgOutput } from '../../events/index.ts';
import {
  parseLsvgActive,
  parseLsvgLogicalVolumes,
  parseLsvgPhysicalVolumes,
  toLsvgOutput,
} from '../../probes/lsvg.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

const text = (name: string) => fixtureText(`lsvg/${name}`);

describe('parseLsvgActive (lsvg -o)', () => {
  it('lists the varied-on volume groups', () => {
    expect(parseLsvgActive(text('lsvg-o.txt'))).toEqual({ volumeGroups: ['rootvg', 'datavg'], warnings: [] });
  });

  it('warns about an LVM message instead of taking it for a group', () => {
    const reading = parseLsvgActive('rootvg\n0516-304 lsvg: Unable to find device id in the Device\n');
    expect(reading.volumeGroups).toEqual(['rootvg']);
    expect(reading.warnings.map((warning) => warning.line)).toEqual([2]);
  });
});

describe('parseLsvgLogicalVolumes (lsvg -l)', () => {
  it('reads copies as PPs over LPs and stale partitions from LV STATE, while a disk of rootvg is missing', () => {
    const reading = parseLsvgLogicalVolumes(text('lsvg-l-rootvg-stale.txt'));
    expect(reading.warnings).toEqual([]);
    const [rootvg] = reading.volumeGroups;
    expect(rootvg?.name).toBe('rootvg');
    expect(rootvg?.logicalVolumes).toHaveLength(12);
    expect(rootvg?.logicalVolumes.find((volume) => volume.name === 'hd9var')).toEqual({
      name: 'hd9var',
      type: 'jfs2',
      logicalPartitions: 16,
      physicalPartitions: 32,
      physicalVolumes: 2,
      copies: 2,
      state: 'open/stale',
      open: true,
      stale: true,
      stalePartitions: null,
      mountPoint: '/var',
    });
    expect(rootvg?.logicalVolumes.find((volume) => volume.name === 'hd5')).toMatchObject({
      copies: 2,
      open: false,
      stale: false,
      stalePartitions: 0,
      mountPoint: null,
    });
    expect(rootvg?.logicalVolumes.find((volume) => volume.name === 'lg_dumplv')?.copies).toBe(1);
    expect(rootvg?.logicalVolumes.filter((volume) => volume.stale).map((volume) => volume.name)).toEqual([
      'hd6',
      'hd8',
      'hd4',
      'hd9var',
      'hd3',
      'livedump',
    ]);
  });

  it('prints exactly the §6 shape, several groups in the order listed', () => {
    const output = toLsvgOutput(parseLsvgLogicalVolumes(text('lsvg-l-rootvg-datavg.txt')));
    expect(LsvgOutput.strict().safeParse(output).success).toBe(true);
    expect(output.volumeGroups.map((group) => group.name)).toEqual(['rootvg', 'datavg']);
    expect(output.volumeGroups[1]).toEqual({
      name: 'datavg',
      logicalVolumes: [
        { name: 'oradatalv', copies: 1, stalePartitions: 0, state: 'open/syncd' },
        { name: 'loglv00', copies: 1, stalePartitions: 0, state: 'open/syncd' },
      ],
    });
  });

  it('reads three copies, and a closed stale log volume', () => {
    const output = toLsvgOutput(parseLsvgLogicalVolumes(text('lsvg-l-three-copies.txt')));
    expect(output.volumeGroups[0]?.logicalVolumes).toEqual([
      { name: 'applv', copies: 3, stalePartitions: 0, state: 'open/syncd' },
      { name: 'apploglv', copies: 3, stalePartitions: null, state: 'closed/stale' },
    ]);
  });

  it('skips rows it cannot read with a warning: no group line yet, copies not whole, an unknown state, a bad name', () => {
    const reading = parseLsvgLogicalVolumes(text('garbled.txt'));
    expect(reading.warnings.map((warning) => [warning.line, warning.reason])).toEqual([
      [1, 'no volume group line before it'],
      [5, 'rootvg: hd9var: 40 PPs for 16 LPs is not 1 to 3 whole copies'],
      [6, "rootvg: hd3: LV STATE 'half/open' not understood"],
      [7, "rootvg: 'bad/lv' is not a logical volume name"],
      [8, 'not an lsvg -l row'],
    ]);
    expect(toLsvgOutput(reading).volumeGroups).toEqual([
      {
        name: 'rootvg',
        logicalVolumes: [{ name: 'hd4', copies: 2, stalePartitions: 0, state: 'open/syncd' }],
      },
    ]);
  });
});

describe('parseLsvgPhysicalVolumes (lsvg -p)', () => {
  it('reads each disk of the group with its state: hdisk1 missing while its VIOS is down', () => {
    expect(parseLsvgPhysicalVolumes(text('lsvg-p-rootvg-missing.txt'))).toEqual({
      volumeGroups: [
        {
          name: 'rootvg',
          physicalVolumes: [
            { disk: 'hdisk0', state: 'active', totalPartitions: 639, freePartitions: 493 },
            { disk: 'hdisk1', state: 'missing', totalPartitions: 639, freePartitions: 493 },
          ],
        },
      ],
      warnings: [],
    });
  });

  it('warns about a row with an unknown state or a name that is no disk', () => {
    const reading = parseLsvgPhysicalVolumes(
      [
        'rootvg:',
        'PV_NAME           PV STATE          TOTAL PPs   FREE PPs    FREE DISTRIBUTION',
        'hdisk0            active            639         493         128..92..17..128..128',
        'hdisk1            sideways          639         493         128..92..17..128..128',
        'sdb               active            639         493         128..92..17..128..128',
      ].join('\n'),
    );
    expect(reading.volumeGroups[0]?.physicalVolumes.map((volume) => volume.disk)).toEqual(['hdisk0']);
    expect(reading.warnings.map((warning) => warning.line)).toEqual([4, 5]);
  });
});
