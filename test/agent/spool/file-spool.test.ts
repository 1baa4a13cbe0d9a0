import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SpoolOrderError } from '../../../agent/spool/event-spool.ts';
import { FileSpool } from '../../../agent/spool/file-spool.ts';
import { MemorySpool } from '../../../agent/spool/memory-spool.ts';
import { encodeSpoolRecord } from '../../../agent/spool/spool-record.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { heartbeat, outbound, symptoms } from '../../helpers/agent-events.ts';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-spool-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;
const freshDir = (): string => {
  count += 1;
  return join(scratch, `spool-${count}`);
};

const ALL = { maxEvents: 10_000, maxBytes: 64 * 1024 * 1024 };
const open = (directory: string, maxBytes = 16 * 1024 * 1024, segmentBytes?: number) => {
  const log = memoryLog();
  const spool = FileSpool.open({
    directory,
    maxBytes,
    log,
    ...(segmentBytes === undefined ? {} : { segmentBytes }),
  });
  return { spool, log };
};
const seqs = (events: { seq: number }[]): number[] => events.map((event) => event.seq);

describe('FileSpool', () => {
  it('gives back appended events in order, within the peek limits', () => {
    const { spool } = open(freshDir());
    spool.append(symptoms(25));
    expect(seqs(spool.peek({ maxEvents: 10, maxBytes: 1 << 20 }))).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    const [first] = symptoms(1);
    const size = Buffer.byteLength(first?.body ?? '');
    expect(spool.peek({ maxEvents: 100, maxBytes: size * 3 })).toHaveLength(3);
    expect(spool.peek(ALL)[0]?.body).toBe(first?.body);
    spool.close();
  });

  it('keeps undelivered events across a reopen and forgets acknowledged ones', () => {
    const directory = freshDir();
    const first = open(directory).spool;
    first.append(symptoms(10));
    first.acknowledge(4);
    first.close();
    const reopened = open(directory).spool;
    expect(seqs(reopened.peek(ALL))).toEqual([5, 6, 7, 8, 9, 10]);
    expect(reopened.stats()).toMatchObject({ pendingEvents: 6, damagedRecords: 0 });
    reopened.close();
  });

  it('leaves out events the caller already delivered', () => {
    const { spool } = open(freshDir());
    spool.append(symptoms(5));
    expect(seqs(spool.peek(ALL, (event) => event.seq % 2 === 0))).toEqual([1, 3, 5]);
    spool.close();
  });

  it('refuses an append out of seq order', () => {
    const { spool } = open(freshDir());
    spool.append(symptoms(3, 10));
    expect(() => spool.append(symptoms(1, 12))).toThrow(SpoolOrderError);
    spool.close();
  });

  it('cuts a torn tail on open and keeps every complete record', () => {
    const directory = freshDir();
    const first = open(directory).spool;
    first.append(symptoms(3));
    first.close();
    const [segment] = readdirSync(directory);
    const path = join(directory, segment as string);
    const intact = statSync(path).size;
    const torn = encodeSpoolRecord({ kind: 'event', event: outbound(heartbeat(), 4) }).subarray(0, 57);
    appendFileSync(path, torn);
    const { spool, log } = open(directory);
    expect(seqs(spool.peek(ALL))).toEqual([1, 2, 3]);
    expect(statSync(path).size).toBe(intact);
    expect(log.lines.map((line) => line.message)).toContain(
      'spool: torn tail cut (the last write before a crash)',
    );
    spool.append(symptoms(1, 4));
    spool.close();
    expect(seqs(open(directory).spool.peek(ALL))).toEqual([1, 2, 3, 4]);
  });

  it('rolls segments and deletes the ones whose events are all delivered', () => {
    const directory = freshDir();
    const { spool } = open(directory, 16 * 1024 * 1024, 4096);
    for (const event of symptoms(40)) spool.append([event]);
    const segments = readdirSync(directory).length;
    expect(segments).toBeGreaterThan(3);
    spool.acknowledge(30);
    expect(readdirSync(directory).length).toBeLessThan(segments);
    expect(seqs(spool.peek(ALL))).toEqual(Array.from({ length: 10 }, (_, i) => i + 31));
    spool.close();
    expect(seqs(open(directory, 16 * 1024 * 1024, 4096).spool.peek(ALL))).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 31),
    );
  });

  it('drops the oldest heartbeats past its size bound, and never a symptom', () => {
    const directory = freshDir();
    const heartbeatBytes = Buffer.byteLength(outbound(heartbeat(), 1).body);
    const { spool, log } = open(directory, 64 * 1024);
    let seq = 0;
    const symptomSeqs: number[] = [];
    const heartbeatSeqs: number[] = [];
    while (heartbeatSeqs.length * heartbeatBytes < 128 * 1024) {
      seq += 1;
      spool.append([outbound(heartbeat(), seq)]);
      heartbeatSeqs.push(seq);
      if (seq % 5 === 0) {
        seq += 1;
        spool.append(symptoms(1, seq));
        symptomSeqs.push(seq);
      }
    }
    const kept = seqs(spool.peek(ALL));
    expect(spool.stats().pendingBytes).toBeLessThanOrEqual(64 * 1024);
    expect(spool.stats().droppedHeartbeats).toBeGreaterThan(0);
    for (const symptom of symptomSeqs) expect(kept).toContain(symptom);
    expect(kept).toContain(heartbeatSeqs.at(-1));
    expect(kept).toEqual([...kept].sort((a, b) => a - b));
    const droppedHeartbeats = heartbeatSeqs.filter((heartbeatSeq) => !kept.includes(heartbeatSeq));
    expect(droppedHeartbeats).toEqual(heartbeatSeqs.slice(0, droppedHeartbeats.length));
    expect(log.lines.map((line) => line.message)).toContain(
      'spool: over its size bound; dropped the oldest heartbeats',
    );
    spool.close();
    expect(seqs(open(directory, 64 * 1024).spool.peek(ALL))).toEqual(kept);
  });

  it('keeps every symptom over its bound, and says so', () => {
    const { spool, log } = open(freshDir(), 64 * 1024);
    const events = symptoms(200);
    spool.append(events);
    expect(spool.stats().pendingEvents).toBe(200);
    expect(log.lines.map((line) => line.message)).toContain(
      'spool: over its size bound with symptoms only; keeping every one',
    );
    spool.close();
  });

  it('recovers from a crash between writing a compacted segment and deleting the old ones', () => {
    const directory = freshDir();
    const first = open(directory).spool;
    first.append(symptoms(3));
    first.close();
    const replaced = readdirSync(directory);
    const compacted = Buffer.concat([
      encodeSpoolRecord({ kind: 'compaction', replaces: [1] }),
      encodeSpoolRecord({ kind: 'event', event: symptoms(1, 2)[0] as never }),
      encodeSpoolRecord({ kind: 'event', event: symptoms(1, 3)[0] as never }),
    ]);
    writeFileSync(join(directory, 'segment-000000000002.log'), compacted);
    writeFileSync(join(directory, 'segment-000000000003.log.tmp'), 'half a rewrite');
    const { spool } = open(directory);
    expect(seqs(spool.peek(ALL))).toEqual([2, 3]);
    expect(readdirSync(directory)).toEqual(['segment-000000000002.log']);
    expect(replaced).toEqual(['segment-000000000001.log']);
    spool.close();
  });

  it('skips a damaged record in a closed segment, reading the others', () => {
    const directory = freshDir();
    const first = open(directory, 16 * 1024 * 1024, 2048).spool;
    first.append(symptoms(12));
    first.close();
    const [oldest] = readdirSync(directory).sort();
    const path = join(directory, oldest as string);
    const bytes = readFileSync(path);
    bytes[30] = (bytes[30] as number) ^ 0x20;
    writeFileSync(path, bytes);
    const { spool, log } = open(directory, 16 * 1024 * 1024, 2048);
    expect(seqs(spool.peek(ALL))).toEqual(Array.from({ length: 11 }, (_, i) => i + 2));
    expect(spool.stats().damagedRecords).toBe(1);
    expect(log.lines.map((line) => line.message)).toContain('spool: damaged record skipped');
    spool.close();
  });
});

describe('MemorySpool', () => {
  it('keeps order, acknowledgements and the heartbeat-first size bound', () => {
    const spool = new MemorySpool(64 * 1024, memoryLog());
    const heartbeats = Array.from({ length: 40 }, (_, index) => outbound(heartbeat(), index * 2 + 1));
    for (const [index, beat] of heartbeats.entries()) spool.append([beat, ...symptoms(1, index * 2 + 2)]);
    const kept = seqs(spool.peek(ALL));
    expect(kept.filter((seq) => seq % 2 === 0)).toHaveLength(40);
    expect(kept).toContain(79);
    expect(spool.stats().droppedHeartbeats).toBeGreaterThan(0);
    spool.acknowledge(60);
    expect(spool.peek(ALL)[0]?.seq).toBeGreaterThan(60);
    expect(() => spool.append(symptoms(1, 5))).toThrow(SpoolOrderError);
  });
});
