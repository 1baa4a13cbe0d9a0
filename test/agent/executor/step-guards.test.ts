import { afterEach, describe, expect, it } from 'vitest';
import type { PlanStep } from '../../../events/index.ts';
import type { FakeModel } from '../../../sim/fake-host/host-model.mjs';
import {
  createFakeHost,
  type FakeHost,
  fakeMdClient,
  MPATH_WWID,
  mdClientModel,
  multipathModel,
  type RemoteHalf,
  seedMdClientSuperblocks,
  svmGuestModel,
} from '../../helpers/fake-host.ts';
import {
  FOREIGN_UUID,
  LAYOUT,
  lastProgress,
  planOn,
  probeSdb,
  type Run,
  runOn,
  VIOS1,
  VIOS2,
} from './harness.ts';

/**
 * Each §4 precondition refused with its own code, on the host as it is when the step runs, and
 * nothing run: no command that changes the host, no sysfs write.
 */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const made of hosts.splice(0)) made.remove();
});

const mdHost = (remote: RemoteHalf, change: (model: FakeModel) => void = () => undefined): FakeHost => {
  const model = mdClientModel(LAYOUT, remote);
  change(model);
  const host = createFakeHost(model);
  seedMdClientSuperblocks(host, LAYOUT, remote);
  hosts.push(host);
  return host;
};

const track = (host: FakeHost): FakeHost => {
  hosts.push(host);
  return host;
};

/** Removes a device from whatever arrays list it (as a completed `--remove` would have). */
const without = (model: FakeModel, device: string) => {
  for (const array of Object.values(model.arrays)) {
    array.members = array.members.filter((member) => member.device !== device);
  }
};

const runSteps = (
  host: FakeHost,
  steps: [PlanStep, ...PlanStep[]],
  options: Parameters<typeof runOn>[2] = {},
) => runOn(host, planOn(host, steps), options);

const expectRefusedStep = (host: FakeHost, run: Run, step: number, code: string): string => {
  expect(run.result).toMatchObject({ outcome: 'refused', code });
  expect(lastProgress(run.events)).toMatchObject({ step, outcome: 'refused', code, branch: 'steps' });
  expect(host.actions()).toEqual([]);
  return lastProgress(run.events)?.detail ?? '';
};

describe('md.fail', () => {
  it('refuses to fail the last in-sync member, even from a validly signed plan (last-in-sync-member)', async () => {
    const host = mdHost('healthy', (model) => {
      const member = model.arrays.md0?.members.find((candidate) => candidate.device === 'sda1');
      if (member !== undefined) member.state = 'faulty';
    });
    const run = await runSteps(host, [probeSdb, { action: 'md.fail', array: 'md0', member: 'sdb1' }]);
    expect(expectRefusedStep(host, run, 1, 'last-in-sync-member')).toContain(
      'sdb1 is the last in-sync member of md0',
    );
  });

  it('refuses when every other in-sync member is on the same failure domain (partner-same-domain)', async () => {
    const host = mdHost('healthy', (model) => {
      const local = model.scsiHosts.host0;
      if (local !== undefined) local.partitionName = 'vios2';
    });
    const run = await runSteps(host, [probeSdb, { action: 'md.fail', array: 'md1', member: 'sdb2' }]);
    expect(expectRefusedStep(host, run, 1, 'partner-same-domain')).toContain(VIOS2);
  });

  it('refuses when the partner on the other domain is not running (partner-not-running)', async () => {
    const host = mdHost('healthy', (model) => {
      const local = model.luns['0:0:1:0'];
      if (local !== undefined) local.state = 'offline';
    });
    const run = await runSteps(host, [probeSdb, { action: 'md.fail', array: 'md1', member: 'sdb2' }]);
    expect(expectRefusedStep(host, run, 1, 'partner-not-running')).toContain('sda is offline');
  });

  it('fails an in-sync member whose partner is in sync on the other domain and running', async () => {
    const host = mdHost('healthy');
    const run = await runSteps(host, [probeSdb, { action: 'md.fail', array: 'md1', member: 'sdb2' }]);
    expect(run.result.outcome).toBe('succeeded');
    expect(host.actions()).toEqual([['mdadm', '/dev/md1', '--fail', '/dev/sdb2']]);
    expect(lastProgress(run.events)?.detail).toContain(`partner sda2 in sync on ${VIOS1}`);
  });
});

