import { LogicalVolumeName, VolumeGroupName } from '../events/index.ts';
import { type ProbeWarning, toCount, toolLines, WarningLog } from './tool-text.ts';

/**
 * AIX's `lspv` as the AIX Commands Reference documents it:
 *
 * - `lspv`: one line per physical volume, `hdisk0  00f6db0a6c7aece5  rootvg  active`: its name,
 *   its physical volume identifier (PVID, 16 hex digits, or `none` before it has one), its volume
 *   group (`None` when it belongs to none) and, when the group is varied on, `active` (or
 *   `concurrent` for a concurrent-capable group);
 * - `lspv -l <pv>`: a `hdisk0:` line, the header `LV NAME LPs PPs DISTRIBUTION MOUNT POINT`, then
 *   one row per logical volume with partitions on that disk: which disks hold a mirrored LV's
 *   copies.
 *
 * Pure: text in, readings out; unreadable lines (`0516-320 ... is not assigned to a volume group`)
 * become warnings.
 */

export type PhysicalVolumeListing = {
  disk: string;
  /** Null for `none`. */
  pvid: string | null;
  /** Null for `None`. */
  volumeGroup: string | null;
  /** `active`, `concurrent`, or null when the group is not varied on. */
  state: string | null;
};

export type LspvReading = { physicalVolumes: PhysicalVolumeListing[]; warnings: ProbeWarning[] };

/** A row of `lspv -l <pv>`. */
export type PhysicalVolumeLogicalVolume = {
  name: string;
  logicalPartitions: number;
  physicalPartitions: number;
  /** Null for `N/A`. */
  mountPoint: string | null;
};

export type LspvLogicalReading = {
  /** The disk named on the `hdisk0:` line, null when the output has none (an error message). */
  disk: string | null;
  logicalVolumes: PhysicalVolumeLogicalVolume[];
  warnings: ProbeWarning[];
};

const HDISK = /^hdisk\d{1,5}$/;
const PVID = /^[0-9a-f]{16}$/;
const LSPV_ROW = /^(\S+)\s+(\S+)\s+(\S+)(?:\s+(\S+))?\s*$/;
const PV_HEADER = /^(hdisk\d{1,5}):\s*$/;
const LV_COLUMNS = /^LV NAME\s+LPs\s+PPs\s+DISTRIBUTION\s+MOUNT POINT\s*$/;
const LV_ROW = /^(\S+)\s+(\d{1,9})\s+(\d{1,9})\s+(\S+)\s+(\S.*?)\s*$/;

/** Reads `lspv`. Never throws. */
export const parseLspv = (text: string): LspvReading => {
  const log = new WarningLog();
  const physicalVolumes: PhysicalVolumeListing[] = [];
  for (const line of toolLines(text)) {
    const raw = line.text;
    if (raw.trim() === '') continue;
    const row = LSPV_ROW.exec(raw.trim());
    const disk = row?.[1] ?? '';
    const pvid = row?.[2] ?? '';
    const volumeGroup = row?.[3] ?? '';
    if (row === null || !HDISK.test(disk) || (pvid !== 'none' && !PVID.test(pvid))) {
      log.add(line.number, raw, 'not an lspv line');
      continue;
    }
    if (volumeGroup !== 'None' && !VolumeGroupName.safeParse(volumeGroup).success) {
      log.add(line.number, raw, `${disk}: '${volumeGroup}' is not a volume group name`);
      continue;
    }
    physicalVolumes.push({
      disk,
      pvid: pvid === 'none' ? null : pvid,
      volumeGroup: volumeGroup === 'None' ? null : volumeGroup,
      state: row[4] ?? null,
    });
  }
  return { physicalVolumes, warnings: log.collect() };
};

/** Reads `lspv -l <pv>`. Never throws. */
export const parseLspvLogicalVolumes = (text: string): LspvLogicalReading => {
  const log = new WarningLog();
  const logicalVolumes: PhysicalVolumeLogicalVolume[] = [];
  let disk: string | null = null;
  for (const line of toolLines(text)) {
    const raw = line.text;
    const trimmed = raw.trim();
    if (trimmed === '' || LV_COLUMNS.test(trimmed)) continue;
    const header = PV_HEADER.exec(trimmed);
    if (header !== null && disk !== null) {
      log.add(line.number, raw, 'a second physical volume; lspv -l lists one, the rest is not read');
      break;
    }
    if (header !== null) {
      disk = header[1] ?? null;
      continue;
    }
    const row = LV_ROW.exec(trimmed);
    if (row === null || disk === null || !LogicalVolumeName.safeParse(row[1]).success) {
      log.add(line.number, raw, disk === null ? 'no physical volume line before it' : 'not an lspv -l row');
      continue;
    }
    const mountPoint = row[5] ?? 'N/A';
    logicalVolumes.push({
      name: row[1] ?? '',
      logicalPartitions: toCount(row[2]) ?? 0,
      physicalPartitions: toCount(row[3]) ?? 0,
      mountPoint: mountPoint === 'N/A' ? null : mountPoint,
    });
  }
  return { disk, logicalVolumes, warnings: log.collect() };
};
