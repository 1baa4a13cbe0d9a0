import { describe, expect, it } from 'vitest';
import { LspathOutput } from '../../events/index.ts';
import {
  aixPathAddress,
  connectionFailureDomain,
  lspathPathState,
  overriddenAdapterDomain,
  parseLspath,
  toLspathOutput,
} from '../../probes/lspath.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

const read = (name: string) => parseLspath(fixtureText(`lspath/${name}`));

describe('parseLspath', () => {
  it('reads the default form: status, disk, parent adapter', () => {
    const reading = read('default.txt');
    expect(reading.warnings).toEqual([]);
    expect(toLspathOutput(reading)).toEqual({
      paths: [
        { device: 'hdisk0', parent: 'vscsi0', status: 'Enabled' },
        { device: 'hdisk1', parent: 'vscsi1', status: 'Failed' },
        { device: 'hdisk2', parent: 'fscsi0', status: 'Enabled' },
        { device: 'hdisk2', parent: 'fscsi1', status: 'Failed' },
        { device: 'hdisk3', parent: 'vscsi0', status: 'Enabled' },
      ],
    });
  });

  it('reads -F "name parent connection status" with the connection, in the §6 shape', () => {
    const output = toLspathOutput(read('connection.txt'));
    expect(LspathOutput.strict().safeParse(output).success).toBe(true);
    expect(output.paths[3]).toEqual({
      device: 'hdisk2',
      parent: 'fscsi1',
      status: 'Failed',
      connection: '500507680b22ac1c,1000000000000',
    });
  });

  it('reads -F "name path_id parent connection status", keeping the path id out of the §6 output', () => {
    const reading = read('path-id.txt');
    expect(reading.warnings).toEqual([]);
    expect(reading.paths.slice(5)).toEqual([
      {
        device: 'hdisk4',
        parent: 'fscsi0',
        status: 'Disabled',
        connection: '500507680b21ac1c,2000000000000',
        pathId: 0,
      },
      {
        device: 'hdisk4',
        parent: 'fscsi1',
        status: 'Missing',
        connection: '500507680b22ac1c,2000000000000',
        pathId: 1,
      },
      {
        device: 'hdisk4',
        parent: 'fscsi0',
        status: 'Defined',
        connection: '500507680b21ac1d,2000000000000',
        pathId: 2,
      },
    ]);
    expect(Object.keys(toLspathOutput(reading).paths[0] ?? {})).toEqual([
      'device',
      'parent',
      'status',
      'connection',
    ]);
  });

  it('skips a header and warns about lines it cannot read, whatever their case or extra words', () => {
    const reading = read('garbled.txt');
    expect(reading.warnings.map((warning) => [warning.line, warning.reason])).toEqual([
      [3, 'not an lspath line (status name parent, or name [path_id] parent connection status)'],
      [4, "'sdb' is not an hdisk"],
      [5, 'not an lspath line (status name parent, or name [path_id] parent connection status)'],
      [6, "hdisk2: connection '500507680b22ac1c;rm' not understood"],
      [7, "hdisk3: '/dev/vscsi0' is not an adapter"],
    ]);
    expect(reading.paths.map((path) => [path.device, path.status])).toEqual([
      ['hdisk0', 'Enabled'],
      ['hdisk5', 'Enabled'],
    ]);
  });
});

describe('the path helpers', () => {
  it('maps each status to a §3 path state: only Enabled is active', () => {
    expect(
      (['Enabled', 'Failed', 'Disabled', 'Defined', 'Missing', 'Detected', 'Available'] as const).map(
        lspathPathState,
      ),
    ).toEqual(['active', 'failed', 'offline', 'offline', 'offline', 'pending', 'pending']);
  });

  it('gives each path of a disk its own stand-in address: adapter number, transport, path id', () => {
    expect(aixPathAddress({ parent: 'vscsi1', pathId: 0 }, 5)).toBe('1:0:0:0');
    expect(aixPathAddress({ parent: 'fscsi0', pathId: 1 }, 5)).toBe('0:1:1:0');
    expect(aixPathAddress({ parent: 'fscsi0', pathId: null }, 2)).toBe('0:1:2:0');
    expect(aixPathAddress({ parent: 'sissas12', pathId: 3 }, 0)).toBe('12:9:3:0');
    expect(aixPathAddress({ parent: 'vscsi0', pathId: 0 }, 0)).not.toBe(
      aixPathAddress({ parent: 'fscsi0', pathId: 0 }, 0),
    );
  });

  it('names a Fibre Channel path by its target port, and nothing else by its connection', () => {
    expect(connectionFailureDomain({ parent: 'fscsi1', connection: '500507680B22AC1C,1000000000000' })).toBe(
      'fc:500507680b22ac1c',
    );
    expect(connectionFailureDomain({ parent: 'vscsi1', connection: '810000000000' })).toBe(null);
    expect(connectionFailureDomain({ parent: 'fscsi1', connection: null })).toBe(null);
    expect(connectionFailureDomain({ parent: 'fscsi1', connection: 'garbage,0' })).toBe(null);
  });

  it('takes an adapter override only when the adapter is named, never from the prototype', () => {
    const topology = { adapters: { vscsi1: 'vscsi:Server-9080-M9S-SN78AB12C/vios2' } };
    expect(overriddenAdapterDomain(topology, 'vscsi1')).toBe('vscsi:Server-9080-M9S-SN78AB12C/vios2');
    expect(overriddenAdapterDomain(topology, 'vscsi0')).toBe(null);
    expect(overriddenAdapterDomain(topology, 'constructor')).toBe(null);
    expect(overriddenAdapterDomain(undefined, 'vscsi1')).toBe(null);
  });
});