describe('md.remove', () => {
  it('refuses to remove an in-sync member (member-not-faulty)', async () => {
    const host = mdHost('healthy');
    const run = await runSteps(host, [probeSdb, { action: 'md.remove', array: 'md1', member: 'sdb2' }]);
    expectRefusedStep(host, run, 1, 'member-not-faulty');
  });

  it('refuses to remove a spare that is not detached (member-not-faulty)', async () => {
    const host = mdHost('healthy', (model) => {
      const md1 = model.arrays.md1;
      if (md1 === undefined) return;
      md1.raidDevices = 1;
      const sdb2 = md1.members.find((member) => member.device === 'sdb2');
      if (sdb2 !== undefined) Object.assign(sdb2, { state: 'spare', slot: null });
    });
    const run = await runSteps(host, [probeSdb, { action: 'md.remove', array: 'md1', member: 'sdb2' }]);
    expectRefusedStep(host, run, 1, 'member-not-faulty');
  });

  it('never touches an array with no in-sync member left (no-in-sync-member)', async () => {
    const host = mdHost('offline', (model) => {
      for (const member of model.arrays.md0?.members ?? []) member.state = 'faulty';
    });
    const run = await runSteps(host, [probeSdb, { action: 'md.remove', array: 'md0', member: 'sdb1' }]);
    expectRefusedStep(host, run, 1, 'no-in-sync-member');
  });

  it('removes a faulty member whose node is gone as "detached"', async () => {
    const host = mdHost('offline', (model) => {
      const remote = model.luns[LAYOUT.hctl];
      if (remote !== undefined) remote.attached = null;
    });
    const run = await runSteps(host, [probeSdb, { action: 'md.remove', array: 'md0', member: 'sdb1' }]);
    expect(run.result.outcome).toBe('succeeded');
    expect(host.actions()).toEqual([['mdadm', '/dev/md0', '--remove', 'detached']]);
    expect(host.model().arrays.md0?.members.map((member) => member.device)).toEqual(['sda1']);
  });
});

describe('scsi.delete', () => {
  const deleteSdb: PlanStep = { action: 'scsi.delete', hctl: LAYOUT.hctl };
  /** sdb holds no md member any more (both removed), as before the delete of the field order. */
  const freed = (change: (model: FakeModel) => void = () => undefined) =>
    mdHost('offline', (model) => {
      without(model, 'sdb1');
      without(model, 'sdb2');
      change(model);
    });

  it('refuses while a partition of the disk is mounted (holders-present)', async () => {
    const host = freed((model) => {
      model.mounts.push({ device: 'sdb1', mountPoint: '/srv/data', fstype: 'xfs' });
    });
    const run = await runSteps(host, [probeSdb, deleteSdb]);
    expect(expectRefusedStep(host, run, 1, 'holders-present')).toContain('sdb1 is mounted on /srv/data');
  });

  it('refuses while a partition is active swap (holders-present)', async () => {
    const host = freed((model) => {
      model.swaps.push('sdb2');
    });
    const run = await runSteps(host, [probeSdb, deleteSdb]);
    expect(expectRefusedStep(host, run, 1, 'holders-present')).toContain('sdb2 is in use as swap');
  });

  it('refuses while LVM holds a partition (holders-present)', async () => {
    const host = freed((model) => {
      model.dm['dm-5'] = {
        uuid: 'LVM-Zq1Xo3vZ8kH2d9yV0wTqLr5sJm4nBc6xk2JfR7tGd1hP8sWq3Ee0Yu9IiOo4Aa2',
        slaves: ['sdb2'],
      };
    });
    const run = await runSteps(host, [probeSdb, deleteSdb]);
    expect(expectRefusedStep(host, run, 1, 'holders-present')).toContain('sdb2 is held by LVM volume dm-5');
  });

  it('refuses while an md array still holds a partition (holders-present)', async () => {
    const host = mdHost('offline');
    const run = await runSteps(host, [probeSdb, deleteSdb]);
    expect(expectRefusedStep(host, run, 1, 'holders-present')).toContain('held by md array md0');
  });

  it('refuses while mdstat lists a partition in an array, on a kernel whose sysfs shows no holders (holders-present)', async () => {
    const host = mdHost('offline', (model) => {
      model.noHolders = true;
      without(model, 'sdb1');
    });
    const run = await runSteps(host, [probeSdb, deleteSdb]);
    expect(expectRefusedStep(host, run, 1, 'holders-present')).toContain('sdb2 is a member of md1');
  });

  it('refuses when the address now resolves to another disk (address-moved)', async () => {
    const host = freed((model) => {
      const remote = model.luns[LAYOUT.hctl];
      if (remote !== undefined) {
        remote.attached = 'sdc';
        remote.name = 'sdc';
      }
    });
    const run = await runSteps(host, [{ ...probeSdb }, deleteSdb]);
    expect(expectRefusedStep(host, run, 1, 'address-moved')).toContain('resolves to sdc, not sdb');
  });

  it('refuses when the disk is served by another failure domain than planned (address-moved)', async () => {
    const host = freed();
    const run = await runSteps(host, [{ ...probeSdb, failureDomain: VIOS1 } as PlanStep, deleteSdb]);
    expect(expectRefusedStep(host, run, 1, 'address-moved')).toContain(`served by ${VIOS2}`);
  });

  it('refuses to delete the last active path of a multipath map (last-active-path)', async () => {
    const host = track(createFakeHost(multipathModel('sanhost01.example.net')));
    const local = 'local:sanhost01.example.net';
    const run = await runSteps(host, [
      { action: 'disk.probe', disk: 'sdc', hctl: '3:0:0:0', scsiHost: 'host3', failureDomain: local },
      { action: 'scsi.delete', hctl: '3:0:0:0' },
    ]);
    expect(expectRefusedStep(host, run, 1, 'last-active-path')).toContain(
      'sdc is the last active path of mpatha',
    );
  });

  it('deletes a multipath leg while another path of its map is active', async () => {
    const host = track(createFakeHost(multipathModel('sanhost01.example.net')));
    host.update((model) => {
      const sdd = model.multipath[0]?.paths.find((path) => path.device === 'sdd');
      if (sdd !== undefined) Object.assign(sdd, { dmState: 'active', checker: 'ready' });
    });
    const run = await runSteps(host, [
      {
        action: 'disk.probe',
        disk: 'sdc',
        hctl: '3:0:0:0',
        scsiHost: 'host3',
        failureDomain: 'local:sanhost01.example.net',
      },
      { action: 'scsi.delete', hctl: '3:0:0:0' },
    ]);
    expect(run.result.outcome).toBe('succeeded');
    expect(host.actions()).toEqual([['write', '/sys/class/scsi_device/3:0:0:0/device/delete', '1']]);
  });
});

