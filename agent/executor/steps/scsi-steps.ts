import { join } from 'node:path';
import type { DiskVerifyStep, ScsiDeleteStep, ScsiRescanStep } from '../../../events/index.ts';
import { pathStateOf } from '../../../probes/report-states.ts';
import { ToolMissingError } from '../errors.ts';
import { usageOf } from '../holders.ts';
import { diskAtAddress, pathExists, readFirstBlock, scsiHostExists } from '../host-files.ts';
import { examineSuperblock, failureDomainOf, readDisks, readMdDetail, readMultipath } from '../host-view.ts';
import {
  failed,
  pollUntil,
  refused,
  type StepContext,
  type StepResult,
  succeeded,
  wouldRun,
} from '../step-context.ts';
import { hostPath, scsiDeletePath, scsiScanPath } from '../sysfs.ts';

/**
 * The SCSI steps of §4. `scsi.delete` writes `1` to the device's `delete` attribute only while
 * the address still resolves to the disk the plan probed, on the failure domain it named, nothing
 * holds the disk (a mount, swap, an md array, LVM or another device-mapper target), and, for a
 * multipath leg, another path of its map is active. `scsi.rescan` asks the SCSI host for that one
 * LUN. `disk.verify` waits for udev and for late partition nodes, then fails unless the disk came
 * back under its name with its identity and each partition's superblock names its array.
 */

export const scsiDelete = async (step: ScsiDeleteStep, context: StepContext): Promise<StepResult> => {
  const { host, probe } = context;
  if (context.projection.addressDeleted(step.hctl))
    return wouldRun(`nothing: ${step.hctl} is already deleted by this plan`);
  const address = await diskAtAddress(host.root, step.hctl);
  if (!address.present)
    return { outcome: 'skipped', detail: `no SCSI device at ${step.hctl}: nothing to delete` };
  const [disk, ...more] = address.disks;
  if (disk !== probe.disk || more.length > 0) {
    return refused(
      'address-moved',
      `${step.hctl} resolves to ${address.disks.join(', ') || 'no disk'}, not ${probe.disk} as probed`,
    );
  }
  const disks = await readDisks(host);
  const domain = failureDomainOf(host, disks, disk);
  const sysfsAddress = disks.get(disk)?.hctl ?? null;
  if (domain !== probe.failureDomain || (sysfsAddress !== null && sysfsAddress !== step.hctl)) {
    return refused(
      'address-moved',
      `${disk} at ${sysfsAddress ?? step.hctl} is served by ${domain}, not ${probe.failureDomain} as planned`,
    );
  }
  const { problems, multipathMaps } = await usageOf(host.root, disk, context.projection);
  if (problems.length > 0) return refused('holders-present', `${disk} is in use: ${problems.join('; ')}`);
  for (const map of multipathMaps) {
    const topology = await readMultipath(host);
    const reading = topology?.maps.find(
      (candidate) => candidate.sysfsName === map.dm || (map.wwid !== null && candidate.wwid === map.wwid),
    );
    if (reading === undefined) {
      return refused(
        'last-active-path',
        `${disk} is a leg of ${map.dm}, whose paths multipathd does not show`,
      );
    }
    const active = reading.paths.filter((path) => path.device !== disk && pathStateOf(path) === 'active');
    if (active.length === 0) {
      return refused('last-active-path', `${disk} is the last active path of ${reading.name}`);
    }
  }
  const path = scsiDeletePath(host.root, step.hctl);
  const shown = `echo 1 > ${hostPath(host.root, path)}`;
  if (context.dryRun) {
    context.projection.deleteAddress(step.hctl);
    return wouldRun(`${shown} (${disk} on ${domain}, nothing holds it)`);
  }
  try {
    await context.writeSysfs(path, '1');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'EBUSY') return failed('device-busy', `${shown}: EBUSY: ${disk} is held open`);
    return failed('sysfs-write-failed', `${shown}: ${code}`);
  }
  const gone = await pollUntil(
    context,
    () => diskAtAddress(host.root, step.hctl),
    (state) => !state.present,
    context.timing.deleteTimeoutMs,
    context.timing.deletePollMs,
  );
  if (!gone.met) return failed('device-not-deleted', `${shown}: ${step.hctl} is still there`);
  return succeeded(`${shown}: ${disk} at ${step.hctl} deleted`);
};

