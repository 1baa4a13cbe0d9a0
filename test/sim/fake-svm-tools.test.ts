import { afterEach, describe, expect, it } from 'vitest';
import { parseMetadb } from '../../probes/metadb.ts';
import { guestModel, replicas, returnedGuest } from '../agent/executor/svm-guest.ts';
import { fixtureText } from '../helpers/agent-probes.ts';
import { createFakeHost, type FakeHost } from '../helpers/fake-host.ts';

/**
 * The fake SVM state database behaves as Solaris's (illumos metadb.c and libmeta's meta_db.c):
 * the real `metadb` layout, replicas in error that stay in error until re-created, and the real
 * tool's refusals with its own words.
 */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});
const track = (host: FakeHost) => {
  hosts.push(host);
  return host;
};

/** The fake in process, as `{code, stdout, stderr}`. */
const metadb = async (host: FakeHost, ...args: string[]) => {
  const result = await host.runInProcess('metadb', args);
  return { code: result.exitCode, stdout: result.stdout, stderr: result.stderr };
};

const flagsOf = async (host: FakeHost) =>
  parseMetadb((await metadb(host)).stdout).replicas.map((replica) => `${replica.device}:${replica.flags}`);

describe('the fake metadb', () => {
  it('prints metadb -i byte for byte as the real layout of the fixture', async () => {
    const host = track(returnedGuest());
    expect((await metadb(host, '-i')).stdout).toBe(fixtureText('metadb/replicas-in-error.txt'));
    expect((await metadb(host, '-i')).stdout).not.toBe((await metadb(host)).stdout);
  });

  it('flags the replicas of a disk that stopped answering W, and keeps them so after it is back and after metareplace', async () => {
    const host = track(createFakeHost(guestModel()));
    expect(await flagsOf(host)).not.toContain('/dev/dsk/c0d1s7:Wpl');
    host.update((model) => {
      if (model.solarisDisks?.c0d1 !== undefined) model.solarisDisks.c0d1.readable = false;
    });
    host.update((model) => {
      if (model.solarisDisks?.c0d1 !== undefined) model.solarisDisks.c0d1.readable = true;
    });
    expect((await host.runInProcess('metareplace', ['-e', 'd10', 'c0d1s0'])).exitCode).toBe(0);
    expect(await flagsOf(host)).toEqual([
      '/dev/dsk/c0d0s7:ampluo',
      '/dev/dsk/c0d0s7:apluo',
      '/dev/dsk/c0d0s7:apluo',
      '/dev/dsk/c0d1s7:Wpl',
      '/dev/dsk/c0d1s7:Wpl',
      '/dev/dsk/c0d1s7:Wpl',
    ]);
  });

  it('refuses to re-add over replicas that are still there, then re-creates them after metadb -d', async () => {
    const host = track(returnedGuest());
    expect(await metadb(host, '-a', '-c', '3', 'c0d1s7')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'metadb: ldg1.example.net: metadevice database replica exists on device\n',
    });
    expect(await metadb(host, '-d', 'c0d1s7')).toMatchObject({ code: 0, stderr: '' });
    expect(await metadb(host, '-a', '-c', '3', '/dev/dsk/c0d1s7')).toMatchObject({ code: 0, stderr: '' });
    expect((await metadb(host)).stdout).toContain(
      '     a        u     \t16\t\t8192\t\t/dev/dsk/c0d1s7\n     a        u     \t8208\t\t8192\t\t/dev/dsk/c0d1s7',
    );
    expect(host.actionLog().map((entry) => [entry.argv.join(' '), entry.replicasBefore?.length])).toEqual([
      ['metadb -a -c 3 c0d1s7', 6],
      ['metadb -d c0d1s7', 6],
      ['metadb -a -c 3 /dev/dsk/c0d1s7', 3],
    ]);
  });

  it('refuses without -f to delete valid replicas when those left in error would outnumber the valid ones', async () => {
    const host = track(returnedGuest());
    expect(await metadb(host, '-d', 'c0d0s7')).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'metadb: ldg1.example.net: Deleting specified valid replicas results in stale state database. Configuration changes with stale database result in panic(-f overrides)\n',
    });
    expect(await flagsOf(host)).toHaveLength(6);
    expect(await metadb(host, '-d', '-f', 'c0d0s7')).toMatchObject({ code: 0 });
    expect(await flagsOf(host)).toEqual([
      '/dev/dsk/c0d1s7:Wpl',
      '/dev/dsk/c0d1s7:Wpl',
      '/dev/dsk/c0d1s7:Wpl',
    ]);
  });

  it('refuses a slice with no replica, the last replicas without -f, and an unreadable disk', async () => {
    const host = track(createFakeHost(guestModel([...replicas('c0d0s7', 2, 'apluo', true)])));
    expect((await metadb(host, '-d', 'c0d1s7')).stderr).toBe(
      'metadb: ldg1.example.net: c0d1s7: no metadevice database replica on device\n',
    );
    expect((await metadb(host, '-d', 'c0d0s7')).stderr).toBe(
      'metadb: ldg1.example.net: must have at least 1 database (-f overrides)\n',
    );
    host.update((model) => {
      if (model.solarisDisks?.c0d1 !== undefined) model.solarisDisks.c0d1.readable = false;
    });
    expect((await metadb(host, '-a', 'c0d1s7')).stderr).toBe(
      'metadb: ldg1.example.net: /dev/rdsk/c0d1s7: I/O error\n',
    );
    expect((await metadb(host, '-a', '-c', '0', 'c0d1s7')).stderr).toMatch(
      /^metadb: count \(-c\) must be 1 or more\nusage: {2}metadb/,
    );
    expect(await metadb(host, '-d', '-f', 'c0d0s7')).toMatchObject({ code: 0 });
    expect(await metadb(host)).toEqual({
      code: 1,
      stdout: '',
      stderr: 'metadb: ldg1.example.net: there are no existing databases\n',
    });
  });
});
