import type { SnapshotMap, SnapshotPath } from '../../events/index.ts';
import { localFailureDomain } from '../../probes/failure-domain.ts';
import { parseMultipath } from '../../probes/multipath.ts';
import { pathStateOf } from '../../probes/report-states.ts';
import { overriddenFailureDomain } from '../../probes/topology.ts';
import { limit, type ScanContext, SNAPSHOT_LIMITS, toolRequest } from './scan-context.ts';
import type { HostTopology } from './sysfs-reader.ts';

/**
 * The multipath section of a Linux host scan (scan.ts): the maps of `multipath -ll` with each
 * path's state and failure domain, asked of the tool only when dm has a multipath map (or a
 * captured tree may hold maps its sysfs does not show), and rerun only when a path's SCSI state or
 * I/O error count changed.
 */

/**
 * Whether a tree may have multipath maps its sysfs does not show: a capture without `sys/block`,
 * or with dm devices whose `dm/uuid` it did not keep. A live host's sysfs always shows them.
 */
const mayHoldUnseenMaps = (context: ScanContext, topology: HostTopology): boolean => {
  if (context.live) return false;
  if (topology.disks.size === 0) return true;
  return [...topology.disks.values()].some((disk) => disk.disk.startsWith('dm-') && disk.dmUuid === null);
};

/**
 * `multipath -ll` when dm has a multipath map (a `dm/uuid` starting `mpath-`). The
 * fingerprint is each map's slaves with their SCSI device state and I/O error count, which change
 * when a path fails. Nothing is asked of a host without multipath maps.
 */
export const multipathMaps = async (context: ScanContext, topology: HostTopology): Promise<SnapshotMap[]> => {
  const multipathDevices = [...topology.disks.values()].filter((disk) => disk.dmUuid?.startsWith('mpath-'));
  if (multipathDevices.length === 0 && !mayHoldUnseenMaps(context, topology)) return [];
  const fingerprint = multipathDevices
    .map((map) =>
      [
        map.disk,
        ...map.slaves.map((slave) => {
          const path = topology.disks.get(slave);
          return `${slave}=${path?.sysfsState ?? '?'}/${path?.ioErrorCount ?? '?'}`;
        }),
      ].join(' '),
    )
    .join('; ');
  const output = await context.runTool(toolRequest(context, 'multipath', ['-ll'], fingerprint));
  if (output === null) return [];
  const reading = parseMultipath(output);
  for (const warning of reading.warnings) context.warnings.push({ ...warning, source: 'multipath' });
  return reading.maps.map((map) => {
    const paths: SnapshotPath[] = [];
    for (const path of map.paths) {
      if (path.device === null || path.hctl === null) {
        context.warnings.push({
          source: 'multipath',
          line: 0,
          text: map.name,
          reason: `${map.name}: an orphan path (#:#:#:#) has no device or address; left out`,
        });
        continue;
      }
      const scsiHost = `host${path.hctl.split(':')[0]}`;
      paths.push({
        path: path.device,
        hctl: path.hctl,
        failureDomain:
          topology.disks.get(path.device)?.failureDomain ??
          overriddenFailureDomain(context.topology, path.device, scsiHost) ??
          localFailureDomain(context.hostId),
        state: pathStateOf(path),
      });
    }
    return {
      map: map.name,
      wwid: map.wwid,
      paths: limit(paths, SNAPSHOT_LIMITS.paths, `paths of ${map.name}`, context),
    };
  });
};
