import {
  AixAdapterName,
  DiskName,
  type FailureDomain,
  type LspathOutput,
  LspathStatus,
  type PathState,
} from '../events/index.ts';
import { fcFailureDomain } from './failure-domain.ts';
import { type ProbeWarning, toCount, toolLines, WarningLog } from './tool-text.ts';

/**
 * AIX MPIO's `lspath` as the AIX Commands Reference documents it: one line per path to an
 * MPIO-capable disk. Without `-F` a line is `status name parent` (`Enabled hdisk0 vscsi0`); with
 * `-F "name parent connection status"` it is those fields in that order, and the scan asks for
 * `-F "name path_id parent connection status"` (the path's number, unique per disk, which `chpath
 * -i` takes). The connection is the LUN id under a virtual SCSI adapter (`810000000000`) and
 * `<target port WWPN>,<LUN>` under a Fibre Channel one (`500507680b21ac1c,1000000000000`). Status
 * is `Enabled`, `Disabled` (by `chpath -s disable`), `Failed` (I/O errors made it unusable),
 * `Defined` (not configured into the driver), `Missing` (known from an earlier boot, not found in
 * this one) or `Detected` (found at boot, not configured); `Available` is what the `path_status`
 * field prints for a configured path.
 *
 * Each line says which form it is by its fields: three with the status first, four or five with
 * the status last (five when the second is a path number). Pure: text in, paths out.
 */

export type LspathPathReading = {
  device: string;
  parent: string;
  status: LspathStatus;
  /** Null when the output has no connection field (the default form). */
  connection: string | null;
  /** Null when the output has no path_id field. */
  pathId: number | null;
};

export type LspathReading = { paths: LspathPathReading[]; warnings: ProbeWarning[] };

/** The `-F` format the scan asks for. */
export const LSPATH_SCAN_FORMAT = 'name path_id parent connection status';

const CONNECTION = /^[0-9A-Za-z][0-9A-Za-z,:._-]{0,127}$/;
const HEADER = /^(?:status\s+name\s+parent|name\s+(?:path_id\s+)?parent\s+connection\s+status)\s*$/i;

/** A status word as lspath prints it, whatever its case (`enabled` in an older release's output). */
const statusOf = (word: string | undefined): LspathStatus | null => {
  const status = LspathStatus.options.find((known) => known.toLowerCase() === word?.toLowerCase());
  return status ?? null;
};

/** Reads `lspath`, with or without `-F`. Never throws. */
export const parseLspath = (text: string): LspathReading => {
  const log = new WarningLog();
  const paths: LspathPathReading[] = [];
  for (const line of toolLines(text)) {
    const raw = line.text;
    const trimmed = raw.trim();
    if (trimmed === '' || HEADER.test(trimmed)) continue;
    const path = readLine(trimmed.split(/\s+/));
    if (typeof path === 'string') {
      log.add(line.number, raw, path);
      continue;
    }
    paths.push(path);
  }
  return { paths, warnings: log.collect() };
};

const readLine = (fields: readonly string[]): LspathPathReading | string => {
  let path: LspathPathReading;
  const first = statusOf(fields[0]);
  const last = statusOf(fields[fields.length - 1]);
  if (fields.length === 3 && first !== null) {
    path = {
      device: fields[1] ?? '',
      parent: fields[2] ?? '',
      status: first,
      connection: null,
      pathId: null,
    };
  } else if (fields.length === 4 && last !== null) {
    path = {
      device: fields[0] ?? '',
      parent: fields[1] ?? '',
      status: last,
      connection: fields[2] ?? '',
      pathId: null,
    };
  } else if (fields.length === 5 && last !== null && toCount(fields[1]) !== null) {
    path = {
      device: fields[0] ?? '',
      parent: fields[2] ?? '',
      status: last,
      connection: fields[3] ?? '',
      pathId: toCount(fields[1]),
    };
  } else {
    return 'not an lspath line (status name parent, or name [path_id] parent connection status)';
  }
  if (!/^hdisk\d{1,5}$/.test(path.device) || !DiskName.safeParse(path.device).success)
    return `'${path.device}' is not an hdisk`;
  if (!AixAdapterName.safeParse(path.parent).success)
    return `${path.device}: '${path.parent}' is not an adapter`;
  if (path.connection !== null && !CONNECTION.test(path.connection))
    return `${path.device}: connection '${path.connection}' not understood`;
  return path;
};