describe('md.add', () => {
  const addSdb1: PlanStep = { action: 'md.add', array: 'md0', member: 'sdb1', uuid: LAYOUT.mirrors[0].uuid };
  /** sdb is back and readable; sdb1 was removed from md0; its superblock is set by the test. */
  const removedHalf = (change: (model: FakeModel) => void = () => undefined) =>
    mdHost('back', (model) => {
      without(model, 'sdb1');
      change(model);
    });
  const superblock = (overrides: Partial<Parameters<FakeHost['setSuperblock']>[2] & object> = {}) => ({
    uuid: LAYOUT.mirrors[0].uuid,
    name: 'lnxclient07:0',
    level: 'raid1',
    raidDevices: 2,
    events: 1800,
    role: 'active' as const,
    slot: 1,
    bitmap: true,
    ...overrides,
  });

  it('refuses a partition whose superblock names another array (superblock-other-array)', async () => {
    const host = removedHalf();
    host.setSuperblock(LAYOUT.hctl, 1, superblock({ uuid: FOREIGN_UUID, name: 'dbhost:data' }));
    const run = await runSteps(host, [probeSdb, addSdb1]);
    expect(expectRefusedStep(host, run, 1, 'superblock-other-array')).toContain(FOREIGN_UUID);
  });

  it('refuses a stale half with more events than the running array (stale-half-newer)', async () => {
    const host = removedHalf();
    host.setSuperblock(LAYOUT.hctl, 1, superblock({ events: 5_000 }));
    const run = await runSteps(host, [probeSdb, addSdb1]);
    expect(expectRefusedStep(host, run, 1, 'stale-half-newer')).toContain('more events (5000) than md0');
  });

  it('refuses a partition too small for the array (too-small)', async () => {
    const host = removedHalf((model) => {
      const remote = model.luns[LAYOUT.hctl];
      if (remote !== undefined)
        remote.partitions = remote.partitions.map((partition) =>
          partition.number === 1 ? { ...partition, sizeBytes: 1_073_741_824 } : partition,
        );
    });
    host.setSuperblock(LAYOUT.hctl, 1, null);
    const run = await runSteps(host, [probeSdb, addSdb1]);
    expectRefusedStep(host, run, 1, 'too-small');
  });

  it('refuses a member still listed in the array, which must be removed first (member-still-in-array)', async () => {
    const host = mdHost('back');
    const run = await runSteps(host, [probeSdb, addSdb1]);
    expectRefusedStep(host, run, 1, 'member-still-in-array');
  });

  it('refuses when the array under that name is not the one planned (array-identity-changed)', async () => {
    const host = removedHalf();
    const run = await runSteps(host, [probeSdb, { ...addSdb1, uuid: FOREIGN_UUID } as PlanStep]);
    expectRefusedStep(host, run, 1, 'array-identity-changed');
  });

  it('refuses a partition it cannot read, whose superblock mdadm would call blank (device-not-readable)', async () => {
    const host = removedHalf((model) => {
      const remote = model.luns[LAYOUT.hctl];
      if (remote !== undefined) remote.readable = false;
    });
    const run = await runSteps(host, [probeSdb, addSdb1]);
    expectRefusedStep(host, run, 1, 'device-not-readable');
  });

  it('refuses a partition with no md superblock that holds a file system (foreign-signature)', async () => {
    const host = removedHalf((model) => {
      const remote = model.luns[LAYOUT.hctl];
      if (remote !== undefined) {
        remote.partitions = remote.partitions.map((partition) =>
          partition.number === 1 ? { ...partition, signature: 'xfs' as const } : partition,
        );
      }
    });
    host.setSuperblock(LAYOUT.hctl, 1, null);
    const run = await runSteps(host, [probeSdb, addSdb1]);
    expect(expectRefusedStep(host, run, 1, 'foreign-signature')).toContain('xfs');
  });

  it('refuses a partition that is mounted or used as swap (holders-present)', async () => {
    const host = removedHalf((model) => {
      model.mounts.push({ device: 'sdb1', mountPoint: '/mnt/rescue', fstype: 'ext4' });
    });
    host.setSuperblock(LAYOUT.hctl, 1, null);
    const run = await runSteps(host, [probeSdb, addSdb1]);
    expect(expectRefusedStep(host, run, 1, 'holders-present')).toContain('sdb1 is mounted on /mnt/rescue');
  });

  it('adds a blank partition with --add, and its own stale half with --re-add', async () => {
    const host = removedHalf();
    host.setSuperblock(LAYOUT.hctl, 1, null);
    const blank = await runSteps(host, [probeSdb, addSdb1]);
    expect(blank.result.outcome).toBe('succeeded');
    expect(host.actions()).toEqual([['mdadm', '/dev/md0', '--add', '/dev/sdb1']]);

    const again = removedHalf();
    const stale = await runSteps(again, [probeSdb, addSdb1]);
    expect(stale.result.outcome).toBe('succeeded');
    expect(again.actions()).toEqual([['mdadm', '/dev/md0', '--re-add', '/dev/sdb1']]);
  });
});

