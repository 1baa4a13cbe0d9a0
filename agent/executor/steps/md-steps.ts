import { join } from 'node:path';
import type { MdAddStep, MdFailStep, MdRemoveStep, MdWaitSyncStep, Member } from '../../../events/index.ts';
import { diskOfDevice } from '../../../probes/block-device.ts';
import { usageOf } from '../holders.ts';
import { partitionSizeBytes, pathExists, readFirstBlock } from '../host-files.ts';
import {
  examineSuperblock,
  failureDomainOf,
  inSyncMembers,
  isInSync,
  type MdArrayView,
  type MemberView,
  readDisks,
  readMdArray,
} from '../host-view.ts';
import { toolMessage } from '../programs.ts';
import { readSignature } from '../signatures.ts';
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
import { recordRemoval, removalPlannedAfter, zeroedInThisRun } from './md-run-record.ts';
import { describeSync, readSyncs, SyncHighWater, type SyncReading, syncsAhead } from './md-sync-progress.ts';

/**
 * The md steps of §4, each decided on the array as the kernel shows it at that moment:
 *
 * - `md.fail` of an in-sync member only while another in-sync member sits on a different failure
 *   domain and its device is running and readable; a member the array no longer lists is skipped
 *   when this plan's `md.remove` of it follows (udev removed it first, see below), else refused;
 * - `md.remove` only of a faulty member, or of a detached one (its device gone) that is not in
 *   sync, by name, or as `detached` when its node is gone; what it removed is recorded for this
 *   run's `md.zero-superblock` (md-zero-superblock.ts), which zeroes only what the plan removed.
 *   A member the array no longer lists is skipped, and recorded as found out: when a disk goes
 *   away, udev's md rule (`ACTION=="remove"`, `mdadm -If $name`) fails and removes its members
 *   before any plan runs, so the removal the plan asks for is already done;
 * - `md.add` only onto a partition nothing uses (mount, swap, LVM, another array), whose superblock
 *   is blank and which carries no other signature (a file system, an LVM label, swap), or whose
 *   superblock names this array with no more events than the array (a newer stale half is never
 *   overwritten), and which is big enough; with `--re-add` when the superblock and a bitmap allow
 *   it, else `--add`;
 * - `md.wait-sync` until the array is in sync, failing after `stallSeconds` without a sector of
 *   progress (never on a fixed deadline: a large resync takes hours, and at the kernel's minimum
 *   speed its percentage moves by 0.1 % in a quarter of an hour), measured in sectors from
 *   `md/sync_completed` and mdstat (md-sync-progress.ts); a resync queued behind another array on
 *   the same disks (`delayed`, `resync=DELAYED`, `resync=PENDING`) is not stalled while the syncs
 *   ahead of it move; it fails at once when a member fails meanwhile (the resync cannot finish, and
 *   waiting out the stall would only delay the page). It reports `mirror.recovering` with the
 *   sectors of `sync_completed` as it waits, 0 % while queued.
 *
 * No step touches an array with no in-sync member left: that is a double fault for a human (§5.4).
 */

const describeMembers = (view: MdArrayView): string =>
  view.members
    .map((member) => `${member.device} ${member.state}${member.detached ? ' (detached)' : ''}`)
    .join(', ') || 'no members';

const readArray = async (context: StepContext, array: string): Promise<MdArrayView | null> => {
  const view = await readMdArray(context.host, array, { detail: true });
  return view === null ? null : context.projection.applyTo(view);
};

