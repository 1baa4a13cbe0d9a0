import type { ArrayReport, LdomsDomain, Member, SnapshotDisk } from '../../events/index.ts';
import { diskOfDevice } from '../../probes/block-device.ts';
import { localFailureDomain } from '../../probes/failure-domain.ts';
import { parseLdmList } from '../../probes/ldm.ts';
import { parseMetastat } from '../../probes/metastat.ts';
import { svmArrayState, svmMemberState } from '../../probes/report-states.ts';
import { overriddenFailureDomain } from '../../probes/topology.ts';
import { limit, type ScanContext, SNAPSHOT_LIMITS, toolRequest } from './scan-context.ts';

/**
 * The Solaris section of a host scan (scan.ts): the SVM mirrors of `metastat` with their
 * submirrors' components as members (and their disks), and on a control domain the LDoms domains
 * of `ldm list -p`. Solaris has no sysfs: a disk's failure domain comes from the topology
 * overrides, else it is local.
 */

/** SVM mirrors from `metastat` and LDoms domains from `ldm list -p`. */
export const scanSolaris = async (
  context: ScanContext,
): Promise<{ arrays: ArrayReport[]; disks: SnapshotDisk[]; domains: LdomsDomain[] }> => {
  const [metastatOutput, ldmOutput] = await Promise.all([
    context.runTool(toolRequest(context, 'metastat', [], '')),
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
  return { arrays, disks: [...disks.values()], domains };
};
