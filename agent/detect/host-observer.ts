import { resolve } from 'node:path';
import type { ArrayName } from '../../events/index.ts';
import { parseMdadmExamine, toProbedPartition } from '../../probes/mdadm-examine.ts';
import type { RecoveryProgress } from '../../probes/snapshot-diff.ts';
import type { AgentConfig } from '../config.ts';
import { executorSearchPath } from '../executor/programs.ts';
import { createDdReader, createTreeReader, type DirectReader } from '../scan/direct-read.ts';
import { scanHostInDetail } from '../scan/scan.ts';
import { createCapturedToolRunner, createLiveToolRunner, type ToolRunner } from '../scan/tool-runner.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { HostObservation } from './detector.ts';
import { DiskWatch } from './disk-watch.ts';
import type { ExaminePartition } from './returned-disk.ts';

/**
 * The live side of detection: the probes' scan of the configured root (`/`, or a fixture tree
 * whose captured tool outputs stand in for the tools), with each syncing array's progress for
 * `mirror.recovering`, the disk watch (disk-watch.ts: the disks of faulty, missing or Maintenance
 * members on remote failure domains, probed at every scan, their state and readability put into
 * the snapshot), and `mdadm --examine` for the `disk.probed` of a returned disk. A probe warning
 * is logged once, not at every scan.
 *
 * The watch reads a disk through `dd` in a child process on `/`; on any other root (a fixture, a
 * simulated host) it reads the tree's `dev/` nodes, unless `diskWatch.searchPath` names where a
 * (fake) `dd` is, which then reads as on a host.
 */

/** Distinct scan warnings remembered, so a host with a permanent oddity does not log it forever. */
const MAX_REMEMBERED_WARNINGS = 256;

export type HostObserver = {
  observe: (now: Date) => Promise<HostObservation>;
  examine: ExaminePartition;
};

/** How the disk watch reads; each has a default (see {@link hostObserver}). */
export type DiskWatchSettings = {
  /** Where `dd` is looked for: the agent's PATH then the sbin folders on `/`; tests put their fake first. */
  searchPath?: readonly string[];
  /** A read's timeout, after which it is killed and reported not readable. */
  timeoutMs?: number;
  /** How long a scan waits for its probes. */
  waitMs?: number;
  /** Instead of `dd` or the tree's nodes. */
  reader?: DirectReader;
};

export const hostObserver = (
  config: Pick<AgentConfig, 'root' | 'hostId' | 'role' | 'topology'>,
  log: AgentLog,
  /** The tools: live on `/`, captured outputs in another tree, or a simulated host's (the demo). */
  tools?: ToolRunner,
  diskWatch: DiskWatchSettings = {},
): HostObserver => {
  const live = resolve(config.root) === '/';
  const runTool: ToolRunner =
    tools ?? (live ? createLiveToolRunner() : createCapturedToolRunner(config.root));
  const warned = new Set<string>();
  const watches = new Map<string, DiskWatch>();
  /** The watch of a platform (the scan tells it), made once: it keeps its probes in flight. */
  const watchFor = (platform: HostObservation['snapshot']['platform']): DiskWatch => {
    let watch = watches.get(platform);
    if (watch === undefined) {
      const reader =
        diskWatch.reader ??
        (live || diskWatch.searchPath !== undefined
          ? createDdReader({
              platform,
              searchPath: diskWatch.searchPath ?? executorSearchPath(process.env.PATH),
              ...(diskWatch.timeoutMs === undefined ? {} : { timeoutMs: diskWatch.timeoutMs }),
            })
          : createTreeReader(config.root, platform));
      watch = new DiskWatch({
        root: config.root,
        read: reader,
        examine,
        log,
        ...(diskWatch.waitMs === undefined ? {} : { waitMs: diskWatch.waitMs }),
      });
      watches.set(platform, watch);
    }
    return watch;
  };

  const observe = async (now: Date): Promise<HostObservation> => {
    const scan = await scanHostInDetail({
      root: config.root,
      hostId: config.hostId,
      role: config.role,
      ...(config.topology === undefined ? {} : { topology: config.topology }),
      now,
      runTool,
    });
    for (const warning of scan.warnings) {
      const key = `${warning.source}:${warning.text}:${warning.reason}`;
      if (warned.has(key) || warned.size >= MAX_REMEMBERED_WARNINGS) continue;
      warned.add(key);
      log.warn(`scan: ${warning.source}: ${warning.reason}`, { line: warning.line, text: warning.text });
    }
    const progress = new Map<string, RecoveryProgress>();
    for (const [array, sync] of Object.entries(scan.sync)) {
      progress.set(array, {
        progress: sync.progress ?? 0,
        ...(sync.finishMinutes === null ? {} : { finishMinutes: sync.finishMinutes }),
        ...(sync.syncedSectors === undefined || sync.totalSectors === undefined
          ? {}
          : { syncedSectors: sync.syncedSectors, totalSectors: sync.totalSectors }),
      });
    }
    const watched = await watchFor(scan.snapshot.platform).probe(scan.snapshot);
    return { snapshot: watched.snapshot, progress, probes: watched.probes };
  };

  const examine: ExaminePartition = async (device, snapshot) => {
    const now = new Date();
    const output = await runTool({
      tool: 'mdadm',
      args: ['--examine', `/dev/${device}`],
      // A probed disk is examined afresh, never from a cached output.
      fingerprint: `probed-disk ${now.toISOString()}`,
      now,
    });
    if (output === null) return undefined;
    const examined = parseMdadmExamine(output).devices.find((entry) => entry.device === device);
    if (examined === undefined) return undefined;
    const arrayByUuid = new Map<string, ArrayName>(
      snapshot.arrays.flatMap((array) =>
        array.uuid === undefined ? [] : [[array.uuid, array.array] as const],
      ),
    );
    return toProbedPartition(examined, arrayByUuid);
  };

  return { observe, examine };
};
