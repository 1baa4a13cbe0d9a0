import { sliceIndexOf } from '../indexes.ts';
import {
  type SliceRef,
  type SliceStore,
  type SliceValue,
  type SliceWrite,
  type StoredSlice,
  sliceKey,
  type Wake,
  type WriteOutcome,
} from '../port.ts';
import { sortableTime } from '../projection.ts';
import type { SqliteFile } from './database.ts';
import { freezeDeep, UnitRows } from './unit-rows.ts';

/**
 * The slices on SQLite (`SliceStore`): one row of `slices` each, versioned and locked by the
 * conditions checked inside one write transaction, with the index columns (`wake_at`, `open`)
 * written from the value in the same row. Inside a unit every slice is read and written in the
 * unit's rows (./unit-rows.ts), the same conditions checked against them, and reaches the file
 * when the unit ends; a query by `wake_at` or `open` writes them back first.
 *
 * The control and domain slices are deeply frozen as they enter the unit's rows (read from the
 * file, or written by a caller): the same objects are handed to every later reader in the unit, so
 * none may change what another reads or what is written back. The core never changes the slices
 * it is given (it copies on write, and its tests run it on frozen slices,
 * cli/replay/memory-world.ts `freezeInputs`), so freezing costs no copy; a caller that broke that
 * rule would fail at once instead of changing the unit's state. Freezing stops at parts already
 * frozen: a slice the core wrote shares most of its parts with the one it read.
 *
 * A host slice is held serialised (`text`, with the index columns its value gives): a storm's batch
 * reads and writes each host's slice about once, and 200 host slices held as objects for a whole
 * unit outlive the young generation's collections (at 100,000 events the heap peaked at twice its
 * size). Its text is what the file's row would hold, made when the slice is written (as the file's
 * write would make it) and parsed when it is read (as the file's read would).
 */

/**
 * A slice as the file holds it (`version` 0 and no value: never written). A host slice in a unit
 * holds its value as `text` instead, with the index columns of that value.
 */
interface SliceState {
  readonly value: SliceValue | undefined;
  readonly version: number;
  readonly lock: string | undefined;
  readonly applied: readonly string[];
  readonly text?: string | undefined;
  readonly columns?: IndexColumns | undefined;
}

/** The index columns of a slice's row. */
interface IndexColumns {
  readonly wakeAt: string | null;
  readonly open: 0 | 1;
}

const columnsOf = (ref: SliceRef, value: SliceValue): IndexColumns => {
  const index = sliceIndexOf(ref, value);
  return { wakeAt: index.wakeAt ?? null, open: index.openDomain ? 1 : 0 };
};

/** What a slice becomes as it enters a unit's rows: frozen, or a host's serialised. */
const entering = (slice: SliceState, ref: SliceRef): SliceState => {
  const applied = freezeDeep(slice.applied);
  if (ref.kind !== 'host') {
    return { value: freezeDeep(slice.value), version: slice.version, lock: slice.lock, applied };
  }
  if (slice.value === undefined) return { ...slice, applied };
  return {
    value: undefined,
    version: slice.version,
    lock: slice.lock,
    applied,
    text: JSON.stringify(slice.value),
    columns: columnsOf(ref, slice.value),
  };
};

const sliceValue = (slice: SliceState): SliceValue | undefined =>
  slice.value ?? (slice.text === undefined ? undefined : (JSON.parse(slice.text) as SliceValue));

type SliceRow = {
  kind: string;
  id: string;
  value: string | null;
  version: number;
  lock: string | null;
  applied: string;
  wake_at: string | null;
  open: number;
};

/** A slice as a write leaves it: its new value, the next version, unlocked. */
const written = (write: SliceWrite): SliceState => ({
  value: write.value,
  version: write.expected + 1,
  lock: undefined,
  applied: write.applied,
});

const refKind = (ref: SliceRef): string => ref.kind;
const refId = (ref: SliceRef): string => (ref.kind === 'control' ? '' : ref.id);

