import type { ArrayReport, LdomsDomain, ReplicaReport, SnapshotDisk } from '../../events/index.ts';
import { ldomsDomains, stateDatabaseReplicas, svmMirrors } from '../../probes/solaris-snapshot.ts';
import { type ScanContext, SNAPSHOT_LIMITS, toolRequest } from './scan-context.ts';

/**
 * The Solaris section of a host scan (scan.ts): the SVM mirrors of `metastat` with their
 * submirrors' components as members (and their disks), the state database replicas of `metadb -i`
 * counted per slice, and on a control domain the LDoms domains of `ldm list -p`. Solaris has no
 * sysfs: a disk's failure domain comes from the topology overrides, else it is local. This runs the
 * tools; what their output says is read in probes/solaris-snapshot.ts, which the control plane
 * shares to read the sh agent's collect of the same tools.
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
  let arrays: ArrayReport[] = [];
  let disks: SnapshotDisk[] = [];
  if (metastatOutput !== null) {
    const mirrors = svmMirrors(metastatOutput, {
      hostId: context.hostId,
      topology: context.topology,
      maxMembers: SNAPSHOT_LIMITS.members,
    });
    context.warnings.push(...mirrors.warnings);
    arrays = mirrors.arrays;
    disks = mirrors.disks;
    for (const [mirror, progress] of Object.entries(mirrors.resync)) {
      context.sync[mirror] = { progress, finishMinutes: null };
    }
  }
  let domains: LdomsDomain[] = [];
  if (ldmOutput !== null) {
    const reading = ldomsDomains(ldmOutput);
    context.warnings.push(...reading.warnings);
    domains = reading.domains;
  }
  let replicas: ReplicaReport[] | undefined;
  if (metadbOutput !== null) {
    const reading = stateDatabaseReplicas(metadbOutput);
    context.warnings.push(...reading.warnings);
    replicas = reading.replicas;
  }
  return { arrays, disks, domains, ...(replicas === undefined ? {} : { replicas }) };
};
