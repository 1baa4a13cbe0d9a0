import { isFinished } from '../indexes.ts';
import type { DecisionRecord, DecisionStatus, OutboxStore, WriteOutcome } from '../port.ts';
import type { SqliteFile } from './database.ts';
import type { SqliteSlices } from './slices.ts';
import { UnitRows } from './unit-rows.ts';

/**
 * The outbox on SQLite (`OutboxStore`): one row of `decisions` per decision record, its status
 * moved by conditional updates; `finished_at` (wall clock) starts its retention once it is done
 * or aborted. `commitDecision` writes a record and its slices in one transaction (see the port).
 *
 * A finished record (`done` or `aborted`) keeps its id, attempt, status and times, not its writes
 * and effects: nothing performs or rolls forward a finished record, and a wave's record holds every
 * plan of the wave. Inside a unit (database.ts), the records the unit writes or reads are kept in
 * its rows (./unit-rows.ts) and written once, as the unit ends: a correlate batch commits each
 * event's record, performs its effects and finishes it within the unit, so the file gets one small
 * row per decision instead of the record, its marks and its move to `done`.
 */

type DecisionRow = {
  id: string;
  attempt: number;
  status: DecisionStatus;
  at: string;
  created_at: number;
  about: string;
  body: string;
  done: string;
  finished_at: number | null;
};

/**
 * A record as the unit holds it: with its body as the file will have it while it is unfinished
 * (serialised when it is set, so that a record that cannot be written fails its own call, as it
 * would outside a unit) and when it finished (ms, for `finished_at`).
 */
type HeldRecord = {
  readonly record: DecisionRecord;
  readonly body: string;
  readonly finishedAt: number | null;
};

const bodyOf = (record: DecisionRecord): string =>
  JSON.stringify({ writes: record.writes, effects: record.effects });

/** The body of a finished record. */
const FINISHED_BODY = JSON.stringify({ writes: [], effects: [] });

const toRecord = (row: DecisionRow, marked: readonly number[]): DecisionRecord => {
  const body = JSON.parse(row.body) as Pick<DecisionRecord, 'writes' | 'effects'>;
  const done = JSON.parse(row.done) as number[];
  return {
    id: row.id,
    attempt: row.attempt,
    status: row.status,
    at: row.at,
    createdAt: row.created_at,
    about: row.about,
    writes: body.writes,
    effects: body.effects,
    done: marked.length === 0 ? done : [...new Set([...done, ...marked])],
  };
};

/** Whether `replacing` names the stored attempt and it was aborted (`putDecision`'s condition). */
const replaces = (
  stored: Pick<DecisionRecord, 'attempt' | 'status'>,
  replacing: number | undefined,
): boolean => replacing !== undefined && stored.attempt === replacing && stored.status === 'aborted';

/** `putDecision`'s condition: no record yet, or `replacing` names the stored, aborted attempt. */
const mayPut = (
  stored: Pick<DecisionRecord, 'attempt' | 'status'> | undefined,
  replacing: number | undefined,
) => (stored === undefined ? replacing === undefined : replaces(stored, replacing));

export class SqliteOutbox implements OutboxStore {
  readonly #file: SqliteFile;
  readonly #clock: () => number;
  readonly #slices: SqliteSlices;
  readonly #held: UnitRows<string, HeldRecord>;

  /** `clock`: the wall clock (ms), for `finished_at`; `slices`, for `commitDecision`. */
  constructor(file: SqliteFile, clock: () => number, slices: SqliteSlices) {
    this.#file = file;
    this.#clock = clock;
    this.#slices = slices;
    this.#held = new UnitRows<string, HeldRecord>(
      (id) => id,
      (id) => {
        const row = this.#decisionRow(id);
        return row === undefined
          ? undefined
          : { record: this.#toRecord(row), body: row.body, finishedAt: row.finished_at };
      },
      (_id, held) => this.#writeRecord(held),
    );
    file.keepInUnits(this.#held);
  }

  /** The unit's records, when the running code is inside the file's open unit. */
  #unitRecords(): UnitRows<string, HeldRecord> | undefined {
    return this.#file.inUnit ? this.#held : undefined;
  }

