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
 * (read here as null). Pure: text in, replicas out; what the executor makes of them is
 * agent/executor/metadb.ts.
 */

export type MetadbReplica = {
  flags: string;
  /** Null when metadb printed `unknown` (the replica's locator could not be read). */
  firstBlock: number | null;
  blockCount: number | null;
  device: string;
};

export type MetadbReading = { replicas: MetadbReplica[]; messages: string[] };

const REPLICA = /^\s*([A-Za-z][A-Za-z ]*?)\s+(\d{1,15}|unknown)\s+(\d{1,15}|unknown)\s+(\S+)\s*$/;
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
    const replica = REPLICA.exec(line);
    if (replica === null) {
      messages.push(line.trim());
      continue;
    }
    replicas.push({
      flags: (replica[1] ?? '').replace(/\s+/g, ''),
      firstBlock: blocks(replica[2]),
      blockCount: blocks(replica[3]),
      device: replica[4] ?? '',
    });
  }
  return { replicas, messages };
};
