import {
  DiskName,
  Hctl,
  MapName,
  type MultipathDmState,
  MultipathMap,
  type MultipathOutput,
  type MultipathPath,
  MultipathPathState,
  Wwid,
} from '../events/index.ts';
import { type ProbeWarning, toolLines, WarningLog } from './tool-text.ts';

/**
 * `multipath -ll` as multipath-tools prints it (libmultipath/print.c): the modern tree layout
 * (`size=.. features='..' hwhandler='..' wp=rw`, `|-+- policy=.. prio=.. status=..`,
 * `` `- 1:0:0:0 sda 8:0 active ready running``) and the older bracket layout of 0.4.x
 * (`[size=..][features=..][hwhandler=..]`, `\_ round-robin 0 [prio=4][active]`,
 * ` \_ 0:0:0:1 sda 8:0 [active][ready]`). A map is named by its alias with the WWID in
 * parentheses, or by its WWID alone. Orphan paths print as `#:#:#:# - #:#`. Diagnostics multipath
 * writes to stderr (`Nov 22 03:10:11 | sdc: couldn't get ...`) often end up in the same capture;
 * they are kept as messages, not mistaken for maps.
 */

/** A path group as printed on its `policy=` (or `\_ selector [prio=..]`) line. */
export type MultipathGroup = {
  policy: string;
  priority: number | null;
  /** `active`, `enabled`, `disabled` or `undef`. */
  status: string;
};

/** A path as §6 prints it, with its dev_t and path group kept for the scan and for people. */
export type MultipathPathReading = MultipathPath & {
  /** `major:minor`, null for an orphan. */
  devT: string | null;
  /** Index into the map's `groups`; -1 when the path came before any group line. */
  group: number;
};

/** A map as §6 prints it, with the properties and path groups multipath shows beside it. */
export type MultipathMapReading = Omit<MultipathMap, 'paths'> & {
  /** The dm device (`dm-0`) when printed. */
  sysfsName: string | null;
  /** True when the map is named by an alias, false when by its WWID. */
  aliased: boolean;
  size: string | null;
  features: string | null;
  hwhandler: string | null;
  groups: MultipathGroup[];
  paths: MultipathPathReading[];
};

/** Everything read from one `multipath -ll`. */
export type MultipathReading = {
  maps: MultipathMapReading[];
  /** multipath's own diagnostics found among the lines. */
  messages: string[];
  warnings: ProbeWarning[];
};

