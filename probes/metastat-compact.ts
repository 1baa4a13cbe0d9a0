import {
  type ComponentState,
  DeviceName,
  MetadeviceName,
  MetastatMirror,
  type SubmirrorState,
} from '../events/index.ts';
import type {
  HotSpare,
  HotSparePool,
  MetastatComponent,
  MetastatReading,
  MetastatSubmirrorReading,
} from './metastat.ts';
import { toNumber, toolLines, WarningLog } from './tool-text.ts';

/**
 * `metastat -c`, Solaris Volume Manager's compact listing (metastat(1M) `-c`; illumos
 * `cmd/lvm/util/metastat.c`, the `print_concise_*` functions): one line per metadevice, its name
 * left-justified in 16 columns less its indent, a type letter (`m` mirror, `s` stripe or concat,
 * `r` RAID-5, `p` soft partition, `t` trans, `h` hot spare pool), its size (`20GB`, `-` when none),
 * then what it is made of, each part followed by its state in parentheses when it is not okay.
 * What a metadevice is made of follows on lines indented four more columns:
 *
 * ```
 * d10              m   20GB d11 d12 (maint)
 *     d11          s   20GB c0d0s0
 *     d12          s   20GB c0d1s0 (maint)
 * ```
 *
 * A submirror's state on the mirror line is `maint`, `resync-NN%` (`resync-NN.N%`, the tenth
 * space-padded, on a 64-bit metadevice), `unavail`, `offline` or `unknown`; a component's on the
 * stripe line is `maint`, `last-erred`, `resyncing`, `unavail`, `-` (its stripe is unavailable) or
 * `invalid`, joined to a hot spare that replaces it (`maint-c0d2s0`), or `spared-c0d2s0` for an
 * okay component on a hot spare; a hot spare's is `in-use`, `broken` or `invalid`.
 *
 * The reading is {@link MetastatReading}, what `parseMetastat` gives for the long listing, so a
 * caller takes either; the compact listing has no stripe numbers, start blocks, `Invoke:` hints or
 * relocation table (those stay 0, null and empty). `parseMetastat` reads nothing of it (every
 * top-level line is a warning): tell them apart with {@link isMetastatCompact}.
 */

const ENTRY = /^( *)(\S+)\s+([mrspth])\s+(\S+)(.*)$/;
/** Each part of an entry: a name, then its state in parentheses (which may hold a padded space). */
const PART = /\s*([^\s()]+)(?:\s*\(([^)]*)\))?/g;
const STALE_REPLICAS_BANNER = /^\*{4}|^WARNING: Stale state database replicas/;
const INDENT_STEP = 4;

type Part = { name: string; state: string | null };
type Entry = { lineNumber: number; raw: string; name: string; type: string; parts: Part[] };

/** Whether text reads as `metastat -c` rather than the long listing: its first entry is a compact line. */
export const isMetastatCompact = (text: string): boolean => {
  for (const line of toolLines(text)) {
    const raw = line.text;
    if (raw.trim() === '' || STALE_REPLICAS_BANNER.test(raw.trim())) continue;
    return ENTRY.test(raw) && !/^\S+:/.test(raw);
  }
  return false;
};

/** Reads `metastat -c` output into the reading `parseMetastat` gives. Never throws. */
export const parseMetastatCompact = (text: string): MetastatReading => {
  const log = new WarningLog();
  const entries = readEntries(text, log);
  const stripes = new Map<string, Entry>();
  for (const entry of entries) if (entry.type === 's') stripes.set(entry.name, entry);

  const mirrors: MetastatMirror[] = [];
  const submirrors: MetastatSubmirrorReading[] = [];
  const hotSparePools: HotSparePool[] = [];
  const read = new Set<string>();
  for (const entry of entries) {
    if (entry.type === 'm') {
      // A mirror under a soft partition may be listed again at the top: read it once.
      if (read.has(entry.name)) continue;
      read.add(entry.name);
      const mirror = readMirror(entry, stripes, submirrors, log);
      if (mirror !== null) mirrors.push(mirror);
    } else if (entry.type === 'h') {
      hotSparePools.push(readHotSparePool(entry, log));
    }
  }
  return { mirrors, submirrors, hotSparePools, relocations: [], warnings: log.collect() };
};

const readEntries = (text: string, log: WarningLog): Entry[] => {
  const entries: Entry[] = [];
  for (const line of toolLines(text)) {
    const raw = line.text;
    const trimmed = raw.trim();
    if (trimmed === '' || STALE_REPLICAS_BANNER.test(trimmed)) continue;
    const match = ENTRY.exec(raw);
    if (match === null) {
      log.add(line.number, raw, 'not a metastat -c line');
      continue;
    }
    const indent = (match[1] ?? '').length;
    const name = match[2] ?? '';
    if (indent % INDENT_STEP !== 0) {
      log.add(line.number, raw, `${name}: indented by ${indent}, not a multiple of ${INDENT_STEP}`);
      continue;
    }
    if (name.includes('/')) {
      log.add(line.number, raw, `${name}: a volume of a named disk set, skipped`);
      continue;
    }
    entries.push({
      lineNumber: line.number,
      raw,
      name,
      type: match[3] ?? '',
      parts: [...(match[5] ?? '').matchAll(PART)].map((part) => ({
        name: part[1] ?? '',
        state: part[2] === undefined ? null : part[2].trim(),
      })),
    });
  }
  return entries;
};

