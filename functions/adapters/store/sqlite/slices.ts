import { sliceIndexOf } from '../indexes.ts';
import type {
  SliceRef,
  SliceStore,
  SliceValue,
  SliceWrite,
  StoredSlice,
  Wake,
  WriteOutcome,
} from '../port.ts';
import { sortableTime } from '../projection.ts';
import type { SqliteFile } from './database.ts';

/**
 * The slices on SQLite (`SliceStore`): one row of `slices` each, versioned and locked by the
 * conditions checked inside one write transaction, with the index columns (`wake_at`, `open`)
 * written from the value in the same row.
 */

type SliceRow = {
  kind: string;
  id: string;
  value: string | null;
  version: number;
  lock: string | null;
  applied: string;
};

const refKind = (ref: SliceRef): string => ref.kind;
const refId = (ref: SliceRef): string => (ref.kind === 'control' ? '' : ref.id);

export class SqliteSlices implements SliceStore {
  readonly #file: SqliteFile;

  constructor(file: SqliteFile) {
    this.#file = file;
  }

  #sliceRow(ref: SliceRef): SliceRow | undefined {
    return this.#file
      .statement<[string, string], SliceRow>('SELECT * FROM slices WHERE kind = ? AND id = ?')
      .get(refKind(ref), refId(ref));
  }

  async getSlices(refs: readonly SliceRef[]): Promise<StoredSlice[]> {
    return this.#file.read('read slices', () =>
      refs.map((ref): StoredSlice => {
        const row = this.#sliceRow(ref);
        return {
          ref,
          value: row?.value == null ? undefined : (JSON.parse(row.value) as SliceValue),
          version: row?.version ?? 0,
          lock: row?.lock ?? undefined,
          applied: row === undefined ? [] : (JSON.parse(row.applied) as string[]),
        };
      }),
    );
  }

  #writeSlice(write: SliceWrite, exists: boolean): void {
    const { wakeAt, openDomain } = sliceIndexOf(write.ref, write.value);
    const values = [
      JSON.stringify(write.value),
      write.expected + 1,
      JSON.stringify(write.applied),
      wakeAt ?? null,
      openDomain ? 1 : 0,
    ];
    if (exists) {
      this.#file
        .statement(
          'UPDATE slices SET value = ?, version = ?, applied = ?, wake_at = ?, open = ?, lock = NULL WHERE kind = ? AND id = ?',
        )
        .run(...values, refKind(write.ref), refId(write.ref));
    } else {
      this.#file
        .statement(
          'INSERT INTO slices (value, version, applied, wake_at, open, kind, id) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(...values, refKind(write.ref), refId(write.ref));
    }
  }

  async putSlice(write: SliceWrite): Promise<WriteOutcome> {
    return this.#file.write('write a slice', () => (this.writeIfCurrent([write]) ? 'ok' : 'conflict'));
  }

  /**
   * Inside a write transaction: writes every slice only if each is at the version it expects and
   * unlocked; answers whether it did (nothing is written when one is not).
   */
  writeIfCurrent(writes: readonly SliceWrite[]): boolean {
    const rows = writes.map((write) => this.#sliceRow(write.ref));
    const current = writes.every(
      (write, index) =>
        (rows[index]?.version ?? 0) === write.expected && (rows[index]?.lock ?? null) === null,
    );
    if (!current) return false;
    for (const [index, write] of writes.entries()) this.#writeSlice(write, rows[index] !== undefined);
    return true;
  }

  async lockSlice(ref: SliceRef, expected: number, token: string): Promise<WriteOutcome> {
    return this.#file.write('lock a slice', () => {
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
      const row = this.#sliceRow(write.ref);
      if (row?.lock !== token) return 'conflict';
      this.#writeSlice(write, true);
      return 'ok';
    });
  }

  async unlockSlice(ref: SliceRef, token: string): Promise<void> {
    await this.#file.write('unlock a slice', () => {
      this.#file
        .statement('UPDATE slices SET lock = NULL WHERE kind = ? AND id = ? AND lock = ?')
        .run(refKind(ref), refId(ref), token);
    });
  }

  async waitingHosts(incidentId: string, limit: number): Promise<string[]> {
    return this.#file.read('read waiting hosts', () =>
      this.#file
        .statement<[string, number], { host_id: string }>(
          "SELECT host_id FROM affected WHERE incident_id = ? AND status = 'waiting' ORDER BY host_id LIMIT ?",
        )
        .all(incidentId, limit)
        .map((row) => row.host_id),
    );
  }

  async openDomains(): Promise<string[]> {
    return this.#file.read('read open domains', () =>
      this.#file
        .statement<[], { id: string }>("SELECT id FROM slices WHERE kind = 'domain' AND open = 1 ORDER BY id")
        .all()
        .map((row) => row.id),
    );
  }

  async dueWakes(now: string, limit: number): Promise<Wake[]> {
    const until = sortableTime(now);
    return this.#file.read('read due wakes', () =>
      this.#file
        .statement<[string, number], { kind: 'domain' | 'host'; id: string; wake_at: string }>(
          'SELECT kind, id, wake_at FROM slices WHERE wake_at IS NOT NULL AND wake_at <= ? ORDER BY wake_at, kind, id LIMIT ?',
        )
        .all(until, limit)
        .map((row) => ({ kind: row.kind, id: row.id, at: row.wake_at })),
    );
  }
}
