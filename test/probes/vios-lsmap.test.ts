import { describe, expect, it } from 'vitest';
import { parseLsmap, parseLsmapNpiv, viosServing } from '../../probes/vios-lsmap.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

describe('parseLsmap', () => {
  it('reads every vhost of lsmap -all with its client and virtual target devices', () => {
    const reading = parseLsmap(fixtureText('vios/lsmap-all.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.adapters).toEqual([
      {
        name: 'vhost0',
        physloc: 'U9080.M9S.78AB12C-V2-C11',
        clientPartitionId: 3,
        targets: [
          { vtd: 'vtscsi0', status: 'Available', backingDevice: 'hdisk4' },
          { vtd: 'vtscsi1', status: 'Available', backingDevice: 'lnxclient07_data' },
        ],
      },
      { name: 'vhost1', physloc: 'U9080.M9S.78AB12C-V2-C12', clientPartitionId: null, targets: [] },
      {
        name: 'vhost2',
        physloc: 'U9080.M9S.78AB12C-V2-C13',
        clientPartitionId: 11,
        targets: [
          { vtd: 'vtopt0', status: 'Available', backingDevice: null },
          { vtd: 'vtscsi2', status: 'Available', backingDevice: 'hdisk5' },
        ],
      },
    ]);
  });

  it('reads the older layout without the VTD word before NO VIRTUAL TARGET DEVICE FOUND, and no Status', () => {
    const reading = parseLsmap(
      [
        'SVSA Physloc Client Partition ID',
        '--------------- -------------------------------------------- ------------------',
        'vhost0 U9131.52A.10E47DG-V3-C31 0x00000000',
        '',
        'NO VIRTUAL TARGET DEVICE FOUND',
        'vhost4 U9117.MMB.999BCP-V2-C8 0x00000004',
        'VTD d7f1_lpar1',
        'LUN 0x8100000000000000',
        'Backing device hdisk25',
      ].join('\n'),
    );
    expect(reading.warnings).toEqual([]);
    expect(reading.adapters.map((adapter) => [adapter.name, adapter.targets])).toEqual([
      ['vhost0', []],
      ['vhost4', [{ vtd: 'd7f1_lpar1', status: 'unknown', backingDevice: 'hdisk25' }]],
    ]);
  });

  it('warns about lines that are not lsmap output', () => {
    const reading = parseLsmap('Access to run command is not valid.\n');
    expect(reading.adapters).toEqual([]);
    expect(reading.warnings).toEqual([
      { line: 1, text: 'Access to run command is not valid.', reason: 'not an lsmap line' },
    ]);
  });
});

describe('parseLsmapNpiv', () => {
  it('reads each vfchost of lsmap -all -npiv, logged in and mapped or neither', () => {
    const reading = parseLsmapNpiv(fixtureText('vios/lsmap-all-npiv.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.adapters).toEqual([
      {
        name: 'vfchost0',
        physloc: 'U9080.M9S.78AB12C-V2-C21',
        clientPartitionId: 3,
        clientName: 'lnxclient07',
        status: 'LOGGED_IN',
        fcName: 'fcs0',
      },
      {
        name: 'vfchost1',
        physloc: 'U9080.M9S.78AB12C-V2-C22',
        clientPartitionId: null,
        clientName: null,
        status: 'NOT_LOGGED_IN',
        fcName: null,
      },
    ]);
  });
});

describe('viosServing', () => {
  it('serves when every virtual target device is Available, whatever the adapters without a mapping', () => {
    const verdict = viosServing(
      parseLsmap(fixtureText('vios/lsmap-all.txt')),
      parseLsmapNpiv(fixtureText('vios/lsmap-all-npiv.txt')),
    );
    expect(verdict).toEqual({ serving: true, targets: 4, mappedNpivAdapters: 1, reasons: [] });
  });

  it('does not serve while a target device is Defined, and says which', () => {
    const verdict = viosServing(parseLsmap(fixtureText('vios/lsmap-all-defined.txt')), null);
    expect(verdict.serving).toBe(false);
    expect(verdict.reasons).toEqual(['vhost0 vtscsi0 (hdisk4) is Defined']);
  });

  it('does not serve with nothing mapped at all', () => {
    expect(viosServing({ adapters: [], warnings: [] }, { adapters: [], warnings: [] })).toMatchObject({
      serving: false,
      reasons: ['no virtual target device and no mapped virtual FC adapter'],
    });
  });
});
