import type { StoredToken, TokenStore, WriteOutcome } from '../port.ts';
import type { SqliteFile } from './database.ts';

/** The bearer tokens on SQLite (`TokenStore`): one row of `tokens` per hash, listed by creation time. */
export class SqliteTokens implements TokenStore {
  readonly #file: SqliteFile;

  constructor(file: SqliteFile) {
    this.#file = file;
  }

  async putToken(token: StoredToken): Promise<WriteOutcome> {
    return this.#file.write('write a token', () => {
      const changed = this.#file
        .statement('INSERT OR IGNORE INTO tokens (hash, created_at, body) VALUES (?, ?, ?)')
        .run(token.hash, token.createdAt, JSON.stringify(token));
      return changed.changes === 1 ? 'ok' : 'conflict';
    });
  }

  async getToken(hash: string): Promise<StoredToken | undefined> {
    const row = await this.#file.read('read a token', () =>
      this.#file.statement<[string], { body: string }>('SELECT body FROM tokens WHERE hash = ?').get(hash),
    );
    return row === undefined ? undefined : (JSON.parse(row.body) as StoredToken);
  }

  async deleteToken(hash: string): Promise<void> {
    await this.#file.write('delete a token', () => {
      this.#file.statement('DELETE FROM tokens WHERE hash = ?').run(hash);
    });
  }

  async listTokens(): Promise<StoredToken[]> {
    return this.#file.read('list tokens', () =>
      this.#file
        .statement<[], { body: string }>('SELECT body FROM tokens ORDER BY created_at, hash')
        .all()
        .map((row) => JSON.parse(row.body) as StoredToken),
    );
  }
}
