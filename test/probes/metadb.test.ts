import { describe, expect, it } from 'vitest';
import { metadbProblem, metadbRestoreRefusal } from '../../agent/executor/metadb.ts';
import { parseMetadb, replicasBySlice } from '../../probes/metadb.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

const read = (name: string) => parseMetadb(fixtureText(`metadb/${name}`));

describe('parseMetadb', () => {
  it('reads metadb as metadb.c prints it: 20 flag columns, TABs, /dev/dsk names', () => {
    const reading = read('healthy.txt');
    expect(reading.messages).toEqual([]);
    expect(reading.replicas.map((replica) => [replica.flags, replica.firstBlock, replica.device])).toEqual([
      ['ampluo', 16, '/dev/dsk/c0d0s7'],
      ['apluo', 8208, '/dev/dsk/c0d0s7'],
      ['apluo', 16400, '/dev/dsk/c0d0s7'],
      ['apluo', 16, '/dev/dsk/c0d1s7'],
      ['apluo', 8208, '/dev/dsk/c0d1s7'],
      ['apluo', 16400, '/dev/dsk/c0d1s7'],
    ]);
  });

  it('reads metadb -i of a guest whose returned disk keeps its replicas in error, legend aside', () => {
    const reading = read('replicas-in-error.txt');
    expect(reading.messages).toEqual([]);
    expect(reading.replicas.filter((replica) => replica.device === '/dev/dsk/c0d1s7')).toEqual([
      { flags: 'Wpl', firstBlock: 16, blockCount: 8192, device: '/dev/dsk/c0d1s7' },
      { flags: 'Wpl', firstBlock: 8208, blockCount: 8192, device: '/dev/dsk/c0d1s7' },
      { flags: 'Wpl', firstBlock: 16400, blockCount: 8192, device: '/dev/dsk/c0d1s7' },
    ]);
  });

  it('reads a replica whose locator could not be read (unknown blocks) and one just re-created', () => {
    const reading = read('unknown-locators.txt');
    expect(reading.messages).toEqual([]);
    expect(reading.replicas.slice(2)).toEqual([
      { flags: 'Mp', firstBlock: null, blockCount: null, device: '/dev/dsk/c0d1s7' },
      { flags: 'Mp', firstBlock: null, blockCount: null, device: '/dev/dsk/c0d1s7' },
      { flags: 'au', firstBlock: 16, blockCount: 8192, device: '/dev/dsk/c0d2s7' },
    ]);
  });
});

describe('replicasBySlice', () => {
  it('counts the replicas of each slice, active and in error, from the real metadb -i fixtures', () => {
    expect(replicasBySlice(read('healthy.txt'))).toEqual([
      { slice: 'c0d0s7', count: 3, active: 3, erred: 0 },
      { slice: 'c0d1s7', count: 3, active: 3, erred: 0 },
    ]);
    expect(replicasBySlice(read('replicas-in-error.txt'))).toEqual([
      { slice: 'c0d0s7', count: 3, active: 3, erred: 0 },
      { slice: 'c0d1s7', count: 3, active: 0, erred: 3 },
    ]);
    expect(replicasBySlice(read('unknown-locators.txt'))).toEqual([
      { slice: 'c0d0s7', count: 2, active: 2, erred: 0 },
      { slice: 'c0d1s7', count: 2, active: 0, erred: 2 },
      { slice: 'c0d2s7', count: 1, active: 1, erred: 0 },
    ]);
  });

  it('counts a replica neither active nor in error in its slice only, and orders slices by number', () => {
    const text = fixtureText('metadb/healthy.txt')
      .replace('/dev/dsk/c0d0s7', '/dev/dsk/c0d10s7')
      .replaceAll(
        /^ {5}a {4}p {2}luo {4}(\t16400\t\t8192\t\t\/dev\/dsk\/c0d1s7)$/gm,
        '          p  luo    $1',
      );
    expect(replicasBySlice(parseMetadb(text))).toEqual([
      { slice: 'c0d0s7', count: 2, active: 2, erred: 0 },
      { slice: 'c0d1s7', count: 3, active: 2, erred: 0 },
      { slice: 'c0d10s7', count: 1, active: 1, erred: 0 },
    ]);
    expect(replicasBySlice(parseMetadb('metadb: ldg1: there are no existing databases\n'))).toEqual([]);
  });
});

