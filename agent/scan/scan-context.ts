import type { HostId } from '../../events/index.ts';
import type { AdapterTopology } from '../../probes/lspath.ts';
import type { ProbeWarning } from '../../probes/tool-text.ts';
import type { TopologyOverrides } from '../../probes/topology.ts';
import type { ToolRequest, ToolRunner } from './tool-runner.ts';

/**
 * What every section of a host scan (scan.ts) shares: the context it reads the host through and
 * writes its warnings and sync progress into, the snapshot's size limits, and how a section asks
 * the tool runner for a tool's output.
 */

/**
 * Sync progress of an array, which the snapshot does not carry but `mirror.recovering` does: the
 * percentage and estimate of mdstat, and the sectors of `md/sync_completed` while a sync runs.
 */
export type ArraySync = {
  progress: number | null;
  finishMinutes: number | null;
  syncedSectors?: number;
  totalSectors?: number;
};

/** What a probe could not read, tagged with the probe. */
export type ScanWarning = ProbeWarning & {
  source:
    | 'mdstat'
    | 'mdadm'
    | 'multipath'
    | 'metastat'
    | 'metadb'
    | 'ldm'
    | 'lvm'
    | 'lspath'
    | 'sysfs'
    | 'scan';
};

/**
 * The config's topology overrides as a scan reads them: disks and SCSI hosts (probes/topology.ts)
 * and, on AIX, the failure domain behind each client adapter (probes/lspath.ts `AdapterTopology`).
 */
export type ScanTopology = TopologyOverrides & AdapterTopology;

/** One scan in progress: the host it reads, and what its sections found besides the snapshot. */
export type ScanContext = {
  root: string;
  hostId: HostId;
  live: boolean;
  now: Date;
  topology: ScanTopology | undefined;
  runTool: ToolRunner;
  warnings: ScanWarning[];
  sync: Record<string, ArraySync>;
};

/** The most of each kind a snapshot reports; the rest is left out with a warning. */
export const SNAPSHOT_LIMITS = {
  arrays: 256,
  members: 64,
  maps: 1024,
  paths: 64,
  disks: 1024,
  domains: 256,
} as const;

/** At most `max` items, with a warning when some were left out. */
export const limit = <T>(items: T[], max: number, what: string, context: ScanContext): T[] => {
  if (items.length <= max) return items;
  context.warnings.push({
    source: 'scan',
    line: 0,
    text: '',
    reason: `${items.length} ${what}; only the first ${max} reported`,
  });
  return items.slice(0, max);
};

/** A request to the tool runner, at the scan's time. */
export const toolRequest = (
  context: ScanContext,
  tool: ToolRequest['tool'],
  args: readonly string[],
  fingerprint: string,
): ToolRequest => ({ tool, args, fingerprint, now: context.now });
