import { ArrayName, DeviceName, MdUuid, RaidLevel } from '../events/index.ts';
import { keyValue, type ProbeWarning, toCount, toNumber, toolLines, WarningLog } from './tool-text.ts';

/**
 * `mdadm --detail` as mdadm(8) prints it (Detail.c): the array's UUID, event count, bitmap and the
 * device table whose `RaidDevice` column is the slot and whose `Number` is the descriptor number.
 * Several arrays may follow each other (`mdadm -D /dev/md*`, as a sosreport captures it); each
 * starts with its `/dev/<name>:` line.
 */

/** How the array keeps its write-intent bitmap (`Intent Bitmap :` or the consistency policy). */
export type MdBitmap = 'internal' | 'file' | 'none';

/** One row of the device table. */
export type MdadmDeviceRow = {
  /** The descriptor number (`Number`); null for a `removed` slot printed as `-`. */
  number: number | null;
  /** The slot (`RaidDevice`); null for a faulty or spare member printed as `-`. */
  raidDevice: number | null;
  /** The state words as printed: `active sync`, `spare rebuilding`, `faulty`, `removed`, `set-A`. */
  states: string[];
  /** The member device without `/dev/`; null for a removed slot or a name that is not canonical. */
  device: string | null;
};

/** One array of `mdadm --detail`: what mdstat does not say (UUID, events, bitmap kind, slots). */
export type MdadmDetail = {
  /** The kernel's name (`md0`) when the header is `/dev/md0:`; null for `/dev/md/<name>:`. */
  array: string | null;
  /** The header path as printed. */
  path: string;
  level: string | null;
  metadataVersion: string | null;
  raidDevices: number | null;
  /** The comma-separated words of `State :` (`clean`, `degraded`, `recovering`, `FAILED`, ...). */
  state: string[];
  uuid: string | null;
  /** The array name from the superblock (`lpar17:0`), without the `(local to host ...)` remark. */
  name: string | null;
  events: number | null;
  bitmap: MdBitmap;
  /** Percent of a running rebuild, resync, check or reshape (`Rebuild Status : 42% complete`). */
  syncPercent: number | null;
  /** For a member of an external-metadata container (`Container : /dev/md/imsm0, member 0`). */
  container: string | null;
  devices: MdadmDeviceRow[];
};

/** Every array of one capture, with mdadm's own messages and the lines that could not be read. */
export type MdadmDetailReading = {
  arrays: MdadmDetail[];
  /** mdadm's own messages (`mdadm: cannot open /dev/md9: ...`), kept apart from garbled lines. */
  messages: string[];
  warnings: ProbeWarning[];
};

const HEADER = /^(\/dev\/\S+):\s*$/;
const ROW = /^\s+(\d{1,6}|-)\s+(\d{1,6})\s+(\d{1,9})\s+(\d{1,6}|-)\s+(\S.*)$/;
const TABLE_HEADER = /^\s*Number\s+Major\s+Minor\s+RaidDevice\s+State\s*$/;

/** Reads one or more `mdadm --detail` outputs. Never throws. */
export const parseMdadmDetail = (text: string): MdadmDetailReading => {
  const log = new WarningLog();
  const arrays: MdadmDetail[] = [];
  const messages: string[] = [];
  let current: MdadmDetail | null = null;
  let inTable = false;

  for (const line of toolLines(text)) {
    const raw = line.text;
    if (raw.trim() === '') continue;
    if (/^mdadm:/.test(raw)) {
      messages.push(raw.trim());
      continue;
    }
    const header = HEADER.exec(raw);
    if (header !== null) {
      current = emptyDetail(header[1] ?? '');
      arrays.push(current);
      inTable = false;
      continue;
    }
    if (current === null) {
      log.add(line.number, raw, 'line before any /dev/<array>: header');
      continue;
    }
    if (TABLE_HEADER.test(raw)) {
      inTable = true;
      continue;
    }
    if (inTable) {
      const row = readRow(raw);
      if (typeof row === 'string') log.add(line.number, raw, row);
      else current.devices.push(row);
      continue;
    }
    const field = keyValue(raw);
    if (field === null) {
      log.add(line.number, raw, 'not a field of mdadm --detail');
      continue;
    }
    readField(current, field.key, field.value, line.number, raw, log);
  }
  return { arrays, messages, warnings: log.collect() };
};

