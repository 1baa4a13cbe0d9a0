import { renameSync } from 'node:fs';
import { basename } from 'node:path';
import { fileIdentityOf, howGone, INACCESSIBLE } from '../functions/adapters/store/sqlite/database.ts';
import { ApiError } from '../functions/api/errors.ts';

/**
 * Whether the data folder under a running control plane is still the one it opened. SQLite keeps
 * writing to a file's inode after the file is unlinked or another is renamed over it, and commits
 * there as happily as before: a data folder deleted under `faultline up` once took 1,200 events
 * with 202 into files no later start could find (issue #18). So the runtime notes the identity
 * (device and inode) of the folder, the store's file and the queues' file, and of each file's `-wal`
 * and `-shm`, when it opens them, and compares it with what the paths name now (seven `stat` calls,
 * a few microseconds). The journals count as much as their files: a deleted `-wal` takes with it
 * every commit not yet checkpointed, and SQLite goes on appending to the unlinked one; while any
 * connection is open SQLite keeps its `-wal` and `-shm` at their paths, the same files, through
 * every checkpoint (it deletes them only when the last connection closes), so one that changed
 * went:
 *
 * - before and after every request that writes (the API's answer is replaced by 503 when a file
 *   went while the request ran: an event is acknowledged only once it is in the file the path
 *   still names);
 * - before each correlate batch is received, just before each of the decider's store commits
 *   (inside the transaction: a fault during a batch rolls it back), and before its messages are
 *   deleted (the decider thread's own watch: ./decider.ts), and before each sweep;
 * - on a one-second timer, so the log says it once, at `error`, even when nothing writes.
 *
 * A fault is kept once seen: from then on nothing is acknowledged until an operator restarts the
 * control plane with its data folder put back (or restored from a backup).
 *
 * SQLite neither checkpoints nor deletes the write-ahead log of a file that moved while open: the
 * `-wal` and `-shm` of a replaced (or deleted) file stay at their paths after the control plane
 * stops, where the next open would replay the old file's frames into the new one. So once the
 * files are closed, {@link DataFolderWatch.setAsideJournals} renames those that are still the ones
 * it had open to `<name>.orphaned-<time>`.
 */

/** The identity of each part of a data folder as it was opened, as `dev:ino` text (see {@link fileIdentityOf}). */
export interface DataFolderIdentity {
  readonly folder: string;
  readonly database: string;
  readonly queues: string;
  /** The `-wal` and `-shm` of each file as they were once opened, by path. */
  readonly journals: Readonly<Record<string, string>>;
}

type Part = 'folder' | 'database' | 'queues';

/** The journals SQLite keeps beside a file in WAL mode. */
const JOURNAL_SUFFIXES = ['-wal', '-shm'] as const;

/** The paths of a data folder's parts. */
export interface DataFolderPaths {
  readonly dataDir: string;
  readonly databaseFile: string;
  readonly queuesFile: string;
}

/** Which part went, and how: the file itself, or its journal (`journal` set) when only that went. */
export interface DataFolderFault {
  readonly part: Part;
  readonly how: 'deleted' | 'replaced' | 'inaccessible';
  readonly journal?: (typeof JOURNAL_SUFFIXES)[number];
}

type FilePart = Exclude<Part, 'folder'>;
const FILE_PARTS: readonly FilePart[] = ['database', 'queues'];

/** The identity of the folder and its two files now; they must exist (the runtime has just opened them). */
export const identityOf = (paths: DataFolderPaths): DataFolderIdentity => {
  const of = (path: string): string => {
    const identity = fileIdentityOf(path);
    if (identity === undefined || identity === INACCESSIBLE)
      throw new Error(`${path} is missing, or cannot be looked at, right after it was opened`);
    return identity;
  };
  const journals: Record<string, string> = {};
  for (const file of [paths.databaseFile, paths.queuesFile])
    for (const suffix of JOURNAL_SUFFIXES) {
      const identity = fileIdentityOf(`${file}${suffix}`);
      if (identity !== undefined && identity !== INACCESSIBLE) journals[`${file}${suffix}`] = identity;
    }
  return {
    folder: of(paths.dataDir),
    database: of(paths.databaseFile),
    queues: of(paths.queuesFile),
    journals,
  };
};

const PARTS: readonly Part[] = ['folder', 'database', 'queues'];

/** The watch over one data folder: {@link check} answers the fault, once seen, ever after. */
export class DataFolderWatch {
  readonly #paths: Readonly<Record<Part, string>>;
  readonly #identity: DataFolderIdentity;
  #fault: DataFolderFault | undefined;

  constructor(paths: DataFolderPaths, identity: DataFolderIdentity = identityOf(paths)) {
    this.#paths = { folder: paths.dataDir, database: paths.databaseFile, queues: paths.queuesFile };
    this.#identity = identity;
  }

  /** What was opened, for the decider thread (which compares the paths with the same identity). */
  get identity(): DataFolderIdentity {
    return this.#identity;
  }

  /** The fault seen so far, without looking again. */
  get fault(): DataFolderFault | undefined {
    return this.#fault;
  }