describe('svm.metareplace', () => {
  const guest = (change: (model: FakeModel) => void = () => undefined) => {
    const model = svmGuestModel('ldg1.example.net');
    change(model);
    return track(createFakeHost(model));
  };
  const probeC0d1: PlanStep = {
    action: 'disk.probe',
    disk: 'c0d1',
    failureDomain: 'vdisk:t5-control/alternate',
  };
  const replace = (component: string): PlanStep => ({ action: 'svm.metareplace', mirror: 'd10', component });
  const submirror = (model: FakeModel, name: string) =>
    model.svm?.mirrors[0]?.submirrors.find((candidate) => candidate.name === name);

  it('refuses a Last Erred component (last-erred)', async () => {
    const host = guest((model) => {
      const d11 = submirror(model, 'd11');
      const d12 = submirror(model, 'd12');
      if (d11 === undefined || d12 === undefined) return;
      Object.assign(d11, {
        state: 'Needs maintenance',
        components: [{ device: 'c0d0s0', state: 'Maintenance' }],
      });
      Object.assign(d12, {
        state: 'Needs maintenance',
        components: [{ device: 'c0d1s0', state: 'Last Erred' }],
      });
    });
    const run = await runSteps(host, [probeC0d1, replace('c0d1s0')], { platform: 'solaris' });
    expect(expectRefusedStep(host, run, 1, 'last-erred')).toContain('Last Erred');
  });

  it('refuses a component that is not in Maintenance (not-in-maintenance)', async () => {
    const host = guest();
    const run = await runSteps(host, [probeC0d1, replace('c0d0s0')], { platform: 'solaris' });
    expectRefusedStep(host, run, 1, 'not-in-maintenance');
  });

  it('refuses while the other submirror is not Okay (partner-not-okay)', async () => {
    const host = guest((model) => {
      const d11 = submirror(model, 'd11');
      if (d11 !== undefined)
        Object.assign(d11, { state: 'Resyncing', components: [{ device: 'c0d0s0', state: 'Resyncing' }] });
    });
    const run = await runSteps(host, [probeC0d1, replace('c0d1s0')], { platform: 'solaris' });
    expectRefusedStep(host, run, 1, 'partner-not-okay');
  });

  it('refuses while a hot spare stands in (hot-spare-in-use)', async () => {
    const host = guest((model) => {
      const d11 = submirror(model, 'd11');
      if (d11 !== undefined) d11.components = [{ device: 'c0d0s0', state: 'Okay', hotSpare: 'c0d5s0' }];
    });
    const run = await runSteps(host, [probeC0d1, replace('c0d1s0')], { platform: 'solaris' });
    expect(expectRefusedStep(host, run, 1, 'hot-spare-in-use')).toContain('c0d5s0');
  });

  it('refuses while a state database replica off the repaired disk has errors (metadb-unhealthy)', async () => {
    const host = guest((model) => {
      const replica = model.svm?.metadb[1];
      if (replica !== undefined) replica.flags = 'W    p  l';
    });
    const run = await runSteps(host, [probeC0d1, replace('c0d1s0')], { platform: 'solaris' });
    expect(expectRefusedStep(host, run, 1, 'metadb-unhealthy')).toContain('c0d0s7');
  });

  it('re-enables a component in Maintenance and waits until both submirrors are Okay', async () => {
    const host = guest();
    const run = await runSteps(
      host,
      [probeC0d1, replace('c0d1s0'), { action: 'svm.wait-sync', mirror: 'd10', stallSeconds: 600 }],
      { platform: 'solaris' },
    );
    expect(run.result).toMatchObject({ outcome: 'succeeded', branch: 'steps' });
    expect(host.actions()).toEqual([['metareplace', '-e', 'd10', 'c0d1s0']]);
    expect(host.model().svm?.mirrors[0]?.submirrors.map((sub) => sub.state)).toEqual(['Okay', 'Okay']);
    expect(run.events.some((event) => event.type === 'mirror.recovering' && event.data.kind === 'svm')).toBe(
      true,
    );
  });
});

