import {
  type ComponentState,
  DeviceName,
  MetadeviceName,
  MetastatMirror,
  type MetastatOutput,
  type SubmirrorState,
} from '../events/index.ts';
import { type ProbeWarning, toCount, toNumber, toolLines, WarningLog } from './tool-text.ts';

/**
 * `metastat` as Solaris Volume Manager prints it (Solaris Volume Manager Administration Guide):
 * `d0: Mirror` sections listing `Submirror 0: d10` with their `State:`, `Resync in progress: 15 %
 * done`; `d10: Submirror of d0` sections with the stripe table whose rows name each component and
 * its state (`Okay`, `Resyncing`, `Maintenance`, `Last Erred`), the `Invoke:` hint (on one line, or
 * for a `Last Erred` component `Invoke: after replacing "Maintenance" components:` with the command
 * on the next line), hot spare pools (`hsp001: 1 hot spare`) and the `Device Relocation
 * Information:` table. Volumes of a named disk set (`blue/d10`) are skipped with a warning: a
 * command built from the bare name would reach the local set.
 */

/** A component row of a submirror's stripe table. */
export type MetastatComponent = {
  device: string;
  /** The stripe (`Stripe 0:`) the component belongs to. */
  stripe: number;
  startBlock: number | null;
  state: ComponentState;
  /** The device in the `Hot Spare` column when a hot spare has taken the component's place. */
  hotSpare: string | null;
};

/** The `Invoke:` line metastat prints for a submirror that needs an operator. */
export type InvokeHint = {
  /** The command as printed: `metareplace d0 c0d1s0 <new device>`. */
  command: string;
  /** True for `after replacing "Maintenance" components:`: run it only once those are replaced. */
  afterMaintenance: boolean;
};

/** A `dN: Submirror of dM` section: the component table the §6 entries are built from. */
export type MetastatSubmirrorReading = {
  name: string;
  mirror: string;
  state: SubmirrorState | null;
  components: MetastatComponent[];
  invoke: InvokeHint | null;
  hotSparePool: string | null;
};

/** A hot spare as printed (`Available`, `In use`, `Broken`): `svm.metareplace` refuses while one is in use. */
export type HotSpare = { device: string; status: string; blocks: number | null };
/** An `hspNNN:` pool. */
export type HotSparePool = { name: string; spares: HotSpare[] };

/** A row of `Device Relocation Information:`. */
export type DeviceRelocation = { disk: string; relocatable: boolean; deviceId: string | null };

/** Everything read from one `metastat`, the §6 mirrors first. */
export type MetastatReading = {
  /** The §6 mirrors: one submirror entry per component (a concatenated submirror has several). */
  mirrors: MetastatMirror[];
  submirrors: MetastatSubmirrorReading[];
  hotSparePools: HotSparePool[];
  relocations: DeviceRelocation[];
  warnings: ProbeWarning[];
};

type MirrorDraft = {
  name: string;
  lineNumber: number;
  resyncProgress: number | null;
  listed: { name: string; state: SubmirrorState | null }[];
};

type Section =
  | { kind: 'mirror'; mirror: MirrorDraft }
  | { kind: 'submirror'; submirror: MetastatSubmirrorReading; stripe: number; awaitingInvoke: boolean }
  | { kind: 'hot-spare-pool'; pool: HotSparePool }
  | { kind: 'relocation' }
  | { kind: 'other' };

const SECTION = /^(\S+):(.*)$/;
const COMPONENT_STATES = '(Okay|Resyncing|Maintenance|Last Erred|Unavailable)';
const COMPONENT_ROW = new RegExp(
  String.raw`^\s+(\S+)\s+(\d{1,20})\s+(Yes|No)\s+${COMPONENT_STATES}(?:\s+(Yes|No))?(?:\s+(\S+))?\s*$`,
  'i',
);
const LOOKS_LIKE_COMPONENT = /^\s+c\d+(?:t[0-9A-Fa-f]+)?d\d+(?:[sp]\d+)?\s/;
const HOT_SPARE_ROW = /^\s+(\S+)\s+(Available|In use|Broken|Unavailable)\s*(?:(\d{1,20})\s+blocks)?/i;
const RELOCATION_ROW = /^\s*(\S+)\s+(Yes|No)(?:\s+(\S+))?\s*$/;

