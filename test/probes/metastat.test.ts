import { describe, expect, it } from 'vitest';
import { MetastatOutput } from '../../events/index.ts';
import { parseMetastat, toMetastatOutput } from '../../probes/metastat.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

const read = (name: string) => parseMetastat(fixtureText(`metastat/${name}`));

describe('parseMetastat', () => {
  it('reads a mirror whose submirrors are Okay, with the device relocation table', () => {
    const reading = read('okay.txt');
    expect(reading.warnings).toEqual([]);
    expect(toMetastatOutput(reading)).toEqual({
      mirrors: [
        {
          name: 'd0',
          resyncProgress: null,
          submirrors: [
            { name: 'd10', state: 'Okay', component: 'c0d1s0', componentState: 'Okay' },
            { name: 'd20', state: 'Okay', component: 'c0d2s0', componentState: 'Okay' },
          ],
        },
      ],
    });
    expect(reading.relocations).toEqual([
      { disk: 'c0d1', relocatable: true, deviceId: 'id1,vdc@f8b4e5c9a9f2b0000a3d1c1e20001' },
      { disk: 'c0d2', relocatable: true, deviceId: 'id1,vdc@f8b4e5c9a9f2b0000a3d1c1e20002' },
    ]);
  });

  it('reads Needs maintenance after a service domain reboot, with the Invoke line', () => {
    const reading = read('needs-maintenance.txt');
    expect(reading.warnings).toEqual([]);
    expect(toMetastatOutput(reading).mirrors).toEqual([
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
    expect(reading.submirrors.find((submirror) => submirror.name === 'd20')?.invoke).toEqual({
      command: 'metareplace d0 c0d2s0 <new device>',
      afterMaintenance: false,
    });
  });

  it('reads a resync with its percent', () => {
    const reading = read('resyncing.txt');
    expect(reading.warnings).toEqual([]);
    expect(toMetastatOutput(reading).mirrors).toEqual([
      {
        name: 'd0',
        resyncProgress: 37,
        submirrors: [
          { name: 'd10', state: 'Okay', component: 'c0d1s0', componentState: 'Okay' },
          { name: 'd20', state: 'Resyncing', component: 'c0d2s0', componentState: 'Resyncing' },
        ],
      },
    ]);
  });

  it('reads Last Erred as a component state with its two-line Invoke hint, hot spares and TAB tables', () => {
    const reading = read('last-erred-hot-spares.txt');
    expect(toMetastatOutput(reading).mirrors).toEqual([
      {
        name: 'd10',
        resyncProgress: null,
        submirrors: [
          { name: 'd11', state: 'Needs maintenance', component: 'c1t2d0s0', componentState: 'Last Erred' },
          { name: 'd12', state: 'Needs maintenance', component: 'c1t1d0s0', componentState: 'Maintenance' },
        ],
      },
      {
        name: 'd30',
        resyncProgress: null,
        submirrors: [
          { name: 'd31', state: 'Okay', component: 'c1t3d0s0', componentState: 'Okay' },
          { name: 'd31', state: 'Okay', component: 'c1t4d0s0', componentState: 'Okay' },
          { name: 'd32', state: 'Okay', component: 'c2t3d0s0', componentState: 'Okay' },
        ],
      },
    ]);
    const d11 = reading.submirrors.find((submirror) => submirror.name === 'd11');
    expect(d11?.invoke).toEqual({ command: 'metareplace d10 c1t2d0s0 <new device>', afterMaintenance: true });
    const d31 = reading.submirrors.find((submirror) => submirror.name === 'd31');
    expect(d31?.hotSparePool).toBe('hsp001');
    expect(
      d31?.components.map((component) => [component.device, component.stripe, component.hotSpare]),
    ).toEqual([
      ['c1t3d0s0', 0, 'c1t5d0s0'],
      ['c1t4d0s0', 1, null],
    ]);
    expect(reading.hotSparePools).toEqual([
      {
        name: 'hsp001',
        spares: [
          { device: 'c1t5d0s0', status: 'In use', blocks: 2097152 },
          { device: 'c2t5d0s0', status: 'Available', blocks: 2097152 },
        ],
      },
      { name: 'hsp002', spares: [] },
    ]);
    expect(reading.relocations.map((relocation) => relocation.disk)).toEqual(['c1t1d0', 'c1t2d0']);
    expect(reading.warnings).toEqual([
      { line: 68, text: 'blue/d40: Mirror', reason: 'blue/d40: a volume of a named disk set, skipped' },
    ]);
  });

  it('skips garbled states and rows with warnings, never reporting a state it did not read', () => {
    const reading = read('garbled.txt');
    expect(reading.warnings.map((warning) => [warning.line, warning.reason])).toEqual([
      [3, 'd0: submirror state not understood'],
      [6, 'd0: resync progress out of range'],
      [11, 'd20: component row not understood'],
      [13, 'not a metastat line'],
      [14, "'dX' is not a metadevice name"],
      [1, 'd0: submirror d10 has no component table'],
    ]);
    expect(toMetastatOutput(reading).mirrors).toEqual([
      {
        name: 'd0',
        resyncProgress: null,
        submirrors: [{ name: 'd20', state: 'Okay', component: 'c0d2s1', componentState: 'Okay' }],
      },
    ]);
    expect(MetastatOutput.safeParse(toMetastatOutput(reading)).success).toBe(true);
  });
});
