import { z } from 'zod';
import { AixAdapterName, DiskName, FailureDomain, ScsiHost } from '../events/index.ts';

/**
 * The topology section of the agent's config (docs/architecture.md §3: "a topology file in the agent's config
 * may override discovery"). Discovery cannot see every failure domain: an LDoms guest's virtual
 * disks (`c0d1`) carry no trace of the service domain that serves them, and an FC HBA or a virtio
 * disk names no partition. An override pins a whole disk, or every disk behind a SCSI host, to a
 * failure domain; a disk override wins over its host's. On AIX, which shows no trace of the VIOS
 * behind a client adapter, `adapters` places every path through a `vscsiN` or `fcsN`/`fscsiN`
 * adapter (agent/scan/aix-scan.ts).
 *
 * ```json
 * { "disks": { "c0d1": "vdisk:primary/primary", "c0d2": "vdisk:primary/alternate" },
 *   "scsiHosts": { "host3": "fc:500507680b21ac1c" } }
 * ```
 */
export const TopologyOverrides = z.strictObject({
  disks: z.record(DiskName, FailureDomain).optional(),
  scsiHosts: z.record(ScsiHost, FailureDomain).optional(),
  adapters: z.record(AixAdapterName, FailureDomain).optional(),
});
export type TopologyOverrides = z.infer<typeof TopologyOverrides>;

/** The failure domain an override gives a disk, or null when none names it or its SCSI host. */
export const overriddenFailureDomain = (
  topology: TopologyOverrides | undefined,
  disk: string,
  scsiHost: string | null,
): FailureDomain | null => {
  if (topology === undefined) return null;
  const byDisk = topology.disks === undefined ? undefined : ownValue(topology.disks, disk);
  if (byDisk !== undefined) return byDisk;
  if (scsiHost === null || topology.scsiHosts === undefined) return null;
  return ownValue(topology.scsiHosts, scsiHost) ?? null;
};

const ownValue = (record: Readonly<Record<string, string>>, key: string): string | undefined =>
  Object.hasOwn(record, key) ? record[key] : undefined;
