import { isFinished } from '../indexes.ts';
import type { DecisionRecord, DecisionStatus, OutboxStore, WriteOutcome } from '../port.ts';
import type { SqliteFile } from './database.ts';
import type { SqliteSlices } from './slices.ts';

/**
 * The outbox on SQLite (`OutboxStore`): one row of `decisions` per decision record, its status
 * moved by conditional updates; `finished_at` (wall clock) starts its retention once it is done
 * or aborted. `commitDecision` writes a record and its slices in one transaction (see the port).
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
};

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

export class SqliteOutbox implements OutboxStore {
  readonly #file: SqliteFile;
  readonly #clock: () => number;
  readonly #slices: SqliteSlices;

  /** `clock`: the wall clock (ms), for `finished_at`; `slices`, for `commitDecision`. */
  constructor(file: SqliteFile, clock: () => number, slices: SqliteSlices) {
    this.#file = file;
    this.#clock = clock;
    this.#slices = slices;
  }

  #decisionRow(id: string): DecisionRow | undefined {
    return this.#file.statement<[string], DecisionRow>('SELECT * FROM decisions WHERE id = ?').get(id);
  }

  async putDecision(record: DecisionRecord, replacing?: number): Promise<WriteOutcome> {
    return this.#file.write('write a decision', () => this.#putRecord(record, replacing));
  }

  async commitDecision(record: DecisionRecord, replacing?: number): Promise<WriteOutcome> {
    return this.#file.write('commit a decision', () => {
      // Its slices are written here, so there is nothing to roll forward: the record keeps only
      // the effects (a slice write is the slice's whole value, the largest part of a record).
      const committed: DecisionRecord = { ...record, status: 'committed', writes: [] };
      const row = this.#decisionRow(record.id);
      if (row === undefined ? replacing !== undefined : !this.#replaces(row, replacing)) return 'conflict';
      if (!this.#slices.writeIfCurrent(record.writes)) return 'conflict';
      return this.#putRecord(committed, replacing);
    });
  }

  #replaces(row: DecisionRow, replacing: number | undefined): boolean {
    return replacing !== undefined && row.attempt === replacing && row.status === 'aborted';
  }

  #putRecord(record: DecisionRecord, replacing: number | undefined): WriteOutcome {
    {
      const row = this.#decisionRow(record.id);
      const values = [
        record.attempt,
        record.status,
        record.at,
        record.createdAt,
        record.about,
        JSON.stringify({ writes: record.writes, effects: record.effects }),
        JSON.stringify(record.done),
        record.id,
      ];
      if (row === undefined) {
        if (replacing !== undefined) return 'conflict';
        this.#file
          .statement(
            'INSERT INTO decisions (attempt, status, at, created_at, about, body, done, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(...values);
        return 'ok';
      }
      if (!this.#replaces(row, replacing)) return 'conflict';
      this.#file
        .statement(
          'UPDATE decisions SET attempt = ?, status = ?, at = ?, created_at = ?, about = ?, body = ?, done = ?, finished_at = NULL WHERE id = ?',
        )
        .run(...values);
      return 'ok';
    }
  }

  async getDecision(id: string): Promise<DecisionRecord | undefined> {
    return this.#file.read('read a decision', () => {
      const row = this.#decisionRow(id);
      return row === undefined ? undefined : this.#toRecord(row);
    });
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
      const changed = this.#file
        .statement(
          'UPDATE decisions SET status = ?, finished_at = ? WHERE id = ? AND attempt = ? AND status = ?',
        )
        .run(to, finished, id, attempt, from);
      return changed.changes === 1 ? 'ok' : 'conflict';
    });
  }

  async markEffectDone(id: string, attempt: number, index: number): Promise<void> {
    await this.#file.write('mark an effect done', () => {
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
    return this.#file.read('read unfinished decisions', () =>
      this.#file
        .statement<[number, number], DecisionRow>(
          "SELECT * FROM decisions WHERE status IN ('pending', 'committed') AND created_at <= ? ORDER BY created_at, id LIMIT ?",
        )
        .all(createdBefore, limit)
        .map((row) => this.#toRecord(row)),
    );
  }
}