const emptyDetail = (path: string): MdadmDetail => {
  const kernelName = /^\/dev\/([^/]+)$/.exec(path)?.[1];
  return {
    array: kernelName !== undefined && ArrayName.safeParse(kernelName).success ? kernelName : null,
    path,
    level: null,
    metadataVersion: null,
    raidDevices: null,
    state: [],
    uuid: null,
    name: null,
    events: null,
    bitmap: 'none',
    syncPercent: null,
    container: null,
    devices: [],
  };
};

const readField = (
  detail: MdadmDetail,
  key: string,
  value: string,
  lineNumber: number,
  raw: string,
  log: WarningLog,
): void => {
  switch (key) {
    case 'Raid Level':
      detail.level = RaidLevel.safeParse(value).success ? value : null;
      return;
    case 'Version':
      detail.metadataVersion = value || null;
      return;
    case 'Raid Devices':
      detail.raidDevices = toCount(value);
      return;
    case 'State':
      detail.state = value
        .split(',')
        .map((word) => word.trim())
        .filter(Boolean);
      return;
    case 'UUID': {
      const uuid = mdUuidOf(value);
      if (uuid !== null) detail.uuid = uuid;
      else log.add(lineNumber, raw, 'UUID is not an md UUID');
      return;
    }
    case 'Name':
      detail.name = arrayNameOf(value);
      return;
    case 'Events': {
      const events = parseEvents(value);
      if (events === null) log.add(lineNumber, raw, 'event count not understood');
      detail.events = events;
      return;
    }
    case 'Intent Bitmap':
      detail.bitmap = /^internal$/i.test(value) ? 'internal' : value.startsWith('/') ? 'file' : detail.bitmap;
      return;
    case 'Consistency Policy':
      if (value === 'bitmap' && detail.bitmap === 'none') detail.bitmap = 'internal';
      return;
    case 'Rebuild Status':
    case 'Resync Status':
    case 'Check Status':
    case 'Reshape Status': {
      const percent = toNumber(/^(\d{1,3}(?:\.\d+)?)%/.exec(value)?.[1]);
      detail.syncPercent = percent !== null && percent <= 100 ? percent : null;
      return;
    }
    case 'Container':
      detail.container = value.split(',')[0]?.trim() || null;
      return;
    default:
      return;
  }
};

/** The md UUID a `UUID :` line starts with (`--detail` and `--examine` alike), or null. */
export const mdUuidOf = (value: string): MdUuid | null => {
  const uuid = value.split(/\s+/)[0] ?? '';
  return MdUuid.safeParse(uuid).success ? uuid : null;
};

/** The array's name from a `Name :` line, without mdadm's `(local to host …)`; null when empty. */
export const arrayNameOf = (value: string): string | null =>
  value.replace(/\s*\(local to host [^)]*\)\s*$/, '') || null;

/**
 * The event count: `1842`, or `0.92` as mdadm prints a 0.90 superblock's high and low words.
 * Null when it is neither.
 */
export const parseEvents = (value: string): number | null => {
  const match = /^(\d{1,10})(?:\.(\d{1,10}))?$/.exec(value.trim());
  if (match === null) return null;
  const high = Number(match[1]);
  if (match[2] === undefined) return Number.isSafeInteger(high) ? high : null;
  const events = high * 2 ** 32 + Number(match[2]);
  return Number.isSafeInteger(events) ? events : null;
};

const readRow = (raw: string): MdadmDeviceRow | string => {
  const match = ROW.exec(raw);
  if (match === null) return 'not a row of the device table';
  const words = (match[5] ?? '').trim().split(/\s+/);
  const last = words[words.length - 1] ?? '';
  let device: string | null = null;
  if (last.startsWith('/dev/')) {
    words.pop();
    const name = last.slice('/dev/'.length);
    if (!DeviceName.safeParse(name).success) return `member ${last} is not a canonical device name`;
    device = name;
  }
  return {
    number: match[1] === '-' ? null : toCount(match[1]),
    raidDevice: match[4] === '-' ? null : toCount(match[4]),
    states: words.filter(Boolean),
    device,
  };
};
