import { describe, expect, it } from 'vitest';
import { MultipathOutput } from '../../events/index.ts';
import { parseMultipath, toMultipathOutput } from '../../probes/multipath.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

const read = (name: string) => parseMultipath(fixtureText(`multipath/${name}`));

describe('parseMultipath', () => {
  it('reads a failed faulty path of an ALUA map named by alias, the stderr lines kept as messages', () => {
    const reading = read('alua-failed-path.txt');
    expect(reading.warnings).toEqual([]);
    expect(reading.messages).toEqual([
      "Nov 22 03:10:11 | sdd: couldn't get asymmetric access state",
      'Nov 22 03:10:11 | sdd: prio = const (setting: emergency fallback - alua failed)',
    ]);
    expect(toMultipathOutput(reading)).toEqual({
      maps: [
        {
          name: 'mpatha',
          wwid: '36005076801810523f8000000000000a1',
          vendor: 'IBM',
          product: '2145',
          queueIfNoPath: true,
          paths: [
            { device: 'sdc', hctl: '3:0:0:0', dmState: 'active', pathState: 'ready', onlineState: 'running' },
            {
              device: 'sdd',
              hctl: '4:0:0:0',
              dmState: 'failed',
              pathState: 'faulty',
              onlineState: 'offline',
            },
            { device: 'sde', hctl: '3:0:1:0', dmState: 'active', pathState: 'ready', onlineState: 'running' },
            { device: 'sdf', hctl: '4:0:1:0', dmState: 'active', pathState: 'ready', onlineState: 'running' },
          ],
        },
      ],
    });
    const [map] = reading.maps;
    expect(map).toMatchObject({ sysfsName: 'dm-0', aliased: true, size: '50G', hwhandler: '1 alua' });
    expect(map?.groups).toEqual([
      { policy: 'service-time 0', priority: 50, status: 'active' },
      { policy: 'service-time 0', priority: 10, status: 'enabled' },
    ]);
    expect(map?.paths.map((path) => [path.device, path.group, path.devT])).toEqual([
      ['sdc', 0, '8:32'],
      ['sdd', 0, '8:48'],
      ['sde', 1, '8:64'],
      ['sdf', 1, '8:80'],
    ]);
  });

  it('reads a map with every path down that still queues I/O', () => {
    const reading = read('all-paths-down-queue.txt');
    expect(reading.warnings).toEqual([]);
    const [map] = toMultipathOutput(reading).maps;
    expect(map?.queueIfNoPath).toBe(true);
    expect(map?.paths.map((path) => [path.device, path.dmState, path.pathState, path.onlineState])).toEqual([
      ['sdg', 'failed', 'faulty', 'offline'],
      ['sdh', 'failed', 'faulty', 'offline'],
      ['sdi', 'failed', 'faulty', 'offline'],
      ['sdj', 'failed', 'faulty', 'offline'],
    ]);
  });

  it('reads RDAC path groups with ghost paths and a product with inner spaces', () => {
    const reading = read('rdac-ghost.txt');
    expect(reading.warnings).toEqual([]);
    const [map] = reading.maps;
    expect(map).toMatchObject({
      name: 'mpathc',
      vendor: 'IBM',
      product: '1815      FAStT',
      hwhandler: '1 rdac',
      features: '3 queue_if_no_path pg_init_retries 50',
      queueIfNoPath: true,
    });
    expect(map?.paths.map((path) => [path.device, path.pathState, path.group])).toEqual([
      ['sdk', 'ready', 0],
      ['sdl', 'ready', 0],
      ['sdm', 'ghost', 1],
      ['sdn', 'ghost', 1],
    ]);
  });

  it('reads i/o pending and an orphan path printed as #:#:#:#', () => {
    const reading = read('pending-and-orphan.txt');
    expect(reading.warnings).toEqual([]);
    const [map] = toMultipathOutput(reading).maps;
    expect(map?.queueIfNoPath).toBe(false);
    expect(map?.paths).toEqual([
      { device: 'sdo', hctl: '1:0:0:2', dmState: 'active', pathState: 'i/o pending', onlineState: 'running' },
      { device: null, hctl: null, dmState: 'active', pathState: 'undef', onlineState: 'unknown' },
      { device: 'sdp', hctl: '2:0:0:2', dmState: 'active', pathState: 'ready', onlineState: 'running' },
    ]);
  });

  it('reads maps named by WWID and by alias, a load-table message between them', () => {
    const reading = read('named-by-wwid.txt');
    expect(reading.warnings).toEqual([]);
    expect(reading.messages).toHaveLength(1);
    expect(reading.maps.map((map) => [map.name, map.wwid, map.aliased, map.sysfsName])).toEqual([
      ['36005076801810523f8000000000000c3', '36005076801810523f8000000000000c3', false, 'dm-4'],
      ['oradata01', '36005076801810523f8000000000000d4', true, 'dm-5'],
    ]);
  });

  it('reads the older bracket layout of multipath-tools 0.4.8 with a checker message', () => {
    const reading = read('old-bracket-layout.txt');
    expect(reading.warnings).toEqual([]);
    expect(reading.messages).toEqual(['sdd: checker msg is "tur checker reports path is down"']);
    expect(toMultipathOutput(reading).maps).toEqual([
      {
        name: 'mpath0',
        wwid: '3600508b4000156d70001200000b0000',
        vendor: 'HP',
        product: 'HSV210',
        queueIfNoPath: true,
        paths: [
          { device: 'sda', hctl: '0:0:0:1', dmState: 'active', pathState: 'ready', onlineState: 'undef' },
          { device: 'sdc', hctl: '1:0:0:1', dmState: 'active', pathState: 'ready', onlineState: 'undef' },
          { device: 'sdb', hctl: '0:0:1:1', dmState: 'active', pathState: 'ghost', onlineState: 'undef' },
          { device: 'sdd', hctl: '1:0:1:1', dmState: 'failed', pathState: 'faulty', onlineState: 'undef' },
        ],
      },
    ]);
    expect(reading.maps[0]?.groups).toEqual([
      { policy: 'round-robin 0', priority: 100, status: 'active' },
      { policy: 'round-robin 0', priority: 20, status: 'enabled' },
    ]);
  });

  it('reads the 0.4.7 layout: no dm name, no vendor, quoted features', () => {
    const reading = read('old-0.4.7-layout.txt');
    expect(reading.warnings).toEqual([]);
    expect(reading.maps[0]).toMatchObject({
      name: 'mpath1',
      vendor: '',
      product: '',
      sysfsName: null,
      size: '20 GB',
      features: '1 queue_if_no_path',
      hwhandler: '1 rdac',
      queueIfNoPath: true,
    });
    expect(reading.maps[0]?.paths.map((path) => [path.device, path.pathState, path.group])).toEqual([
      ['sdb', 'ready', 0],
      ['sdc', 'ghost', 1],
    ]);
  });

  it('skips what it cannot read with a warning each, never a wrong path', () => {
    const reading = read('garbled.txt');
    expect(reading.warnings.map((warning) => [warning.line, warning.reason])).toEqual([
      [5, "mpatha: path device 'dasda' is not a canonical disk name"],
      [6, "mpatha: dm state 'sideways' not understood"],
      [7, "mpatha: checker state 'wobbly' read as undef"],
      [8, 'mpatha: line not understood'],
      [9, "map name 'mpath/bad' is not a multipath map name"],
      [11, 'not a multipath -ll line'],
    ]);
    expect(
      toMultipathOutput(reading).maps.map((map) => map.paths.map((path) => [path.device, path.pathState])),
    ).toEqual([
      [
        ['sdc', 'ready'],
        ['sdy', 'undef'],
      ],
    ]);
    expect(MultipathOutput.safeParse(toMultipathOutput(reading)).success).toBe(true);
  });

  it('reads nothing from an empty output', () => {
    expect(parseMultipath('')).toEqual({ maps: [], messages: [], warnings: [] });
  });
});
