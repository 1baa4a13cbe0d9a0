/**
 * `metadb` as Solaris Volume Manager prints it (metadb(1M)): one line per state database replica
 * with its status flags, first block, block count and device,
 *
 * ```
 *         flags           first blk       block count
 *      a m  p  luo        16              8192            /dev/dsk/c0t0d0s7
 *      a    p  luo        8208            8192            /dev/dsk/c0t0d0s7
 *      W    p  l          16              8192            /dev/dsk/c0t1d0s7
 * ```
 *
 * and with `-i` a legend of the flags after the table. Lower-case flags describe a working
 * replica (`a` active, `m` master, `l` locator read, `u` up to date, `o`, `p`, `c`, `r`, `t`);
 * upper-case ones are errors (`W` write errors, `R` read errors, `M` master blocks, `D` data
 * blocks, `F` format, `S` too small, `B` tagged data invalid). As metadb.c's `info()` prints it,
 * the flags are 20 fixed columns (`MDDB_FLAGS_STRING`, one per bit) followed by TABs, and a
 * replica whose locator could not be read shows `unknown` for its first block and block count
 * (read here as null). Pure: text in, replicas out, and what a replica's flags say; what the
 * executor makes of them is agent/executor/metadb.ts, what the scan reports is agent/scan/solaris-scan.ts.
 */

export type MetadbReplica = {
  flags: string;
  /** Null when metadb printed `unknown` (the replica's locator could not be read). */
  firstBlock: number | null;
  blockCount: number | null;
  device: string;
};

export type MetadbReading = { replicas: MetadbReplica[]; messages: string[] };

const BLOCKS = /^(\d{1,15}|unknown)$/;
const FLAG_WORD = /^[A-Za-z]+$/;

/**
 * One replica line: its flag columns (letters, with blanks between them), then the first block,
 * the block count and the device, separated by blanks. Read by splitting on blanks, in time linear
 * in the line: a pattern that lets the flags' blanks and the separator overlap backtracks
 * quadratically on a long run of blanks (a collect body is hostile input).
 */
const replicaFields = (line: string) => {
  const words = line.trim().split(/\s+/);
  if (words.length < 4) return null;
  const [firstBlock, blockCount, device] = words.slice(-3) as [string, string, string];
  const flags = words.slice(0, -3);
  if (!BLOCKS.test(firstBlock) || !BLOCKS.test(blockCount)) return null;
  if (!flags.every((word) => FLAG_WORD.test(word))) return null;
  return { flags: flags.join(''), firstBlock, blockCount, device };
};
const blocks = (text: string | undefined): number | null =>
  text === undefined || text === 'unknown' ? null : Number(text);
/** The upper-case flags of a replica in error. */
export const ERROR_FLAGS = /[WRMDFSB]/;

/** Reads `metadb` (or `metadb -i`) output. Never throws. */
export const parseMetadb = (text: string): MetadbReading => {
  const replicas: MetadbReplica[] = [];
  const messages: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    if (/^\s*flags\s+first blk/i.test(line)) continue;
    if (/^\s*[A-Za-z] - /.test(line)) continue;
    const replica = replicaFields(line);
    if (replica === null) {
      messages.push(line.trim());
      continue;
    }
    replicas.push({
      flags: replica.flags,
      firstBlock: blocks(replica.firstBlock),
      blockCount: blocks(replica.blockCount),
      device: replica.device,
    });
  }
  return { replicas, messages };
};

/** The slice a replica sits on, as the plans name it: `/dev/dsk/c0d1s7` → `c0d1s7`. */
export const replicaSlice = (replica: MetadbReplica): string => replica.device.replace(/^\/dev\/r?dsk\//, '');

/** A replica with an error flag (`W`, `R`, `M`, `D`, `F`, `S`, `B`). */
export const replicaInError = (replica: MetadbReplica): boolean => ERROR_FLAGS.test(replica.flags);

/** A replica SVM commits to: flagged `a` and in no error. */
export const replicaActive = (replica: MetadbReplica): boolean =>
  replica.flags.includes('a') && !replicaInError(replica);

/** How many replicas sit on one slice, and how many of them are active or in error. */
export type SliceReplicas = { slice: string; count: number; active: number; erred: number };

/** The replicas of a reading counted per slice, slices in name order (`c0d2s7` before `c0d10s7`). */
export const replicasBySlice = (reading: MetadbReading): SliceReplicas[] => {
  const bySlice = new Map<string, SliceReplicas>();
  for (const replica of reading.replicas) {
    const slice = replicaSlice(replica);
    const counts = bySlice.get(slice) ?? { slice, count: 0, active: 0, erred: 0 };
    counts.count += 1;
    if (replicaActive(replica)) counts.active += 1;
    if (replicaInError(replica)) counts.erred += 1;
    bySlice.set(slice, counts);
  }
  return [...bySlice.values()].sort((left, right) =>
    left.slice.localeCompare(right.slice, 'en', { numeric: true }),
  );
};
