import { EVENT_TYPES, type EventType } from '../../events/index.ts';
import type { OutboundEvent } from '../publish/outbound-event.ts';
import { crc32 } from './crc32.ts';

/**
 * The spool's record format, pure. One record is one line:
 *
 *     <crc32 of the payload, 8 hex digits> <payload>\n
 *
 * and the payload is one JSON object: an event `{"k":"e","v":<the event's JSON text>}`, an
 * acknowledgement `{"k":"a","through":<seq>}` (every event up to that `seq` is delivered or
 * rejected), or a compaction header `{"k":"c","replaces":[<segment numbers>]}` opening a segment
 * that supersedes older ones. JSON text never holds a raw newline, so lines split exactly. After a
 * `kill -9` or power loss the last line may be torn: it has no newline or its checksum fails, and
 * it is cut, never read as a record. The event's text is embedded verbatim, so what was validated
 * is what is sent.
 */

export type SpoolRecord =
  | { kind: 'event'; event: OutboundEvent }
  | { kind: 'ack'; through: number }
  | { kind: 'compaction'; replaces: number[] };

const EVENT_PREFIX = '{"k":"e","v":';
const CHECKSUM_DIGITS = 8;
const NEWLINE = 0x0a;
const SPACE = 0x20;
const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);

const payloadOf = (record: SpoolRecord): string => {
  switch (record.kind) {
    case 'event':
      return `${EVENT_PREFIX}${record.event.body}}`;
    case 'ack':
      return JSON.stringify({ k: 'a', through: record.through });
    case 'compaction':
      return JSON.stringify({ k: 'c', replaces: record.replaces });
  }
};

/** One record as the bytes appended to a segment. */
export const encodeSpoolRecord = (record: SpoolRecord): Buffer => {
  const payload = Buffer.from(payloadOf(record), 'utf8');
  const checksum = crc32(payload).toString(16).padStart(CHECKSUM_DIGITS, '0');
  return Buffer.concat([Buffer.from(`${checksum} `, 'ascii'), payload, Buffer.from('\n', 'ascii')]);
};

/** A record found in a segment, with where it lies. */
export type DecodedRecord = { offset: number; length: number; record: SpoolRecord };

/** A line that is not a valid record: damaged in the middle of a segment, or torn at its end. */
export type DamagedRecord = { offset: number; length: number; reason: string };

export type DecodedSegment = {
  records: DecodedRecord[];
  /** Damaged lines followed by valid ones: skipped, never guessed at. */
  damaged: DamagedRecord[];
  /** Bytes of the segment up to the end of its last valid record; what follows is a torn tail. */
  validLength: number;
};

const isRecordObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const readEvent = (payload: string): OutboundEvent | string => {
  if (!payload.startsWith(EVENT_PREFIX) || !payload.endsWith('}')) return 'not an event record';
  const body = payload.slice(EVENT_PREFIX.length, -1);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'event text is not JSON';
  }
  if (!isRecordObject(value)) return 'event is not an object';
  const { id, type, subject, hostid, seq } = value;
  if (
    typeof id !== 'string' ||
    typeof type !== 'string' ||
    !EVENT_TYPE_SET.has(type) ||
    typeof subject !== 'string' ||
    typeof hostid !== 'string' ||
    typeof seq !== 'number' ||
    !Number.isSafeInteger(seq)
  ) {
    return 'event lacks its envelope';
  }
  return { id, type: type as EventType, subject, hostid, seq, body };
};

const decodePayload = (payload: string): SpoolRecord | string => {
  if (payload.startsWith(EVENT_PREFIX)) {
    const event = readEvent(payload);
    return typeof event === 'string' ? event : { kind: 'event', event };
  }
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return 'payload is not JSON';
  }
  if (!isRecordObject(value)) return 'payload is not an object';
  if (value.k === 'a' && typeof value.through === 'number' && Number.isSafeInteger(value.through)) {
    return { kind: 'ack', through: value.through };
  }
  if (
    value.k === 'c' &&
    Array.isArray(value.replaces) &&
    value.replaces.every((segment) => Number.isSafeInteger(segment))
  ) {
    return { kind: 'compaction', replaces: value.replaces as number[] };
  }
  return 'unknown record kind';
};

const decodeLine = (line: Buffer): SpoolRecord | string => {
  if (line.length < CHECKSUM_DIGITS + 2 || line[CHECKSUM_DIGITS] !== SPACE) return 'no checksum';
  const checksumText = line.subarray(0, CHECKSUM_DIGITS).toString('ascii');
  if (!/^[0-9a-f]{8}$/.test(checksumText)) return 'no checksum';
  const payload = line.subarray(CHECKSUM_DIGITS + 1);
  if (crc32(payload) !== Number.parseInt(checksumText, 16)) return 'checksum mismatch';
  return decodePayload(payload.toString('utf8'));
};

/**
 * Reads every record of a segment. A damaged line followed by valid records is reported and
 * skipped; damage at the end (no newline, or a bad last line) is the torn tail after a crash:
 * `validLength` says where to cut.
 */
export const decodeSpoolSegment = (bytes: Buffer): DecodedSegment => {
  const records: DecodedRecord[] = [];
  const pendingDamage: DamagedRecord[] = [];
  const damaged: DamagedRecord[] = [];
  let validLength = 0;
  let offset = 0;
  while (offset < bytes.length) {
    const newline = bytes.indexOf(NEWLINE, offset);
    if (newline === -1) break;
    const length = newline + 1 - offset;
    const decoded = decodeLine(bytes.subarray(offset, newline));
    if (typeof decoded === 'string') {
      pendingDamage.push({ offset, length, reason: decoded });
    } else {
      damaged.push(...pendingDamage.splice(0));
      records.push({ offset, length, record: decoded });
      validLength = offset + length;
    }
    offset = newline + 1;
  }
  return { records, damaged, validLength };
};
