import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readText } from '../../agent/scan/sysfs-reader.ts';
import { parseSyncCompleted } from '../../probes/md-sync-completed.ts';
import { parseMdstat } from '../../probes/mdstat.ts';
import type { FakeModel } from '../../sim/fake-host/host-model.mjs';
import { LAYOUT } from '../agent/executor/harness.ts';
import { type FakeHost, fakeMdClient } from '../helpers/fake-host.ts';
import { rebuildingAtSpeedLimitMin } from '../helpers/fake-md-sync.ts';

/**
 * The fake mdadm and md driver against what mdadm 4.2 and the kernel do with a stale member of an
 * array without a write-intent bitmap, `--zero-superblock`, and how a recovery shows in
 * `md/sync_completed` and mdstat: checkpointed sectors, and `resync=DELAYED` behind another array
 * on the same disks.
 */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});

/** The md client of the executor's tests, its remote half back, changed as the test needs. */
const mdHost = (change: (model: FakeModel) => void = () => undefined): FakeHost => {
  const host = fakeMdClient(LAYOUT, 'back');
  host.update(change);
  hosts.push(host);
  return host;
};

const mdadm = async (host: FakeHost, args: string[]) => {
  const result = await host.runInProcess('mdadm', args);
  return { code: result.exitCode, stdout: result.stdout, stderr: result.stderr };
};

const noBitmap = (model: FakeModel) => {
  for (const array of Object.values(model.arrays)) array.bitmap = false;
};

const syncCompleted = async (host: FakeHost, array: string) =>
  parseSyncCompleted((await readText(join(host.root, 'sys', 'block', array, 'md', 'sync_completed'))) ?? '');

const mdstatOf = async (host: FakeHost, array: string) =>
  parseMdstat((await readText(join(host.root, 'proc', 'mdstat'))) ?? '').arrays.find(
    (reading) => reading.name === array,
  );

