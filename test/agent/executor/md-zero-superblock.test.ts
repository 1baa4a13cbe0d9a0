import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { PlanStep } from '../../../events/index.ts';
import { type FakeModel, type FakeSuperblock, superblockPath } from '../../../sim/fake-host/host-model.mjs';
import { type FakeHost, progressRows } from '../../helpers/fake-host.ts';
import { FOREIGN_UUID, LAYOUT, planOn, probeSdb, UP_TO_RESCAN } from './harness.ts';
import {
  executeOn,
  mdClient,
  noBitmapFullPlan,
  progressOf,
  removedByUdev,
  verifySdb,
  withoutBitmap,
  zeroSdb1,
} from './md-harness.ts';

/**
 * `md.zero-superblock` (DESIGN §4): what makes a stale member of an array without a write-intent
 * bitmap addable again, and the guards that keep it from destroying anything else: only a member
 * this plan removed, on a disk this plan verified, nothing holding it, in an array re-read as having
 * no bitmap, its superblock the array's and not newer, an in-sync partner on another domain that
 * the agent reads itself.
 */

const hosts: FakeHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});
const track = (host: FakeHost): FakeHost => {
  hosts.push(host);
  return host;
};

const [ROOT, SWAP] = LAYOUT.mirrors;
const removeSdb1: PlanStep = { action: 'md.remove', array: ROOT.array, member: 'sdb1' };
const ZEROED = ['mdadm', '--zero-superblock', '/dev/sdb1'];

/** A client whose vios2 half is back by itself, no bitmap: sdb1 faulty in md0, its superblock behind. */
const backWithoutBitmap = (change: (model: FakeModel) => void = () => undefined): FakeHost =>
  track(
    mdClient('back', (model) => {
      withoutBitmap()(model);
      change(model);
    }),
  );

/** The superblock sdb1 holds on its medium, or null once zeroed. */
const sdb1Superblock = (host: FakeHost): string | null => {
  const path = superblockPath(host.root, LAYOUT.hctl, 1);
  return existsSync(path) ? path : null;
};

const rootSuperblock = (overrides: Partial<FakeSuperblock>): FakeSuperblock => ({
  uuid: ROOT.uuid,
  name: 'lnxclient07:0',
  level: 'raid1',
  raidDevices: 2,
  events: 1800,
  role: 'active',
  slot: 1,
  bitmap: false,
  ...overrides,
});

/** probe, remove sdb1, verify sdb, zero sdb1: each guard test leaves out or breaks one thing. */
const zeroPlan = (host: FakeHost, options: { remove?: boolean; verify?: boolean; zero?: PlanStep } = {}) =>
  planOn(host, [
    probeSdb,
    ...(options.remove === false ? [] : [removeSdb1]),
    ...(options.verify === false ? [] : [verifySdb()]),
    options.zero ?? zeroSdb1,
  ]);

/** Runs the plan and expects the zero step refused with `code`, and nothing zeroed. */
const expectRefused = async (host: FakeHost, plan: ReturnType<typeof zeroPlan>, code: string) => {
  const run = await executeOn(host, plan);
  expect(run.execution.outcome, JSON.stringify(run.execution.steps.at(-1))).toBe('refused');
  expect(run.execution.steps.at(-1)).toMatchObject({ action: 'md.zero-superblock', code });
  expect(host.actions()).not.toContainEqual(ZEROED);
  expect(sdb1Superblock(host)).not.toBeNull();
  return run;
};

