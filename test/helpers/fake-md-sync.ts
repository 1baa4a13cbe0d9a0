import { type FakeModel, SPEED_LIMIT_MIN_KIB } from '../../sim/fake-host/host-model.mjs';

/** Builders of md syncs on a fake host's model, for the tests of the fake md driver and `md.wait-sync`. */

/** The size of the large array: 1 TiB in KiB. */
export const ONE_TIB_KIB = 1_073_741_824;

/**
 * `member` of `array` rebuilding from 0 on an array of 1 TiB at the kernel's minimum speed (its
 * disks busy): 0.1 % takes about 1,074 s. (`mdadm --add` would refuse the fakes' small partitions
 * for an array this large, so the recovery is set in the model.)
 */
export const rebuildingAtSpeedLimitMin = (model: FakeModel, array: string, member: string): void => {
  const md = model.arrays[array];
  const rebuilding = md?.members.find((candidate) => candidate.device === member);
  if (md === undefined || rebuilding === undefined) throw new Error(`no ${member} in ${array}`);
  rebuilding.state = 'rebuilding';
  md.sizeKiB = ONE_TIB_KIB;
  md.syncSpeedKiB = SPEED_LIMIT_MIN_KIB;
  md.recovery = { device: member, progress: 0, rate: 0, completedSectors: 0, checkpointMs: model.simMs };
};
