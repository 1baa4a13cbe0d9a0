import type {
  ArrayState,
  ComponentState,
  DeviceState,
  MemberState,
  MetastatMirror,
  MultipathPath,
  PathState,
} from '../events/index.ts';
import type { MdadmDeviceRow } from './mdadm-detail.ts';
import type { MdstatArrayReading } from './mdstat.ts';

/**
 * The tools' own states mapped to the states of docs/architecture.md §3 (member, path, device and array
 * states). Pure. Where a tool does not say which member is which, the answer is "not known"
 * (null), never a guess: the scan then asks a better source.
 */

/**
 * A member's state from sysfs (`/sys/block/<md>/md/dev-<member>/state`, a comma list such as
 * `in_sync` or `faulty,write_error`, and `slot`, a number or `none`): faulty wins; an in-sync or
 * journal member is in sync; one that holds a slot without being in sync is being rebuilt into
 * it; the rest are spares.
 */
export const mdMemberStateFromSysfs = (state: string, slot: string | null): MemberState => {
  const words = state.split(',').map((word) => word.trim());
  if (words.includes('faulty')) return 'faulty';
  if (words.includes('in_sync') || words.includes('journal')) return 'in-sync';
  if (slot !== null && /^\d+$/.test(slot.trim())) return 'rebuilding';
  return 'spare';
};

/** A member's state from its `mdadm --detail` row; null for a `removed` slot or words not understood. */
export const mdMemberStateFromDetail = (row: MdadmDeviceRow): MemberState | null => {
  const words = new Set(row.states);
  if (words.has('faulty')) return 'faulty';
  if (words.has('rebuilding') || words.has('replacement')) return 'rebuilding';
  if (words.has('sync') || words.has('journal')) return 'in-sync';
  if (words.has('spare')) return 'spare';
  return null;
};

/**
 * Member states as far as mdstat alone tells them. `(F)` is faulty, `(S)` a spare, `(R)` a
 * replacement being built, `(J)` a working journal; every member of an inactive array is a spare to
 * the kernel (`(S)`). The other members hold slots: when there are no more of them than in-sync
 * slots (`[2/2]`, or no count for raid0 and linear) they are all in sync; when there are more
 * (`[2/1] [U_]` with two unflagged members) some are being rebuilt and mdstat does not say which,
 * because the bracket number is a descriptor number, not a slot: those are null.
 */
export const mdMemberStatesFromMdstat = (array: MdstatArrayReading): Map<string, MemberState | null> => {
  const states = new Map<string, MemberState | null>();
  const holdingSlots: string[] = [];
  for (const member of array.members) {
    if (member.flags.includes('faulty')) states.set(member.device, 'faulty');
    else if (array.state === 'inactive' || member.flags.includes('spare')) states.set(member.device, 'spare');
    else if (member.flags.includes('replacement')) states.set(member.device, 'rebuilding');
    else if (member.flags.includes('journal')) states.set(member.device, 'in-sync');
    else holdingSlots.push(member.device);
  }
  const inSyncSlots = array.active;
  for (const device of holdingSlots) {
    if (inSyncSlots === null || holdingSlots.length <= inSyncSlots) states.set(device, 'in-sync');
    else if (inSyncSlots === 0) states.set(device, 'rebuilding');
    else states.set(device, null);
  }
  return states;
};

/** An SVM component's state as a member state. */
export const svmMemberState = (state: ComponentState): MemberState => {
  switch (state) {
    case 'Okay':
      return 'in-sync';
    case 'Resyncing':
      return 'rebuilding';
    case 'Maintenance':
      return 'maintenance';
    case 'Last Erred':
      return 'last-erred';
    case 'Unavailable':
      return 'faulty';
  }
};

/**
 * An SVM mirror's state: degraded while a component needs an operator or is unavailable; recovering
 * while a component resyncs (a component rebuilt after `metareplace -e`, a submirror after
 * `metattach`); resyncing when only the mirror reports a resync; clean otherwise.
 */
export const svmArrayState = (mirror: MetastatMirror): ArrayState => {
  const states = mirror.submirrors.map((submirror) => submirror.componentState);
  if (states.some((state) => state === 'Maintenance' || state === 'Last Erred' || state === 'Unavailable')) {
    return 'degraded';
  }
  if (states.includes('Resyncing')) return 'recovering';
  if (mirror.resyncProgress !== null) return 'resyncing';
  return 'clean';
};

/**
 * A multipath path's §3 state from its dm state, checker state and SCSI device state: an offline
 * device is offline; a path dm has failed is failed; a ghost (standby) path is healthy; a checker
 * still deciding, or a blocked device, is pending.
 */
export const pathStateOf = (
  path: Pick<MultipathPath, 'dmState' | 'pathState' | 'onlineState'>,
): PathState => {
  if (path.onlineState === 'offline' || path.onlineState === 'transport-offline') return 'offline';
  if (path.dmState === 'failed') return 'failed';
  if (path.onlineState === 'blocked') return 'pending';
  switch (path.pathState) {
    case 'ready':
      return 'active';
    case 'ghost':
      return 'ghost';
    case 'faulty':
    case 'shaky':
    case 'i/o timeout':
      return 'failed';
    case 'i/o pending':
    case 'delayed':
    case 'undef':
      return 'pending';
  }
};

/**
 * A disk's §3 device state from sysfs: a SCSI device's `device/state` (`running`, `offline`,
 * `transport-offline`, `blocked`, `created-blocked`, `quiesce`, `cancel`, `deleted`) or an NVMe
 * controller's `state` (`live`, `resetting`, `connecting`, `dead`, `deleting`). Null when unknown.
 */
export const deviceStateOf = (sysfsState: string): DeviceState | null => {
  switch (sysfsState.trim()) {
    case 'running':
    case 'live':
      return 'running';
    case 'offline':
    case 'transport-offline':
      return 'offline';
    case 'blocked':
    case 'created-blocked':
    case 'created':
    case 'quiesce':
    case 'resetting':
    case 'connecting':
    case 'new':
      return 'blocked';
    case 'cancel':
    case 'cancel-offline':
    case 'deleted':
    case 'del':
    case 'dead':
    case 'deleting':
    case 'deleting (no IO)':
      return 'gone';
    default:
      return null;
  }
};
