import { describe, expect, it } from 'vitest';
import { parseEvents, parseMdadmDetail } from '../../probes/mdadm-detail.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

describe('parseMdadmDetail', () => {
  it('reads the UUID, event count, internal bitmap and the slot of every member', () => {
    const reading = parseMdadmDetail(fixtureText('mdadm/detail-clean.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.arrays).toEqual([
      {
        array: 'md2',
        path: '/dev/md2',
        level: 'raid1',
        metadataVersion: '1.2',
        raidDevices: 2,
        state: ['clean'],
        uuid: '7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a',
        name: 'lnxclient07:2',
        events: 1838,
        bitmap: 'internal',
        syncPercent: null,
        container: null,
        devices: [
          { number: 0, raidDevice: 0, states: ['active', 'sync'], device: 'sda3' },
          { number: 1, raidDevice: 1, states: ['active', 'sync'], device: 'sdb3' },
        ],
      },
    ]);
  });

  it('reads a rebuilding spare, a removed slot and a faulty member, and 0.90 event counts', () => {
    const reading = parseMdadmDetail(fixtureText('mdadm/detail-degraded-recovering.txt'));
    expect(reading.warnings).toEqual([]);
    const [md2, md0] = reading.arrays;
    expect(md2).toMatchObject({
      array: 'md2',
      state: ['clean', 'degraded', 'recovering'],
      syncPercent: 35,
      events: 1874,
      devices: [
        { number: 0, raidDevice: 0, states: ['active', 'sync'], device: 'sda3' },
        { number: 2, raidDevice: 1, states: ['spare', 'rebuilding'], device: 'sdb3' },
      ],
    });
    expect(md0).toMatchObject({
      array: 'md0',
      metadataVersion: '0.90',
      uuid: '3b1c2f4e:8a9d0b1c:2e3f4a5b:6c7d8e9f',
      events: 92,
      name: null,
      devices: [
        { number: 0, raidDevice: 0, states: ['active', 'sync'], device: 'sda1' },
        { number: null, raidDevice: 1, states: ['removed'], device: null },
        { number: 1, raidDevice: null, states: ['faulty'], device: 'sdb1' },
      ],
    });
  });

  it('reads several arrays of a sosreport capture, mdadm messages apart, an IMSM member, no bitmap', () => {
    const reading = parseMdadmDetail(fixtureText('mdadm/detail-sosreport.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.messages).toEqual([
      'mdadm: /dev/md does not appear to be an md device',
      'mdadm: cannot open /dev/md9: No such file or directory',
    ]);
    expect(reading.arrays.map((array) => [array.array, array.uuid, array.bitmap, array.container])).toEqual([
      ['md1', '5a4b3c2d:1e0f9a8b:7c6d5e4f:3a2b1c0d', 'none', null],
      ['md126', '92087ff9:48e0b741:504d29b1:2e3b2344', 'none', '/dev/md/imsm0'],
    ]);
    expect(reading.arrays[0]?.state).toEqual(['clean', 'resyncing (DELAYED)']);
    expect(reading.arrays[0]?.devices[0]?.states).toEqual(['active', 'sync', 'writemostly']);
  });

  it('names an array by its kernel name only; /dev/md/<name> is not one', () => {
    const reading = parseMdadmDetail('/dev/md/home:\n        Raid Level : raid1\n');
    expect(reading.arrays[0]).toMatchObject({ array: null, path: '/dev/md/home', level: 'raid1' });
  });
});

describe('parseEvents', () => {
  it('reads a plain count and the high.low words of a 0.90 superblock', () => {
    expect(parseEvents('1838')).toBe(1838);
    expect(parseEvents('0.92')).toBe(92);
    expect(parseEvents('1.5')).toBe(2 ** 32 + 5);
    expect(parseEvents('many')).toBeNull();
  });
});
