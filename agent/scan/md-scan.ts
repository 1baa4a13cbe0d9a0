import { join } from 'node:path';
import {
  type ArrayReport,
  type FailureDomain,
  type Member,
  type MemberState,
  RaidLevel,
} from '../../events/index.ts';
import { diskOfDevice } from '../../probes/block-device.ts';
import { localFailureDomain } from '../../probes/failure-domain.ts';
import { type MdSyncCompleted, parseSyncCompleted } from '../../probes/md-sync-completed.ts';
import { type MdadmDetail, parseMdadmDetail } from '../../probes/mdadm-detail.ts';
import { type MdstatArrayReading, parseMdstat } from '../../probes/mdstat.ts';
import {
  mdMemberStateFromDetail,
  mdMemberStateFromSysfs,
  mdMemberStatesFromMdstat,
} from '../../probes/report-states.ts';
import { overriddenFailureDomain } from '../../probes/topology.ts';
import { limit, type ScanContext, SNAPSHOT_LIMITS, toolRequest } from './scan-context.ts';
import { type HostTopology, readMdSysfs, readText } from './sysfs-reader.ts';

/**
 * The Linux md section of a host scan (scan.ts): each array of `/proc/mdstat` with its members'
 * states and failure domains, from sysfs (`md/dev-*`) where it has them and from
 * `mdadm --detail` only for what files cannot tell (an array's UUID without a udev `md-uuid-`
 * link, its level, a member's state); and the sync progress of arrays resyncing or recovering,
 * with the sectors of `md/sync_completed` (§3 `mirror.recovering`).
 */

/** The md arrays of `/proc/mdstat` (its text), with their sync progress recorded in the context. */
export const scanMdArrays = async (
  context: ScanContext,
  mdstatText: string | null,
  topology: HostTopology,
  uuidLinks: ReadonlyMap<string, string>,
): Promise<ArrayReport[]> => {
  const mdstat = parseMdstat(mdstatText ?? '');
  for (const warning of mdstat.warnings) context.warnings.push({ ...warning, source: 'mdstat' });
  const reports = await Promise.all(
    mdstat.arrays.map(async (array) => {
      const arrayContext: ScanContext = { ...context, warnings: [] };
      const report = await mdArrayReport(arrayContext, array, topology, uuidLinks.get(array.name));
      return { report, warnings: arrayContext.warnings };
    }),
  );
  const arrays: ArrayReport[] = [];
  for (const { report, warnings } of reports) {
    context.warnings.push(...warnings);
    if (report !== null) arrays.push(report);
  }
  for (const array of mdstat.arrays) {
    if (array.syncAction !== null || array.syncPending !== null) {
      const completed = await readSyncCompleted(context.root, array.name);
      context.sync[array.name] = {
        progress: array.progress,
        finishMinutes: array.finishMinutes,
        ...(completed?.state === 'running'
          ? { syncedSectors: completed.syncedSectors, totalSectors: completed.totalSectors }
          : {}),
      };
    }
  }
  return arrays;
};

/** `md/sync_completed` of an array (probes/md-sync-completed.ts); null where sysfs has none. */
const readSyncCompleted = async (root: string, array: string): Promise<MdSyncCompleted | null> => {
  const text = await readText(join(root, 'sys', 'block', array, 'md', 'sync_completed'));
  return text === null ? null : parseSyncCompleted(text);
};

/** What `mdadm --detail` of an array depends on: its membership and state, not its progress. */
const mdFingerprint = (array: MdstatArrayReading): string =>
  [
    array.name,
    array.state,
    `${array.total}/${array.active}`,
    ...array.members.map((member) => `${member.device}[${member.index}]${member.flags.join(',')}`),
  ].join(' ');

const mdArrayReport = async (
  context: ScanContext,
  array: MdstatArrayReading,
  topology: HostTopology,
  linkedUuid: string | undefined,
): Promise<ArrayReport | null> => {
  const sysfs = array.state === 'inactive' ? null : await readMdSysfs(context.root, array.name);
  const fromMdstat = mdMemberStatesFromMdstat(array);
  const states = new Map<string, MemberState | null>();
  for (const member of array.members) {
    const fromSysfs = sysfs?.members.get(member.device);
    states.set(
      member.device,
      fromSysfs === undefined
        ? (fromMdstat.get(member.device) ?? null)
        : mdMemberStateFromSysfs(fromSysfs.state, fromSysfs.slot),
    );
  }
  const sysfsLevel = sysfs?.level ?? null;
  const level = array.level ?? (RaidLevel.safeParse(sysfsLevel).success ? sysfsLevel : null);
  const needsDetail = linkedUuid === undefined || level === null || [...states.values()].includes(null);
  const detail = needsDetail ? await mdadmDetail(context, array) : null;
  if (detail !== null) {
    for (const row of detail.devices) {
      if (row.device !== null && states.get(row.device) === null) {
        states.set(row.device, mdMemberStateFromDetail(row));
      }
    }
  }
  const arrayLevel = level ?? detail?.level ?? null;
  if (arrayLevel === null) {
    context.warnings.push({
      source: 'mdstat',
      line: 0,
      text: array.name,
      reason: `${array.name}: RAID level unknown (inactive, no sysfs level, no mdadm --detail); not reported`,
    });
    return null;
  }
  const members: Member[] = [];
  for (const member of array.members) {
    const disk = diskOfDevice(member.device);
    if (disk === null) {
      context.warnings.push({
        source: 'mdstat',
        line: 0,
        text: member.device,
        reason: `${array.name}: member ${member.device} is on no disk this agent reports; left out`,
      });
      continue;
    }
    let state = states.get(member.device) ?? null;
    if (state === null) {
      context.warnings.push({
        source: 'mdstat',
        line: 0,
        text: member.device,
        reason: `${array.name}: cannot tell whether ${member.device} is in sync or rebuilding; reported as rebuilding`,
      });
      state = 'rebuilding';
    }
    members.push({
      device: member.device,
      disk,
      state,
      failureDomain: diskFailureDomain(context, topology, disk),
    });
  }
  const uuid = linkedUuid ?? detail?.uuid ?? null;
  const bitmap =
    array.state === 'inactive'
      ? detail === null
        ? null
        : detail.bitmap !== 'none'
      : array.bitmap || (detail !== null && detail.bitmap !== 'none');
  return {
    array: array.name,
    kind: 'md',
    level: arrayLevel,
    state: array.state,
    members: limit(members, SNAPSHOT_LIMITS.members, `members of ${array.name}`, context),
    ...(bitmap === null ? {} : { bitmap }),
    ...(uuid === null ? {} : { uuid }),
  };
};

const mdadmDetail = async (context: ScanContext, array: MdstatArrayReading): Promise<MdadmDetail | null> => {
  const output = await context.runTool(
    toolRequest(context, 'mdadm', ['--detail', `/dev/${array.name}`], mdFingerprint(array)),
  );
  if (output === null) return null;
  const reading = parseMdadmDetail(output);
  const detail = reading.arrays.find((candidate) => candidate.array === array.name) ?? null;
  if (detail !== null) {
    for (const warning of reading.warnings) context.warnings.push({ ...warning, source: 'mdadm' });
  }
  return detail;
};

/** A disk's failure domain: sysfs's (overrides applied), else an override of the bare name, else local. */
const diskFailureDomain = (context: ScanContext, topology: HostTopology, disk: string): FailureDomain =>
  topology.disks.get(disk)?.failureDomain ??
  overriddenFailureDomain(context.topology, disk, null) ??
  localFailureDomain(context.hostId);
