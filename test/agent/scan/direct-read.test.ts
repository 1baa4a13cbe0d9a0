import { afterEach, describe, expect, it } from 'vitest';
import {
  createDdReader,
  createTreeReader,
  ddRead,
  directReadArguments,
} from '../../../agent/scan/direct-read.ts';
import { type FakeHost, fakeMdClient } from '../../helpers/fake-host.ts';
import { LAYOUT } from '../executor/harness.ts';

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});
const track = (host: FakeHost) => {
  hosts.push(host);
  return host;
};

describe('directReadArguments', () => {
  it('reads one aligned block with O_DIRECT on Linux, and the raw whole-disk slice on Solaris', () => {
    expect(directReadArguments('linux', 'sdb')).toEqual([
      'if=/dev/sdb',
      'of=/dev/null',
      'bs=4096',
      'count=1',
      'iflag=direct',
    ]);
    expect(directReadArguments('solaris', 'c0d1')).toEqual([
      'if=/dev/rdsk/c0d1s2',
      'of=/dev/null',
      'bs=4096',
      'count=1',
    ]);
    expect(directReadArguments('aix', 'hdisk1')).toBeNull();
  });
});

describe('ddRead', () => {
  it('counts a block read only when dd exits 0 having read a record', () => {
    expect(ddRead(0, '1+0 records in\n1+0 records out\n')).toBe(true);
    expect(ddRead(0, '0+1 records in\n0+1 records out\n')).toBe(true);
    expect(ddRead(0, '0+0 records in\n0+0 records out\n')).toBe(false);
    expect(ddRead(1, "dd: error reading '/dev/sdb': Input/output error\n0+0 records in\n")).toBe(false);
    expect(ddRead(null, '')).toBe(false);
  });
});

describe('createDdReader', () => {
  it('reads a running disk through dd, and says why an offline one does not read', async () => {
    const host = track(fakeMdClient(LAYOUT, 'offline'));
    const read = createDdReader({ platform: 'linux', searchPath: host.searchPath });
    expect(await read('sda').result).toEqual({ readable: true, timedOut: false, detail: '1+0 records in' });
    const offline = read('sdb');
    expect(await offline.result).toEqual({
      readable: false,
      timedOut: false,
      detail: "dd: failed to open '/dev/sdb': No such device or address",
    });
    await offline.exited;
    expect(host.reads()).toEqual([
      ['dd', 'if=/dev/sda', 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct'],
      ['dd', 'if=/dev/sdb', 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct'],
    ]);
  });

  it('kills a read that hangs at its timeout and reports it not readable, timed out', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    host.update((model) => {
      const lun = model.luns[LAYOUT.hctl];
      if (lun !== undefined) lun.hangs = true;
    });
    const read = createDdReader({ platform: 'linux', searchPath: host.searchPath, timeoutMs: 800 });
    const started = Date.now();
    const hung = read('sdb');
    expect(await hung.result).toEqual({ readable: false, timedOut: true, detail: 'timed out after 0.8 s' });
    await hung.exited;
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
  });

  it('cannot try without dd: readable is unknown, not false', async () => {
    const read = createDdReader({ platform: 'linux', searchPath: ['/nonexistent/faultline'] });
    expect(await read('sdb').result).toEqual({ readable: null, timedOut: false, detail: 'dd not found' });
    const aix = createDdReader({ platform: 'aix', searchPath: ['/nonexistent/faultline'] });
    expect((await aix('hdisk1').result).detail).toBe('no direct read on aix');
  });
});

describe('createTreeReader', () => {
  it("reads a tree's dev nodes: a data file reads, an offline disk's folder does not", async () => {
    const host = track(fakeMdClient(LAYOUT, 'offline'));
    const read = createTreeReader(host.root, 'linux');
    expect((await read('sda').result).readable).toBe(true);
    expect(await read('sdb').result).toEqual({ readable: false, timedOut: false, detail: 'EISDIR' });
    expect((await read('sdz').result).detail).toBe('ENOENT');
  });
});
