import {
  ArrayName,
  DeviceName,
  MdstatArray,
  type MdstatMember,
  type MdstatMemberFlag,
  type MdstatOutput,
  RaidLevel,
} from '../events/index.ts';
import { type ProbeWarning, toCount, toNumber, toolLines, WarningLog } from './tool-text.ts';

/**
 * `/proc/mdstat` as the kernel md driver prints it (`md_seq_show` and `status_resync` in
 * drivers/md/md.c, and the 2.4 layout with its `read_ahead` line), read into the §6 parse shape plus
 * what the scan needs beside it (sync action, finish estimate, bitmap, metadata).
 *
 * The number in brackets after a member (`sdb1[2]`) is the member's descriptor number, not its slot
 * in the `[U_]` string: a member re-added after a failure gets a new descriptor number and the old
 * slot. Nothing here maps one to the other; member states are decided in `report-states.ts` from
 * the flags, sysfs or `mdadm --detail`.
 */

/** The operation `status_resync` names on the progress line. */
export type MdSyncAction = 'recovery' | 'resync' | 'check' | 'repair' | 'reshape';

/** A sync the kernel has queued but not started: `resync=DELAYED`, `resync=PENDING`, `resync=REMOTE`. */
export type MdSyncPending = 'DELAYED' | 'PENDING' | 'REMOTE';

/** One array as read from mdstat: the §6 fields and what the kernel prints beside them. */
export type MdstatArrayReading = MdstatArray & {
  /** `(read-only)` or `(auto-read-only)` after `active`. */
  readOnly: 'read-only' | 'auto-read-only' | null;
  /** After `super`: `1.2`, `external:imsm`, `external:/md127/0`, `non-persistent`; null for 0.90. */
  metadata: string | null;
  /** Size in 1 KiB blocks. */
  blocks: number | null;
  /** The per-slot string inside the second brackets: `U_` (one character per slot, not per member). */
  slots: string | null;
  syncAction: MdSyncAction | null;
  syncPending: MdSyncPending | null;
  /** The kernel's estimate (`finish=12.3min`) while a sync runs. */
  finishMinutes: number | null;
  /**
   * The live position of a running sync and its end, in 1 KiB blocks (`(a/b)` after the percentage:
   * `status_resync` prints sectors / 2): finer than the percentage, which moves by 0.1 %.
   */
  syncedBlocks: number | null;
  syncTotalBlocks: number | null;
  /** True when a `bitmap:` line follows: the array has a write-intent bitmap. */
  bitmap: boolean;
};

/** Everything read from one `/proc/mdstat`, with the lines that could not be read. */
export type MdstatReading = {
  arrays: MdstatArrayReading[];
  /** The personalities line: the RAID levels this kernel has loaded. */
  personalities: string[];
  warnings: ProbeWarning[];
};

const PERSONALITY = /^(?:raid\d{1,2}|linear|multipath|faulty)$/;
const HEADER = /^(\S+)\s+:\s+(active|inactive)(?=\s|$)(.*)$/;
const MEMBER = /^([^\s[\]()]+)\[(\d{1,6})\]((?:\([A-Z]\))*)$/;
const PROGRESS = /\b(recovery|resync|check|repair|reshape)\s*=\s*(\d{1,3}(?:\.\d+)?)%/;
const PENDING = /\b(?:resync|recovery)\s*=\s*(DELAYED|PENDING|REMOTE)\b/;
const FINISH = /\bfinish\s*=\s*(\d+(?:\.\d+)?)min\b/;
const COUNTS = /%\s*\((\d{1,15})\/(\d{1,15})\)/;
const BLOCKS = /^\s+(\d{1,20})\s+blocks\b(.*)$/;

const FLAG_BY_LETTER: Readonly<Record<string, MdstatMemberFlag>> = {
  W: 'write-mostly',
  J: 'journal',
  F: 'faulty',
  S: 'spare',
  R: 'replacement',
};

type Draft = {
  name: string;
  lineNumber: number;
  active: boolean;
  level: string | null;
  readOnly: MdstatArrayReading['readOnly'];
  members: MdstatMember[];
  metadata: string | null;
  blocks: number | null;
  total: number | null;
  activeCount: number | null;
  slots: string | null;
  syncAction: MdSyncAction | null;
  progress: number | null;
  syncPending: MdSyncPending | null;
  finishMinutes: number | null;
  syncedBlocks: number | null;
  syncTotalBlocks: number | null;
  bitmap: boolean;
};