export const scsiRescan = async (step: ScsiRescanStep, context: StepContext): Promise<StepResult> => {
  const { host } = context;
  if (!(await scsiHostExists(host.root, step.scsiHost))) {
    return refused('no-such-scsi-host', `${step.scsiHost} does not exist`);
  }
  const path = scsiScanPath(host.root, step.scsiHost);
  const value = `${step.channel} ${step.target} ${step.lun}`;
  const shown = `echo "${value}" > ${hostPath(host.root, path)}`;
  if (context.dryRun) {
    context.projection.rescanAddress(`${step.scsiHost.slice('host'.length)}:${value.replaceAll(' ', ':')}`);
    return wouldRun(shown);
  }
  try {
    await context.writeSysfs(path, value);
  } catch (error) {
    return failed('sysfs-write-failed', `${shown}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return succeeded(shown);
};

type ReturnState = { present: boolean; disks: string[]; missing: string[] };

const returnState = async (context: StepContext, step: DiskVerifyStep): Promise<ReturnState> => {
  const { root } = context.host;
  const address = await diskAtAddress(root, step.hctl);
  const missing: string[] = [];
  if (address.disks.includes(step.disk)) {
    for (const partition of step.partitions) {
      const there =
        (await pathExists(join(root, 'sys', 'block', step.disk, partition.device))) &&
        (await pathExists(join(root, 'dev', partition.device)));
      if (!there) missing.push(partition.device);
    }
  }
  return { present: address.present, disks: address.disks, missing };
};

/** `udevadm settle`, where udev runs; a note for the detail. */
const settleUdev = async (context: StepContext): Promise<string> => {
  const seconds = Math.max(1, Math.ceil(context.timing.settleTimeoutMs / 1000));
  try {
    const result = await context.host.runProgram('udevadm', ['settle', `--timeout=${seconds}`]);
    return result.exitCode === 0
      ? 'udev settled'
      : `udevadm settle exited ${result.exitCode ?? 'on a signal'}`;
  } catch (error) {
    return error instanceof ToolMissingError ? 'no udevadm' : `udevadm settle: ${(error as Error).message}`;
  }
};

/** Each expected partition's superblock against its array: the problems found, and what matched. */
const checkSuperblocks = async (
  context: StepContext,
  step: DiskVerifyStep,
  options: { skipUnreadable: boolean },
): Promise<{ problems: string[]; matched: string[]; unchecked: string[] }> => {
  const problems: string[] = [];
  const matched: string[] = [];
  const unchecked: string[] = [];
  for (const partition of step.partitions) {
    const read = await readFirstBlock(join(context.host.root, 'dev', partition.device));
    if (!read.readable) {
      if (options.skipUnreadable) unchecked.push(partition.device);
      else problems.push(`${partition.device} is not readable (${read.error ?? 'error'})`);
      continue;
    }
    const expected = partition.uuid ?? (await readMdDetail(context.host, partition.array))?.uuid ?? null;
    if (expected === null) {
      problems.push(`the UUID of ${partition.array} cannot be read to check ${partition.device}`);
      continue;
    }
    const superblock = await examineSuperblock(context.host, partition.device);
    if (superblock.kind === 'md' && superblock.superblock.uuid === expected) {
      matched.push(`${partition.device}: ${partition.array}`);
    } else {
      const found =
        superblock.kind === 'md'
          ? `array ${superblock.superblock.uuid}`
          : superblock.kind === 'blank'
            ? 'no superblock'
            : superblock.reason;
      problems.push(`${partition.device} holds ${found}, not ${partition.array} (${expected})`);
    }
  }
  return { problems, matched, unchecked };
};

export const diskVerify = async (step: DiskVerifyStep, context: StepContext): Promise<StepResult> => {
  const { host, timing } = context;
  if (context.dryRun) {
    // What comes back after the rescan cannot be seen now; superblocks readable now already tell.
    const { problems, unchecked } = await checkSuperblocks(context, step, { skipUnreadable: true });
    if (problems.length > 0) return failed('superblock-mismatch', problems.join('; '));
    const identity = [
      `${step.disk} at ${step.hctl}`,
      step.sizeBytes === undefined ? null : `${step.sizeBytes} bytes`,
      step.wwid === undefined ? null : `wwid ${step.wwid}`,
    ]
      .filter(Boolean)
      .join(', ');
    return wouldRun(
      `udevadm settle, then wait up to ${Math.round(timing.settleTimeoutMs / 1000)} s for ${identity} and ${step.partitions.map((partition) => partition.device).join(', ') || 'no partition'}`,
      unchecked.length === 0 ? [] : [`superblocks of ${unchecked.join(', ')} checked once the disk is back`],
    );
  }
  const settled = await settleUdev(context);
  const waited = await pollUntil(
    context,
    () => returnState(context, step),
    (state) => state.disks.length > 0 && (!state.disks.includes(step.disk) || state.missing.length === 0),
    timing.settleTimeoutMs,
    timing.settlePollMs,
  );
  const state = waited.value;
  const after = `after ${Math.round(timing.settleTimeoutMs / 1000)} s (${settled})`;
  if (state.disks.length === 0) return failed('disk-not-back', `no disk at ${step.hctl} ${after}`);
  if (!state.disks.includes(step.disk)) {
    return failed(
      'disk-identity-changed',
      `${step.hctl} came back as ${state.disks.join(', ')}, not ${step.disk}`,
    );
  }
  const disks = await readDisks(host);
  const info = disks.get(step.disk);
  if (info === undefined) return failed('disk-not-back', `${step.disk} is not under /sys/block ${after}`);
  const mismatches: string[] = [];
  if (info.hctl !== step.hctl)
    mismatches.push(`${step.disk} is at ${info.hctl ?? 'no SCSI address'}, not ${step.hctl}`);
  if (step.sizeBytes !== undefined && info.sizeBytes !== step.sizeBytes) {
    mismatches.push(
      `${step.disk} holds ${info.sizeBytes ?? 'an unknown number of'} bytes, not ${step.sizeBytes}`,
    );
  }
  if (step.wwid !== undefined && info.wwid !== step.wwid) {
    mismatches.push(`${step.disk} has wwid ${info.wwid ?? 'unknown'}, not ${step.wwid}`);
  }
  if (mismatches.length > 0) return failed('disk-identity-changed', mismatches.join('; '));
  if (info.deviceState !== 'running')
    return failed('disk-not-back', `${step.disk} is back but ${info.deviceState ?? 'in an unknown state'}`);
  if (state.missing.length > 0)
    return failed('partition-missing', `${state.missing.join(', ')} did not appear ${after}`);
  const { problems, matched } = await checkSuperblocks(context, step, { skipUnreadable: false });
  if (problems.length > 0) return failed('superblock-mismatch', problems.join('; '));
  return succeeded(
    `${step.disk} is back at ${step.hctl}${info.sizeBytes === null ? '' : `, ${info.sizeBytes} bytes`}${info.wwid === null ? '' : `, wwid ${info.wwid}`} (${settled}); ${matched.join('; ') || 'no partition to check'}`,
  );
};
