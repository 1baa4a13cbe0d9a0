import { describe, expect, it } from 'vitest';
import { ProbedPartition } from '../../events/index.ts';
import { parseMdadmExamine, toProbedPartition } from '../../probes/mdadm-examine.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

describe('parseMdadmExamine', () => {
  it('reads 1.2 superblocks: array UUID, role, slot, events and bitmap; a blank partition', () => {
    const reading = parseMdadmExamine(fixtureText('mdadm/examine-v12.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.devices).toEqual([
      {
        device: 'sdb3',
        superblock: {
          metadataVersion: '1.2',
          uuid: '7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a',
          name: 'lnxclient07:2',
          preferredMinor: null,
          level: 'raid1',
          raidDevices: 2,
          events: 1838,
          role: 'active',
          slot: 1,
          bitmap: true,
          arrayState: 'AA',
        },
      },
      {
        device: 'sdb2',
        superblock: {
          metadataVersion: '1.2',
          uuid: '5a4b3c2d:1e0f9a8b:7c6d5e4f:3a2b1c0d',
          name: 'lnxclient07:1',
          preferredMinor: null,
          level: 'raid1',
          raidDevices: 2,
          events: 112,
          role: 'spare',
          slot: null,
          bitmap: false,
          arrayState: 'AA',
        },
      },
      { device: 'sdb4', superblock: null },
    ]);
  });

  it('reads a 0.90 superblock: its this row, preferred minor and high.low events', () => {
    const reading = parseMdadmExamine(fixtureText('mdadm/examine-0.90.txt'));
    expect(reading.devices[0]?.superblock).toMatchObject({
      metadataVersion: '0.90.00',
      uuid: '6b8b4567:327b23c6:643c9869:66334873',
      preferredMinor: 0,
      events: 92,
      role: 'active',
      slot: 1,
    });
  });
});

describe('toProbedPartition', () => {
  it('names the running array with the same UUID, and nothing for a blank partition', () => {
    const reading = parseMdadmExamine(fixtureText('mdadm/examine-v12.txt'));
    const running = new Map([['7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a', 'md2']]);
    const partitions = reading.devices.map((device) => toProbedPartition(device, running));
    expect(partitions).toEqual([
      {
        device: 'sdb3',
        array: 'md2',
        uuid: '7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a',
        role: 'active',
        events: 1838,
      },
      { device: 'sdb2', uuid: '5a4b3c2d:1e0f9a8b:7c6d5e4f:3a2b1c0d', role: 'spare', events: 112 },
      { device: 'sdb4' },
    ]);
    for (const partition of partitions) expect(ProbedPartition.safeParse(partition).success).toBe(true);
  });

  it('falls back to the preferred minor of a 0.90 superblock', () => {
    const [device] = parseMdadmExamine(fixtureText('mdadm/examine-0.90.txt')).devices;
    if (device === undefined) throw new Error('no device');
    expect(toProbedPartition(device, new Map())).toMatchObject({ device: 'sdb1', array: 'md0' });
  });
});
