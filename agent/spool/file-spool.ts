import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { OutboundEvent } from '../publish/outbound-event.ts';
import type { AgentLog } from '../state/agent-log.ts';
import { fsyncDirectory } from '../state/atomic-file.ts';
import {
  type EventSpool,
  type SpooledEventHeader,
  SpoolOrderError,
  type SpoolPeekLimits,
  type SpoolStats,
} from './event-spool.ts';
import { decodeSpoolSegment, encodeSpoolRecord, type SpoolRecord } from './spool-record.ts';
import { planSpoolTrim } from './spool-trim.ts';

/**
 * The on-disk spool: a directory of append-only segment files (`segment-<n>.log`) of checksummed
 * records (spool-record.ts). Appends and acknowledgements are fsync'd before they return, so an
 * event the agent was told is spooled survives `kill -9` and power loss. Opening the spool cuts a
 * torn tail and skips damaged records, never reading either as an event. Segments whose events
 * are all acknowledged are deleted; the size bound rewrites the pending events, without the
 * oldest heartbeats, into a new segment that names the ones it replaces, so a crash in the middle
 * of a rewrite leaves either the old segments or the new one, never both counted.
 */

/** A segment is closed and a new one begun past this size, so delivered ones can be deleted. */
export const SPOOL_SEGMENT_BYTES = 1024 * 1024;

const SEGMENT_NAME = /^segment-(\d{12})\.log$/;
const segmentName = (segment: number): string => `segment-${String(segment).padStart(12, '0')}.log`;

type IndexEntry = {
  readonly event: Omit<OutboundEvent, 'body'>;
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
  /** Bytes of the body, which is read back from the segment when peeked. */
  readonly bytes: number;
  /** Bytes of the body within the record: after the checksum and the record prefix. */
  readonly bodyOffset: number;
};

/** Bytes before the event's text in an event record: `<crc32> {"k":"e","v":`. */
const EVENT_BODY_OFFSET = 9 + '{"k":"e","v":'.length;

export type FileSpoolOptions = {
  directory: string;
  maxBytes: number;
  log: AgentLog;
  segmentBytes?: number;
};

export class FileSpool implements EventSpool {
  private readonly directory: string;
  private readonly maxBytes: number;
  private readonly log: AgentLog;
  private readonly segmentBytes: number;
  private segments: number[] = [];
  private active: { segment: number; fd: number; size: number } | undefined;
  private pending: IndexEntry[] = [];
  private lastSeq = -1;
  private droppedHeartbeats = 0;
  private damagedRecords = 0;
  private overBoundWarned = false;

  private constructor(options: FileSpoolOptions) {
    this.directory = options.directory;
    this.maxBytes = options.maxBytes;
    this.log = options.log;
    this.segmentBytes = options.segmentBytes ?? SPOOL_SEGMENT_BYTES;
  }

  /** Opens (or creates) the spool in a directory, recovering from whatever a crash left. */
  static open(options: FileSpoolOptions): FileSpool {
    const spool = new FileSpool(options);
    spool.recover();
    return spool;
  }

  get location(): string {
    return this.directory;
  }

  append(events: readonly OutboundEvent[]): void {
    if (events.length === 0) return;
    let lastSeq = this.lastSeq;
    for (const event of events) {
      if (event.seq <= lastSeq) throw new SpoolOrderError(event.seq, lastSeq);
      lastSeq = event.seq;
    }
    const active = this.activeSegment();
    const records = events.map((event) => encodeSpoolRecord({ kind: 'event', event }));
    let offset = active.size;
    const entries = events.map((event, index): IndexEntry => {
      const length = (records[index] as Buffer).length;
      const entry: IndexEntry = {
        event: {
          id: event.id,
          type: event.type,
          subject: event.subject,
          hostid: event.hostid,
          seq: event.seq,
        },
        segment: active.segment,
        offset,
        length,
        bytes: Buffer.byteLength(event.body, 'utf8'),
        bodyOffset: EVENT_BODY_OFFSET,
      };
      offset += length;
      return entry;
    });
    this.writeDurably(Buffer.concat(records));
    this.pending.push(...entries);
    this.lastSeq = lastSeq;
    this.enforceBound();
    this.rollIfFull();
  }

  peek(limits: SpoolPeekLimits, skip?: (event: SpooledEventHeader) => boolean): OutboundEvent[] {
    const taken: OutboundEvent[] = [];
    let bytes = 0;
    const readers = new Map<number, number>();
    try {
      for (const entry of this.pending) {
        if (taken.length >= limits.maxEvents) break;
        if (skip?.(entry.event)) continue;
        if (taken.length > 0 && bytes + entry.bytes > limits.maxBytes) break;
        taken.push({ ...entry.event, body: this.readBody(entry, readers) });
        bytes += entry.bytes;
      }
    } finally {
      for (const fd of readers.values()) closeSync(fd);
    }
    return taken;
  }

