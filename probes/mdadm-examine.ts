import {
  ArrayName,
  DeviceName,
  type ProbedPartition,
  RaidLevel,
  type SuperblockRole,
} from '../events/index.ts';
import { arrayNameOf, mdUuidOf, parseEvents } from './mdadm-detail.ts';
import { keyValue, type ProbeWarning, toCount, toolLines, WarningLog } from './tool-text.ts';

/**
 * `mdadm --examine` as mdadm(8) prints it (super0.c and super1.c): what a member's own superblock
 * says, read before a member is added back (docs/architecture.md §4 `disk.probe`, `md.add`): which array it
 * belongs to (UUID), its role, and its event count, so a stale half is never added over a newer one.
 * `mdadm: No md superblock detected on /dev/sdb3.` is a blank partition, not an error.
 */

export type MdSuperblock = {
  metadataVersion: string | null;
  /** `Array UUID` (1.x) or `UUID` (0.90). */
  uuid: string | null;
  /** The name in a 1.x superblock (`lpar17:0`), without `(local to host ...)`. */
  name: string | null;
  /** `Preferred Minor` of a 0.90 superblock: the array it was created as (`md<minor>`). */
  preferredMinor: number | null;
  level: string | null;
  raidDevices: number | null;
  events: number | null;
  role: SuperblockRole | null;
  /** The slot of an active or replacement member (`Active device 1`). */
  slot: number | null;
  /** True when the superblock carries an internal write-intent bitmap. */
  bitmap: boolean;
  /** The `Array State` string of 1.x (`AA`, `A.`), one character per slot. */
  arrayState: string | null;
};

/** One device of `mdadm --examine`; a blank one has no superblock, which `md.add` needs to know. */
export type ExaminedDevice = {
  /** The device without `/dev/`. */
  device: string;
  /** Null when mdadm found no superblock: the partition is blank. */
  superblock: MdSuperblock | null;
};

/** Every device of one `mdadm --examine` run. */
export type MdadmExamineReading = {
  devices: ExaminedDevice[];
  messages: string[];
  warnings: ProbeWarning[];
};

const HEADER = /^\/dev\/(\S+):\s*$/;
const NO_SUPERBLOCK = /^mdadm: No md superblock detected on \/dev\/(\S+?)\.?\s*$/;
const THIS_ROW = /^this\s+\d{1,6}\s+\d{1,6}\s+\d{1,9}\s+(\d{1,6}|-)\s+(.*)$/;

/** Reads the output of `mdadm --examine` of one or more devices. Never throws. */
export const parseMdadmExamine = (text: string): MdadmExamineReading => {
  const log = new WarningLog();
  const devices: ExaminedDevice[] = [];
  const messages: string[] = [];
  let current: MdSuperblock | null = null;

  for (const line of toolLines(text)) {
    const raw = line.text;
    if (raw.trim() === '') continue;
    const blank = NO_SUPERBLOCK.exec(raw);
    if (blank !== null) {
      current = null;
      const device = blank[1] ?? '';
      if (DeviceName.safeParse(device).success) devices.push({ device, superblock: null });
      else log.add(line.number, raw, 'device is not a canonical name');
      continue;
    }
    if (/^mdadm:/.test(raw)) {
      messages.push(raw.trim());
      continue;
    }
    const header = HEADER.exec(raw);
    if (header !== null) {
      const device = header[1] ?? '';
      if (!DeviceName.safeParse(device).success) {
        log.add(line.number, raw, 'device is not a canonical name');
        current = null;
        continue;
      }
      current = emptySuperblock();
      devices.push({ device, superblock: current });
      continue;
    }
    if (current === null) continue;
    const thisRow = THIS_ROW.exec(raw);
    if (thisRow !== null) {
      readThisRow(current, thisRow[1] ?? '-', thisRow[2] ?? '');
      continue;
    }
    const field = keyValue(raw);
    if (field !== null) readField(current, field.key, field.value, line.number, raw, log);
  }
  return { devices, messages, warnings: log.collect() };
};

