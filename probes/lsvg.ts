import { LogicalVolumeName, type LsvgOutput, VolumeGroupName } from '../events/index.ts';
import { type ProbeWarning, toCount, toolLines, WarningLog } from './tool-text.ts';

/**
 * AIX LVM's `lsvg` as the AIX Commands Reference documents it:
 *
 * - `lsvg -o`: the names of the varied-on (active) volume groups, one a line;
 * - `lsvg -l <vg>...`: per volume group a `rootvg:` line, the header `LV NAME TYPE LPs PPs PVs
 *   LV STATE MOUNT POINT`, then one row per logical volume. PPs is LPs times the number of copies
 *   (a mirrored LV of 8 LPs with two copies holds 16 PPs); LV STATE is `open` or `closed`, then
 *   `/syncd`, or `/stale` while some of its physical partitions are stale (a copy missed writes:
 *   its disk went missing, until `syncvg` brings it back in step);
 * - `lsvg -p <vg>...`: per volume group a `rootvg:` line, the header `PV_NAME PV STATE TOTAL PPs
 *   FREE PPs FREE DISTRIBUTION`, then one row per physical volume, PV STATE `active`, `missing`
 *   (LVM lost it: its copies go stale) or `removed` (`chpv -vr`).
 *
 * Pure: text in, readings out; lines it cannot read (an LVM message such as `0516-010 ... must be
 * varied on`) become warnings. `lsvg -l` tells whether an LV has stale partitions, not how many:
 * `stalePartitions` is 0 for a `syncd` LV and null for a `stale` one (`lslv <lv>` counts them in
 * its `STALE PPs:` field; the scan needs only which copies are stale, which `lsvg -p` tells).
 */

/** A logical volume row of `lsvg -l`. */
export type LogicalVolumeReading = {
  name: string;
  /** The TYPE column: `jfs2`, `jfs2log`, `paging`, `boot`, `sysdump`, `raw`... */
  type: string;
  logicalPartitions: number;
  physicalPartitions: number;
  /** How many physical volumes it spans (the PVs column). */
  physicalVolumes: number;
  /** PPs ÷ LPs: 1 for an unmirrored LV, 2 or 3 for a mirrored one. */
  copies: number;
  /** The LV STATE column as printed: `open/syncd`, `closed/stale`. */
  state: string;
  open: boolean;
  stale: boolean;
  /** 0 when `syncd`; null when `stale` (lsvg -l does not count them). */
  stalePartitions: number | null;
  /** Null for `N/A` (paging, boot, dump and log LVs). */
  mountPoint: string | null;
};

export type VolumeGroupLogicalVolumes = { name: string; logicalVolumes: LogicalVolumeReading[] };
export type LsvgLogicalReading = { volumeGroups: VolumeGroupLogicalVolumes[]; warnings: ProbeWarning[] };

const PHYSICAL_VOLUME_STATES = ['active', 'missing', 'removed'] as const;
/** A physical volume's state in `lsvg -p`. */
export type PhysicalVolumeState = (typeof PHYSICAL_VOLUME_STATES)[number];

/** A physical volume row of `lsvg -p`. */
export type PhysicalVolumeReading = {
  disk: string;
  state: PhysicalVolumeState;
  totalPartitions: number;
  freePartitions: number;
};

export type VolumeGroupPhysicalVolumes = { name: string; physicalVolumes: PhysicalVolumeReading[] };
export type LsvgPhysicalReading = { volumeGroups: VolumeGroupPhysicalVolumes[]; warnings: ProbeWarning[] };

export type LsvgActiveReading = { volumeGroups: string[]; warnings: ProbeWarning[] };

/** The most copies AIX LVM keeps of a logical partition. */
export const MAX_LV_COPIES = 3;

const VG_HEADER = /^(\S+):\s*$/;
const LV_COLUMNS = /^LV NAME\s+TYPE\s+LPs\s+PPs\s+PVs\s+LV STATE\s+MOUNT POINT\s*$/;
const LV_ROW = /^(\S+)\s+(\S+)\s+(\d{1,9})\s+(\d{1,9})\s+(\d{1,4})\s+(\S+)\s+(\S.*?)\s*$/;
const LV_STATE = /^(open|closed)\/(syncd|stale)$/;
const PV_COLUMNS = /^PV_NAME\s+PV STATE\s+TOTAL PPs\s+FREE PPs\s+FREE DISTRIBUTION\s*$/;
const PV_ROW = /^(\S+)\s+(active|missing|removed)\s+(\d{1,9})\s+(\d{1,9})\s+(\S+)\s*$/;
const HDISK = /^hdisk\d{1,5}$/;

/** Reads `lsvg -o`: the active volume groups. Never throws. */
export const parseLsvgActive = (text: string): LsvgActiveReading => {
  const log = new WarningLog();
  const volumeGroups: string[] = [];
  for (const line of toolLines(text)) {
    const name = line.text.trim();
    if (name === '') continue;
    if (VolumeGroupName.safeParse(name).success && !volumeGroups.includes(name)) volumeGroups.push(name);
    else log.add(line.number, line.text, 'not a volume group name');
  }
  return { volumeGroups, warnings: log.collect() };
};

