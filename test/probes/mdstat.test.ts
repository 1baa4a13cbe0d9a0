import { describe, expect, it } from 'vitest';
import { MdstatOutput } from '../../events/index.ts';
import { type MdstatArrayReading, parseMdstat, toMdstatOutput } from '../../probes/mdstat.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

const read = (name: string) => parseMdstat(fixtureText(`mdstat/${name}`));

const arrayNamed = (arrays: MdstatArrayReading[], name: string): MdstatArrayReading => {
  const array = arrays.find((candidate) => candidate.name === name);
  if (array === undefined) throw new Error(`no ${name}`);
  return array;
};

describe('parseMdstat', () => {
  it('reads clean raid1 arrays over two VIOS as §6 prints them, bitmap and metadata beside', () => {
    const reading = read('clean-raid1-bitmap.txt');
    expect(reading.warnings).toEqual([]);
    expect(reading.personalities).toEqual([
      'raid1',
      'raid6',
      'raid5',
      'raid4',
      'raid0',
      'raid10',
      'linear',
      'multipath',
    ]);
    expect(toMdstatOutput(reading)).toEqual({
      arrays: [
        {
          name: 'md2',
          level: 'raid1',
          state: 'clean',
          degraded: false,
          total: 2,
          active: 2,
          progress: null,
          members: [
            { device: 'sdb3', index: 1, flags: [] },
            { device: 'sda3', index: 0, flags: [] },
          ],
        },
        {
          name: 'md1',
          level: 'raid1',
          state: 'clean',
          degraded: false,
          total: 2,
          active: 2,
          progress: null,
          members: [
            { device: 'sdb2', index: 1, flags: [] },
            { device: 'sda2', index: 0, flags: [] },
          ],
        },
        {
          name: 'md0',
          level: 'raid1',
          state: 'clean',
          degraded: false,
          total: 2,
          active: 2,
          progress: null,
          members: [
            { device: 'sdb1', index: 1, flags: [] },
            { device: 'sda1', index: 0, flags: [] },
          ],
        },
      ],
    });
    expect(reading.arrays.map((array) => [array.name, array.bitmap, array.metadata, array.blocks])).toEqual([
      ['md2', true, '1.2', 41908224],
      ['md1', false, '1.2', 2095104],
      ['md0', true, null, 1048512],
    ]);
  });

  it('reads a failed half as a faulty member of a degraded array, the swap mirror on the same disk still clean', () => {
    const reading = read('degraded-faulty.txt');
    expect(reading.warnings).toEqual([]);
    const md0 = arrayNamed(reading.arrays, 'md0');
    expect(md0).toMatchObject({
      state: 'degraded',
      degraded: true,
      total: 2,
      active: 1,
      slots: 'U_',
      progress: null,
    });
    expect(md0.members).toEqual([
      { device: 'sdb1', index: 1, flags: ['faulty'] },
      { device: 'sda1', index: 0, flags: [] },
    ]);
    expect(arrayNamed(reading.arrays, 'md1')).toMatchObject({ state: 'clean', degraded: false, slots: 'UU' });
    expect(arrayNamed(reading.arrays, 'md2')).toMatchObject({
      state: 'degraded',
      degraded: true,
      bitmap: true,
    });
  });

  it('reads a running recovery with its progress and estimate, and resync=DELAYED on a degraded array', () => {
    const reading = read('recovering.txt');
    expect(reading.warnings).toEqual([]);
    expect(arrayNamed(reading.arrays, 'md2')).toMatchObject({
      state: 'recovering',
      degraded: true,
      total: 2,
      active: 1,
      progress: 35.2,
      syncAction: 'recovery',
      finishMinutes: 4.1,
      // The live position in 1 KiB blocks, finer than the percentage.
      syncedBlocks: 14_752_896,
      syncTotalBlocks: 41_908_224,
    });
    expect(arrayNamed(reading.arrays, 'md1')).toMatchObject({
      state: 'degraded',
      degraded: true,
      progress: null,
      syncAction: null,
      syncPending: 'DELAYED',
      syncedBlocks: null,
    });
  });

  it('keeps the bracket number as the descriptor number: a re-added member is [2] in slot 1', () => {
    const md0 = arrayNamed(read('recovering.txt').arrays, 'md0');
    expect(md0.members).toEqual([
      { device: 'sdb1', index: 2, flags: [] },
      { device: 'sda1', index: 0, flags: [] },
    ]);
    expect(md0).toMatchObject({ state: 'clean', slots: 'UU' });
  });

  it('reads auto-read-only with resync=PENDING, read-only, and a running resync', () => {
    const reading = read('resync-pending-auto-read-only.txt');
    expect(reading.warnings).toEqual([]);
    expect(arrayNamed(reading.arrays, 'md127')).toMatchObject({
      readOnly: 'auto-read-only',
      state: 'resyncing',
      progress: null,
      syncPending: 'PENDING',
      bitmap: true,
    });
    expect(arrayNamed(reading.arrays, 'md1')).toMatchObject({ readOnly: 'read-only', state: 'clean' });
    expect(arrayNamed(reading.arrays, 'md0')).toMatchObject({
      state: 'resyncing',
      progress: 12.5,
      syncAction: 'resync',
      finishMinutes: 3,
    });
  });

  it('reads a check as checking and a reshape as resyncing, each with its progress', () => {
    const reading = read('check-reshape.txt');
    expect(reading.warnings).toEqual([]);
    expect(arrayNamed(reading.arrays, 'md0')).toMatchObject({
      state: 'checking',
      progress: 45,
      syncAction: 'check',
    });
    expect(arrayNamed(reading.arrays, 'md3')).toMatchObject({
      level: 'raid5',
      state: 'resyncing',
      progress: 1.5,
      syncAction: 'reshape',
      finishMinutes: 27.3,
    });
  });

  it('reads spare (S), write-mostly (W), replacement (R) and journal (J) flags', () => {
    const reading = read('spares-and-flags.txt');
    expect(reading.warnings).toEqual([]);
    expect(arrayNamed(reading.arrays, 'md0').members).toEqual([
      { device: 'sdc1', index: 2, flags: ['spare'] },
      { device: 'sdb1', index: 1, flags: ['write-mostly'] },
      { device: 'sda1', index: 0, flags: [] },
    ]);
    expect(arrayNamed(reading.arrays, 'md0').bitmap).toBe(true);
    expect(arrayNamed(reading.arrays, 'md1')).toMatchObject({
      state: 'recovering',
      degraded: false,
      progress: 22.4,
      members: [
        { device: 'sdc2', index: 3, flags: ['replacement'] },
        { device: 'sdb2', index: 1, flags: ['write-mostly'] },
        { device: 'sda2', index: 0, flags: [] },
      ],
    });
    expect(arrayNamed(reading.arrays, 'md5').members[0]).toEqual({
      device: 'nvme0n1p1',
      index: 4,
      flags: ['journal'],
    });
  });

  it('reads external metadata: an IMSM member array and its inactive container, a DDF container', () => {
    const reading = read('external-metadata.txt');
    expect(reading.warnings).toEqual([]);
    expect(arrayNamed(reading.arrays, 'md126')).toMatchObject({
      level: 'raid1',
      state: 'clean',
      metadata: 'external:/md127/0',
      members: [
        { device: 'sda', index: 1, flags: [] },
        { device: 'sdb', index: 0, flags: [] },
      ],
    });
    const container = arrayNamed(reading.arrays, 'md127');
    expect(toMdstatOutput({ ...reading, arrays: [container] }).arrays[0]).toEqual({
      name: 'md127',
      level: null,
      state: 'inactive',
      degraded: false,
      total: null,
      active: null,
      progress: null,
      members: [
        { device: 'sdb', index: 1, flags: ['spare'] },
        { device: 'sda', index: 0, flags: ['spare'] },
      ],
    });
    expect(container.metadata).toBe('external:imsm');
    expect(arrayNamed(reading.arrays, 'md125')).toMatchObject({
      state: 'inactive',
      metadata: 'external:ddf',
    });
  });

  it('reads an inactive array whose members all show (S)', () => {
    const reading = read('inactive.txt');
    expect(reading.warnings).toEqual([]);
    expect(toMdstatOutput(reading).arrays).toEqual([
      {
        name: 'md0',
        level: null,
        state: 'inactive',
        degraded: false,
        total: null,
        active: null,
        progress: null,
        members: [
          { device: 'sdb1', index: 1, flags: ['spare'] },
          { device: 'sda1', index: 0, flags: ['spare'] },
        ],
      },
    ]);
  });

  it('reads raid10, raid5 and raid0 for contrast: raid0 prints no slot counts', () => {
    const reading = read('raid0-5-10.txt');
    expect(reading.warnings).toEqual([]);
    expect(arrayNamed(reading.arrays, 'md10')).toMatchObject({
      level: 'raid10',
      state: 'degraded',
      degraded: true,
      total: 4,
      active: 3,
      slots: 'U_UU',
    });
    expect(arrayNamed(reading.arrays, 'md10').members[2]).toEqual({
      device: 'sdc1',
      index: 1,
      flags: ['faulty'],
    });
    expect(arrayNamed(reading.arrays, 'md5')).toMatchObject({
      level: 'raid5',
      state: 'clean',
      total: 3,
      active: 3,
    });
    expect(arrayNamed(reading.arrays, 'md0')).toMatchObject({
      level: 'raid0',
      state: 'clean',
      degraded: false,
      total: null,
      active: null,
    });
  });

  it('reads the 2.4 kernel layout with its read_ahead line', () => {
    const reading = read('kernel-2.4.txt');
    expect(reading.warnings).toEqual([]);
    expect(toMdstatOutput(reading).arrays).toEqual([
      {
        name: 'md1',
        level: 'raid1',
        state: 'degraded',
        degraded: true,
        total: 2,
        active: 1,
        progress: null,
        members: [
          { device: 'hdc2', index: 1, flags: ['faulty'] },
          { device: 'hda2', index: 0, flags: [] },
        ],
      },
      {
        name: 'md0',
        level: 'raid1',
        state: 'resyncing',
        degraded: false,
        total: 2,
        active: 2,
        progress: 23,
        members: [
          { device: 'hdc1', index: 1, flags: [] },
          { device: 'hda1', index: 0, flags: [] },
        ],
      },
    ]);
  });

  it('reads an empty file and a host with no arrays as no arrays, without warnings', () => {
    expect(read('empty.txt')).toEqual({ arrays: [], personalities: [], warnings: [] });
    expect(read('no-arrays.txt')).toEqual({ arrays: [], personalities: [], warnings: [] });
  });

  it('skips garbled lines, members and arrays with a warning each and keeps the rest', () => {
    const reading = read('garbled.txt');
    expect(reading.warnings).toEqual([
      {
        line: 2,
        text: 'md0 : active raid1 sdb1[1](F) sda1[0] sd?x[9]',
        reason: "md0: member 'sd?x[9]' skipped: not a canonical device name",
      },
      { line: 4, text: 'this line makes no sense', reason: 'md0: status line not understood' },
      {
        line: 6,
        text: 'md_home : active raid1 sdd1[1] sdc1[0]',
        reason: "array name 'md_home' is not a canonical md name",
      },
      {
        line: 9,
        text: 'md1 : active raid1 sdb2[1](Q) sda2[0]',
        reason: "md1: member 'sdb2[1](Q)' skipped: unknown flag (Q)",
      },
      {
        line: 10,
        text: '2095104 blocks super 1.2 [2/3] [UU]',
        reason: 'md1: slot counts [2/3] are inconsistent',
      },
      {
        line: 11,
        text: '[==>....]  recovery = 412.0% (1/2) finish=1.0min speed=1K/sec',
        reason: 'md1: progress out of range',
      },
      { line: 13, text: 'garbage at top level', reason: 'not an mdstat line' },
    ]);
    expect(reading.arrays.map((array) => array.name)).toEqual(['md0', 'md1']);
    expect(arrayNamed(reading.arrays, 'md0').members).toEqual([
      { device: 'sdb1', index: 1, flags: ['faulty'] },
      { device: 'sda1', index: 0, flags: [] },
    ]);
    expect(MdstatOutput.safeParse(toMdstatOutput(reading)).success).toBe(true);
  });

  it('reads CRLF captures and TAB-indented status lines the same as the kernel text', () => {
    const text = fixtureText('mdstat/recovering.txt');
    const crlf = parseMdstat(text.replace(/\n/g, '\r\n'));
    expect(crlf).toEqual(parseMdstat(text));
  });
});
