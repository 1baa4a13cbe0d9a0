import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LAYOUT } from '../agent/executor/harness.ts';
import { createFakeHost, type FakeHost, fakeMdClient, svmGuestModel } from '../helpers/fake-host.ts';

/** The fake dd answers as GNU dd (and Solaris dd) over the host model, hangs included. */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});
const track = (host: FakeHost) => {
  hosts.push(host);
  return host;
};

type Ran = { code: number | null; signal: string | null; stderr: string };

/** Runs the generated `dd` by path with the search path as PATH, killing it after `timeoutMs`. */
const dd = (host: FakeHost, args: string[], timeoutMs = 10_000): Promise<Ran> =>
  new Promise((resolve) => {
    execFile(
      join(host.binDir, 'dd'),
      args,
      { env: { PATH: host.searchPath.join(':'), LC_ALL: 'C' }, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (error, _stdout, stderr) => {
        const failure = error as (Error & { code?: number; signal?: string }) | null;
        resolve({
          code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
          signal: failure?.signal ?? null,
          stderr,
        });
      },
    );
  });

const READ_FIRST_BLOCK = ['of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct'];

describe('the fake dd', () => {
  it('reads the first block of a running disk as GNU dd reports it', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    expect(await dd(host, ['if=/dev/sdb', ...READ_FIRST_BLOCK])).toEqual({
      code: 0,
      signal: null,
      stderr: '1+0 records in\n1+0 records out\n4096 bytes (4.1 kB, 4.0 KiB) copied, 0.000104 s, 39.4 MB/s\n',
    });
    expect(host.reads()).toEqual([['dd', 'if=/dev/sdb', ...READ_FIRST_BLOCK]]);
    expect(host.actions()).toEqual([]);
  });

  it('fails to open an offline SCSI device with ENXIO, as sd_open refuses it', async () => {
    const host = track(fakeMdClient(LAYOUT, 'offline'));
    expect(await dd(host, ['if=/dev/sdb', ...READ_FIRST_BLOCK])).toEqual({
      code: 1,
      signal: null,
      stderr: "dd: failed to open '/dev/sdb': No such device or address\n",
    });
  });

  it('fails to open a disk whose node is gone with ENOENT', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    host.update((model) => {
      const lun = model.luns[LAYOUT.hctl];
      if (lun !== undefined) lun.attached = null;
    });
    expect(await dd(host, ['if=/dev/sdb', ...READ_FIRST_BLOCK])).toMatchObject({
      code: 1,
      stderr: "dd: failed to open '/dev/sdb': No such file or directory\n",
    });
  });

  it('reports EIO from the read of a running device whose medium fails', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    host.update((model) => {
      const lun = model.luns[LAYOUT.hctl];
      if (lun !== undefined) lun.readable = false;
    });
    const ran = await dd(host, ['if=/dev/sdb', ...READ_FIRST_BLOCK]);
    expect(ran.code).toBe(1);
    expect(ran.stderr.split('\n').slice(0, 3)).toEqual([
      "dd: error reading '/dev/sdb': Input/output error",
      '0+0 records in',
      '0+0 records out',
    ]);
  });

  it('never returns from a blocked device or a server that stopped answering, until killed', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    host.update((model) => {
      const lun = model.luns[LAYOUT.hctl];
      if (lun !== undefined) lun.hangs = true;
    });
    const hung = await dd(host, ['if=/dev/sdb', ...READ_FIRST_BLOCK], 1_500);
    expect(hung).toEqual({ code: null, signal: 'SIGKILL', stderr: '' });
    host.update((model) => {
      const lun = model.luns[LAYOUT.hctl];
      if (lun !== undefined) {
        lun.hangs = false;
        lun.state = 'blocked';
      }
    });
    expect((await dd(host, ['if=/dev/sdb', ...READ_FIRST_BLOCK], 1_500)).signal).toBe('SIGKILL');
    expect(host.reads()).toHaveLength(2);
  });

  it('refuses an unknown operand and any output but /dev/null', async () => {
    const host = track(fakeMdClient(LAYOUT, 'back'));
    expect(await dd(host, ['if=/dev/sdb', 'bogus'])).toMatchObject({
      code: 1,
      stderr: "dd: unrecognized operand 'bogus'\nTry 'dd --help' for more information.\n",
    });
    expect((await dd(host, ['if=/dev/sdb', 'of=/tmp/copy'])).code).toBe(1);
  });

  it('reads a Solaris raw slice as Solaris dd does, and fails a vdc disk that cannot be reached', async () => {
    const model = svmGuestModel('ldg1.example.net');
    model.platform = 'solaris';
    const host = track(createFakeHost(model));
    const args = ['of=/dev/null', 'bs=4096', 'count=1'];
    expect(await dd(host, ['if=/dev/rdsk/c0d1s2', ...args])).toEqual({
      code: 0,
      signal: null,
      stderr: '1+0 records in\n1+0 records out\n',
    });
    host.update((current) => {
      const disk = current.solarisDisks?.c0d1;
      if (disk !== undefined) disk.readable = false;
    });
    expect(await dd(host, ['if=/dev/rdsk/c0d1s2', ...args])).toMatchObject({
      code: 2,
      stderr: 'read: I/O error\n0+0 records in\n0+0 records out\n',
    });
    expect(await dd(host, ['if=/dev/rdsk/c0d9s2', ...args])).toMatchObject({
      code: 2,
      stderr: 'dd: /dev/rdsk/c0d9s2: open: No such file or directory\n',
    });
  });
});