describe('md.zero-superblock: the no-bitmap runbook', () => {
  it('heals on mdadm 3.2.3: fail and remove, delete, rescan, verify, zero each stale member, add, resync in full', async () => {
    const host = track(mdClient('offline', withoutBitmap('3.2.3')));
    const run = await executeOn(host, noBitmapFullPlan(host, { zero: true }));
    expect(run.execution.outcome, JSON.stringify(run.execution.steps.at(-1))).toBe('succeeded');
    expect(host.actions()).toEqual([
      ...UP_TO_RESCAN,
      ['mdadm', '--zero-superblock', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--add', '/dev/sdb1'],
      ['mdadm', '--zero-superblock', '/dev/sdb2'],
      ['mdadm', '/dev/md1', '--add', '/dev/sdb2'],
    ]);
    const arrays = Object.values(host.model().arrays);
    expect(arrays.every((array) => array.members.every((member) => member.state === 'in_sync'))).toBe(true);
    expect(progressOf(run.events, 'md.zero-superblock')[0]?.detail).toContain(
      'superblock of md0, events 1800 ≤ 1843, no bitmap; sdb verified at 1:0:2:0; partner sda1 in sync on vscsi:Server-9080-M9S-SN78AB12C/vios1, read by the agent',
    );
  });

  it('the plan without it fails there at md.add, with mdadm 3.2.3 refusing the stale member', async () => {
    const host = track(mdClient('offline', withoutBitmap('3.2.3')));
    const run = await executeOn(host, noBitmapFullPlan(host, { zero: false }));
    expect(run.execution).toMatchObject({ outcome: 'failed' });
    expect(run.execution.steps.at(-1)).toMatchObject({ action: 'md.add', code: 'add-refused' });
    expect(run.execution.steps.at(-1)?.detail).toContain(
      'mdadm: /dev/sdb1 reports being an active member for /dev/md0, but a --re-add fails.',
    );
    expect(run.execution.steps.at(-1)?.detail).toContain(
      'mdadm: To make this a spare, use "mdadm --zero-superblock /dev/sdb1" first.',
    );
    expect(host.model().arrays.md0?.members.map((member) => member.device)).toEqual(['sda1']);
  });

  it('heals on mdadm 4.2 with or without it: its --add falls back to a full rebuild by itself', async () => {
    for (const zero of [true, false]) {
      const host = track(mdClient('offline', withoutBitmap()));
      const run = await executeOn(host, noBitmapFullPlan(host, { zero }));
      expect(run.execution.outcome).toBe('succeeded');
      expect(host.actions()).toContainEqual(['mdadm', '/dev/md0', '--add', '/dev/sdb1']);
      expect(progressOf(run.events, 'md.add')[0]?.detail).toContain('mdadm: added /dev/sdb1');
    }
  });

  it('checks every guard in a dry-run, runs nothing, and leaves what only the returned disk shows for later', async () => {
    const host = track(mdClient('offline', withoutBitmap('3.2.3')));
    const plan = noBitmapFullPlan(host, { zero: true });
    plan.mode = 'dry-run';
    const run = await executeOn(host, plan);
    expect(run.execution.outcome).toBe('succeeded');
    expect(host.actions()).toEqual([]);
    const zero = progressOf(run.events, 'md.zero-superblock');
    expect(zero.map((step) => step.outcome)).toEqual(['skipped', 'skipped']);
    expect(zero[0]?.detail).toMatch(/^would run: mdadm --zero-superblock \/dev\/sdb1 \(/);
    expect(zero[0]?.detail).toContain('checked once the disk is back: sdb is offline');
  });

  it('zeroes a member of a disk that came back by itself, then adds it in full', async () => {
    const host = backWithoutBitmap((model) => {
      model.mdadmVersion = '3.2.3';
    });
    const run = await executeOn(
      host,
      planOn(host, [
        probeSdb,
        removeSdb1,
        verifySdb(),
        zeroSdb1,
        { action: 'md.add', array: ROOT.array, member: 'sdb1', uuid: ROOT.uuid },
        { action: 'md.wait-sync', array: ROOT.array, stallSeconds: 600 },
      ]),
    );
    expect(progressRows(run.events).filter((row) => row[3] !== 'started')).toEqual([
      [0, 'steps', 'disk.probe', 'succeeded', undefined],
      [1, 'steps', 'md.remove', 'succeeded', undefined],
      [2, 'steps', 'disk.verify', 'succeeded', undefined],
      [3, 'steps', 'md.zero-superblock', 'succeeded', undefined],
      [4, 'steps', 'md.add', 'succeeded', undefined],
      [5, 'steps', 'md.wait-sync', 'succeeded', undefined],
    ]);
    expect(sdb1Superblock(host)).not.toBeNull();
    expect(host.actions()).toEqual([
      ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
      ZEROED,
      ['mdadm', '/dev/md0', '--add', '/dev/sdb1'],
    ]);
  });
});

describe('md.zero-superblock of a member udev removed before the plan ran (mdadm -If)', () => {
  it('skips md.fail and md.remove of the members already out, then zeroes each, adds it and resyncs in full', async () => {
    const host = track(mdClient('offline', withoutBitmap('3.2.3')));
    await removedByUdev(host, 'sdb1', 'sdb2');
    const run = await executeOn(host, noBitmapFullPlan(host, { zero: true }));
    expect(run.execution.outcome, JSON.stringify(run.execution.steps.at(-1))).toBe('succeeded');
    expect(
      progressRows(run.events)
        .filter((row) => row[3] !== 'started')
        .map((row) => [row[2], row[3]]),
    ).toEqual([
      ['disk.probe', 'succeeded'],
      ['md.fail', 'skipped'],
      ['md.remove', 'skipped'],
      ['md.remove', 'skipped'],
      ['scsi.delete', 'succeeded'],
      ['scsi.rescan', 'succeeded'],
      ['disk.verify', 'succeeded'],
      ['md.zero-superblock', 'succeeded'],
      ['md.add', 'succeeded'],
      ['md.zero-superblock', 'succeeded'],
      ['md.add', 'succeeded'],
      ['md.wait-sync', 'succeeded'],
      ['md.wait-sync', 'succeeded'],
    ]);
    expect(progressOf(run.events, 'md.remove')[0]?.detail).toBe(
      "sdb1 is no longer a member of md0: removed before the plan ran (udev's mdadm -If)",
    );
    expect(host.actions()).toEqual([
      ['mdadm', '-If', 'sdb1'],
      ['mdadm', '-If', 'sdb2'],
      ...UP_TO_RESCAN.filter((argv) => argv[0] !== 'mdadm'),
      ZEROED,
      ['mdadm', '/dev/md0', '--add', '/dev/sdb1'],
      ['mdadm', '--zero-superblock', '/dev/sdb2'],
      ['mdadm', '/dev/md1', '--add', '/dev/sdb2'],
    ]);
    expect(progressOf(run.events, 'md.zero-superblock')[0]?.detail).toContain(
      "sdb1 removed before the plan ran (udev's mdadm -If); superblock of md0, events 1800 ≤ 1843, no bitmap; sdb verified at 1:0:2:0",
    );
    const arrays = host.model().arrays;
    expect(arrays.md0?.members.map((member) => [member.device, member.state])).toEqual([
      ['sda1', 'in_sync'],
      ['sdb1', 'in_sync'],
    ]);
    expect(arrays.md1?.members.map((member) => [member.device, member.state])).toEqual([
      ['sda2', 'in_sync'],
      ['sdb2', 'in_sync'],
    ]);
  });

  it('still refuses when the stale superblock names another array (superblock-other-array)', async () => {
    const host = backWithoutBitmap();
    await removedByUdev(host, 'sdb1');
    host.setSuperblock(LAYOUT.hctl, 1, rootSuperblock({ uuid: FOREIGN_UUID, name: 'otherhost:7' }));
    const run = await expectRefused(host, zeroPlan(host), 'superblock-other-array');
    expect(progressOf(run.events, 'md.remove')[0]?.outcome).toBe('skipped');
    expect(run.execution.steps.at(-1)?.detail).toContain(`array ${FOREIGN_UUID} (otherhost:7), not md0`);
  });

  const removeOf = (array: string, member: string): PlanStep => ({ action: 'md.remove', array, member });
  it.each([
    ['no md.remove of it', [probeSdb, verifySdb(), zeroSdb1]],
    ['an md.remove of another member only', [probeSdb, removeOf(SWAP.array, 'sdb2'), verifySdb(), zeroSdb1]],
    [
      'an md.remove of sdb1 from another array only',
      [probeSdb, removeOf(SWAP.array, 'sdb1'), verifySdb(), zeroSdb1],
    ],
    ['its md.remove only after the zeroing', [probeSdb, verifySdb(), zeroSdb1, removeSdb1]],
  ] as [string, [PlanStep, ...PlanStep[]]][])(
    'still refuses a member already out when the plan has %s (not-removed-by-plan)',
    async (_what, steps) => {
      const host = backWithoutBitmap();
      await removedByUdev(host, 'sdb1', 'sdb2');
      await expectRefused(host, planOn(host, steps), 'not-removed-by-plan');
    },
  );

  const failSdb2: PlanStep = { action: 'md.fail', array: SWAP.array, member: 'sdb2' };
  it.each([
    ['the plan has no md.remove of it', [probeSdb, failSdb2]],
    ['the plan removes it only before', [probeSdb, removeOf(SWAP.array, 'sdb2'), failSdb2]],
  ] as [string, [PlanStep, ...PlanStep[]]][])(
    'refuses md.fail of a member already out when %s (member-not-in-array)',
    async (_what, steps) => {
      const host = backWithoutBitmap();
      await removedByUdev(host, 'sdb2');
      const run = await executeOn(host, planOn(host, steps));
      expect(run.execution.steps.at(-1)).toMatchObject({
        action: 'md.fail',
        outcome: 'refused',
        code: 'member-not-in-array',
      });
    },
  );
});

describe('md.add after md.zero-superblock', () => {
  it('adds a 1.0-metadata member whose own file system shows at its start once this plan zeroed its superblock', async () => {
    const host = backWithoutBitmap((model) => {
      const md0 = model.arrays.md0;
      if (md0 !== undefined) md0.metadata = '1.0';
      // Metadata 1.0 sits at the end: the member's start is the array's data, its xfs superblock.
      const sdb1 = model.luns[LAYOUT.hctl]?.partitions.find((partition) => partition.number === 1);
      if (sdb1 !== undefined) sdb1.signature = 'xfs';
    });
    const add: PlanStep = { action: 'md.add', array: ROOT.array, member: 'sdb1', uuid: ROOT.uuid };
    const run = await executeOn(host, planOn(host, [probeSdb, removeSdb1, verifySdb(), zeroSdb1, add]));
    expect(run.execution.outcome, JSON.stringify(run.execution.steps.at(-1))).toBe('succeeded');
    expect(progressOf(run.events, 'md.add')[0]?.detail).toContain(
      "superblock zeroed by this plan; the xfs signature at its start is md0's own data",
    );
  });

  it('still refuses a blank partition with a file system this plan did not zero (foreign-signature)', async () => {
    const host = backWithoutBitmap((model) => {
      const sdb1 = model.luns[LAYOUT.hctl]?.partitions.find((partition) => partition.number === 1);
      if (sdb1 !== undefined) sdb1.signature = 'xfs';
    });
    host.setSuperblock(LAYOUT.hctl, 1, null);
    const add: PlanStep = { action: 'md.add', array: ROOT.array, member: 'sdb1', uuid: ROOT.uuid };
    const run = await executeOn(host, planOn(host, [probeSdb, removeSdb1, verifySdb(), add]));
    expect(run.execution.steps.at(-1)).toMatchObject({ outcome: 'refused', code: 'foreign-signature' });
  });
});

describe('md.zero-superblock: each guard refuses with its own code and zeroes nothing', () => {
  it('refuses a superblock of another array (superblock-other-array)', async () => {
    const host = backWithoutBitmap();
    host.setSuperblock(LAYOUT.hctl, 1, rootSuperblock({ uuid: FOREIGN_UUID, name: 'otherhost:7' }));
    const run = await expectRefused(host, zeroPlan(host), 'superblock-other-array');
    expect(run.execution.steps.at(-1)?.detail).toContain(`array ${FOREIGN_UUID} (otherhost:7), not md0`);
  });

  it('refuses a stale half with more events than the array (stale-half-newer)', async () => {
    const host = backWithoutBitmap();
    host.setSuperblock(LAYOUT.hctl, 1, rootSuperblock({ events: 2_000 }));
    await expectRefused(host, zeroPlan(host), 'stale-half-newer');
  });

  it.each([
    [
      'mounted (a 0.90 superblock at its end leaves its file system mountable)',
      (model: FakeModel) => {
        model.mounts.push({ device: 'sdb1', mountPoint: '/srv/old', fstype: 'xfs' });
      },
    ],
    [
      'swap',
      (model: FakeModel) => {
        model.swaps.push('sdb1');
      },
    ],
    [
      'an LVM physical volume',
      (model: FakeModel) => {
        model.dm['dm-3'] = { uuid: 'LVM-Qm3x8d0a1b2c3d4e5f6a7b8c9d0e1f2a3b', slaves: ['sdb1'] };
      },
    ],
    [
      'a path of a multipath map',
      (model: FakeModel) => {
        model.dm['dm-0'] = { uuid: 'mpath-36005076801810523f8000000000000c3', slaves: ['sdb'] };
      },
    ],
  ])('refuses a partition that is %s (holders-present)', async (_what, holder) => {
    const host = backWithoutBitmap(holder);
    await expectRefused(host, zeroPlan(host), 'holders-present');
  });

  it('refuses a member this plan did not remove (not-removed-by-plan)', async () => {
    const host = backWithoutBitmap((model) => {
      const md0 = model.arrays.md0;
      if (md0 !== undefined) md0.members = md0.members.filter((member) => member.device !== 'sdb1');
    });
    await expectRefused(host, zeroPlan(host, { remove: false }), 'not-removed-by-plan');
  });

  it('refuses in an array with a write-intent bitmap (bitmap-present)', async () => {
    const host = track(mdClient('back'));
    await expectRefused(host, zeroPlan(host), 'bitmap-present');
  });

  it('refuses on a disk no disk.verify of this plan passed (disk-not-verified)', async () => {
    const host = backWithoutBitmap();
    await expectRefused(host, zeroPlan(host, { verify: false }), 'disk-not-verified');
  });

  it('refuses when the in-sync partner on the other domain runs but the agent cannot read it (partner-not-readable)', async () => {
    const host = backWithoutBitmap((model) => {
      const sda = model.luns['0:0:1:0'];
      if (sda !== undefined) sda.readable = false;
    });
    await expectRefused(host, zeroPlan(host), 'partner-not-readable');
  });

  it('refuses when the partner disk is offline (partner-not-running)', async () => {
    const host = backWithoutBitmap((model) => {
      const sda = model.luns['0:0:1:0'];
      if (sda !== undefined) Object.assign(sda, { state: 'offline', readable: false });
    });
    await expectRefused(host, zeroPlan(host), 'partner-not-running');
  });

  it('refuses when every in-sync partner is on the member’s own domain (partner-same-domain)', async () => {
    const host = backWithoutBitmap((model) => {
      const host0 = model.scsiHosts.host0;
      if (host0 !== undefined) host0.partitionName = 'vios2';
    });
    await expectRefused(host, zeroPlan(host), 'partner-same-domain');
  });

  it('refuses when the array is not the one the plan was made for (array-identity-changed)', async () => {
    const host = backWithoutBitmap();
    await expectRefused(
      host,
      zeroPlan(host, { zero: { ...zeroSdb1, uuid: FOREIGN_UUID } as PlanStep }),
      'array-identity-changed',
    );
  });
});