describe('the fake mdadm without a write-intent bitmap', () => {
  it('refuses the --re-add of a stale member, and as mdadm 4.2 adds it in full with --add', async () => {
    const host = mdHost(noBitmap);
    expect(await mdadm(host, ['/dev/md0', '--remove', '/dev/sdb1'])).toMatchObject({ code: 0 });
    expect(await mdadm(host, ['/dev/md0', '--re-add', '/dev/sdb1'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'mdadm: --re-add for /dev/sdb1 to /dev/md0 is not possible\n',
    });
    expect(await mdadm(host, ['/dev/md0', '--add', '/dev/sdb1'])).toEqual({
      code: 0,
      stdout: '',
      stderr: 'mdadm: added /dev/sdb1\n',
    });
    // A full rebuild, at the full-recovery rate, not the bitmap's.
    expect(host.model().arrays.md0?.recovery).toMatchObject({ device: 'sdb1', rate: 2 });
  });

  it('refuses the --add as mdadm 3.1.5 to 3.2.3 did, with their three lines', async () => {
    const host = mdHost((model) => {
      noBitmap(model);
      model.mdadmVersion = '3.2.3';
    });
    await mdadm(host, ['/dev/md0', '--remove', '/dev/sdb1']);
    expect(await mdadm(host, ['/dev/md0', '--add', '/dev/sdb1'])).toEqual({
      code: 1,
      stdout: '',
      stderr: [
        'mdadm: /dev/sdb1 reports being an active member for /dev/md0, but a --re-add fails.',
        'mdadm: not performing --add as that would convert /dev/sdb1 in to a spare.',
        'mdadm: To make this a spare, use "mdadm --zero-superblock /dev/sdb1" first.',
        '',
      ].join('\n'),
    });
    expect(host.model().arrays.md0?.members.map((member) => member.device)).toEqual(['sda1']);
  });

  it('zeroes only a device nothing holds, then --add rebuilds it in full on mdadm 3.2.3 too', async () => {
    const host = mdHost((model) => {
      noBitmap(model);
      model.mdadmVersion = '3.2.3';
    });
    // Still a (faulty) member of md0: the kernel holds it, mdadm's O_EXCL open fails.
    expect(await mdadm(host, ['--zero-superblock', '/dev/sdb1'])).toEqual({
      code: 2,
      stdout: '',
      stderr: "mdadm: Couldn't open /dev/sdb1 for write - not zeroing\n",
    });
    await mdadm(host, ['/dev/md0', '--remove', '/dev/sdb1']);
    expect(await mdadm(host, ['--zero-superblock', '/dev/sdb1'])).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    expect(await mdadm(host, ['--examine', '/dev/sdb1'])).toMatchObject({
      code: 1,
      stderr: 'mdadm: No md superblock detected on /dev/sdb1.\n',
    });
    // Nothing left to zero: mdadm says so and still exits 0.
    expect(await mdadm(host, ['--zero-superblock', '/dev/sdb1'])).toEqual({
      code: 0,
      stdout: '',
      stderr: 'mdadm: Unrecognised md component device - /dev/sdb1\n',
    });
    expect(await mdadm(host, ['/dev/md0', '--add', '/dev/sdb1'])).toMatchObject({
      code: 0,
      stderr: 'mdadm: added /dev/sdb1\n',
    });
    expect(host.actions()).toEqual([
      ['mdadm', '--zero-superblock', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
      ['mdadm', '--zero-superblock', '/dev/sdb1'],
      ['mdadm', '--zero-superblock', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--add', '/dev/sdb1'],
    ]);
  });

  it('refuses to zero a mounted partition or one a device-mapper target holds', async () => {
    const host = mdHost((model) => {
      model.mounts.push({ device: 'sdb1', mountPoint: '/srv/old', fstype: 'xfs' });
      model.dm['dm-4'] = { uuid: 'LVM-pvstale', slaves: ['sdb2'] };
    });
    await mdadm(host, ['/dev/md0', '--remove', '/dev/sdb1']);
    await mdadm(host, ['/dev/md1', '--fail', '/dev/sdb2']);
    await mdadm(host, ['/dev/md1', '--remove', '/dev/sdb2']);
    for (const device of ['sdb1', 'sdb2']) {
      expect(await mdadm(host, ['--zero-superblock', `/dev/${device}`])).toMatchObject({
        code: 2,
        stderr: `mdadm: Couldn't open /dev/${device} for write - not zeroing\n`,
      });
    }
  });
});

describe('the fake md driver: sync_completed and queued resyncs', () => {
  it('moves sync_completed by checkpoints (1/16 of the way or five minutes) while mdstat shows the live position', async () => {
    const host = mdHost(noBitmap);
    expect(await syncCompleted(host, 'md0')).toEqual({ state: 'none' });
    host.update((model) => rebuildingAtSpeedLimitMin(model, 'md0', 'sdb1'));
    expect(await syncCompleted(host, 'md0')).toEqual({
      state: 'running',
      syncedSectors: 0,
      totalSectors: 2_147_483_648,
    });
    await host.clock.sleep(60_000);
    expect(await syncCompleted(host, 'md0')).toMatchObject({ syncedSectors: 0 });
    expect(await mdstatOf(host, 'md0')).toMatchObject({
      state: 'recovering',
      progress: 0,
      syncedBlocks: 60_000,
      syncTotalBlocks: 1_073_741_824,
    });
    await host.clock.sleep(240_000);
    expect(await syncCompleted(host, 'md0')).toMatchObject({ syncedSectors: 600_000 });
    expect(await readText(join(host.root, 'proc', 'sys', 'dev', 'raid', 'speed_limit_min'))).toBe('1000\n');
  });

  it('queues a second array on the same disks as resync=DELAYED until the first one finishes', async () => {
    const host = mdHost((model) => {
      for (const array of Object.values(model.arrays)) {
        array.members = array.members.filter((member) => !member.device.startsWith('sdb'));
        array.reAddRatePerSecond = 10;
      }
    });
    await mdadm(host, ['/dev/md0', '--re-add', '/dev/sdb1']);
    await mdadm(host, ['/dev/md1', '--re-add', '/dev/sdb2']);
    expect(await syncCompleted(host, 'md1')).toEqual({ state: 'delayed' });
    expect(await mdstatOf(host, 'md1')).toMatchObject({
      state: 'degraded',
      syncAction: null,
      syncPending: 'DELAYED',
    });
    await host.clock.sleep(5_000);
    expect(await syncCompleted(host, 'md1')).toEqual({ state: 'delayed' });
    await host.clock.sleep(6_000);
    expect(host.model().arrays.md0?.recovery).toBeNull();
    expect(await syncCompleted(host, 'md1')).toMatchObject({ state: 'running' });
    await host.clock.sleep(11_000);
    expect(await syncCompleted(host, 'md1')).toEqual({ state: 'none' });
    expect(
      Object.values(host.model().arrays).every((array) =>
        array.members.every((member) => member.state === 'in_sync'),
      ),
    ).toBe(true);
  });
});