export const mdFail = async (step: MdFailStep, context: StepContext): Promise<StepResult> => {
  const view = await readArray(context, step.array);
  if (view === null || !view.running)
    return refused('array-not-found', `${step.array} is not a running array`);
  const member = view.members.find((candidate) => candidate.device === step.member);
  if (member === undefined) {
    // Out already (udev's `mdadm -If` when its disk went away): there is nothing to fail, and the
    // plan's md.remove of it, which follows, records the removal. Without one, the plan was made
    // for a member this array does not have.
    if (removalPlannedAfter(context, step, step.array, step.member)) {
      return skipped(
        `${step.member} is no longer a member of ${step.array}, removed before the plan ran (udev's mdadm -If): nothing to fail`,
      );
    }
    return refused(
      'member-not-in-array',
      `${step.member} is not a member of ${step.array} (${describeMembers(view)})`,
    );
  }
  if (inSyncMembers(view).length === 0) {
    return refused('no-in-sync-member', `${step.array} has no in-sync member (${describeMembers(view)})`);
  }
  if (member.state === 'faulty') return skipped(`${step.member} is already faulty in ${step.array}`);
  if (member.state === 'unknown' || member.state === 'last-erred' || member.state === 'maintenance') {
    return refused(
      'member-state-unknown',
      `the state of ${step.member} in ${step.array} is not known for certain`,
    );
  }
  let partnerNote = `${step.member} is ${member.state}: failing it costs no redundancy`;
  if (member.state === 'in-sync') {
    const search = await findPartner(context, view, step.member, member.disk);
    if (!search.found) {
      if (search.reason === 'none') {
        return refused('last-in-sync-member', `${step.member} is the last in-sync member of ${step.array}`);
      }
      return refused(
        search.reason === 'same-domain' ? 'partner-same-domain' : 'partner-not-running',
        search.detail,
      );
    }
    partnerNote = `partner ${search.partner.device} in sync on ${search.domain}`;
  }
  const args = [`/dev/${step.array}`, '--fail', `/dev/${step.member}`];
  if (context.dryRun) {
    context.projection.fail(step.array, step.member);
    return wouldRun(`mdadm ${args.join(' ')} (${partnerNote})`);
  }
  const run = await runAction(context, 'mdadm', args);
  if (!run.ok) return run.result;
  const after = await readMdArray(context.host, step.array, { detail: false });
  const now = after?.members.find((candidate) => candidate.device === step.member);
  if (now !== undefined && now.state !== 'faulty') {
    return failed('not-applied', `${run.line} returned, but ${step.member} is ${now.state} in ${step.array}`);
  }
  return succeeded(`${run.line}: ${toolMessage(run.result) || 'done'} (${partnerNote})`);
};

export const mdRemove = async (step: MdRemoveStep, context: StepContext): Promise<StepResult> => {
  const view = await readArray(context, step.array);
  if (view === null || !view.running)
    return refused('array-not-found', `${step.array} is not a running array`);
  const member = view.members.find((candidate) => candidate.device === step.member);
  if (member === undefined) {
    // The removal the plan asks for is done (udev's `mdadm -If` when its disk went away). Recorded
    // as found out, so that md.zero-superblock's own guards judge what the partition holds.
    recordRemoval(context, step.array, step.member, 'found-out');
    return skipped(
      `${step.member} is no longer a member of ${step.array}: removed before the plan ran (udev's mdadm -If)`,
    );
  }
  if (inSyncMembers(view).length === 0) {
    return refused('no-in-sync-member', `${step.array} has no in-sync member (${describeMembers(view)})`);
  }
  // Faulty, or detached (its device gone) while holding no data the array counts on.
  const removable = (candidate: MemberView) =>
    candidate.state === 'faulty' ||
    (candidate.detached && (candidate.state === 'spare' || candidate.state === 'rebuilding'));
  if (!removable(member)) {
    return refused(
      'member-not-faulty',
      `${step.member} is ${member.state}${member.detached ? ' (detached)' : ''} in ${step.array}; only a faulty or detached member is removed`,
    );
  }
  let args = [`/dev/${step.array}`, '--remove', `/dev/${step.member}`];
  if (member.detached) {
    // mdadm cannot name a device whose node is gone; `detached` removes every such member.
    const others = view.members.filter(
      (candidate) => candidate.detached && candidate.device !== step.member && !removable(candidate),
    );
    if (others.length > 0) {
      return refused(
        'member-not-faulty',
        `${step.member} is detached, and --remove detached would also take ${others.map((other) => `${other.device} (${other.state})`).join(', ')}`,
      );
    }
    args = [`/dev/${step.array}`, '--remove', 'detached'];
  }
  if (context.dryRun) {
    context.projection.remove(step.array, step.member);
    recordRemoval(context, step.array, step.member);
    return wouldRun(`mdadm ${args.join(' ')} (${step.member} is ${member.state})`);
  }
  const run = await runAction(context, 'mdadm', args);
  if (!run.ok) return run.result;
  const after = await readMdArray(context.host, step.array, { detail: false });
  if (after?.members.some((candidate) => candidate.device === step.member) === true) {
    return failed('not-applied', `${run.line} returned, but ${step.member} is still listed in ${step.array}`);
  }
  recordRemoval(context, step.array, step.member);
  return succeeded(`${run.line}: ${toolMessage(run.result) || 'done'}`);
};