  acknowledge(seq: number): void {
    if (!this.pending.some((entry) => entry.event.seq <= seq)) return;
    this.writeDurably(encodeSpoolRecord({ kind: 'ack', through: seq }));
    this.pending = this.pending.filter((entry) => entry.event.seq > seq);
    this.deleteDeliveredSegments();
    this.rollIfFull();
  }

  stats(): SpoolStats {
    return {
      pendingEvents: this.pending.length,
      pendingBytes: this.pending.reduce((sum, entry) => sum + entry.bytes, 0),
      pendingHeartbeats: this.pending.filter((entry) => entry.event.type === 'host.heartbeat').length,
      droppedHeartbeats: this.droppedHeartbeats,
      damagedRecords: this.damagedRecords,
    };
  }

  close(): void {
    if (this.active !== undefined) closeSync(this.active.fd);
    this.active = undefined;
  }

  private recover(): void {
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    const names = readdirSync(this.directory);
    // A rewrite that crashed before its rename left only a temporary file: the old segments stand.
    for (const name of names.filter((entry) => entry.endsWith('.tmp'))) {
      rmSync(join(this.directory, name), { force: true });
    }
    const found = names
      .map((name) => SEGMENT_NAME.exec(name))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => Number(match[1]))
      .sort((a, b) => a - b);
    const decoded = new Map(found.map((segment) => [segment, decodeSpoolSegment(this.readSegment(segment))]));

    // A compaction header supersedes the segments it names: a crash after the rewrite was renamed
    // into place but before they were deleted leaves them behind.
    const superseded = new Set<number>();
    for (const [segment, contents] of decoded) {
      const header = contents.records[0]?.record;
      if (header?.kind !== 'compaction') continue;
      for (const replaced of header.replaces) if (replaced < segment) superseded.add(replaced);
    }
    for (const segment of superseded) {
      rmSync(join(this.directory, segmentName(segment)), { force: true });
      decoded.delete(segment);
    }
    this.segments = found.filter((segment) => !superseded.has(segment));