/** Reads `/proc/mdstat` text. Never throws; lines it cannot read are warnings in the result. */
export const parseMdstat = (text: string): MdstatReading => {
  const log = new WarningLog();
  const arrays: MdstatArrayReading[] = [];
  let personalities: string[] = [];
  let current: Draft | null = null;
  let skipping = false;

  const close = (): void => {
    if (current !== null) {
      const reading = finish(current, log);
      if (reading !== null) arrays.push(reading);
    }
    current = null;
    skipping = false;
  };

  for (const line of toolLines(text)) {
    const raw = line.text;
    if (raw.trim() === '') {
      close();
      continue;
    }
    if (/^Personalities\s*:/.test(raw)) {
      close();
      personalities = [...raw.matchAll(/\[([^\]\s]+)\]/g)].map((match) => match[1] ?? '');
      continue;
    }
    if (/^read_ahead\b/.test(raw)) continue;
    if (/^unused devices\s*:/.test(raw)) {
      close();
      continue;
    }
    const header = HEADER.exec(raw);
    if (header !== null) {
      close();
      const started = startArray(line.number, raw, header, log);
      if (started === null) skipping = true;
      else current = started;
      continue;
    }
    if (/^\s/.test(raw)) {
      if (skipping) continue;
      if (current === null) {
        log.add(line.number, raw, 'status line outside any array');
        continue;
      }
      readStatusLine(current, line.number, raw, log);
      continue;
    }
    close();
    log.add(line.number, raw, 'not an mdstat line');
  }
  close();
  return { arrays, personalities, warnings: log.collect() };
};

const startArray = (
  lineNumber: number,
  raw: string,
  header: RegExpExecArray,
  log: WarningLog,
): Draft | null => {
  const name = header[1] ?? '';
  if (!ArrayName.safeParse(name).success) {
    log.add(lineNumber, raw, `array name '${name}' is not a canonical md name`);
    return null;
  }
  const active = header[2] === 'active';
  const tokens = (header[3] ?? '').trim().split(/\s+/).filter(Boolean);
  let readOnly: MdstatArrayReading['readOnly'] = null;
  let next = 0;
  if (active && (tokens[0] === '(read-only)' || tokens[0] === '(auto-read-only)')) {
    readOnly = tokens[0] === '(read-only)' ? 'read-only' : 'auto-read-only';
    next = 1;
  }
  let level: string | null = null;
  if (active) {
    const personality = tokens[next];
    if (personality === undefined || !PERSONALITY.test(personality)) {
      log.add(lineNumber, raw, `${name}: no RAID personality after 'active'`);
      return null;
    }
    level = personality;
    next += 1;
  }
  const members: MdstatMember[] = [];
  for (const token of tokens.slice(next)) {
    const member = readMember(token);
    if (typeof member === 'string') {
      log.add(lineNumber, raw, `${name}: member '${token}' skipped: ${member}`);
      continue;
    }
    members.push(member);
  }
  return {
    name,
    lineNumber,
    active,
    level,
    readOnly,
    members,
    metadata: null,
    blocks: null,
    total: null,
    activeCount: null,
    slots: null,
    syncAction: null,
    progress: null,
    syncPending: null,
    finishMinutes: null,
    syncedBlocks: null,
    syncTotalBlocks: null,
    bitmap: false,
  };
};

/** A member token `sdb1[2](W)(F)`, or why it cannot be read. */
const readMember = (token: string): MdstatMember | string => {
  const match = MEMBER.exec(token);
  if (match === null) return 'not a device[number] token';
  const device = match[1] ?? '';
  if (!DeviceName.safeParse(device).success) return 'not a canonical device name';
  const index = toCount(match[2]);
  if (index === null) return 'descriptor number out of range';
  const flags: MdstatMemberFlag[] = [];
  for (const letter of (match[3] ?? '').matchAll(/\(([A-Z])\)/g)) {
    const flag = FLAG_BY_LETTER[letter[1] ?? ''];
    if (flag === undefined) return `unknown flag (${letter[1]})`;
    if (!flags.includes(flag)) flags.push(flag);
  }
  return { device, index, flags };
};

