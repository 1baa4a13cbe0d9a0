import { describe, expect, it } from 'vitest';
import { leadingProbes, probeForStep } from '../../../agent/executor/step-context.ts';
import type { DiskProbeStep, Plan, PlanStep } from '../../../events/index.ts';

const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';
const sdb: DiskProbeStep = {
  action: 'disk.probe',
  disk: 'sdb',
  hctl: '1:0:2:0',
  scsiHost: 'host1',
  failureDomain: VIOS2,
};
const sdd: DiskProbeStep = { ...sdb, disk: 'sdd', hctl: '1:0:3:0' };
const probes = [sdb, sdd] as const;

const planOf = (steps: [PlanStep, ...PlanStep[]]): Plan => ({
  id: 'pln-step-context',
  incidentId: 'inc-step-context',
  hostId: 'lnxclient07.example.net',
  attempt: 1,
  wave: 0,
  issuedAt: '2026-11-22T03:13:00Z',
  ttlSeconds: 900,
  mode: 'execute',
  steps,
  signature: 'c2lnbmF0dXJlc2lnbmF0dXJl',
});

describe('leadingProbes', () => {
  it('takes every disk.probe before the first other step, and no later one', () => {
    const plan = planOf([
      sdb,
      sdd,
      { action: 'md.remove', array: 'md2', member: 'sdd1' },
      { ...sdd, disk: 'sde' },
    ]);
    expect(leadingProbes(plan)).toEqual([sdb, sdd]);
    expect(leadingProbes(planOf([sdb, { action: 'md.wait-sync', array: 'md0', stallSeconds: 600 }]))).toEqual(
      [sdb],
    );
  });
});

describe('probeForStep', () => {
  it.each<[string, PlanStep, DiskProbeStep]>([
    ['a member of the second disk', { action: 'md.fail', array: 'md2', member: 'sdd1' }, sdd],
    ['a member of the first disk', { action: 'md.remove', array: 'md0', member: 'sdb1' }, sdb],
    ['md.add by its member', { action: 'md.add', array: 'md2', member: 'sdd1' }, sdd],
    [
      'md.zero-superblock by its member',
      {
        action: 'md.zero-superblock',
        array: 'md2',
        member: 'sdd1',
        uuid: '5e6f7a8b:9c0d1e2f:3a4b5c6d:7e8f9a0b',
      },
      sdd,
    ],
    ['scsi.delete by its address', { action: 'scsi.delete', hctl: '1:0:3:0' }, sdd],
    [
      'scsi.rescan by the address it scans',
      { action: 'scsi.rescan', scsiHost: 'host1', channel: 0, target: 3, lun: 0 },
      sdd,
    ],
    ['disk.verify by its disk', { action: 'disk.verify', disk: 'sdd', hctl: '1:0:3:0', partitions: [] }, sdd],
    ['scsi.online by its disk', { action: 'scsi.online', hctl: '1:0:3:0', disk: 'sdd' }, sdd],
    [
      'multipath.reinstate by its path',
      { action: 'multipath.reinstate', map: 'mpatha', path: 'sdd', checkSeconds: 30 },
      sdd,
    ],
    [
      'a wait, which names no disk: the first',
      { action: 'md.wait-sync', array: 'md2', stallSeconds: 600 },
      sdb,
    ],
    ['an address no probe names: the first', { action: 'scsi.delete', hctl: '4:0:1:0' }, sdb],
    ['a member of a disk no probe names: the first', { action: 'md.add', array: 'md3', member: 'sde1' }, sdb],
  ])('checks %s against its own disk’s probe', (_, step, expected) => {
    expect(probeForStep(step, probes)).toBe(expected);
  });

  it('names a Solaris component’s and replica slice’s disk by its slice', () => {
    const c0d0: DiskProbeStep = {
      action: 'disk.probe',
      disk: 'c0d0',
      failureDomain: 'vdisk:t5-control/primary',
    };
    const c0d1: DiskProbeStep = { ...c0d0, disk: 'c0d1', failureDomain: 'vdisk:t5-control/alternate' };
    expect(
      probeForStep({ action: 'svm.metareplace', mirror: 'd10', component: 'c0d1s0' }, [c0d0, c0d1]),
    ).toBe(c0d1);
    expect(probeForStep({ action: 'svm.metadb-restore', slice: 'c0d1s7', count: 3 }, [c0d0, c0d1])).toBe(
      c0d1,
    );
  });

  it('keeps a one-disk plan on its one probe for every step', () => {
    for (const step of [
      { action: 'md.add', array: 'md0', member: 'sdb1' },
      { action: 'scsi.delete', hctl: '1:0:2:0' },
      { action: 'md.wait-sync', array: 'md0', stallSeconds: 600 },
    ] satisfies PlanStep[])
      expect(probeForStep(step, [sdb])).toBe(sdb);
  });
});
