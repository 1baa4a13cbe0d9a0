import { join } from 'node:path';
import type { MdZeroSuperblockStep } from '../../../events/index.ts';
import { diskOfDevice } from '../../../probes/block-device.ts';
import type { StepRefusalCode } from '../codes.ts';
import { readDiskDirectly } from '../disk-read.ts';
import { usageOf } from '../holders.ts';
import { pathExists } from '../host-files.ts';
import { examineSuperblock, inSyncMembers, readDisks, readMdArray } from '../host-view.ts';
import { toolMessage } from '../programs.ts';
import {
  failed,
  refused,
  runAction,
  type StepContext,
  type StepResult,
  skipped,
  succeeded,
  wouldRun,
} from '../step-context.ts';
import { findPartner } from './md-partner.ts';
import { recordZeroing, removalInThisRun, verifiedBefore } from './md-run-record.ts';

/**
 * `md.zero-superblock` (§4): `mdadm --zero-superblock /dev/<member>`, planned right before the
 * `md.add` of a stale member of an array without a write-intent bitmap. The kernel cannot take
 * such a member back incrementally (it missed writes nothing recorded), so its `--re-add` fails;
 * mdadm 3.1.5 to 3.2.3 also refuse a plain `--add` of it ("reports being an active member ...
 * use mdadm --zero-superblock first"), mdadm 3.2.4 and later add it as a new device. Zeroed, it
 * is added as a new device in every version and rebuilt in full from the in-sync half.
 *
 * Zeroing destroys the only record of what the partition was, so every guard is read from the
 * host right before the step, each with its own refusal code:
 * - the array runs, is the one the plan was made for (`uuid`), and has no bitmap
 *   (`bitmap-present`: with one, `--re-add` brings the member back without a full rebuild);
 * - an `md.remove` of this plan, earlier in this run, took the member out of this array or found
 *   it already out (`not-removed-by-plan`), and it is not in the array now: when a disk goes away,
 *   udev's md rule runs `mdadm -If` on its partitions, which fails and removes them before any
 *   plan runs, leaving their superblocks naming the array; the guards below, not the removal,
 *   then tell this array's stale member from anything else;
 * - a `disk.verify` of its disk passed earlier in this run, and the disk is still the one it
 *   verified: same address, WWID and size, running (`disk-not-verified`);
 * - another in-sync member of the array sits on a different failure domain, its disk runs and the
 *   agent reads it itself (`no-in-sync-member`, `partner-same-domain`, `partner-not-running`,
 *   `partner-not-readable`);
 * - nothing holds the partition or its disk: no mount, swap, LVM or other device-mapper target,
 *   no other md array, no multipath map (`holders-present`; a 0.90 or 1.0 superblock sits at the
 *   end, so a removed member still carries a mountable file system or an LVM label at its start);
 * - its superblock names this array (`superblock-other-array`) with no more events than the array
 *   (`stale-half-newer`: a newer stale half is never destroyed automatically).
 * A partition that already holds no superblock is skipped. A dry-run checks and reports only; what
 * only the returned disk can show after a projected delete and rescan is checked when the plan runs.
 */

