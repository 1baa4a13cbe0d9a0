import { type SliceRef, type SliceValue, sliceKey } from '../port.ts';
import type { UnitCache } from './database.ts';

/**
 * The slices a unit (database.ts, `SqliteFile.unit`) has read or written, kept in memory until it
 * ends. A correlate batch of 200 events reads and writes its failure domain's slice once per event:
 * without the cache each read costs a SELECT and a JSON.parse, each write a JSON.stringify and an
 * UPDATE. With it, a slice is read from the file once per unit and written back once, before the
 * unit commits (or before a statement that reads `slices` by other than its key).
 *
 * It keeps what the events of a batch share, the control slice and the failure domains' slices
 * (./slices.ts decides), not host slices: a storm's batch reads and writes each host's slice about
 * once, so keeping them saves nothing, and holding 200 of them for a whole unit makes them outlive
 * the young generation's collections: at 100,000 events the heap peaked at twice its size.
 *
 * Values are deeply frozen as they enter (read from the file, or written by a caller): the same
 * objects are handed to every later reader in the unit, so none may change what another reads or
 * what is written back. The core never changes the slices it is given (it copies on write, and
 * its tests run it on frozen slices, cli/replay/memory-world.ts `freezeInputs`), so freezing costs
 * no copy; a caller that broke that rule would fail at once instead of changing the unit's state.
 * Freezing stops at parts already frozen: a slice the core wrote shares most of its parts with
 * the one it read.
 */

/** A slice as the file holds it (`version` 0 and no value: never written). */
export interface SliceState {
  readonly value: SliceValue | undefined;
  readonly version: number;
  readonly lock: string | undefined;
  readonly applied: readonly string[];
}

interface CachedSlice extends SliceState {
  readonly ref: SliceRef;
  /** Changed since it was read or last written back. */
  readonly dirty: boolean;
}

/**
 * Freezes plain JSON data all the way down, stopping at what is frozen already (its parts were
 * frozen before it). Loops without `Object.values`, which would allocate an array per object.
 */
const freezeDeep = <T>(value: T): T => {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) for (const part of value) freezeDeep(part);
  else for (const key in value) freezeDeep(value[key]);
  return Object.freeze(value);
};

export class SliceCache implements UnitCache {
  readonly #slices = new Map<string, CachedSlice>();
  /**
   * Inside a savepoint, each change as the key and what it held before, so that the savepoint can
   * be undone if it fails (savepoints of a unit run one after another, never one inside another).
   */
  #journal: [string, CachedSlice | undefined][] | undefined;
  readonly #read: (ref: SliceRef) => SliceState;
  readonly #writeBack: (ref: SliceRef, slice: SliceState) => void;

  /** `read`: a slice from the file; `writeBack`: one written to the file (inserted or replaced). */
  constructor(read: (ref: SliceRef) => SliceState, writeBack: (ref: SliceRef, slice: SliceState) => void) {
    this.#read = read;
    this.#writeBack = writeBack;
  }

  /** The slice as the unit has it: from memory, or read from the file on its first use. */
  current(ref: SliceRef): SliceState {
    const key = sliceKey(ref);
    const cached = this.#slices.get(key);
    if (cached !== undefined) return cached;
    const read = this.#read(ref);
    const slice: CachedSlice = {
      ref,
      value: freezeDeep(read.value),
      version: read.version,
      lock: read.lock,
      applied: freezeDeep(read.applied),
      dirty: false,
    };
    this.#set(key, slice);
    return slice;
  }

  /** Sets a slice's new state, to be written back when the unit ends. */
  change(ref: SliceRef, slice: SliceState): void {
    this.#set(sliceKey(ref), {
      ref,
      value: freezeDeep(slice.value),
      version: slice.version,
      lock: slice.lock,
      applied: freezeDeep(slice.applied),
      dirty: true,
    });
  }

  savepoint(): void {
    this.#journal = [];
  }

  release(): void {
    this.#journal = undefined;
  }

  rollback(): void {
    for (const [key, before] of (this.#journal ?? []).reverse()) {
      if (before === undefined) this.#slices.delete(key);
      else this.#slices.set(key, before);
    }
    this.#journal = undefined;
  }

  writeBack(): void {
    for (const [key, slice] of this.#slices) {
      if (!slice.dirty) continue;
      this.#writeBack(slice.ref, slice);
      this.#set(key, { ...slice, dirty: false });
    }
  }

  clear(): void {
    this.#slices.clear();
    this.#journal = undefined;
  }

  #set(key: string, slice: CachedSlice): void {
    this.#journal?.push([key, this.#slices.get(key)]);
    this.#slices.set(key, slice);
  }
}