const readStatusLine = (draft: Draft, lineNumber: number, raw: string, log: WarningLog): void => {
  const blocks = BLOCKS.exec(raw);
  if (blocks !== null) {
    draft.blocks = toCount(blocks[1]);
    const rest = blocks[2] ?? '';
    const superblock = /\bsuper\s+(\S+)/.exec(rest);
    if (superblock !== null) draft.metadata = superblock[1] ?? null;
    const counts = /\[(\d{1,5})\/(\d{1,5})\]/.exec(rest);
    if (counts !== null) {
      const total = toCount(counts[1]);
      const active = toCount(counts[2]);
      if (total === null || active === null || active > total) {
        log.add(lineNumber, raw, `${draft.name}: slot counts [${counts[1]}/${counts[2]}] are inconsistent`);
      } else {
        draft.total = total;
        draft.activeCount = active;
      }
    }
    const slots = /\[([U_]{1,256})\]/.exec(rest);
    if (slots !== null) draft.slots = slots[1] ?? null;
    if (draft.slots !== null && draft.total !== null && draft.slots.length !== draft.total) {
      log.add(lineNumber, raw, `${draft.name}: slot string does not match the slot count`);
    }
    return;
  }
  if (/^\s+bitmap\s*:/.test(raw)) {
    draft.bitmap = true;
    return;
  }
  const progress = PROGRESS.exec(raw);
  if (progress !== null) {
    const percent = toNumber(progress[2]);
    if (percent === null || percent > 100) {
      log.add(lineNumber, raw, `${draft.name}: progress out of range`);
      return;
    }
    draft.syncAction = progress[1] as MdSyncAction;
    draft.progress = percent;
    const finishAt = FINISH.exec(raw);
    draft.finishMinutes = finishAt === null ? null : toNumber(finishAt[1]);
    const counts = COUNTS.exec(raw);
    const synced = counts === null ? null : toCount(counts[1]);
    const total = counts === null ? null : toCount(counts[2]);
    if (synced !== null && total !== null && synced <= total) {
      draft.syncedBlocks = synced;
      draft.syncTotalBlocks = total;
    }
    return;
  }
  const pending = PENDING.exec(raw);
  if (pending !== null) {
    draft.syncPending = pending[1] as MdSyncPending;
    return;
  }
  log.add(lineNumber, raw, `${draft.name}: status line not understood`);
};

const finish = (draft: Draft, log: WarningLog): MdstatArrayReading | null => {
  const degraded =
    draft.active &&
    ((draft.total !== null && draft.activeCount !== null && draft.activeCount < draft.total) ||
      (draft.slots?.includes('_') ?? false));
  const state = arrayState(draft, degraded);
  const levelResult = draft.level === null ? null : RaidLevel.safeParse(draft.level);
  const reading: MdstatArrayReading = {
    name: draft.name,
    level: levelResult?.success === true ? levelResult.data : null,
    state,
    degraded,
    total: draft.active ? draft.total : null,
    active: draft.active ? draft.activeCount : null,
    progress: draft.active && draft.syncAction !== null ? draft.progress : null,
    members: draft.members,
    readOnly: draft.readOnly,
    metadata: draft.metadata,
    blocks: draft.blocks,
    slots: draft.slots,
    syncAction: draft.active ? draft.syncAction : null,
    syncPending: draft.active ? draft.syncPending : null,
    finishMinutes: draft.active && draft.syncAction !== null ? draft.finishMinutes : null,
    syncedBlocks: draft.active && draft.syncAction !== null ? draft.syncedBlocks : null,
    syncTotalBlocks: draft.active && draft.syncAction !== null ? draft.syncTotalBlocks : null,
    bitmap: draft.bitmap,
  };
  if (!MdstatArray.safeParse(pickMdstatArray(reading)).success) {
    log.add(draft.lineNumber, draft.name, `${draft.name}: skipped, it does not fit the mdstat parse shape`);
    return null;
  }
  return reading;
};

/**
 * The §6 state. A running recovery wins (it is what operators wait for); otherwise a missing slot
 * makes the array `degraded`; a resync or reshape that runs or is queued (`resync=DELAYED`,
 * `resync=PENDING` of an auto-read-only array) is `resyncing` with no progress until it starts; a
 * check or repair is `checking`.
 */
const arrayState = (draft: Draft, degraded: boolean): MdstatArray['state'] => {
  if (!draft.active) return 'inactive';
  if (draft.syncAction === 'recovery') return 'recovering';
  if (degraded) return 'degraded';
  if (draft.syncAction === 'resync' || draft.syncAction === 'reshape' || draft.syncPending !== null) {
    return 'resyncing';
  }
  if (draft.syncAction === 'check' || draft.syncAction === 'repair') return 'checking';
  return 'clean';
};

const pickMdstatArray = (reading: MdstatArrayReading): MdstatArray => ({
  name: reading.name,
  level: reading.level,
  state: reading.state,
  degraded: reading.degraded,
  total: reading.total,
  active: reading.active,
  progress: reading.progress,
  members: reading.members.map((member) => ({
    device: member.device,
    index: member.index,
    flags: [...member.flags],
  })),
});

/** Exactly the §6 `parse mdstat` JSON: the extra fields of the reading left out. */
export const toMdstatOutput = (reading: MdstatReading): MdstatOutput => ({
  arrays: reading.arrays.map(pickMdstatArray),
});
