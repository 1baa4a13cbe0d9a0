import type { CollectMark, CollectRecord, CollectStore, WriteOutcome } from '../port.ts';
import { sortableTime } from '../projection.ts';
import type { SqliteFile } from './database.ts';

/**
 * What the collect route remembers of each sh agent's host, on SQLite (`CollectStore`): one row of
 * `collects` per host, its `boot_id` and `seq` the collect that wrote it, replaced whole only when
 * the stored row is the one the writer read (or, for a host's first collect, when there is none).
 */
export class SqliteCollects implements CollectStore {
  readonly #file: SqliteFile;

  constructor(file: SqliteFile) {
    this.#file = file;
  }

  async getCollect(hostId: string): Promise<CollectRecord | undefined> {
    const row = await this.#file.read('read a collect record', () =>
      this.#file
        .statement<[string], { boot_id: string; seq: number; stored_at: string; body: string }>(
          'SELECT boot_id, seq, stored_at, body FROM collects WHERE host_id = ?',
        )
        .get(hostId),
    );
    if (row === undefined) return undefined;
    return {
      hostId,
      bootId: row.boot_id,
      seq: row.seq,
      storedAt: row.stored_at,
      body: JSON.parse(row.body) as unknown,
    };
  }

  async putCollect(record: CollectRecord, expected: CollectMark | undefined): Promise<WriteOutcome> {
    const storedAt = sortableTime(record.storedAt);
    const body = JSON.stringify(record.body);
    return this.#file.write('write a collect record', () => {
      const changed =
        expected === undefined
          ? this.#file
              .statement(
                `INSERT INTO collects (host_id, boot_id, seq, stored_at, body) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (host_id) DO NOTHING`,
              )
              .run(record.hostId, record.bootId, record.seq, storedAt, body)
          : this.#file
              .statement(
                `UPDATE collects SET boot_id = ?, seq = ?, stored_at = ?, body = ?
                 WHERE host_id = ? AND boot_id = ? AND seq = ?`,
              )
              .run(record.bootId, record.seq, storedAt, body, record.hostId, expected.bootId, expected.seq);
      return changed.changes === 1 ? 'ok' : 'conflict';
    });
  }
}