describe('multipath.reinstate', () => {
  const san = () => track(createFakeHost(multipathModel('sanhost01.example.net')));
  const probe = (disk: string, hctl: string): PlanStep => ({
    action: 'disk.probe',
    disk,
    hctl,
    failureDomain: 'local:sanhost01.example.net',
  });

  it('refuses a path that is not one of the map (not-a-path-of-map)', async () => {
    const host = san();
    const run = await runSteps(host, [
      probe('sdd', '4:0:0:0'),
      { action: 'multipath.reinstate', map: 'mpathb', path: 'sdd' },
    ]);
    expectRefusedStep(host, run, 1, 'not-a-path-of-map');
    const other = san();
    const stray = await runSteps(other, [
      probe('sdd', '4:0:0:0'),
      { action: 'multipath.reinstate', map: 'mpatha', path: 'sdz' },
    ]);
    expectRefusedStep(other, stray, 1, 'not-a-path-of-map');
  });

  it('refuses a ghost path (ghost-path)', async () => {
    const host = san();
    const run = await runSteps(host, [
      probe('sde', '3:0:1:0'),
      { action: 'multipath.reinstate', map: 'mpatha', path: 'sde' },
    ]);
    expectRefusedStep(host, run, 1, 'ghost-path');
  });

  it('reinstates a failed path of the map, named by alias or by WWID', async () => {
    const host = san();
    const run = await runSteps(host, [
      probe('sdd', '4:0:0:0'),
      { action: 'multipath.reinstate', map: MPATH_WWID, path: 'sdd' },
    ]);
    expect(run.result.outcome).toBe('succeeded');
    expect(host.actions()).toEqual([['multipathd', 'reinstate', 'path', 'sdd']]);
    expect(host.model().multipath[0]?.paths.find((path) => path.device === 'sdd')).toMatchObject({
      dmState: 'active',
    });
  });
});

describe('md client fakes', () => {
  it('build the field layout the refusals start from', () => {
    const host = track(fakeMdClient(LAYOUT, 'offline'));
    expect(Object.keys(host.model().arrays)).toEqual(['md0', 'md1']);
  });
});