/** Reads `lsvg -l <vg>...`. Never throws. */
export const parseLsvgLogicalVolumes = (text: string): LsvgLogicalReading => {
  const log = new WarningLog();
  const volumeGroups: VolumeGroupLogicalVolumes[] = [];
  let current: VolumeGroupLogicalVolumes | null = null;
  for (const line of toolLines(text)) {
    const raw = line.text;
    if (raw.trim() === '' || LV_COLUMNS.test(raw.trim())) continue;
    const header = VG_HEADER.exec(raw.trim());
    if (header !== null && VolumeGroupName.safeParse(header[1]).success) {
      current = { name: header[1] ?? '', logicalVolumes: [] };
      volumeGroups.push(current);
      continue;
    }
    const row = LV_ROW.exec(raw.trim());
    if (row === null || current === null) {
      log.add(line.number, raw, current === null ? 'no volume group line before it' : 'not an lsvg -l row');
      continue;
    }
    const reading = logicalVolume(row, current.name, line.number, raw, log);
    if (reading !== null) current.logicalVolumes.push(reading);
  }
  return { volumeGroups, warnings: log.collect() };
};

const logicalVolume = (
  row: RegExpExecArray,
  volumeGroup: string,
  lineNumber: number,
  raw: string,
  log: WarningLog,
): LogicalVolumeReading | null => {
  const name = row[1] ?? '';
  const logicalPartitions = toCount(row[3]) ?? 0;
  const physicalPartitions = toCount(row[4]) ?? 0;
  const state = LV_STATE.exec(row[6] ?? '');
  if (!LogicalVolumeName.safeParse(name).success) {
    log.add(lineNumber, raw, `${volumeGroup}: '${name}' is not a logical volume name`);
    return null;
  }
  if (state === null) {
    log.add(lineNumber, raw, `${volumeGroup}: ${name}: LV STATE '${row[6]}' not understood`);
    return null;
  }
  const copies = logicalPartitions === 0 ? 0 : physicalPartitions / logicalPartitions;
  if (!Number.isInteger(copies) || copies < 1 || copies > MAX_LV_COPIES) {
    log.add(
      lineNumber,
      raw,
      `${volumeGroup}: ${name}: ${physicalPartitions} PPs for ${logicalPartitions} LPs is not 1 to ${MAX_LV_COPIES} whole copies`,
    );
    return null;
  }
  const stale = state[2] === 'stale';
  const mountPoint = row[7] ?? 'N/A';
  return {
    name,
    type: row[2] ?? '',
    logicalPartitions,
    physicalPartitions,
    physicalVolumes: toCount(row[5]) ?? 0,
    copies,
    state: row[6] ?? '',
    open: state[1] === 'open',
    stale,
    stalePartitions: stale ? null : 0,
    mountPoint: mountPoint === 'N/A' ? null : mountPoint,
  };
};

/** Exactly the §6 `parse lsvg` JSON. */
export const toLsvgOutput = (reading: LsvgLogicalReading): LsvgOutput => ({
  volumeGroups: reading.volumeGroups.map((group) => ({
    name: group.name,
    logicalVolumes: group.logicalVolumes.map((volume) => ({
      name: volume.name,
      copies: volume.copies,
      stalePartitions: volume.stalePartitions,
      state: volume.state,
    })),
  })),
});

/** Reads `lsvg -p <vg>...`. Never throws. */
export const parseLsvgPhysicalVolumes = (text: string): LsvgPhysicalReading => {
  const log = new WarningLog();
  const volumeGroups: VolumeGroupPhysicalVolumes[] = [];
  let current: VolumeGroupPhysicalVolumes | null = null;
  for (const line of toolLines(text)) {
    const raw = line.text;
    if (raw.trim() === '' || PV_COLUMNS.test(raw.trim())) continue;
    const header = VG_HEADER.exec(raw.trim());
    if (header !== null && VolumeGroupName.safeParse(header[1]).success) {
      current = { name: header[1] ?? '', physicalVolumes: [] };
      volumeGroups.push(current);
      continue;
    }
    const row = PV_ROW.exec(raw.trim());
    const state = PHYSICAL_VOLUME_STATES.find((known) => known === row?.[2]);
    if (row === null || current === null || state === undefined || !HDISK.test(row[1] ?? '')) {
      log.add(line.number, raw, current === null ? 'no volume group line before it' : 'not an lsvg -p row');
      continue;
    }
    current.physicalVolumes.push({
      disk: row[1] ?? '',
      state,
      totalPartitions: toCount(row[3]) ?? 0,
      freePartitions: toCount(row[4]) ?? 0,
    });
  }
  return { volumeGroups, warnings: log.collect() };
};