/** A mirror line with the stripe lines of its submirrors, as the §6 mirror; null when unreadable. */
const readMirror = (
  entry: Entry,
  stripes: ReadonlyMap<string, Entry>,
  submirrors: MetastatSubmirrorReading[],
  log: WarningLog,
): MetastatMirror | null => {
  if (!MetadeviceName.safeParse(entry.name).success) {
    log.add(entry.lineNumber, entry.raw, `'${entry.name}' is not a metadevice name`);
    return null;
  }
  let resyncProgress: number | null = null;
  const listed: MetastatMirror['submirrors'] = [];
  for (const part of entry.parts) {
    const state = submirrorState(part.state);
    if (state === null || !MetadeviceName.safeParse(part.name).success) {
      log.add(
        entry.lineNumber,
        entry.raw,
        `${entry.name}: submirror ${part.name} (${part.state}) not understood`,
      );
      continue;
    }
    if (state.progress !== null) resyncProgress = state.progress;
    const stripe = stripes.get(part.name);
    const components = stripe === undefined ? [] : readComponents(entry.name, stripe, log);
    submirrors.push({
      name: part.name,
      mirror: entry.name,
      state: state.state,
      components,
      invoke: null,
      hotSparePool: null,
    });
    if (components.length === 0) {
      log.add(entry.lineNumber, entry.raw, `${entry.name}: submirror ${part.name} has no component line`);
      continue;
    }
    for (const component of components) {
      listed.push({
        name: part.name,
        state: state.state,
        component: component.device,
        componentState: component.state,
      });
    }
  }
  const mirror: MetastatMirror = { name: entry.name, resyncProgress, submirrors: listed };
  if (MetastatMirror.safeParse(mirror).success) return mirror;
  log.add(entry.lineNumber, entry.raw, `${entry.name}: skipped, it does not fit the metastat parse shape`);
  return null;
};

/** A submirror's state from the mirror line: none is Okay; `resync-NN%` carries the mirror's progress. */
const submirrorState = (text: string | null): { state: SubmirrorState; progress: number | null } | null => {
  if (text === null) return { state: 'Okay', progress: null };
  const resync = /^resync-\s*(\d{1,3}(?:\.\d)?)%$/.exec(text);
  if (resync !== null) {
    const progress = toNumber(resync[1]);
    return progress === null || progress > 100 ? null : { state: 'Resyncing', progress };
  }
  switch (text) {
    case 'maint':
      return { state: 'Needs maintenance', progress: null };
    case 'unavail':
    case 'offline':
      return { state: 'Unavailable', progress: null };
    default:
      return null;
  }
};

/** The components of a submirror's stripe line, in the order printed. */
const readComponents = (mirror: string, stripe: Entry, log: WarningLog): MetastatComponent[] => {
  const components: MetastatComponent[] = [];
  for (const part of stripe.parts) {
    const read = componentState(part.state);
    if (read === null || !DeviceName.safeParse(part.name).success) {
      log.add(
        stripe.lineNumber,
        stripe.raw,
        `${mirror}: component ${part.name} (${part.state}) not understood`,
      );
      continue;
    }
    components.push({ device: part.name, stripe: 0, startBlock: null, ...read });
  }
  return components;
};

/** A component's state, and the hot spare in its place (`maint-c0d2s0`, `spared-c0d2s0`). */
const componentState = (text: string | null): { state: ComponentState; hotSpare: string | null } | null => {
  if (text === null) return { state: 'Okay', hotSpare: null };
  const spared = /^(maint|last-erred|resyncing|unavail|spared)-(\S+)$/.exec(text);
  const word = spared === null ? text : (spared[1] ?? '');
  const hotSpare = spared === null ? null : (spared[2] ?? '');
  if (hotSpare !== null && !DeviceName.safeParse(hotSpare).success) return null;
  switch (word) {
    case 'spared':
      return { state: 'Okay', hotSpare };
    case 'maint':
      return { state: 'Maintenance', hotSpare };
    case 'last-erred':
      return { state: 'Last Erred', hotSpare };
    case 'resyncing':
      return { state: 'Resyncing', hotSpare };
    case 'unavail':
    case '-':
      return { state: 'Unavailable', hotSpare };
    default:
      return null;
  }
};

/** A hot spare pool line, its spares' states in the long listing's words. */
const readHotSparePool = (entry: Entry, log: WarningLog): HotSparePool => {
  const spares: HotSpare[] = [];
  for (const part of entry.parts) {
    const status =
      part.state === null
        ? 'Available'
        : Object.hasOwn(HOT_SPARE_STATUS, part.state)
          ? HOT_SPARE_STATUS[part.state]
          : undefined;
    if (status === undefined || !DeviceName.safeParse(part.name).success) {
      log.add(
        entry.lineNumber,
        entry.raw,
        `${entry.name}: hot spare ${part.name} (${part.state}) not understood`,
      );
      continue;
    }
    spares.push({ device: part.name, status, blocks: null });
  }
  return { name: entry.name, spares };
};

const HOT_SPARE_STATUS: Readonly<Record<string, string>> = { 'in-use': 'In use', broken: 'Broken' };