  #decisionRow(id: string): DecisionRow | undefined {
    return this.#file.statement<[string], DecisionRow>('SELECT * FROM decisions WHERE id = ?').get(id);
  }

  /** The record now: the unit's, or the file's. */
  #current(id: string): DecisionRecord | undefined {
    const held = this.#unitRecords();
    if (held !== undefined) return held.current(id)?.record;
    const row = this.#decisionRow(id);
    return row === undefined ? undefined : this.#toRecord(row);
  }

  /** Sets a record as it now is: held by the unit until it ends, or written to the file. */
  #put(record: DecisionRecord, finishedAt: number | null): void {
    const held = { record, body: bodyOf(record), finishedAt };
    const rows = this.#unitRecords();
    if (rows !== undefined) rows.change(record.id, held);
    else this.#writeRecord(held);
  }

  /** Writes a record's row (inserted or replaced); a finished one without its writes and effects. */
  #writeRecord({ record, body, finishedAt }: HeldRecord): void {
    this.#file
      .statement(
        `INSERT INTO decisions (id, attempt, status, at, created_at, about, body, done, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET attempt = excluded.attempt, status = excluded.status, at = excluded.at,
           created_at = excluded.created_at, about = excluded.about, body = excluded.body, done = excluded.done,
           finished_at = excluded.finished_at`,
      )
      .run(
        record.id,
        record.attempt,
        record.status,
        record.at,
        record.createdAt,
        record.about,
        isFinished(record.status) ? FINISHED_BODY : body,
        JSON.stringify(record.done),
        finishedAt,
      );
  }

  async putDecision(record: DecisionRecord, replacing?: number): Promise<WriteOutcome> {
    return this.#file.write('write a decision', () => {
      if (!mayPut(this.#current(record.id), replacing)) return 'conflict';
      this.#put(record, null);
      return 'ok';
    });
  }

  async commitDecision(record: DecisionRecord, replacing?: number): Promise<WriteOutcome> {
    return this.#file.write('commit a decision', () => {
      if (!mayPut(this.#current(record.id), replacing)) return 'conflict';
      if (!this.#slices.writeIfCurrent(record.writes)) return 'conflict';
      // Its slices are written here, so there is nothing to roll forward: the record keeps only
      // the effects (a slice write is the slice's whole value, the largest part of a record).
      this.#put({ ...record, status: 'committed', writes: [] }, null);
      return 'ok';
    });
  }

  async getDecision(id: string): Promise<DecisionRecord | undefined> {
    return this.#file.read('read a decision', () => this.#current(id));
  }

  /** The record of a row, with the effects marked done since it was written. */
  #toRecord(row: DecisionRow): DecisionRecord {
    const marked = this.#file
      .statement<[string, number], { effect: number }>(
        'SELECT effect FROM effects_done WHERE id = ? AND attempt = ? ORDER BY effect',
      )
      .all(row.id, row.attempt)
      .map((mark) => mark.effect);
    return toRecord(row, marked);
  }

  async setDecisionStatus(
    id: string,
    attempt: number,
    from: DecisionStatus,
    to: DecisionStatus,
  ): Promise<WriteOutcome> {
    return this.#file.write('move a decision', () => {
      const finished = isFinished(to) ? this.#clock() : null;
      const held = this.#unitRecords();
      if (held !== undefined) {
        const entry = held.current(id);
        if (entry?.record.attempt !== attempt || entry.record.status !== from) return 'conflict';
        held.change(id, { ...entry, record: { ...entry.record, status: to }, finishedAt: finished });
        return 'ok';
      }
      const changed = this.#file
        .statement(
          `UPDATE decisions SET status = ?, finished_at = ?, body = CASE WHEN ? THEN ? ELSE body END
           WHERE id = ? AND attempt = ? AND status = ?`,
        )
        .run(to, finished, finished === null ? 0 : 1, FINISHED_BODY, id, attempt, from);
      return changed.changes === 1 ? 'ok' : 'conflict';
    });
  }

  async markEffectDone(id: string, attempt: number, index: number): Promise<void> {
    await this.#file.write('mark an effect done', () => {
      const held = this.#unitRecords();
      if (held !== undefined) {
        const entry = held.current(id);
        if (entry === undefined || entry.record.attempt !== attempt || entry.record.done.includes(index))
          return;
        held.change(id, { ...entry, record: { ...entry.record, done: [...entry.record.done, index] } });
        return;
      }
      const row = this.#file
        // Through the index, not the table: a row of this table is a whole record, up to MBs.
        .statement<[string], { attempt: number }>(
          'SELECT attempt FROM decisions INDEXED BY decisions_attempt WHERE id = ?',
        )
        .get(id);
      if (row === undefined || row.attempt !== attempt) return;
      this.#file
        .statement('INSERT OR IGNORE INTO effects_done (id, attempt, effect) VALUES (?, ?, ?)')
        .run(id, attempt, index);
    });
  }

  async unfinishedDecisions(createdBefore: number, limit: number): Promise<DecisionRecord[]> {
    return this.#file.read('read unfinished decisions', () => {
      // A query by status and time: what the unit holds must be in the file first.
      this.#file.writeBack();
      return this.#file
        .statement<[number, number], DecisionRow>(
          "SELECT * FROM decisions WHERE status IN ('pending', 'committed') AND created_at <= ? ORDER BY created_at, id LIMIT ?",
        )
        .all(createdBefore, limit)
        .map((row) => this.#toRecord(row));
    });
  }
}