const stateOf = (row: SliceRow | undefined): SliceState => ({
  value: row?.value == null ? undefined : (JSON.parse(row.value) as SliceValue),
  version: row?.version ?? 0,
  lock: row?.lock ?? undefined,
  applied: row === undefined ? [] : (JSON.parse(row.applied) as string[]),
});

/** A host's row as a unit holds it: its value left as the file's text. */
const heldHostOf = (row: SliceRow | undefined): SliceState => ({
  value: undefined,
  version: row?.version ?? 0,
  lock: row?.lock ?? undefined,
  applied: row === undefined ? [] : (JSON.parse(row.applied) as string[]),
  text: row?.value ?? undefined,
  columns: row === undefined ? undefined : { wakeAt: row.wake_at, open: row.open === 1 ? 1 : 0 },
});

export class SqliteSlices implements SliceStore {
  readonly #file: SqliteFile;
  readonly #cache: UnitRows<SliceRef, SliceState>;

  constructor(file: SqliteFile) {
    this.#file = file;
    this.#cache = new UnitRows(
      sliceKey,
      (ref) => (ref.kind === 'host' ? heldHostOf : stateOf)(this.#sliceRow(ref)),
      (ref, slice) => this.#writeRow(ref, slice),
      entering,
    );
    file.keepInUnits(this.#cache);
  }

  /** The unit's slices, when the running code is inside the file's open unit. */
  #unitCache(): UnitRows<SliceRef, SliceState> | undefined {
    return this.#file.inUnit ? this.#cache : undefined;
  }