/** Reads `metastat` output. Never throws. */
export const parseMetastat = (text: string): MetastatReading => {
  const log = new WarningLog();
  const mirrors: MirrorDraft[] = [];
  const submirrors: MetastatSubmirrorReading[] = [];
  const hotSparePools: HotSparePool[] = [];
  const relocations: DeviceRelocation[] = [];
  let section: Section = { kind: 'other' };

  for (const line of toolLines(text)) {
    const raw = line.text;
    if (raw.trim() === '') continue;
    if (!/^\s/.test(raw)) {
      if (/^Device Relocation Information\s*:/.test(raw)) {
        section = { kind: 'relocation' };
        continue;
      }
      if (section.kind === 'relocation' && RELOCATION_ROW.test(raw) && !/^Device\s/.test(raw)) {
        readRelocation(raw, relocations);
        continue;
      }
      if (section.kind === 'relocation' && /^Device\s+Reloc/.test(raw)) continue;
      section = openSection(line.number, raw, log, { mirrors, submirrors, hotSparePools });
      continue;
    }
    readSectionLine(section, line.number, raw, log, relocations);
  }
  return {
    mirrors: assembleMirrors(mirrors, submirrors, log),
    submirrors,
    hotSparePools,
    relocations,
    warnings: log.collect(),
  };
};

const openSection = (
  lineNumber: number,
  raw: string,
  log: WarningLog,
  found: { mirrors: MirrorDraft[]; submirrors: MetastatSubmirrorReading[]; hotSparePools: HotSparePool[] },
): Section => {
  const match = SECTION.exec(raw);
  if (match === null) {
    log.add(lineNumber, raw, 'not a metastat line');
    return { kind: 'other' };
  }
  const name = match[1] ?? '';
  const kind = (match[2] ?? '').trim();
  if (name.includes('/')) {
    log.add(lineNumber, raw, `${name}: a volume of a named disk set, skipped`);
    return { kind: 'other' };
  }
  if (/^hsp\d{1,3}$/.test(name)) {
    const pool: HotSparePool = { name, spares: [] };
    found.hotSparePools.push(pool);
    return { kind: 'hot-spare-pool', pool };
  }
  if (!MetadeviceName.safeParse(name).success) {
    log.add(lineNumber, raw, `'${name}' is not a metadevice name`);
    return { kind: 'other' };
  }
  if (/^Mirror$/i.test(kind)) {
    const mirror: MirrorDraft = { name, lineNumber, resyncProgress: null, listed: [] };
    found.mirrors.push(mirror);
    return { kind: 'mirror', mirror };
  }
  const submirrorOf = /^Submirror of (\S+)$/i.exec(kind);
  if (submirrorOf !== null) {
    const submirror: MetastatSubmirrorReading = {
      name,
      mirror: submirrorOf[1] ?? '',
      state: null,
      components: [],
      invoke: null,
      hotSparePool: null,
    };
    found.submirrors.push(submirror);
    return { kind: 'submirror', submirror, stripe: 0, awaitingInvoke: false };
  }
  return { kind: 'other' };
};

const readSectionLine = (
  section: Section,
  lineNumber: number,
  raw: string,
  log: WarningLog,
  relocations: DeviceRelocation[],
): void => {
  switch (section.kind) {
    case 'mirror':
      readMirrorLine(section.mirror, lineNumber, raw, log);
      return;
    case 'submirror':
      readSubmirrorLine(section, lineNumber, raw, log);
      return;
    case 'hot-spare-pool': {
      const spare = HOT_SPARE_ROW.exec(raw);
      if (spare !== null && DeviceName.safeParse(spare[1]).success) {
        section.pool.spares.push({
          device: spare[1] ?? '',
          status: (spare[2] ?? '').replace(/\s+/g, ' '),
          blocks: toCount(spare[3]),
        });
      }
      return;
    }
    case 'relocation':
      if (!/^\s*Device\s+Reloc/.test(raw)) readRelocation(raw, relocations);
      return;
    case 'other':
      return;
  }
};

const readMirrorLine = (mirror: MirrorDraft, lineNumber: number, raw: string, log: WarningLog): void => {
  const listed = /^\s+Submirror\s+\d{1,4}\s*:\s*(\S+)\s*$/.exec(raw);
  if (listed !== null) {
    mirror.listed.push({ name: listed[1] ?? '', state: null });
    return;
  }
  const state = /^\s+State\s*:(.*)$/.exec(raw);
  if (state !== null) {
    const last = mirror.listed[mirror.listed.length - 1];
    const value = submirrorState(state[1] ?? '');
    if (last === undefined || value === null) {
      log.add(lineNumber, raw, `${mirror.name}: submirror state not understood`);
      return;
    }
    last.state = value;
    return;
  }
  const resync = /^\s+Resync in progress\s*:\s*(\d{1,3}(?:\.\d+)?)\s*%\s*done/i.exec(raw);
  if (resync !== null) {
    const percent = toNumber(resync[1]);
    if (percent === null || percent > 100)
      log.add(lineNumber, raw, `${mirror.name}: resync progress out of range`);
    else mirror.resyncProgress = percent;
  }
};