/** The size a member must have: the smallest in-sync member's partition, else the array's size. */
const requiredSize = async (context: StepContext, view: MdArrayView): Promise<number | null> => {
  const sizes: number[] = [];
  for (const member of inSyncMembers(view)) {
    if (member.disk === null) continue;
    const size = await partitionSizeBytes(context.host.root, member.disk, member.device);
    if (size !== null) sizes.push(size);
  }
  return sizes.length > 0 ? Math.min(...sizes) : view.sizeBytes;
};

export const mdAdd = async (step: MdAddStep, context: StepContext): Promise<StepResult> => {
  const { host } = context;
  const view = await readArray(context, step.array);
  if (view === null || !view.running)
    return refused('array-not-running', `${step.array} is not a running array`);
  if (view.uuid === null || view.events === null) {
    return refused(
      'array-identity-unknown',
      `the UUID or event count of ${step.array} cannot be read (mdadm --detail)`,
    );
  }
  if (step.uuid !== undefined && step.uuid !== view.uuid) {
    return refused('array-identity-changed', `${step.array} is now array ${view.uuid}, not ${step.uuid}`);
  }
  if (inSyncMembers(view).length === 0) {
    return refused('no-in-sync-member', `${step.array} has no in-sync member (${describeMembers(view)})`);
  }
  const existing = view.members.find((candidate) => candidate.device === step.member);
  if (existing !== undefined) {
    if (existing.state === 'in-sync' || existing.state === 'rebuilding' || existing.state === 'spare') {
      return skipped(`${step.member} is already in ${step.array} (${existing.state})`);
    }
    return refused(
      'member-still-in-array',
      `${step.member} is still listed in ${step.array} as ${existing.state}: remove it first`,
    );
  }
  const disk = diskOfDevice(step.member);
  if (disk === null) return refused('partition-missing', `${step.member} is on no disk`);
  // In a dry-run after a projected delete and rescan, what only the returned disk can show is
  // checked when the plan runs; what can be read now (its superblock, on the same medium) is checked now.
  const later =
    context.dryRun &&
    context.probe.disk === disk &&
    context.probe.hctl !== undefined &&
    (context.projection.addressReplaced(context.probe.hctl) ||
      context.projection.addressDeleted(context.probe.hctl));
  const deferred: string[] = [];
  const unless = (code: Parameters<typeof refused>[0], detail: string): StepResult | null => {
    if (later) {
      deferred.push(`checked once the disk is back: ${detail}`);
      return null;
    }
    return refused(code, detail);
  };

  const present =
    (await pathExists(join(host.root, 'sys', 'block', disk, step.member))) &&
    (await pathExists(join(host.root, 'dev', step.member)));
  if (!present) {
    const refusal = unless(
      'partition-missing',
      `${step.member} has no node under /dev or /sys/block/${disk}`,
    );
    if (refusal !== null) return refusal;
  }
  const disks = await readDisks(host);
  const deviceState = disks.get(disk)?.deviceState ?? null;
  if (deviceState !== 'running') {
    const refusal = unless('device-not-running', `${disk} is ${deviceState ?? 'not there'}`);
    if (refusal !== null) return refusal;
  }
  const read = present
    ? await readFirstBlock(join(host.root, 'dev', step.member))
    : { readable: false, error: 'ENOENT' };
  let mode: '--re-add' | '--add' = '--add';
  let superblockNote = 'blank partition';
  if (!read.readable) {
    const refusal = unless(
      'device-not-readable',
      `${step.member} is not readable (${read.error ?? 'error'})`,
    );
    if (refusal !== null) return refusal;
    superblockNote = 'its superblock decides between --re-add and --add once the disk is back';
  } else {
    const usage = await usageOf(host.root, disk, context.projection, [step.member]);
    if (usage.problems.length > 0) return refused('holders-present', usage.problems.join('; '));
    const superblock = await examineSuperblock(host, step.member);
    if (superblock.kind === 'unknown') {
      return refused('superblock-unreadable', `${step.member}: ${superblock.reason}`);
    }
    if (superblock.kind === 'blank') {
      const signature = await readSignature(join(host.root, 'dev', step.member));
      if (signature === 'unreadable') return refused('device-not-readable', `${step.member} cannot be read`);
      if (signature !== null) {
        // A member whose 0.90 or 1.0 superblock (at its end) this plan zeroed still shows the
        // array's own file system or LVM label at its start: that is the array's data, not another's.
        if (!zeroedInThisRun(context, step.array, step.member)) {
          return refused(
            'foreign-signature',
            `${step.member} holds no md superblock but a ${signature} signature: adding it would destroy that`,
          );
        }
        superblockNote = `superblock zeroed by this plan; the ${signature} signature at its start is ${step.array}'s own data`;
      }
    }
    if (superblock.kind === 'md') {
      const { uuid, events, role } = superblock.superblock;
      if (uuid !== view.uuid) {
        return refused(
          'superblock-other-array',
          `${step.member} holds a superblock of array ${uuid ?? 'unknown'}${superblock.superblock.name === null ? '' : ` (${superblock.superblock.name})`}, not ${step.array} (${view.uuid})`,
        );
      }
      if (events === null)
        return refused('superblock-unreadable', `the superblock of ${step.member} shows no event count`);
      if (events > view.events) {
        return refused(
          'stale-half-newer',
          `${step.member} has more events (${events}) than ${step.array} (${view.events}): it may hold newer data than the running array, never overwritten automatically`,
        );
      }
      const reAdd = role === 'active' && (view.bitmap || events === view.events);
      mode = reAdd ? '--re-add' : '--add';
      superblockNote = `superblock of ${step.array}, events ${events} ≤ ${view.events}, role ${role ?? 'unknown'}${view.bitmap ? ', bitmap' : ', no bitmap'}`;
    }
  }
  const size = present ? await partitionSizeBytes(host.root, disk, step.member) : null;
  const required = await requiredSize(context, view);
  if (size === null || required === null) {
    const refusal = unless(
      'too-small',
      `the size of ${step.member} or of ${step.array}'s members cannot be read`,
    );
    if (refusal !== null) return refusal;
  } else if (size < required) {
    return refused('too-small', `${step.member} holds ${size} bytes; ${step.array} needs ${required}`);
  }
  const args = (flag: '--re-add' | '--add') => [`/dev/${step.array}`, flag, `/dev/${step.member}`];
  if (context.dryRun) {
    context.projection.add(step.array, step.member);
    return wouldRun(`mdadm ${args(mode).join(' ')} (${superblockNote})`, deferred);
  }
  const attempts: string[] = [];
  let run = await runAction(context, 'mdadm', args(mode));
  if (!run.ok && mode === '--re-add') {
    // mdadm refuses a re-add the kernel cannot do incrementally; a plain add then rebuilds it fully.
    attempts.push(run.result.detail);
    run = await runAction(context, 'mdadm', args('--add'));
  }
  if (!run.ok) {
    attempts.push(run.result.detail);
    const code = run.result.code === 'tool-failed' ? 'add-refused' : (run.result.code ?? 'add-refused');
    return { outcome: 'failed', code, detail: attempts.join(' | ') };
  }
  const after = await readMdArray(host, step.array, { detail: false });
  const added = after?.members.find((candidate) => candidate.device === step.member);
  if (added === undefined || added.state === 'faulty') {
    return failed(
      'not-applied',
      `${run.line} returned, but ${step.member} is ${added?.state ?? 'not listed'} in ${step.array}`,
    );
  }
  return succeeded(
    `${[...attempts, `${run.line}: ${toolMessage(run.result) || 'done'}`].join(' | ')} (${superblockNote}; ${step.member} ${added.state})`,
  );
};

