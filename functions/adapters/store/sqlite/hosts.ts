import type { HostRecord, HostRegistry, WriteOutcome } from '../port.ts';
import type { SqliteFile } from './database.ts';

/**
 * The registry of servers on SQLite (`HostRegistry`): one row of `hosts` per registered host,
 * replaced whole by a grant not older than the stored one, listed by host id.
 */
export class SqliteHosts implements HostRegistry {
  readonly #file: SqliteFile;

  constructor(file: SqliteFile) {
    this.#file = file;
  }

  async putHostRecord(record: HostRecord): Promise<WriteOutcome> {
    return this.#file.write('register a host', () => {
      const changed = this.#file
        .statement(
          `INSERT INTO hosts (host_id, registered_at, body) VALUES (?, ?, ?)
           ON CONFLICT (host_id) DO UPDATE SET registered_at = excluded.registered_at, body = excluded.body
           WHERE excluded.registered_at >= hosts.registered_at`,
        )
        .run(record.hostId, record.registeredAt, JSON.stringify(record));
      return changed.changes === 1 ? 'ok' : 'conflict';
    });
  }

  async getHostRecord(hostId: string): Promise<HostRecord | undefined> {
    const row = await this.#file.read('read a host record', () =>
      this.#file
        .statement<[string], { body: string }>('SELECT body FROM hosts WHERE host_id = ?')
        .get(hostId),
    );
    return row === undefined ? undefined : (JSON.parse(row.body) as HostRecord);
  }

  async listHostRecords(): Promise<HostRecord[]> {
    return this.#file.read('list host records', () =>
      this.#file
        .statement<[], { body: string }>('SELECT body FROM hosts ORDER BY host_id')
        .all()
        .map((row) => JSON.parse(row.body) as HostRecord),
    );
  }
}
