import type { UnitCache } from './database.ts';

/**
 * Rows a unit (database.ts, `SqliteFile.unit`) has read or written, kept in memory until it ends:
 * each is read from the file once per unit and written back once, before the unit commits (or
 * before a statement that reads its table by other than its key). A savepoint of the unit that
 * fails takes them back to what they were before it, as it does the file.
 *
 * Three sub-ports keep their rows so (what each keeps, and why, is in its own file):
 * - ./slices.ts: every slice. A correlate batch of 200 events reads and writes its failure
 *   domain's slice once per event: without the unit's rows each read costs a SELECT and a
 *   JSON.parse, each write a JSON.stringify and an UPDATE. Host slices are held as the text the
 *   file would store: held as objects, 200 of them outlive the young generation's collections.
 * - ./outbox.ts: the decision records committed in the unit. Each is written, moved to `done` and
 *   read back within the unit; kept, it is written once, as it ends the unit.
 * - ./projection-writer.ts: the incident rows, whose count every event of a storm's batch moves,
 *   and the affected-host and timeline rows.
 *
 * With all of them held, a decision of the unit changes no page of the file, so its savepoint has
 * nothing to copy to SQLite's statement journal: that copy (a whole page for each page a savepoint
 * changes) wrote 1.5 GB for a 20,000-event storm when host slices and projection rows were written
 * at once.
 */

/** A row the unit holds: undefined when the file has none; dirty once changed and not yet written back. */
interface Held<Key, Row> {
  readonly key: Key;
  readonly row: Row | undefined;
  readonly dirty: boolean;
}

export class UnitRows<Key, Row> implements UnitCache {
  readonly #rows = new Map<string, Held<Key, Row>>();
  /**
   * Inside a savepoint, each change as the key and what it held before, so that the savepoint can
   * be undone if it fails (savepoints of a unit run one after another, never one inside another).
   */
  #journal: [string, Held<Key, Row> | undefined][] | undefined;
  readonly #keyOf: (key: Key) => string;
  readonly #read: (key: Key) => Row | undefined;
  readonly #writeBack: (key: Key, row: Row) => void;
  readonly #enter: (row: Row, key: Key) => Row;

  /**
   * `read`: a row from the file (undefined: none); `writeBack`: one written to the file (inserted
   * or replaced); `enter`: what a row becomes as it enters the unit, read or changed (./slices.ts
   * freezes its slices there, or keeps a host's serialised).
   */
  constructor(
    keyOf: (key: Key) => string,
    read: (key: Key) => Row | undefined,
    writeBack: (key: Key, row: Row) => void,
    enter: (row: Row, key: Key) => Row = (row) => row,
  ) {
    this.#keyOf = keyOf;
    this.#read = read;
    this.#writeBack = writeBack;
    this.#enter = enter;
  }

  /** The row as the unit has it: from memory, or read from the file on its first use. */
  current(key: Key): Row | undefined {
    const name = this.#keyOf(key);
    const cached = this.#rows.get(name);
    if (cached !== undefined) return cached.row;
    const read = this.#read(key);
    const row = read === undefined ? undefined : this.#enter(read, key);
    this.#set(name, { key, row, dirty: false });
    return row;
  }

  /** Sets a row's new state, to be written back when the unit ends. */
  change(key: Key, row: Row): void {
    this.#set(this.#keyOf(key), { key, row: this.#enter(row, key), dirty: true });
  }

  savepoint(): void {
    this.#journal = [];
  }

  release(): void {
    this.#journal = undefined;
  }

  rollback(): void {
    for (const [name, before] of (this.#journal ?? []).reverse()) {
      if (before === undefined) this.#rows.delete(name);
      else this.#rows.set(name, before);
    }
    this.#journal = undefined;
  }

  writeBack(): void {
    for (const [name, entry] of this.#rows) {
      if (!entry.dirty || entry.row === undefined) continue;
      this.#writeBack(entry.key, entry.row);
      this.#set(name, { ...entry, dirty: false });
    }
  }

  clear(): void {
    this.#rows.clear();
    this.#journal = undefined;
  }

  #set(name: string, entry: Held<Key, Row>): void {
    this.#journal?.push([name, this.#rows.get(name)]);
    this.#rows.set(name, entry);
  }
}

/**
 * Freezes plain JSON data all the way down, stopping at what is frozen already (its parts were
 * frozen before it). Loops without `Object.values`, which would allocate an array per object.
 */
export const freezeDeep = <T>(value: T): T => {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) for (const part of value) freezeDeep(part);
  else for (const key in value) freezeDeep(value[key]);
  return Object.freeze(value);
};
