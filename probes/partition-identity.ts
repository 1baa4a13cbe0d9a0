import { ConsoleName } from '../events/index.ts';
import { stripNul, systemFromDeviceTree, vscsiFailureDomain } from './failure-domain.ts';

/**
 * Who a hosting partition is, as its clients name it (docs/architecture.md §3 "Failure domain"):
 * `vscsi:<system>/<partition>`, the partition's own name and the managed system named as the HMC
 * names it by default (`Server-<type>-<model>-SN<serial>`, probes/failure-domain.ts), so the
 * server derives exactly what its clients derive from their adapters' `partition_name` and
 * `vhost_loc`.
 *
 * - AIX and the VIOS: `uname -L` prints `<lpar id> <partition name>` (`-1 NULL` outside an LPAR),
 *   `uname -M` the machine type and model (`IBM,9080-M9S`) and `uname -u` the system id
 *   (`IBM,0278AB12C`: a two-character plant code, then the serial), the same two strings the
 *   device tree holds.
 * - Linux on PowerVM: `/proc/device-tree/ibm,partition-name`, `model` and `system-id`, each
 *   ending in NUL.
 */

export type PartitionIdentity = { partition: string; system: string; failureDomain: string };

/** The partition name of `uname -L`, or null outside an LPAR or when it is not a console name. */
export const partitionNameFromUnameL = (text: string): string | null => {
  const match = /^\s*(-?\d+)\s+(.+?)\s*$/.exec(text.split('\n')[0] ?? '');
  if (match === null || Number(match[1]) < 1 || match[2] === 'NULL') return null;
  const name = match[2] ?? '';
  return ConsoleName.safeParse(name).success ? name : null;
};

/** The identity from a partition name and the model and system id strings (uname or device tree). */
export const partitionIdentity = (
  partitionName: string,
  model: string,
  systemId: string,
): PartitionIdentity | null => {
  const partition = stripNul(partitionName);
  const system = systemFromDeviceTree(model.trim(), systemId.trim());
  if (system === null || !ConsoleName.safeParse(partition).success) return null;
  const failureDomain = vscsiFailureDomain(system, partition);
  return failureDomain === null ? null : { partition, system, failureDomain };
};

/** The parts of a configured `vscsi:<system>/<partition>`, or null when it is another kind. */
export const identityOfDomain = (failureDomain: string): PartitionIdentity | null => {
  const match = /^vscsi:([^/]+)\/([^/]+)$/.exec(failureDomain);
  if (match === null) return null;
  return { system: match[1] ?? '', partition: match[2] ?? '', failureDomain };
};