const readSubmirrorLine = (
  section: Extract<Section, { kind: 'submirror' }>,
  lineNumber: number,
  raw: string,
  log: WarningLog,
): void => {
  const submirror = section.submirror;
  if (section.awaitingInvoke) {
    section.awaitingInvoke = false;
    const command = /^\s+(meta\w+\s.*)$/.exec(raw);
    if (command !== null) {
      submirror.invoke = { command: (command[1] ?? '').trim(), afterMaintenance: true };
      return;
    }
  }
  const state = /^\s+State\s*:(.*)$/.exec(raw);
  if (state !== null) {
    submirror.state = submirrorState(state[1] ?? '');
    if (submirror.state === null) log.add(lineNumber, raw, `${submirror.name}: state not understood`);
    return;
  }
  const invoke = /^\s+Invoke\s*:(.*)$/.exec(raw);
  if (invoke !== null) {
    const text = (invoke[1] ?? '').trim();
    if (/^after replacing\b/i.test(text)) section.awaitingInvoke = true;
    else submirror.invoke = { command: text, afterMaintenance: false };
    return;
  }
  const stripe = /^\s+(?:Stripe|Concat)\s+(\d+)\s*:/.exec(raw);
  if (stripe !== null) {
    section.stripe = toCount(stripe[1]) ?? 0;
    return;
  }
  const pool = /^\s+Hot spare pool\s*:\s*(\S+)/i.exec(raw);
  if (pool !== null) {
    submirror.hotSparePool = pool[1] ?? null;
    return;
  }
  const row = COMPONENT_ROW.exec(raw);
  if (row !== null) {
    const device = row[1] ?? '';
    const componentState = componentStateOf(row[4] ?? '');
    const hotSpare = row[6] ?? null;
    if (!DeviceName.safeParse(device).success || componentState === null) {
      log.add(lineNumber, raw, `${submirror.name}: component row not understood`);
      return;
    }
    submirror.components.push({
      device,
      stripe: section.stripe,
      startBlock: toCount(row[2]),
      state: componentState,
      hotSpare: hotSpare !== null && DeviceName.safeParse(hotSpare).success ? hotSpare : null,
    });
    return;
  }
  if (LOOKS_LIKE_COMPONENT.test(raw))
    log.add(lineNumber, raw, `${submirror.name}: component row not understood`);
};

const readRelocation = (raw: string, relocations: DeviceRelocation[]): void => {
  const row = RELOCATION_ROW.exec(raw);
  if (row === null) return;
  relocations.push({ disk: row[1] ?? '', relocatable: row[2] === 'Yes', deviceId: row[3] ?? null });
};

const normaliseWords = (text: string): string => text.trim().replace(/\s+/g, ' ').toLowerCase();

/** A submirror state as the enum spells it; `Offline` (metaoffline) is not available for I/O. */
const submirrorState = (text: string): SubmirrorState | null => {
  switch (normaliseWords(text)) {
    case 'okay':
      return 'Okay';
    case 'resyncing':
      return 'Resyncing';
    case 'needs maintenance':
      return 'Needs maintenance';
    case 'last erred':
      return 'Last Erred';
    case 'unavailable':
    case 'offline':
      return 'Unavailable';
    default:
      return null;
  }
};

const componentStateOf = (text: string): ComponentState | null => {
  switch (normaliseWords(text)) {
    case 'okay':
      return 'Okay';
    case 'resyncing':
      return 'Resyncing';
    case 'maintenance':
      return 'Maintenance';
    case 'last erred':
      return 'Last Erred';
    case 'unavailable':
      return 'Unavailable';
    default:
      return null;
  }
};

const assembleMirrors = (
  drafts: MirrorDraft[],
  submirrors: MetastatSubmirrorReading[],
  log: WarningLog,
): MetastatMirror[] => {
  const mirrors: MetastatMirror[] = [];
  for (const draft of drafts) {
    const entries: MetastatMirror['submirrors'] = [];
    for (const listed of draft.listed) {
      const detail = submirrors.find((item) => item.name === listed.name && item.mirror === draft.name);
      const state = detail?.state ?? listed.state;
      if (detail === undefined || detail.components.length === 0 || state === null) {
        log.add(
          draft.lineNumber,
          draft.name,
          `${draft.name}: submirror ${listed.name} has no component table`,
        );
        continue;
      }
      for (const component of detail.components) {
        entries.push({
          name: listed.name,
          state,
          component: component.device,
          componentState: component.state,
        });
      }
    }
    const mirror: MetastatMirror = {
      name: draft.name,
      resyncProgress: draft.resyncProgress,
      submirrors: entries,
    };
    if (MetastatMirror.safeParse(mirror).success) mirrors.push(mirror);
    else
      log.add(
        draft.lineNumber,
        draft.name,
        `${draft.name}: skipped, it does not fit the metastat parse shape`,
      );
  }
  return mirrors;
};

/** Exactly the §6 `parse metastat` JSON. */
export const toMetastatOutput = (reading: MetastatReading): MetastatOutput => ({
  mirrors: reading.mirrors.map((mirror) => ({
    name: mirror.name,
    resyncProgress: mirror.resyncProgress,
    submirrors: mirror.submirrors.map((submirror) => ({ ...submirror })),
  })),
});
