import { resolve } from 'node:path';
import type { ArrayName } from '../../events/index.ts';
import { parseMdadmExamine, toProbedPartition } from '../../probes/mdadm-examine.ts';
import type { RecoveryProgress } from '../../probes/snapshot-diff.ts';
import type { AgentConfig } from '../config.ts';
import { scanHostInDetail } from '../scan/scan.ts';
import { createCapturedToolRunner, createLiveToolRunner, type ToolRunner } from '../scan/tool-runner.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { HostObservation } from './detector.ts';
import type { ExaminePartition } from './returned-disk.ts';

/**
 * The live side of detection: the probes' scan of the configured root (`/`, or a fixture tree
 * whose captured tool outputs stand in for the tools), with each syncing array's progress for
 * `mirror.recovering`, and `mdadm --examine` for the `disk.probed` of a returned disk. A probe
 * warning is logged once, not at every scan.
 */

/** Distinct scan warnings remembered, so a host with a permanent oddity does not log it forever. */
const MAX_REMEMBERED_WARNINGS = 256;

export type HostObserver = {
  observe: (now: Date) => Promise<HostObservation>;
  examine: ExaminePartition;
};

export const hostObserver = (
  config: Pick<AgentConfig, 'root' | 'hostId' | 'role' | 'topology'>,
  log: AgentLog,
  /** The tools: live on `/`, captured outputs in another tree, or a simulated host's (the demo). */
  tools?: ToolRunner,
): HostObserver => {
  const runTool: ToolRunner =
    tools ?? (resolve(config.root) === '/' ? createLiveToolRunner() : createCapturedToolRunner(config.root));
  const warned = new Set<string>();

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
      });
    }
    return { snapshot: scan.snapshot, progress };
  };

  const examine: ExaminePartition = async (device, snapshot) => {
    const now = new Date();
    const output = await runTool({
      tool: 'mdadm',
      args: ['--examine', `/dev/${device}`],
      // A returned disk is examined afresh, never from a cached output.
      fingerprint: `returned-disk ${now.toISOString()}`,
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