const emptySuperblock = (): MdSuperblock => ({
  metadataVersion: null,
  uuid: null,
  name: null,
  preferredMinor: null,
  level: null,
  raidDevices: null,
  events: null,
  role: null,
  slot: null,
  bitmap: false,
  arrayState: null,
});

const readField = (
  superblock: MdSuperblock,
  key: string,
  value: string,
  lineNumber: number,
  raw: string,
  log: WarningLog,
): void => {
  switch (key) {
    case 'Version':
      superblock.metadataVersion = value || null;
      return;
    case 'Array UUID':
    case 'UUID': {
      const uuid = mdUuidOf(value);
      if (uuid !== null) superblock.uuid = uuid;
      else log.add(lineNumber, raw, 'UUID is not an md UUID');
      return;
    }
    case 'Name':
      superblock.name = arrayNameOf(value);
      return;
    case 'Preferred Minor':
      superblock.preferredMinor = toCount(value);
      return;
    case 'Raid Level':
      superblock.level = RaidLevel.safeParse(value).success ? value : null;
      return;
    case 'Raid Devices':
      superblock.raidDevices = toCount(value);
      return;
    case 'Events': {
      superblock.events = parseEvents(value);
      if (superblock.events === null) log.add(lineNumber, raw, 'event count not understood');
      return;
    }
    case 'Internal Bitmap':
      superblock.bitmap = true;
      return;
    case 'Device Role':
      readDeviceRole(superblock, value);
      return;
    case 'Array State':
      superblock.arrayState = /^([AR.?]+)/.exec(value)?.[1] ?? null;
      return;
    default:
      return;
  }
};

/** `Active device 1`, `Replacement device 1`, `spare` (1.x prints a faulty member as spare too). */
const readDeviceRole = (superblock: MdSuperblock, value: string): void => {
  const active = /^Active device (\d+)$/i.exec(value);
  const replacement = /^Replacement device (\d+)$/i.exec(value);
  if (active !== null) {
    superblock.role = 'active';
    superblock.slot = toCount(active[1]);
  } else if (replacement !== null) {
    superblock.role = 'replacement';
    superblock.slot = toCount(replacement[1]);
  } else if (/^spare$/i.test(value)) {
    superblock.role = 'spare';
  }
};

/** The `this` row of a 0.90 superblock: `this 1 8 17 1 active sync /dev/sdb1`. */
const readThisRow = (superblock: MdSuperblock, raidDevice: string, states: string): void => {
  const words = states
    .trim()
    .split(/\s+/)
    .filter((word) => !word.startsWith('/dev/'));
  if (words.includes('faulty')) superblock.role = 'faulty';
  else if (words.includes('active')) superblock.role = 'active';
  else if (words.includes('spare')) superblock.role = 'spare';
  superblock.slot = raidDevice === '-' ? null : toCount(raidDevice);
};

/**
 * A `disk.probed` partition (docs/architecture.md §3) from what `mdadm --examine` read. The array is named
 * only when it is certain: the running array with the superblock's UUID, or for a 0.90 superblock
 * its preferred minor; a 1.x superblock's name is a preference, not the kernel's name.
 */
export const toProbedPartition = (
  examined: ExaminedDevice,
  arrayByUuid: ReadonlyMap<string, ArrayName>,
): ProbedPartition => {
  const superblock = examined.superblock;
  if (superblock === null) return { device: examined.device };
  const running = superblock.uuid === null ? undefined : arrayByUuid.get(superblock.uuid);
  const preferred = superblock.preferredMinor === null ? undefined : `md${superblock.preferredMinor}`;
  const array = running ?? (ArrayName.safeParse(preferred).success ? preferred : undefined);
  return {
    device: examined.device,
    ...(array === undefined ? {} : { array }),
    ...(superblock.uuid === null ? {} : { uuid: superblock.uuid }),
    ...(superblock.role === null ? {} : { role: superblock.role }),
    ...(superblock.events === null ? {} : { events: superblock.events }),
  };
};