  /** Looks at the paths (seven `stat` calls) unless a fault was already seen; answers the fault. */
  check(): DataFolderFault | undefined {
    this.#fault ??= this.#look()[0];
    return this.#fault;
  }

  /** Every part that is not as opened now, the folder first, then each file before its journals. */
  #look(): DataFolderFault[] {
    const faults: DataFolderFault[] = [];
    for (const part of PARTS) {
      const how = howGone(fileIdentityOf(this.#paths[part]), this.#identity[part]);
      if (how !== undefined) faults.push({ part, how });
    }
    for (const part of FILE_PARTS)
      for (const journal of JOURNAL_SUFFIXES) {
        // A journal absent at the open (a file not in WAL mode) is not watched.
        const opened = this.#identity.journals[`${this.#paths[part]}${journal}`];
        if (opened === undefined) continue;
        const how = howGone(fileIdentityOf(`${this.#paths[part]}${journal}`), opened);
        if (how !== undefined) faults.push({ part, how, journal });
      }
    return faults;
  }

  /** The path of a part, for the operator's messages (logs and the terminal; never an HTTP answer). */
  pathOf(part: Part): string {
    return this.#paths[part];
  }

  /**
   * Once the files are closed: renames the journals of each file that went, or whose other journal
   * went, to `<name>.orphaned-<time>`, those still the ones opened, so the next start does not
   * replay them into another file. Every part is looked at again, not only the first fault seen:
   * the queue file may have gone after the database did. Answers the new paths.
   */
  setAsideJournals(now: Date): string[] {
    const gone = new Set(
      [...this.#look(), ...(this.#fault === undefined ? [] : [this.#fault])].map((fault) => fault.part),
    );
    const stamp = now.toISOString().replaceAll(':', '-');
    const setAside: string[] = [];
    for (const part of FILE_PARTS) {
      if (!gone.has(part)) continue;
      for (const suffix of JOURNAL_SUFFIXES) {
        const journal = `${this.#paths[part]}${suffix}`;
        const opened = this.#identity.journals[journal];
        if (opened === undefined || fileIdentityOf(journal) !== opened) continue;
        renameSync(journal, `${journal}.orphaned-${stamp}`);
        setAside.push(`${journal}.orphaned-${stamp}`);
      }
    }
    return setAside;
  }
}

/** A part's name as an unauthenticated caller may read it: the file's name, never its path. */
const nameOf = (fault: DataFolderFault, watch: DataFolderWatch): string => {
  if (fault.part === 'folder') return 'data folder';
  const file = `${fault.part === 'database' ? 'database' : 'queue'} file`;
  const name = basename(watch.pathOf(fault.part));
  if (fault.journal === undefined) return `${file} (${name})`;
  return `${file}'s ${fault.journal === '-wal' ? 'write-ahead log' : 'shared-memory index'} (${name}${fault.journal})`;
};

/** The short reason health gives: `the database file (faultline.db) was replaced`. */
export const faultReason = (fault: DataFolderFault, watch: DataFolderWatch): string =>
  `the ${nameOf(fault, watch)} was ${fault.how}`;

/** What an operator reads in the log: what went, where, what it means and what to do. */
export const faultForOperator = (fault: DataFolderFault, watch: DataFolderWatch): string =>
  `the ${fault.part === 'folder' ? 'data folder' : `${fault.part} file${fault.journal === undefined ? '' : `'s journal`}`} ${watch.pathOf(fault.part)}${fault.journal ?? ''} was ${fault.how} while faultline up ran: it now answers 503 to every write and acknowledges nothing more (what it would write could not be found by any later start). Stop it, put the data folder back as it was (or restore it from a backup made with faultline backup), and start it again; agents resend what got 503.`;

/**
 * The answer to a write while the data folder is not whole: 503, saying what went and what to do,
 * by the file's name only (the path is the operator's, in the log). Not retryable by waiting: an
 * operator must restart the control plane; agents keep what got 503 in their spool meanwhile.
 */
export class DataFolderLostError extends ApiError {
  readonly code = 'unavailable' as const;
  readonly retryable = false;

  constructor(
    readonly fault: DataFolderFault,
    watch: DataFolderWatch,
  ) {
    super(
      `${faultReason(fault, watch)} while the control plane ran, so it acknowledges nothing more: an operator must stop faultline up, put the data folder back (or restore it from a backup) and start it again; send this again then`,
    );
    this.name = 'DataFolderLostError';
  }
}

/**
 * The answer to a write while correlate's writes to the database fail for a reason of the file or
 * the disk (read-only, full, corrupt, locked by another process): 503. The queue file may still take
 * the event, but what it holds would only wait for writes that fail, each receive counted, until
 * the dead-letter queue took it; the sender keeps it instead and sends it again once health is ok.
 * Retryable: it ends by itself when a write commits again (the decider probes each second).
 */
export class StoreWritesFailingError extends ApiError {
  readonly code = 'unavailable' as const;
  readonly retryable = true;

  constructor(readonly failure: string) {
    super(
      `the database refuses writes (${failure}), so the control plane acknowledges nothing until it takes them again; send this again later`,
    );
    this.name = 'StoreWritesFailingError';
  }
}