  #sliceRow(ref: SliceRef): SliceRow | undefined {
    return this.#file
      .statement<[string, string], SliceRow>('SELECT * FROM slices WHERE kind = ? AND id = ?')
      .get(refKind(ref), refId(ref));
  }

  async getSlices(refs: readonly SliceRef[]): Promise<StoredSlice[]> {
    return this.#file.read('read slices', () =>
      refs.map((ref): StoredSlice => {
        const slice = this.#unitCache()?.current(ref) ?? stateOf(this.#sliceRow(ref));
        return {
          ref,
          value: sliceValue(slice),
          version: slice.version,
          lock: slice.lock,
          applied: slice.applied,
        };
      }),
    );
  }

  /**
   * Writes a slice's row as `slice` has it, with its index columns (a lock placeholder has no
   * value): every write of a slice, and the unit's cache writing back what it held.
   */
  #writeRow(ref: SliceRef, slice: SliceState): void {
    const columns = slice.columns ?? (slice.value === undefined ? undefined : columnsOf(ref, slice.value));
    this.#file
      .statement(
        `INSERT INTO slices (kind, id, value, version, lock, applied, wake_at, open) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, version = excluded.version, lock = excluded.lock,
           applied = excluded.applied, wake_at = excluded.wake_at, open = excluded.open`,
      )
      .run(
        refKind(ref),
        refId(ref),
        slice.text ?? (slice.value === undefined ? null : JSON.stringify(slice.value)),
        slice.version,
        slice.lock ?? null,
        JSON.stringify(slice.applied),
        columns?.wakeAt ?? null,
        columns?.open ?? 0,
      );
  }

  async putSlice(write: SliceWrite): Promise<WriteOutcome> {
    return this.#file.write('write a slice', () => (this.writeIfCurrent([write]) ? 'ok' : 'conflict'));
  }

  /**
   * Inside a write transaction: writes every slice only if each is at the version it expects and
   * unlocked; answers whether it did (nothing is written when one is not). Inside a unit, they
   * are checked and written in its rows.
   */
  writeIfCurrent(writes: readonly SliceWrite[]): boolean {
    const now = writes.map((write) => this.#conditionOf(write.ref));
    const current = writes.every(
      (write, index) => now[index]?.version === write.expected && now[index]?.lock === undefined,
    );
    if (!current) return false;
    for (const write of writes) {
      const cache = this.#unitCache();
      if (cache === undefined) this.#writeRow(write.ref, written(write));
      else cache.change(write.ref, written(write));
    }
    return true;
  }

  /** What a conditional write checks of a slice: its version and lock now. */
  #conditionOf(ref: SliceRef): { version: number; lock: string | undefined } {
    const cached = this.#unitCache()?.current(ref);
    if (cached !== undefined) return { version: cached.version, lock: cached.lock };
    const row = this.#sliceRow(ref);
    return { version: row?.version ?? 0, lock: row?.lock ?? undefined };
  }

  async lockSlice(ref: SliceRef, expected: number, token: string): Promise<WriteOutcome> {
    return this.#file.write('lock a slice', () => {
      const cache = this.#unitCache();
      if (cache !== undefined) {
        const slice = cache.current(ref) ?? stateOf(undefined);
        if (slice.version !== expected || (slice.lock !== undefined && slice.lock !== token))
          return 'conflict';
        cache.change(ref, { ...slice, lock: token });
        return 'ok';
      }
      const row = this.#sliceRow(ref);
      if ((row?.version ?? 0) !== expected) return 'conflict';
      if (row === undefined) {
        this.#file
          .statement(
            "INSERT INTO slices (kind, id, value, version, lock, applied) VALUES (?, ?, NULL, 0, ?, '[]')",
          )
          .run(refKind(ref), refId(ref), token);
        return 'ok';
      }
      if (row.lock !== null && row.lock !== token) return 'conflict';
      this.#file
        .statement('UPDATE slices SET lock = ? WHERE kind = ? AND id = ?')
        .run(token, refKind(ref), refId(ref));
      return 'ok';
    });
  }

  async applyLocked(write: SliceWrite, token: string): Promise<WriteOutcome> {
    return this.#file.write('write a locked slice', () => {
      const cache = this.#unitCache();
      if (cache !== undefined) {
        if (cache.current(write.ref)?.lock !== token) return 'conflict';
        cache.change(write.ref, written(write));
        return 'ok';
      }
      const row = this.#sliceRow(write.ref);
      if (row?.lock !== token) return 'conflict';
      this.#writeRow(write.ref, written(write));
      return 'ok';
    });
  }

  async unlockSlice(ref: SliceRef, token: string): Promise<void> {
    await this.#file.write('unlock a slice', () => {
      const cache = this.#unitCache();
      if (cache !== undefined) {
        const slice = cache.current(ref);
        if (slice !== undefined && slice.lock === token) cache.change(ref, { ...slice, lock: undefined });
        return;
      }
      this.#file
        .statement('UPDATE slices SET lock = NULL WHERE kind = ? AND id = ? AND lock = ?')
        .run(refKind(ref), refId(ref), token);
    });
  }

  async waitingHosts(incidentId: string, limit: number): Promise<string[]> {
    return this.#file.read('read waiting hosts', () => {
      this.#file.writeBack();
      return this.#file
        .statement<[string, number], { host_id: string }>(
          "SELECT host_id FROM affected WHERE incident_id = ? AND status = 'waiting' ORDER BY host_id LIMIT ?",
        )
        .all(incidentId, limit)
        .map((row) => row.host_id);
    });
  }

  async openDomains(): Promise<string[]> {
    return this.#file.read('read open domains', () => {
      this.#file.writeBack();
      return this.#file
        .statement<[], { id: string }>("SELECT id FROM slices WHERE kind = 'domain' AND open = 1 ORDER BY id")
        .all()
        .map((row) => row.id);
    });
  }

  async dueWakes(now: string, limit: number): Promise<Wake[]> {
    const until = sortableTime(now);
    return this.#file.read('read due wakes', () => {
      this.#file.writeBack();
      return this.#file
        .statement<[string, number], { kind: 'domain' | 'host'; id: string; wake_at: string }>(
          'SELECT kind, id, wake_at FROM slices WHERE wake_at IS NOT NULL AND wake_at <= ? ORDER BY wake_at, kind, id LIMIT ?',
        )
        .all(until, limit)
        .map((row) => ({ kind: row.kind, id: row.id, at: row.wake_at }));
    });
  }
}
