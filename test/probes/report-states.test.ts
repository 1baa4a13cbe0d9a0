import { describe, expect, it } from 'vitest';
import { parseMdstat } from '../../probes/mdstat.ts';
import {
  deviceStateOf,
  mdMemberStateFromDetail,
  mdMemberStateFromSysfs,
  mdMemberStatesFromMdstat,
  pathStateOf,
  svmArrayState,
  svmMemberState,
} from '../../probes/report-states.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

const mdstatArray = (text: string) => {
  const [array] = parseMdstat(text).arrays;
  if (array === undefined) throw new Error('no array');
  return array;
};

describe('mdMemberStatesFromMdstat', () => {
  it('reads (F) as faulty and the other member of [2/1] [U_] as the one in-sync slot', () => {
    const array = mdstatArray(
      'md0 : active raid1 sdb1[1](F) sda1[0]\n      1048512 blocks super 1.2 [2/1] [U_]\n',
    );
    expect(Object.fromEntries(mdMemberStatesFromMdstat(array))).toEqual({ sdb1: 'faulty', sda1: 'in-sync' });
  });

  it('does not guess which of two unflagged members of [2/1] [U_] is in sync: the _ is a slot, not a descriptor', () => {
    const array = mdstatArray(
      'md2 : active raid1 sdb3[2] sda3[0]\n      41908224 blocks super 1.2 [2/1] [U_]\n      [=>....]  recovery = 8.5% (1/2) finish=1.0min speed=1K/sec\n',
    );
    expect(Object.fromEntries(mdMemberStatesFromMdstat(array))).toEqual({ sdb3: null, sda3: null });
  });

  it('reads spares, a replacement, a journal and the members of an inactive array', () => {
    const flags = parseMdstat(fixtureText('mdstat/spares-and-flags.txt')).arrays;
    expect(flags.map((array) => Object.fromEntries(mdMemberStatesFromMdstat(array)))).toEqual([
      { nvme0n1p1: 'in-sync', sdf1: 'in-sync', sde1: 'in-sync', sdd1: 'in-sync' },
      { sdc2: 'rebuilding', sdb2: 'in-sync', sda2: 'in-sync' },
      { sdc1: 'spare', sdb1: 'in-sync', sda1: 'in-sync' },
    ]);
    const inactive = mdstatArray(fixtureText('mdstat/inactive.txt').split('\n').slice(1).join('\n'));
    expect(Object.fromEntries(mdMemberStatesFromMdstat(inactive))).toEqual({ sdb1: 'spare', sda1: 'spare' });
  });

  it('reads every member of raid0 as in sync: raid0 prints no slot count', () => {
    const [, , raid0] = parseMdstat(fixtureText('mdstat/raid0-5-10.txt')).arrays;
    expect(raid0 === undefined ? {} : Object.fromEntries(mdMemberStatesFromMdstat(raid0))).toEqual({
      sdj: 'in-sync',
      sdi: 'in-sync',
    });
  });
});

describe('mdMemberStateFromSysfs', () => {
  it.each([
    ['in_sync', '0', 'in-sync'],
    ['in_sync,write_mostly', '1', 'in-sync'],
    ['faulty,write_error', '1', 'faulty'],
    ['faulty', 'none', 'faulty'],
    ['spare', '1', 'rebuilding'],
    ['replacement', '0', 'rebuilding'],
    ['spare', 'none', 'spare'],
    ['journal', 'journal', 'in-sync'],
  ] as const)('reads state %s with slot %s as %s', (state, slot, expected) => {
    expect(mdMemberStateFromSysfs(state, slot)).toBe(expected);
  });
});

describe('mdMemberStateFromDetail', () => {
  it.each([
    [['active', 'sync'], 'in-sync'],
    [['active', 'sync', 'writemostly'], 'in-sync'],
    [['spare', 'rebuilding'], 'rebuilding'],
    [['faulty'], 'faulty'],
    [['faulty', 'spare'], 'faulty'],
    [['spare'], 'spare'],
    [['removed'], null],
  ] as const)('reads %j as %s', (states, expected) => {
    expect(mdMemberStateFromDetail({ number: 1, raidDevice: 1, states: [...states], device: 'sdb1' })).toBe(
      expected,
    );
  });
});

describe('SVM states', () => {
  it('maps component states to member states', () => {
    expect(svmMemberState('Okay')).toBe('in-sync');
    expect(svmMemberState('Resyncing')).toBe('rebuilding');
    expect(svmMemberState('Maintenance')).toBe('maintenance');
    expect(svmMemberState('Last Erred')).toBe('last-erred');
    expect(svmMemberState('Unavailable')).toBe('faulty');
  });

  it('reads a mirror as degraded, recovering, resyncing or clean', () => {
    const okay = { name: 'd10', state: 'Okay', component: 'c0d1s0', componentState: 'Okay' } as const;
    const mirror = (
      componentState: 'Okay' | 'Maintenance' | 'Resyncing' | 'Last Erred',
      progress: number | null,
    ) => ({
      name: 'd0',
      resyncProgress: progress,
      submirrors: [okay, { name: 'd20', state: 'Okay', component: 'c0d2s0', componentState } as const],
    });
    expect(svmArrayState(mirror('Maintenance', null))).toBe('degraded');
    expect(svmArrayState(mirror('Last Erred', null))).toBe('degraded');
    expect(svmArrayState(mirror('Resyncing', 37))).toBe('recovering');
    expect(svmArrayState(mirror('Okay', 12))).toBe('resyncing');
    expect(svmArrayState(mirror('Okay', null))).toBe('clean');
  });
});

describe('pathStateOf', () => {
  it.each([
    ['active', 'ready', 'running', 'active'],
    ['active', 'ghost', 'running', 'ghost'],
    ['failed', 'faulty', 'offline', 'offline'],
    ['failed', 'faulty', 'running', 'failed'],
    ['active', 'faulty', 'running', 'failed'],
    ['active', 'i/o pending', 'running', 'pending'],
    ['active', 'undef', 'unknown', 'pending'],
    ['active', 'ready', 'blocked', 'pending'],
    ['active', 'ready', 'transport-offline', 'offline'],
  ] as const)('reads dm %s, checker %s, device %s as %s', (dmState, pathState, onlineState, expected) => {
    expect(pathStateOf({ dmState, pathState, onlineState })).toBe(expected);
  });
});

describe('deviceStateOf', () => {
  it.each([
    ['running\n', 'running'],
    ['offline', 'offline'],
    ['transport-offline', 'offline'],
    ['blocked', 'blocked'],
    ['created-blocked', 'blocked'],
    ['deleted', 'gone'],
    ['live', 'running'],
    ['dead', 'gone'],
    ['sideways', null],
  ] as const)('reads %j as %s', (text, expected) => {
    expect(deviceStateOf(text)).toBe(expected);
  });
});