    let ackedThrough = -1;
    const events: IndexEntry[] = [];
    const last = this.segments.at(-1);
    for (const segment of this.segments) {
      const contents = decoded.get(segment);
      if (contents === undefined) continue;
      this.damagedRecords += contents.damaged.length;
      for (const damage of contents.damaged) {
        this.log.error('spool: damaged record skipped', { segment: segmentName(segment), ...damage });
      }
      const size = statSync(join(this.directory, segmentName(segment))).size;
      if (contents.validLength < size) {
        this.damagedRecords += 1;
        if (segment === last) {
          this.cutTornTail(segment, contents.validLength, size);
        } else {
          this.log.error('spool: damaged end of a closed segment skipped', {
            segment: segmentName(segment),
            offset: contents.validLength,
            length: size - contents.validLength,
          });
        }
      }
      for (const { offset, length, record } of contents.records) {
        if (record.kind === 'ack') ackedThrough = Math.max(ackedThrough, record.through);
        if (record.kind !== 'event') continue;
        const { body, ...event } = record.event;
        events.push({
          event,
          segment,
          offset,
          length,
          bytes: Buffer.byteLength(body, 'utf8'),
          bodyOffset: EVENT_BODY_OFFSET,
        });
        this.lastSeq = Math.max(this.lastSeq, event.seq);
      }
    }
    this.pending = events.filter((entry) => entry.event.seq > ackedThrough);
    this.lastSeq = Math.max(this.lastSeq, ackedThrough);
    if (last !== undefined) {
      const fd = openSync(join(this.directory, segmentName(last)), 'a');
      this.active = { segment: last, fd, size: statSync(join(this.directory, segmentName(last))).size };
    }
    this.deleteDeliveredSegments();
    this.rollIfFull();
    if (this.pending.length > 0) {
      this.log.info('spool: undelivered events found', {
        pendingEvents: this.pending.length,
        firstSeq: this.pending[0]?.event.seq,
      });
    }
  }

  private cutTornTail(segment: number, validLength: number, size: number): void {
    const fd = openSync(join(this.directory, segmentName(segment)), 'r+');
    try {
      ftruncateSync(fd, validLength);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.log.warn('spool: torn tail cut (the last write before a crash)', {
      segment: segmentName(segment),
      offset: validLength,
      length: size - validLength,
    });
  }

  private readSegment(segment: number): Buffer {
    return readFileSync(join(this.directory, segmentName(segment)));
  }

  private readBody(entry: IndexEntry, readers: Map<number, number>): string {
    let fd = readers.get(entry.segment);
    if (fd === undefined) {
      fd = openSync(join(this.directory, segmentName(entry.segment)), 'r');
      readers.set(entry.segment, fd);
    }
    const buffer = Buffer.allocUnsafe(entry.bytes);
    let read = 0;
    while (read < entry.bytes) {
      const count = readSync(fd, buffer, read, entry.bytes - read, entry.offset + entry.bodyOffset + read);
      if (count === 0) break;
      read += count;
    }
    return buffer.toString('utf8', 0, read);
  }

  private activeSegment(): { segment: number; fd: number; size: number } {
    if (this.active !== undefined) return this.active;
    return this.startSegment((this.segments.at(-1) ?? 0) + 1);
  }

  private startSegment(segment: number): { segment: number; fd: number; size: number } {
    const fd = openSync(join(this.directory, segmentName(segment)), 'a', 0o600);
    fsyncDirectory(this.directory);
    this.segments.push(segment);
    this.active = { segment, fd, size: 0 };
    return this.active;
  }

  private writeDurably(bytes: Buffer): void {
    const active = this.activeSegment();
    let written = 0;
    while (written < bytes.length) written += writeSync(active.fd, bytes, written, bytes.length - written);
    fsyncSync(active.fd);
    active.size += bytes.length;
  }

  private rollIfFull(): void {
    if (this.active === undefined || this.active.size < this.segmentBytes) return;
    closeSync(this.active.fd);
    this.active = undefined;
    this.deleteDeliveredSegments();
  }

  /** Deletes closed segments that hold no pending event. */
  private deleteDeliveredSegments(): void {
    const live = new Set(this.pending.map((entry) => entry.segment));
    const keep: number[] = [];
    let deleted = false;
    for (const segment of this.segments) {
      if (segment === this.active?.segment || live.has(segment)) {
        keep.push(segment);
        continue;
      }
      rmSync(join(this.directory, segmentName(segment)), { force: true });
      deleted = true;
    }
    this.segments = keep;
    if (deleted) fsyncDirectory(this.directory);
  }

  /** Drops the oldest heartbeats when the pending events outgrow the bound (spool-trim.ts). */
  private enforceBound(): void {
    const plan = planSpoolTrim(
      this.pending.map((entry) => ({ seq: entry.event.seq, type: entry.event.type, bytes: entry.bytes })),
      this.maxBytes,
    );
    if (plan.drop.length > 0) this.rewriteWithout(new Set(plan.drop));
    if (plan.overBound && !this.overBoundWarned) {
      this.overBoundWarned = true;
      this.log.warn('spool: over its size bound with symptoms only; keeping every one', {
        maxBytes: this.maxBytes,
        pendingBytes: this.stats().pendingBytes,
      });
    } else if (!plan.overBound) {
      this.overBoundWarned = false;
    }
  }

  private rewriteWithout(drop: ReadonlySet<number>): void {
    const kept = this.pending.filter((entry) => !drop.has(entry.event.seq));
    const replaces = [...this.segments];
    const segment = (replaces.at(-1) ?? 0) + 1;
    const header = encodeSpoolRecord({ kind: 'compaction', replaces });
    const readers = new Map<number, number>();
    const records: Buffer[] = [header];
    const rewritten: IndexEntry[] = [];
    let offset = header.length;
    try {
      for (const entry of kept) {
        const event: OutboundEvent = { ...entry.event, body: this.readBody(entry, readers) };
        const record = encodeSpoolRecord({ kind: 'event', event } satisfies SpoolRecord);
        records.push(record);
        rewritten.push({ ...entry, segment, offset, length: record.length });
        offset += record.length;
      }
    } finally {
      for (const fd of readers.values()) closeSync(fd);
    }
    const path = join(this.directory, segmentName(segment));
    const temporary = `${path}.tmp`;
    const fd = openSync(temporary, 'w', 0o600);
    try {
      const bytes = Buffer.concat(records);
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    fsyncDirectory(this.directory);
    if (this.active !== undefined) closeSync(this.active.fd);
    for (const old of replaces) rmSync(join(this.directory, segmentName(old)), { force: true });
    fsyncDirectory(this.directory);
    this.segments = [segment];
    this.active = { segment, fd: openSync(path, 'a'), size: offset };
    this.pending = rewritten;
    this.droppedHeartbeats += drop.size;
    this.log.warn('spool: over its size bound; dropped the oldest heartbeats', {
      dropped: drop.size,
      maxBytes: this.maxBytes,
    });
  }
}
