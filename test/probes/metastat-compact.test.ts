import { describe, expect, it } from 'vitest';
import { MetastatOutput } from '../../events/index.ts';
import { parseMetastat, toMetastatOutput } from '../../probes/metastat.ts';
import { isMetastatCompact, parseMetastatCompact } from '../../probes/metastat-compact.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

const compact = (name: string) => fixtureText(`metastat-compact/${name}`);
const read = (name: string) => parseMetastatCompact(compact(name));

describe('parseMetastatCompact', () => {
  it.each(['okay.txt', 'needs-maintenance.txt', 'resyncing.txt'])(
    'reads %s as the long listing of the same mirrors reads',
    (name) => {
      const reading = read(name);
      expect(reading.warnings).toEqual([]);
      const long = parseMetastat(fixtureText(`metastat/${name}`));
      if (name === 'resyncing.txt') {
        // The compact capture also holds d1, resyncing on a 64-bit metadevice.
        expect(toMetastatOutput(reading).mirrors[0]).toEqual(toMetastatOutput(long).mirrors[0]);
      } else {
        expect(toMetastatOutput(reading)).toEqual(toMetastatOutput(long));
      }
    },
  );

  it('reads Maintenance after a service domain reboot: the mirror line says maint, the component line which slice', () => {
    expect(toMetastatOutput(read('needs-maintenance.txt')).mirrors).toEqual([
      {
        name: 'd1',
        resyncProgress: null,
        submirrors: [
          { name: 'd11', state: 'Okay', component: 'c0d1s1', componentState: 'Okay' },
          { name: 'd21', state: 'Needs maintenance', component: 'c0d2s1', componentState: 'Maintenance' },
        ],
      },
      {
        name: 'd0',
        resyncProgress: null,
        submirrors: [
          { name: 'd10', state: 'Okay', component: 'c0d1s0', componentState: 'Okay' },
          { name: 'd20', state: 'Needs maintenance', component: 'c0d2s0', componentState: 'Maintenance' },
        ],
      },
    ]);
  });

  it('reads the resync percent, whole or with the tenth a 64-bit metadevice prints space-padded', () => {
    const mirrors = toMetastatOutput(read('resyncing.txt')).mirrors;
    expect(mirrors.map((mirror) => [mirror.name, mirror.resyncProgress])).toEqual([
      ['d0', 37],
      ['d1', 5.3],
    ]);
    expect(mirrors[1]?.submirrors[1]).toEqual({
      name: 'd21',
      state: 'Resyncing',
      component: 'c0d2s1',
      componentState: 'Resyncing',
    });
  });

  it('reads Last Erred, a mirror under a soft partition, hot spares in use and pools, passing over plain stripes', () => {
    const reading = read('last-erred-hot-spares.txt');
    expect(reading.warnings).toEqual([]);
    expect(toMetastatOutput(reading).mirrors).toEqual([
      {
        name: 'd30',
        resyncProgress: null,
        submirrors: [
          { name: 'd31', state: 'Okay', component: 'c1t3d0s0', componentState: 'Okay' },
          { name: 'd31', state: 'Okay', component: 'c1t4d0s0', componentState: 'Okay' },
          { name: 'd32', state: 'Okay', component: 'c2t3d0s0', componentState: 'Okay' },
        ],
      },
      {
        name: 'd10',
        resyncProgress: null,
        submirrors: [
          { name: 'd11', state: 'Needs maintenance', component: 'c1t2d0s0', componentState: 'Last Erred' },
          { name: 'd12', state: 'Needs maintenance', component: 'c1t1d0s0', componentState: 'Maintenance' },
        ],
      },
    ]);
    const d31 = reading.submirrors.find((submirror) => submirror.name === 'd31');
    expect(d31?.components.map((component) => [component.device, component.hotSpare])).toEqual([
      ['c1t3d0s0', 'c1t5d0s0'],
      ['c1t4d0s0', null],
    ]);
    expect(reading.hotSparePools).toEqual([
      {
        name: 'hsp001',
        spares: [
          { device: 'c1t5d0s0', status: 'In use', blocks: null },
          { device: 'c2t5d0s0', status: 'Available', blocks: null },
        ],
      },
      { name: 'hsp002', spares: [] },
    ]);
    expect(reading.relocations).toEqual([]);
  });

  it('reads a mirror listed twice (under its soft partition, then at the top) once', () => {
    const text = [
      'd100             p  100MB d30',
      '    d30          m  1.0GB d31 d32 (maint)',
      '        d31      s  1.0GB c1t3d0s0',
      '        d32      s  1.0GB c2t3d0s0 (maint)',
      'd30              m  1.0GB d31 d32 (maint)',
      '    d31          s  1.0GB c1t3d0s0',
      '    d32          s  1.0GB c2t3d0s0 (maint)',
    ].join('\n');
    expect(parseMetastatCompact(text).mirrors.map((mirror) => mirror.name)).toEqual(['d30']);
  });

  it('reads an unavailable submirror, an offline one, and components of an unavailable stripe', () => {
    const text = [
      'd0               m   20GB d10 (unavail) d20 (offline)',
      '    d10          s   20GB c0d1s0 (-)',
      '    d20          s   20GB c0d2s0 (unavail)',
    ].join('\n');
    expect(toMetastatOutput(parseMetastatCompact(text)).mirrors).toEqual([
      {
        name: 'd0',
        resyncProgress: null,
        submirrors: [
          { name: 'd10', state: 'Unavailable', component: 'c0d1s0', componentState: 'Unavailable' },
          { name: 'd20', state: 'Unavailable', component: 'c0d2s0', componentState: 'Unavailable' },
        ],
      },
    ]);
  });

  it('skips what it cannot read with warnings, never reporting a state it did not read', () => {
    const reading = read('garbled.txt');
    expect(reading.warnings.map((warning) => [warning.line, warning.reason])).toEqual([
      [11, 'd9: indented by 2, not a multiple of 4'],
      [12, 'not a metastat -c line'],
      [14, 'blue/d40: a volume of a named disk set, skipped'],
      [5, 'd0: submirror d20 (sideways) not understood'],
      [9, 'd1: component c0d1s1 (melted) not understood'],
      [8, 'd1: submirror d11 has no component line'],
      [8, 'd1: submirror d21 (resync-140%) not understood'],
      [13, "'dX' is not a metadevice name"],
    ]);
    expect(toMetastatOutput(reading).mirrors).toEqual([
      {
        name: 'd0',
        resyncProgress: null,
        submirrors: [{ name: 'd10', state: 'Okay', component: 'c0d1s0', componentState: 'Okay' }],
      },
      { name: 'd1', resyncProgress: null, submirrors: [] },
    ]);
    expect(MetastatOutput.safeParse(toMetastatOutput(reading)).success).toBe(true);
  });
});

describe('parseMetastat on metastat -c output', () => {
  it('finds no mirror and warns for every top-level line: the long parser does not read the compact form', () => {
    const reading = parseMetastat(compact('needs-maintenance.txt'));
    expect(reading.mirrors).toEqual([]);
    expect(reading.warnings.map((warning) => [warning.line, warning.reason])).toEqual([
      [1, 'not a metastat line'],
      [4, 'not a metastat line'],
    ]);
  });
});

describe('isMetastatCompact', () => {
  it('tells the compact listing from the long one, past the stale replica banner', () => {
    expect(isMetastatCompact(compact('okay.txt'))).toBe(true);
    expect(isMetastatCompact(compact('garbled.txt'))).toBe(true);
    expect(isMetastatCompact(fixtureText('metastat/okay.txt'))).toBe(false);
    expect(isMetastatCompact(fixtureText('metastat/last-erred-hot-spares.txt'))).toBe(false);
    expect(isMetastatCompact('')).toBe(false);
  });
});