/** The members of an array as §3 reports them, for `mirror.recovering`. */
const reportedMembers = (
  context: StepContext,
  view: MdArrayView,
  disks: Awaited<ReturnType<typeof readDisks>>,
): Member[] =>
  view.members.flatMap((member) =>
    member.disk === null
      ? []
      : [
          {
            device: member.device,
            disk: member.disk,
            state: member.state === 'unknown' ? 'rebuilding' : member.state,
            failureDomain: failureDomainOf(context.host, disks, member.disk),
          },
        ],
  );

export const mdWaitSync = async (step: MdWaitSyncStep, context: StepContext): Promise<StepResult> => {
  const { clock, timing, host } = context;
  const first = await readMdArray(host, step.array, { detail: false });
  if (context.dryRun) {
    if (first === null) return refused('array-not-found', `${step.array} is not a running array`);
    return wouldRun(
      `wait until ${step.array} is in sync, failing after ${step.stallSeconds} s without a sector of progress (a queued resync waits while the one ahead of it moves)`,
    );
  }
  if (first === null) return failed('array-not-found', `${step.array} is not a running array`);
  const started = clock.now();
  const faultyAtStart = new Set(
    first.members.filter((member) => member.state === 'faulty').map((member) => member.device),
  );
  const highWater = new SyncHighWater();
  let wasQueued: SyncReading['queued'] = null;
  let lastChange = started;
  let lastReport = Number.NEGATIVE_INFINITY;
  for (;;) {
    if (await context.stopRequested())
      return failed('stop-file', `the stop file appeared while waiting for ${step.array}`);
    if (host.signal?.aborted === true)
      return failed('aborted', `the agent stopped while waiting for ${step.array}`);
    const view = await readMdArray(host, step.array, { detail: false });
    if (view === null) return failed('array-not-found', `${step.array} disappeared while it synced`);
    const now = clock.now();
    if (isInSync(view)) {
      return succeeded(`${step.array} in sync after ${Math.round((now - started) / 1000)} s`);
    }
    const newlyFaulty = view.members.filter(
      (member) => member.state === 'faulty' && !faultyAtStart.has(member.device),
    );
    if (newlyFaulty.length > 0) {
      return failed(
        'member-failed',
        `${newlyFaulty.map((member) => member.device).join(', ')} failed while ${step.array} synced`,
      );
    }
    const syncs = await readSyncs(host);
    const ours = syncs.get(step.array);
    const queued = ours?.queued ?? null;
    // A sync that starts, or leaves the queue, has moved; a queued one moves with those ahead of it.
    let moved = queued !== wasQueued;
    wasQueued = queued;
    if (ours !== undefined && highWater.advance(ours)) moved = true;
    const ahead = queued === null ? [] : syncsAhead(syncs, step.array);
    for (const sync of ahead) if (highWater.advance(sync)) moved = true;
    if (moved) lastChange = now;

    if (
      (ours?.running === true || queued !== null) &&
      now - lastReport >= timing.progressReportMs &&
      view.level !== null
    ) {
      lastReport = now;
      const disks = await readDisks(host);
      context.emit({
        type: 'mirror.recovering',
        subject: step.array,
        data: {
          array: step.array,
          kind: 'md',
          level: view.level,
          members: reportedMembers(context, view, disks),
          // A queued resync reports 0: not started, which the control plane counts as progress (§5.9).
          ...recoveringProgress(queued === null ? ours : undefined),
        },
      });
    }
    if (now - lastChange >= step.stallSeconds * 1000) {
      const where =
        queued === null
          ? describeSync(ours)
          : `queued (resync=${queued}${queued === 'PENDING' ? ': an auto-read-only array resyncs at its first write' : ''}) behind ${ahead.length === 0 ? 'no sync that runs' : ahead.map((sync) => `${sync.array} at ${describeSync(sync)}`).join(', ')}`;
      return failed(
        'sync-stalled',
        `${step.array}: no sector of progress for ${step.stallSeconds} s (${where}; ${view.reading.state})`,
      );
    }
    await clock.sleep(timing.syncPollMs, host.signal);
  }
};

/** The progress fields of `mirror.recovering` (§3): percent, and the sectors of `md/sync_completed`. */
const recoveringProgress = (
  sync: SyncReading | undefined,
): { progress: number; finishMinutes?: number; syncedSectors?: number; totalSectors?: number } => {
  if (sync === undefined || !sync.running) return { progress: 0 };
  const sectors =
    sync.syncedSectors !== null && sync.totalSectors !== null
      ? { syncedSectors: sync.syncedSectors, totalSectors: sync.totalSectors }
      : {};
  const fromSectors =
    sync.syncedSectors !== null && sync.totalSectors !== null && sync.totalSectors > 0
      ? Math.floor((sync.syncedSectors / sync.totalSectors) * 1000) / 10
      : 0;
  return {
    progress: Math.min(100, sync.percent ?? fromSectors),
    ...(sync.finishMinutes === null ? {} : { finishMinutes: sync.finishMinutes }),
    ...sectors,
  };
};