/** Exactly the §6 `parse lspath` JSON. */
export const toLspathOutput = (reading: LspathReading): LspathOutput => ({
  paths: reading.paths.map((path) => ({
    device: path.device,
    parent: path.parent,
    status: path.status,
    ...(path.connection === null ? {} : { connection: path.connection }),
  })),
});

/**
 * A path's §3 state: `Enabled` carries I/O (active); `Failed` is failed; `Disabled`, `Defined` and
 * `Missing` carry none and will not until someone acts (offline); `Detected`, and `Available` (which
 * says the path is configured, not that I/O flows), are not known yet (pending).
 */
export const lspathPathState = (status: LspathStatus): PathState => {
  switch (status) {
    case 'Enabled':
      return 'active';
    case 'Failed':
      return 'failed';
    case 'Disabled':
    case 'Defined':
    case 'Missing':
      return 'offline';
    case 'Detected':
    case 'Available':
      return 'pending';
  }
};

/** The kind of an adapter by its name: `vscsi0` → `vscsi`, `fscsi1` → `fscsi`. */
export const adapterKind = (adapter: string): string => adapter.replace(/\d+$/, '');

/**
 * The transports that fill the `C` of {@link aixPathAddress}, so that two adapters of one number
 * (`vscsi0`, `fscsi0`) never give one address.
 */
export const AIX_PATH_TRANSPORT = { vscsi: 0, fscsi: 1, sas: 2, iscsi: 3, other: 9 } as const;

/**
 * The `H:C:T:L` a path is reported under. AIX names no SCSI host, channel or target: the contract's
 * paths are keyed by WWID and address (`probes/snapshot-diff.ts`), so an AIX path gets a stand-in
 * that is stable while the path exists: `<adapter number>:<transport>:<path id>:0` (`vscsi1`'s path
 * 0 is `1:0:0:0`, `fscsi0`'s path 1 is `0:1:1:0`), the path id being the disk's `path_id`, else the
 * path's place among the disk's paths as lspath lists them. Nothing acts on it: AIX agents run no
 * plan action (§2), and the actions that take an address are Linux's.
 */
export const aixPathAddress = (
  path: Pick<LspathPathReading, 'parent' | 'pathId'>,
  ordinal: number,
): string => {
  const instance = /(\d+)$/.exec(path.parent)?.[1] ?? '0';
  const kind = adapterKind(path.parent);
  const transport =
    Object.entries(AIX_PATH_TRANSPORT).find(([name]) => name === kind)?.[1] ?? AIX_PATH_TRANSPORT.other;
  return `${Number(instance)}:${transport}:${path.pathId ?? ordinal}:0`;
};

/**
 * The `adapters` section of the agent's topology overrides: the failure domain behind each AIX
 * client adapter (`{"vscsi0": "vscsi:<system>/vios1", "fscsi1": "vscsi:<system>/vios2"}`). An AIX
 * client cannot see which VIOS serves its virtual SCSI or NPIV adapter (only the VIOS's `lsmap`
 * and the HMC know), so an operator names it, as for an LDoms guest's disks.
 */
export type AdapterTopology = { adapters?: Readonly<Record<string, string>> | undefined };

/** The failure domain an override gives an adapter, or null. */
export const overriddenAdapterDomain = (
  topology: AdapterTopology | undefined,
  adapter: string,
): FailureDomain | null => {
  const adapters = topology?.adapters;
  if (adapters === undefined || !Object.hasOwn(adapters, adapter)) return null;
  return adapters[adapter] ?? null;
};

/**
 * The failure domain a path's own output names: the target port of a Fibre Channel path
 * (`fc:<wwpn>` from its connection `<wwpn>,<lun>`). A path through a VIOS (vSCSI, or NPIV whose
 * connection names the storage's port, not the VIOS) needs an adapter override to name its VIOS.
 */
export const connectionFailureDomain = (
  path: Pick<LspathPathReading, 'parent' | 'connection'>,
): FailureDomain | null => {
  if (adapterKind(path.parent) !== 'fscsi' || path.connection === null) return null;
  const [port] = path.connection.split(',');
  return port === undefined ? null : fcFailureDomain(port);
};
