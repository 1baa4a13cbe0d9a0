import type { PlanStep } from '../../../events/index.ts';
import { isPathHealthy } from '../host.ts';
import type { PathRecord } from '../model.ts';
import { toMs } from '../time.ts';
import { byName, type PlanContext, type PlanOutcome } from './plan-context.ts';

/**
 * Multipath: each path through the domain still out of the healthy states gets `multipathd
 * reinstate path`, which succeeds only once the path is back in its former state within
 * `reinstateCheckSeconds` (§4); ghosts are healthy. One `disk.probe` per leg first.
 *
 * A leg the SCSI layer set `offline` during the outage cannot be reinstated at all: it gets
 * `scsi.online` right before its reinstate, but only when the core knows it was running until the
 * outage: a report showed the path healthy (active or ghost, which a device not `running` never is),
 * the first report out of that came after the outage began (less the grouping window: reports
 * arrive out of order), it is `offline` now, and the latest heartbeat still lists its disk (a path
 * whose device is gone is reported `offline` too) without a device state other than `offline`. A leg
 * an operator or the kernel took offline before the outage (media errors) is never brought back:
 * its reinstate fails and a person is paged.
 */

const wentOfflineInTheOutage = ({ host, config, downAt }: PlanContext, record: PathRecord): boolean => {
  if (record.state !== 'offline' || downAt === undefined) return false;
  const lost = record.lost;
  if (lost?.from === undefined) return false;
  if (toMs(lost.at) < toMs(downAt) - config.groupingWindowSeconds * 1000) return false;
  const disk = host.disks[record.path];
  return disk !== undefined && (disk.deviceState === undefined || disk.deviceState === 'offline');
};

export const planMultipath = (context: PlanContext): PlanOutcome | undefined => {
  const { host, failureDomain, config } = context;
  const failed = Object.values(host.paths)
    .filter((record) => record.failureDomain === failureDomain && !isPathHealthy(record.state))
    .sort(byName((record) => `${record.map}/${record.path}`));
  if (failed.length === 0) return undefined;
  const legs = new Map<string, PathRecord>();
  for (const record of failed) if (!legs.has(record.path)) legs.set(record.path, record);
  return {
    kind: 'plan',
    planned: {
      steps: [
        ...[...legs.values()].map(
          (record): PlanStep => ({
            action: 'disk.probe',
            disk: record.path,
            hctl: record.hctl,
            failureDomain,
          }),
        ),
        ...failed.flatMap((record): PlanStep[] => [
          ...(wentOfflineInTheOutage(context, record)
            ? [{ action: 'scsi.online' as const, hctl: record.hctl, disk: record.path }]
            : []),
          {
            action: 'multipath.reinstate',
            map: record.map,
            path: record.path,
            checkSeconds: config.reinstateCheckSeconds,
          },
        ]),
      ],
      touches: [...new Set(failed.map((record) => record.map))],
    },
  };
};