describe('the state database guards', () => {
  it('lets metareplace repair the disk whose replicas alone are in error, with exactly half active', () => {
    const reading = read('replicas-in-error.txt');
    expect(metadbProblem(reading, { repairedDisks: ['c0d1'] })).toBeNull();
    expect(metadbProblem(reading, { repairedDisks: ['c0d0'] })).toContain('off the repaired disk c0d0');
    expect(metadbProblem(reading)).toContain('c0d1s7 (Wpl)');
  });

  it('refuses metareplace when errors sit on another disk or fewer than half are active', () => {
    const reading = read('unknown-locators.txt');
    expect(metadbProblem(reading, { repairedDisks: ['c0d2'] })).toContain('c0d1s7 (Mp)');
    expect(metadbProblem(reading, { repairedDisks: ['c0d1'] })).toBeNull();
    const text = fixtureText('metadb/replicas-in-error.txt');
    const elsewhere = parseMetadb(text.replace(/^ {5}a {4}p {2}luo {4}/m, '      W   p  l      '));
    expect(metadbProblem(elsewhere, { repairedDisks: ['c0d1'] })).toContain('c0d0s7 (Wpl)');
    // Not in error but no longer active (a replica SVM stopped committing to): 1 of 6 is not half.
    const inactive = parseMetadb(text.replaceAll(/^ {5}a {4}p {2}luo {4}/gm, '          p  luo    '));
    expect(metadbProblem(inactive, { repairedDisks: ['c0d1'] })).toBe('only 1 of 6 replicas are active');
  });

  it('lets a plan repairing two disks of the returned domain run with replicas in error on either', () => {
    // Root (c0d1) and data (c0d2) disks both from the returned alternate domain; the data disk
    // holds one replica of its own, in error too. Four of seven are active on c0d0.
    const text = `${fixtureText('metadb/replicas-in-error.txt').replace(
      /^( {5}a {4}p {2}luo {4}\t16400\t\t8192\t\t\/dev\/dsk\/c0d0s7)$/m,
      '$1\n     a    p  luo    \t24592\t\t8192\t\t/dev/dsk/c0d0s7\n      W   p  l      \t16\t\t8192\t\t/dev/dsk/c0d2s7',
    )}`;
    const reading = parseMetadb(text);
    expect(reading.replicas).toHaveLength(8);
    expect(metadbProblem(reading, { repairedDisks: ['c0d1', 'c0d2'] })).toBeNull();
    expect(metadbProblem(reading, { repairedDisks: ['c0d2'] })).toContain(
      'off the repaired disk c0d2: c0d1s7 (Wpl)',
    );
    // c0d1s7's restore while c0d2s7 is still in error: c0d0's four of eight are the others.
    expect(metadbRestoreRefusal(reading, 'c0d1s7', 3, ['c0d1', 'c0d2'])).toMatchObject({ total: 8 });
    expect(metadbRestoreRefusal(reading, 'c0d1s7', 3, ['c0d1'])).toMatchObject({
      code: 'other-replica-not-active',
    });
    // And c0d2s7's, with c0d1s7 still in error: those count in the total only.
    expect(metadbRestoreRefusal(reading, 'c0d2s7', 1, ['c0d1', 'c0d2'])).toMatchObject({ total: 8 });
  });

  it('checks a restore of the slice in error: count, the others active and at least half', () => {
    const reading = read('replicas-in-error.txt');
    expect(metadbRestoreRefusal(reading, 'c0d1s7', 3)).toMatchObject({ total: 6 });
    expect(metadbRestoreRefusal(reading, 'c0d1s7', 2)).toMatchObject({ code: 'replica-count-mismatch' });
    expect(metadbRestoreRefusal(reading, 'c0d0s7', 3)).toMatchObject({ code: 'replica-not-in-error' });
    expect(metadbRestoreRefusal(reading, 'c0d1s6', 1)).toMatchObject({ code: 'no-replica-on-slice' });
    const locators = read('unknown-locators.txt');
    // c0d2s7's fresh replica is active: the others of c0d1s7 are all active, and 3 of 5.
    expect(metadbRestoreRefusal(locators, 'c0d1s7', 2)).toMatchObject({ total: 5 });
    expect(metadbRestoreRefusal(locators, 'c0d2s7', 1)).toMatchObject({ code: 'replica-not-in-error' });
  });
});