const ACTIONS = 'create|reload|switchpg|rename|reject|remove|unchanged|undef';
const MAP_HEADER = new RegExp(
  `^(?:(?:${ACTIONS}):\\s+)?([^\\s()|\`\\\\[]+)(?:\\s+\\(([^()\\s]+)\\))?(?:\\s+(dm-\\d{1,6}|undef))?(?:\\s+(\\S.*))?$`,
);
const SIZE_MODERN = /^size=(\S+)\s+features='([^']*)'\s+hwhandler='([^']*)'/;
const SIZE_OLD = /^\[size=([^\]]*)\]\[features=([^\]]*)\]\[hwhandler=([^\]]*)\]/;
const GROUP_MODERN = /^[\s|`]*[|`]-\+-\s+policy='([^']*)'\s+prio=(-?\d{1,9})\s+status=(\S+)/;
const TREE_PREFIX = /^[\s|`\-+\\_]+/;
const HCTL = String.raw`(\d{1,5}:\d{1,5}:\d{1,5}:\d{1,20}|#:#:#:#)`;
const PATH_MODERN = new RegExp(
  String.raw`^${HCTL}\s+(\S+)\s+(\d{1,5}:\d{1,9}|#:#)\s+(\S+)\s+(i/o pending|i/o timeout|\S+)(?:\s+(\S+))?(?:\s+.*)?$`,
);
const PATH_OLD = new RegExp(
  String.raw`^${HCTL}\s+(\S+)\s+(\d{1,5}:\d{1,9}|#:#)\s+\[\s*([^\]]*?)\s*\]\[\s*([^\]]*?)\s*\](?:\[\s*([^\]]*?)\s*\])?`,
);
const TIMESTAMPED_MESSAGE = /^[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}(?:\.\d+)?\s*\|/;
const PREFIXED_MESSAGE = /^[\w.:-]+:\s/;

const UNKNOWN_STATE = 'undef';

/** Reads `multipath -ll` output. Never throws. */
export const parseMultipath = (text: string): MultipathReading => {
  const log = new WarningLog();
  const maps: MultipathMapReading[] = [];
  const messages: string[] = [];
  let current: MultipathMapReading | null = null;
  let skipping = false;

  for (const line of toolLines(text)) {
    const raw = line.text;
    if (raw.trim() === '') continue;
    if (TIMESTAMPED_MESSAGE.test(raw)) {
      messages.push(raw.trim());
      continue;
    }
    const indented = /^[\s|`\\]/.test(raw);
    if (!indented) {
      const size = SIZE_MODERN.exec(raw) ?? SIZE_OLD.exec(raw);
      if (size !== null) {
        if (current !== null) {
          current.size = size[1] ?? null;
          current.features = stripQuotes(size[2] ?? '');
          current.hwhandler = stripQuotes(size[3] ?? '');
          current.queueIfNoPath = /\bqueue_if_no_path\b/.test(current.features);
        } else if (!skipping) {
          log.add(line.number, raw, 'map properties outside any map');
        }
        continue;
      }
      const header = readMapHeader(raw);
      if (header !== null) {
        if (typeof header === 'string') {
          log.add(line.number, raw, header);
          current = null;
          skipping = true;
        } else {
          maps.push(header);
          current = header;
          skipping = false;
        }
        continue;
      }
      if (PREFIXED_MESSAGE.test(raw)) {
        messages.push(raw.trim());
        continue;
      }
      log.add(line.number, raw, 'not a multipath -ll line');
      continue;
    }
    if (current === null) {
      if (!skipping) log.add(line.number, raw, 'path or group line outside any map');
      continue;
    }
    readIndentedLine(current, line.number, raw, log);
  }
  return { maps: maps.filter((map) => keepMap(map, log)), messages, warnings: log.collect() };
};

const stripQuotes = (text: string): string => text.replace(/^"(.*)"$/, '$1').trim();

/** A map header, null when the line is not one, or why it cannot be used. */
const readMapHeader = (raw: string): MultipathMapReading | string | null => {
  const match = MAP_HEADER.exec(raw);
  if (match === null) return null;
  const [, first = '', inParentheses, sysfsName, vendorProductText] = match;
  const vendorProduct = vendorProductText?.trim();
  if (inParentheses === undefined && sysfsName === undefined) return null;
  const wwid = inParentheses ?? first;
  if (!MapName.safeParse(first).success) return `map name '${first}' is not a multipath map name`;
  if (!Wwid.safeParse(wwid).success) return `'${wwid}' is not a WWID`;
  const [vendor = '', ...product] = (vendorProduct ?? '').split(',');
  return {
    name: first,
    wwid,
    vendor: vendor.trim().slice(0, 64),
    product: product.join(',').trim().slice(0, 64),
    queueIfNoPath: false,
    paths: [],
    sysfsName: sysfsName === undefined || sysfsName === 'undef' ? null : sysfsName,
    aliased: inParentheses !== undefined,
    size: null,
    features: null,
    hwhandler: null,
    groups: [],
  };
};

const readIndentedLine = (
  map: MultipathMapReading,
  lineNumber: number,
  raw: string,
  log: WarningLog,
): void => {
  const group = GROUP_MODERN.exec(raw);
  if (group !== null) {
    map.groups.push({
      policy: group[1] ?? '',
      priority: Number(group[2]),
      status: group[3] ?? UNKNOWN_STATE,
    });
    return;
  }
  const body = raw.replace(TREE_PREFIX, '');
  const fields = PATH_MODERN.exec(body) ?? PATH_OLD.exec(body);
  if (fields !== null) {
    const path = readPath(map, fields, lineNumber, raw, log);
    if (path !== null) map.paths.push(path);
    return;
  }
  const oldGroup = readOldGroup(raw);
  if (oldGroup !== null) {
    const brackets = [...oldGroup.brackets.matchAll(/\[([^\]]*)\]/g)].map((item) => (item[1] ?? '').trim());
    const priority = brackets.map((item) => /^prio=(-?\d{1,9})$/.exec(item)?.[1]).find(Boolean);
    const status = brackets.find((item) => /^(?:active|enabled|disabled|undef)$/.test(item));
    map.groups.push({
      policy: oldGroup.policy,
      priority: priority === undefined ? null : Number(priority),
      status: status ?? UNKNOWN_STATE,
    });
    return;
  }
  log.add(lineNumber, raw, `${map.name}: line not understood`);
};

/**
 * An old-layout group line, `\_ round-robin 0 [prio=4][active]`: the selector, then brackets. Cut
 * by hand at the first bracket so a long line costs one pass.
 */
const readOldGroup = (raw: string): { policy: string; brackets: string } | null => {
  const body = raw.trimStart();
  if (!body.startsWith('\\_')) return null;
  const bracket = body.indexOf('[');
  if (bracket < 0) return null;
  const policy = body.slice(2, bracket).trim();
  const brackets = body.slice(bracket).trim();
  if (policy === '' || /^[\d#]/.test(policy) || !/^(?:\[[^\]]*\])+$/.test(brackets)) return null;
  return { policy, brackets };
};

const readPath = (
  map: MultipathMapReading,
  fields: RegExpExecArray,
  lineNumber: number,
  raw: string,
  log: WarningLog,
): MultipathPathReading | null => {
  const [, hctlText = '', deviceText = '', devT = '', dmText = '', checkerText = '', onlineText] = fields;
  const hctl = hctlText === '#:#:#:#' ? null : hctlText;
  if (hctl !== null && !Hctl.safeParse(hctl).success) {
    log.add(lineNumber, raw, `${map.name}: SCSI address out of range`);
    return null;
  }
  const device = deviceText === '-' ? null : deviceText;
  if (device !== null && !DiskName.safeParse(device).success) {
    log.add(lineNumber, raw, `${map.name}: path device '${device}' is not a canonical disk name`);
    return null;
  }
  const dmState = readDmState(dmText);
  if (dmState === null) {
    log.add(lineNumber, raw, `${map.name}: dm state '${dmText}' not understood`);
    return null;
  }
  const checker = MultipathPathState.safeParse(checkerText);
  if (!checker.success) log.add(lineNumber, raw, `${map.name}: checker state '${checkerText}' read as undef`);
  const online = onlineText ?? UNKNOWN_STATE;
  const onlineState = /^[a-z][a-z-]{0,31}$/.test(online) ? online : UNKNOWN_STATE;
  return {
    device,
    hctl,
    dmState,
    pathState: checker.success ? checker.data : UNKNOWN_STATE,
    onlineState,
    devT: devT === '#:#' ? null : devT,
    group: map.groups.length - 1,
  };
};

const readDmState = (text: string): MultipathDmState | null =>
  text === 'active' || text === 'failed' || text === 'undef' ? text : null;

const keepMap = (map: MultipathMapReading, log: WarningLog): boolean => {
  if (MultipathMap.safeParse(pickMultipathMap(map)).success) return true;
  log.add(0, map.name, `${map.name}: skipped, it does not fit the multipath parse shape`);
  return false;
};

const pickMultipathMap = (map: MultipathMapReading): MultipathMap => ({
  name: map.name,
  wwid: map.wwid,
  vendor: map.vendor,
  product: map.product,
  queueIfNoPath: map.queueIfNoPath,
  paths: map.paths.map((path) => ({
    device: path.device,
    hctl: path.hctl,
    dmState: path.dmState,
    pathState: path.pathState,
    onlineState: path.onlineState,
  })),
});

/** Exactly the §6 `parse multipath` JSON. */
export const toMultipathOutput = (reading: MultipathReading): MultipathOutput => ({
  maps: reading.maps.map(pickMultipathMap),
});
