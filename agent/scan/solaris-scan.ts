import {
  type ArrayReport,
  type LdomsDomain,
  type Member,
  type ReplicaReport,
  ReplicaReports,
  type SnapshotDisk,
} from '../../events/index.ts';
import { diskOfDevice } from '../../probes/block-device.ts';
import { localFailureDomain } from '../../probes/failure-domain.ts';
import { parseLdmList } from '../../probes/ldm.ts';
import { parseMetadb, replicasBySlice } from '../../probes/metadb.ts';
import { parseMetastat } from '../../probes/metastat.ts';
import { svmArrayState, svmMemberState } from '../../probes/report-states.ts';
import { WARNING_TEXT_LIMIT } from '../../probes/tool-text.ts';
import { overriddenFailureDomain } from '../../probes/topology.ts';
import { limit, type ScanContext, SNAPSHOT_LIMITS, toolRequest } from './scan-context.ts';

/**
 * The Solaris section of a host scan (scan.ts): the SVM mirrors of `metastat` with their
 * submirrors' components as members (and their disks), the state database replicas of `metadb -i`
 * counted per slice, and on a control domain the LDoms domains of `ldm list -p`. Solaris has no
 * sysfs: a disk's failure domain comes from the topology overrides, else it is local.
 */

/** What the Solaris section found; `replicas` absent when `metadb` said nothing sure. */
export type SolarisScan = {
  arrays: ArrayReport[];
  disks: SnapshotDisk[];
  domains: LdomsDomain[];
  replicas?: ReplicaReport[];
};

/** SVM mirrors from `metastat`, replicas from `metadb -i` and LDoms domains from `ldm list -p`. */
export const scanSolaris = async (context: ScanContext): Promise<SolarisScan> => {
  const [metastatOutput, metadbOutput, ldmOutput] = await Promise.all([
    context.runTool(toolRequest(context, 'metastat', [], '')),
    context.runTool(toolRequest(context, 'metadb', ['-i'], '')),
    context.runTool(toolRequest(context, 'ldm', ['list', '-p'], '')),
  ]);
  const arrays: ArrayReport[] = [];
  const disks = new Map<string, SnapshotDisk>();
  if (metastatOutput !== null) {
    const reading = parseMetastat(metastatOutput);
    for (const warning of reading.warnings) context.warnings.push({ ...warning, source: 'metastat' });
    for (const mirror of reading.mirrors) {
      const members: Member[] = [];
      for (const submirror of mirror.submirrors) {
        const disk = diskOfDevice(submirror.component);
        if (disk === null) continue;
        const failureDomain =
          overriddenFailureDomain(context.topology, disk, null) ?? localFailureDomain(context.hostId);
        members.push({
          device: submirror.component,
          disk,
          state: svmMemberState(submirror.componentState),
          failureDomain,
          submirror: submirror.name,
        });
        if (!disks.has(disk)) {
          disks.set(disk, { disk, driver: /^c\d+d\d+$/.test(disk) ? 'vdc' : 'unknown', failureDomain });
        }
      }
      arrays.push({
        array: mirror.name,
        kind: 'svm',
        level: 'raid1',
        state: svmArrayState(mirror),
        members: limit(members, SNAPSHOT_LIMITS.members, `members of ${mirror.name}`, context),
      });
      if (mirror.resyncProgress !== null) {
        context.sync[mirror.name] = { progress: mirror.resyncProgress, finishMinutes: null };
      }
    }
  }
  let domains: LdomsDomain[] = [];
  if (ldmOutput !== null) {
    const reading = parseLdmList(ldmOutput);
    for (const warning of reading.warnings) context.warnings.push({ ...warning, source: 'ldm' });
    domains = reading.domains;
  }
  const replicas = metadbOutput === null ? undefined : stateDatabase(metadbOutput, context);
  return { arrays, disks: [...disks.values()], domains, ...(replicas === undefined ? {} : { replicas }) };
};

/**
 * The replicas of `metadb -i` per slice, or undefined when it says nothing sure: no replica listed
 * (no state database, or `metadb` failed: "there are no existing databases"), a line it could not
 * read, or counts a heartbeat cannot carry. Never a partial list, which would read as a majority
 * that is not there: the rules of §4 weigh every replica.
 */
const stateDatabase = (output: string, context: ScanContext): ReplicaReport[] | undefined => {
  const reading = parseMetadb(output);
  if (reading.replicas.length === 0) return undefined;
  const [unread] = reading.messages;
  if (unread !== undefined) {
    context.warnings.push({
      source: 'metadb',
      line: 0,
      text: unread.slice(0, WARNING_TEXT_LIMIT),
      reason: `${reading.messages.length === 1 ? 'a line' : `${reading.messages.length} lines`} of metadb -i not read: replicas not reported`,
    });
    return undefined;
  }
  const reports = ReplicaReports.safeParse(replicasBySlice(reading));
  if (!reports.success) {
    context.warnings.push({
      source: 'metadb',
      line: 0,
      text: '',
      reason: `replicas not reported: ${reports.error.issues.map((issue) => issue.message).join('; ')}`,
    });
    return undefined;
  }
  return reports.data;
};
