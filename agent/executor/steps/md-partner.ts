import { readDiskDirectly } from '../disk-read.ts';
import {
  failureDomainOf,
  inSyncMembers,
  type MdArrayView,
  type MemberView,
  readDisks,
} from '../host-view.ts';
import type { StepContext } from '../step-context.ts';

/**
 * The partner a destructive md step needs (§4): another in-sync member of the array, on a failure
 * domain other than the member's, whose disk runs and which the agent itself reads (a direct read
 * of the first block of its partition, `dd iflag=direct` in a child process as `disk.probe` reads,
 * ../disk-read.ts: the page cache cannot answer for a dead disk, and a hung one costs a killed
 * child), so that what the step does to one half never leaves the array on a half that is not there.
 */

/** Why a member's device answers or not. */
export type DeviceAnswer = { ok: boolean; running: boolean; why: string };

/** Whether a member's own device answers: its disk running in sysfs and its first block readable. */
export const deviceAnswers = async (
  context: StepContext,
  member: MemberView,
  deviceStates: ReadonlyMap<string, { deviceState: string | null }>,
): Promise<DeviceAnswer> => {
  if (member.detached || member.disk === null)
    return { ok: false, running: false, why: `${member.device} is detached` };
  const state = deviceStates.get(member.disk)?.deviceState ?? null;
  if (state !== 'running') {
    return { ok: false, running: false, why: `${member.disk} is ${state ?? 'in an unknown state'}` };
  }
  const read = await readDiskDirectly(context.host, member.device, 'linux');
  return read.readable === true
    ? { ok: true, running: true, why: `${member.disk} running and readable` }
    : { ok: false, running: true, why: `${member.device} is not readable (${read.detail || 'error'})` };
};

export type PartnerSearch =
  | { found: true; partner: MemberView; domain: string }
  /** No in-sync member but the one in question. */
  | { found: false; reason: 'none'; detail: string }
  /** Every other in-sync member is on the same failure domain as the member. */
  | { found: false; reason: 'same-domain'; detail: string }
  /** None on another domain runs; or some run but none can be read. */
  | { found: false; reason: 'not-running' | 'not-readable'; detail: string };

/** An in-sync member of `view` other than `member`, on another failure domain, that answers. */
export const findPartner = async (
  context: StepContext,
  view: MdArrayView,
  member: string,
  memberDisk: string | null,
): Promise<PartnerSearch> => {
  const partners = inSyncMembers(view).filter((candidate) => candidate.device !== member);
  if (partners.length === 0) {
    return { found: false, reason: 'none', detail: `${view.array} has no in-sync member but ${member}` };
  }
  const disks = await readDisks(context.host);
  const domain = failureDomainOf(context.host, disks, memberDisk);
  const elsewhere = partners.filter(
    (partner) => failureDomainOf(context.host, disks, partner.disk) !== domain,
  );
  if (elsewhere.length === 0) {
    return {
      found: false,
      reason: 'same-domain',
      detail: `every other in-sync member of ${view.array} (${partners.map((partner) => partner.device).join(', ')}) is on ${domain}, like ${member}`,
    };
  }
  const answers: DeviceAnswer[] = [];
  for (const candidate of elsewhere) {
    const answer = await deviceAnswers(context, candidate, disks);
    answers.push(answer);
    if (answer.ok) {
      return {
        found: true,
        partner: candidate,
        domain: failureDomainOf(context.host, disks, candidate.disk),
      };
    }
  }
  return {
    found: false,
    reason: answers.some((answer) => answer.running) ? 'not-readable' : 'not-running',
    detail: `no in-sync partner of ${member} on another domain answers: ${answers.map((answer) => answer.why).join('; ')}`,
  };
};
