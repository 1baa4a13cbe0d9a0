import { join } from 'node:path';
import type {
  DiskVerifyStep,
  ScsiDeleteStep,
  ScsiOnlineStep,
  ScsiRescanStep,
} from '../../../events/index.ts';
import { pathStateOf } from '../../../probes/report-states.ts';
import { readDiskDirectly } from '../disk-read.ts';
import { ToolMissingError } from '../errors.ts';
import { usageOf } from '../holders.ts';
import { diskAtAddress, pathExists, scsiHostExists } from '../host-files.ts';
import { examineSuperblock, failureDomainOf, readDisks, readMdDetail, readMultipath } from '../host-view.ts';
import {
  failed,
  pollUntil,
  refused,
  type StepContext,
  type StepResult,
  skipped,
  succeeded,
  wouldRun,
} from '../step-context.ts';
import { hostPath, SCSI_RUNNING_STATE, scsiDeletePath, scsiScanPath, scsiStatePath } from '../sysfs.ts';

/**
 * The SCSI steps of §4. `scsi.delete` writes `1` to the device's `delete` attribute only while
 * the address still resolves to the disk the plan probed, on the failure domain it named, nothing
 * holds the disk (a mount, swap, an md array, LVM or another device-mapper target), and, for a
 * multipath leg, another path of its map is active. `scsi.rescan` asks the SCSI host for that one
 * LUN. `disk.verify` waits for udev and for late partition nodes, then fails unless the disk came
 * back under its name with its identity and each partition's superblock names its array.
 * `scsi.online` sets a device the SCSI layer took `offline` during the outage `running` again,
 * only while its address still holds the disk the agent knew, and fails unless the disk reads.
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
    const read = await readDiskDirectly(context.host, partition.device, 'linux');
    if (read.readable !== true) {
      if (options.skipUnreadable) unchecked.push(partition.device);
      else problems.push(`${partition.device} is not readable (${read.detail || 'error'})`);
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

/**
 * The WWID the disk had before the outage, as the agent knows it: the plan's `disk.verify` of it,
 * else the multipath map multipathd keeps it in (a path stays in the map it joined, whose WWID is
 * the LUN's, while its device is offline). Null when neither names it.
 */
const knownWwid = async (
  context: StepContext,
  step: ScsiOnlineStep,
): Promise<{ wwid: string; source: string } | { moved: string } | null> => {
  for (const planned of context.plan.steps) {
    if (planned.action === 'disk.verify' && planned.disk === step.disk && planned.wwid !== undefined) {
      return { wwid: planned.wwid, source: 'the plan' };
    }
  }
  const topology = await readMultipath(context.host);
  const maps = (topology?.maps ?? []).filter((map) => map.paths.some((path) => path.device === step.disk));
  const [map, ...others] = maps;
  if (map === undefined) return null;
  if (others.length > 0)
    return { moved: `${step.disk} is a path of ${maps.map((each) => each.name).join(' and ')}` };
  const path = map.paths.find((candidate) => candidate.device === step.disk);
  if (path?.hctl !== null && path?.hctl !== undefined && path.hctl !== step.hctl) {
    return { moved: `multipathd shows ${step.disk} of ${map.name} at ${path.hctl}, not ${step.hctl}` };
  }
  const reinstate = context.plan.steps.find(
    (planned) => planned.action === 'multipath.reinstate' && planned.path === step.disk,
  );
  if (
    reinstate?.action === 'multipath.reinstate' &&
    reinstate.map !== map.name &&
    reinstate.map !== map.wwid
  ) {
    return { moved: `${step.disk} is a path of ${map.name}, not of ${reinstate.map} as planned` };
  }
  return { wwid: map.wwid, source: `multipathd's map ${map.name}` };
};

export const scsiOnline = async (step: ScsiOnlineStep, context: StepContext): Promise<StepResult> => {
  const { host, probe } = context;
  const address = await diskAtAddress(host.root, step.hctl);
  if (!address.present) {
    return refused(
      'target-gone',
      `no SCSI device at ${step.hctl}: its target is gone, nothing to set running`,
    );
  }
  const [disk, ...more] = address.disks;
  if (disk !== step.disk || more.length > 0) {
    return refused(
      'address-moved',
      `${step.hctl} resolves to ${address.disks.join(', ') || 'no disk'}, not ${step.disk}`,
    );
  }
  const disks = await readDisks(host);
  const info = disks.get(disk);
  if (info === undefined) return refused('address-moved', `${disk} is not under /sys/block`);
  const domain = failureDomainOf(host, disks, disk);
  if (domain !== probe.failureDomain || (info.hctl !== null && info.hctl !== step.hctl)) {
    return refused(
      'address-moved',
      `${disk} at ${info.hctl ?? step.hctl} is served by ${domain}, not ${probe.failureDomain} as planned`,
    );
  }
  const known = await knownWwid(context, step);
  if (known !== null && 'moved' in known) return refused('address-moved', known.moved);
  if (known === null) {
    return refused(
      'wwid-unknown',
      `no WWID is known for ${disk}: it is no path of a multipath map and the plan names none, so its identity cannot be checked`,
    );
  }
  if (info.wwid === null)
    return refused('wwid-unknown', `the WWID of ${disk} at ${step.hctl} cannot be read`);
  if (info.wwid !== known.wwid) {
    return refused(
      'address-moved',
      `${step.hctl} holds ${disk} with wwid ${info.wwid}, not ${known.wwid} (${known.source}): another LUN`,
    );
  }
  const state = info.sysfsState?.trim() ?? 'unknown';
  if (state === 'running') return skipped(`${disk} at ${step.hctl} is already running`);
  if (state !== 'offline') {
    return refused(
      'device-not-offline',
      `${disk} at ${step.hctl} is ${state}, not offline: only a device the SCSI layer set offline is set running`,
    );
  }
  const path = scsiStatePath(host.root, step.hctl);
  const shown = `echo running > ${hostPath(host.root, path)}`;
  const identity = `${disk}, wwid ${info.wwid} as ${known.source} knows it`;
  if (context.dryRun) {
    return wouldRun(`${shown} (${identity}, is offline)`, [
      `a direct read of /dev/${disk} must pass afterwards`,
    ]);
  }
  try {
    await context.writeSysfs(path, SCSI_RUNNING_STATE);
  } catch (error) {
    return failed('sysfs-write-failed', `${shown}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const after = (await readDisks(host)).get(disk)?.sysfsState?.trim() ?? 'gone';
  if (after !== 'running') return failed('not-applied', `${shown}: ${disk} is ${after}, not running`);
  const read = await readDiskDirectly(host, disk, 'linux');
  if (read.readable !== true) {
    return failed(
      'read-failed',
      `${shown}: ${disk} is running, but a direct read of it fails: ${read.detail || (read.timedOut ? 'timed out' : 'not readable')}`,
    );
  }
  return succeeded(`${shown}: ${identity}, is running and reads (${read.detail || 'direct read'})`);
};