export const mdZeroSuperblock = async (
  step: MdZeroSuperblockStep,
  context: StepContext,
): Promise<StepResult> => {
  const { host } = context;
  const read = await readMdArray(host, step.array, { detail: true });
  const view = read === null ? null : context.projection.applyTo(read);
  if (view === null || !view.running)
    return refused('array-not-running', `${step.array} is not a running array`);
  if (view.uuid === null || view.events === null) {
    return refused(
      'array-identity-unknown',
      `the UUID or event count of ${step.array} cannot be read (mdadm --detail)`,
    );
  }
  if (view.uuid !== step.uuid) {
    return refused('array-identity-changed', `${step.array} is now array ${view.uuid}, not ${step.uuid}`);
  }
  if (view.bitmap) {
    return refused(
      'bitmap-present',
      `${step.array} has a write-intent bitmap: ${step.member} is re-added from it, and zeroing its superblock would only force a full rebuild`,
    );
  }
  const removal = removalInThisRun(context, step.array, step.member);
  if (removal === null) {
    return refused(
      'not-removed-by-plan',
      `no md.remove of this plan took ${step.member} out of ${step.array} in this run, or found it out: only a member the plan itself removes is zeroed`,
    );
  }
  const removalNote =
    removal === 'found-out' ? `${step.member} removed before the plan ran (udev's mdadm -If)` : null;
  const listed = view.members.find((member) => member.device === step.member);
  if (listed !== undefined) {
    return refused(
      'member-still-in-array',
      `${step.member} is listed in ${step.array} again (${listed.state}): its superblock is in use`,
    );
  }
  const disk = diskOfDevice(step.member);
  if (disk === null) return refused('partition-missing', `${step.member} is on no disk`);
  const verified = verifiedBefore(context, step, disk);
  if (verified === null) {
    return refused(
      'disk-not-verified',
      `no disk.verify of ${disk} passed earlier in this plan: its identity after the outage is not known`,
    );
  }
  if (inSyncMembers(view).length === 0) {
    return refused(
      'no-in-sync-member',
      `${step.array} has no in-sync member: nothing could rebuild ${step.member}`,
    );
  }
  const partner = await findPartner(context, view, step.member, disk);
  if (!partner.found) {
    const code: Record<typeof partner.reason, StepRefusalCode> = {
      none: 'no-in-sync-member',
      'same-domain': 'partner-same-domain',
      'not-running': 'partner-not-running',
      'not-readable': 'partner-not-readable',
    };
    return refused(code[partner.reason], partner.detail);
  }
  const partnerNote = `partner ${partner.partner.device} in sync on ${partner.domain}, read by the agent`;

  // In a dry-run after a projected delete and rescan, what only the returned disk can show is
  // checked when the plan runs; what can be read now (its superblock, on the same medium) is checked now.
  const later =
    context.dryRun &&
    context.probe.disk === disk &&
    context.probe.hctl !== undefined &&
    (context.projection.addressReplaced(context.probe.hctl) ||
      context.projection.addressDeleted(context.probe.hctl));
  const deferred: string[] = [];
  const unless = (code: StepRefusalCode, detail: string): StepResult | null => {
    if (later) {
      deferred.push(`checked once the disk is back: ${detail}`);
      return null;
    }
    return refused(code, detail);
  };

  const info = (await readDisks(host)).get(disk);
  const mismatches: string[] = [];
  if (info === undefined) mismatches.push(`${disk} is not under /sys/block`);
  else {
    if (info.hctl !== verified.hctl)
      mismatches.push(`${disk} is at ${info.hctl ?? 'no SCSI address'}, not ${verified.hctl}`);
    if (verified.wwid !== undefined && info.wwid !== verified.wwid)
      mismatches.push(`${disk} has wwid ${info.wwid ?? 'unknown'}, not ${verified.wwid}`);
    if (verified.sizeBytes !== undefined && info.sizeBytes !== verified.sizeBytes) {
      mismatches.push(
        `${disk} holds ${info.sizeBytes ?? 'an unknown number of'} bytes, not ${verified.sizeBytes}`,
      );
    }
  }
  if (mismatches.length > 0) {
    const refusal = unless(
      'disk-not-verified',
      `${disk} is no longer the disk disk.verify passed: ${mismatches.join('; ')}`,
    );
    if (refusal !== null) return refusal;
  } else if (info?.deviceState !== 'running') {
    const refusal = unless('device-not-running', `${disk} is ${info?.deviceState ?? 'in an unknown state'}`);
    if (refusal !== null) return refusal;
  }
  const node = join(host.root, 'dev', step.member);
  const present =
    (await pathExists(join(host.root, 'sys', 'block', disk, step.member))) && (await pathExists(node));
  if (!present) {
    const refusal = unless(
      'partition-missing',
      `${step.member} has no node under /dev or /sys/block/${disk}`,
    );
    if (refusal !== null) return refusal;
  }
  const block = present
    ? await readDiskDirectly(host, step.member, 'linux')
    : { readable: false, detail: 'no node' };
  let superblockNote = 'its superblock is checked once the disk is back';
  if (block.readable !== true) {
    const refusal = unless(
      'device-not-readable',
      `${step.member} is not readable (${block.detail || 'error'})`,
    );
    if (refusal !== null) return refusal;
  } else {
    const usage = await usageOf(host.root, disk, context.projection, [disk, step.member]);
    const holders = [
      ...usage.problems,
      ...usage.multipathMaps.map((map) => `${disk} is a path of multipath map ${map.dm}`),
    ];
    if (holders.length > 0) return refused('holders-present', holders.join('; '));
    const superblock = await examineSuperblock(host, step.member);
    if (superblock.kind === 'unknown')
      return refused('superblock-unreadable', `${step.member}: ${superblock.reason}`);
    if (superblock.kind === 'blank') return skipped(`${step.member} holds no md superblock: nothing to zero`);
    const { uuid, events, name } = superblock.superblock;
    if (uuid !== step.uuid) {
      return refused(
        'superblock-other-array',
        `${step.member} holds a superblock of array ${uuid ?? 'unknown'}${name === null ? '' : ` (${name})`}, not ${step.array} (${step.uuid}): never zeroed`,
      );
    }
    if (events === null)
      return refused('superblock-unreadable', `the superblock of ${step.member} shows no event count`);
    if (events > view.events) {
      return refused(
        'stale-half-newer',
        `${step.member} has more events (${events}) than ${step.array} (${view.events}): it may hold newer data than the running array, never destroyed automatically`,
      );
    }
    superblockNote = `superblock of ${step.array}, events ${events} ≤ ${view.events}, no bitmap`;
  }

  const args = ['--zero-superblock', `/dev/${step.member}`];
  const note = [removalNote, superblockNote, `${disk} verified at ${verified.hctl}`, partnerNote]
    .filter((part) => part !== null)
    .join('; ');
  if (context.dryRun) {
    recordZeroing(context, step.array, step.member);
    return wouldRun(`mdadm ${args.join(' ')} (${note})`, deferred);
  }
  const run = await runAction(context, 'mdadm', args);
  if (!run.ok) return run.result;
  const after = await examineSuperblock(host, step.member);
  if (after.kind !== 'blank') {
    return failed(
      'not-applied',
      `${run.line} returned, but ${step.member} ${after.kind === 'md' ? 'still holds a superblock' : `cannot be examined (${after.reason})`}`,
    );
  }
  recordZeroing(context, step.array, step.member);
  return succeeded(`${run.line}: ${toolMessage(run.result) || 'done'} (${note})`);
};
