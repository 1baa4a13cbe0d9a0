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
 * blocks, `F` format, `S` too small, `B` tagged data invalid). `svm.metareplace` runs only while
 * the replicas are healthy (§4): a resync that starts while SVM cannot commit its state is how a
 * mirror ends up with two stale halves.
 */

export type MetadbReplica = { flags: string; firstBlock: number; blockCount: number; device: string };

export type MetadbReading = { replicas: MetadbReplica[]; messages: string[] };

const REPLICA = /^\s*([A-Za-z][A-Za-z ]*?)\s+(\d{1,15})\s+(\d{1,15})\s+(\S+)\s*$/;
const ERROR_FLAGS = /[WRMDFSB]/;

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
      firstBlock: Number(replica[2]),
      blockCount: Number(replica[3]),
      device: replica[4] ?? '',
    });
  }
  return { replicas, messages };
};

/**
 * Whether the state database is healthy: at least one replica, none with an error flag, and a
 * majority of them active (SVM needs half the replicas to run and half plus one to boot).
 * Returns why not, or null when healthy.
 */
export const metadbProblem = (reading: MetadbReading): string | null => {
  const { replicas } = reading;
  if (replicas.length === 0) {
    return reading.messages[0] === undefined ? 'no state database replica' : reading.messages[0];
  }
  const erred = replicas.filter((replica) => ERROR_FLAGS.test(replica.flags));
  if (erred.length > 0) {
    return `replica errors: ${erred.map((replica) => `${replica.device} (${replica.flags})`).join(', ')}`;
  }
  const active = replicas.filter((replica) => replica.flags.includes('a')).length;
  if (active * 2 <= replicas.length) return `only ${active} of ${replicas.length} replicas are active`;
  return null;
};
