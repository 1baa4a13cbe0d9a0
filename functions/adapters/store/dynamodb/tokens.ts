import type { StoredToken, TokenStore, WriteOutcome } from '../port.ts';
import { tokenKey } from './items.ts';
import type { TableClient } from './table-client.ts';

/**
 * The bearer tokens on DynamoDB (`TokenStore`): one item per hash, put only when absent, listed
 * from the `TOKENS` partition of `gsi1` by creation time.
 */
export class DynamoDbTokens implements TokenStore {
  readonly #table: TableClient;

  constructor(table: TableClient) {
    this.#table = table;
  }

  async putToken(token: StoredToken): Promise<WriteOutcome> {
    return this.#table.put(
      'write a token',
      {
        ...tokenKey(token.hash),
        body: JSON.stringify(token),
        gsi1pk: 'TOKENS',
        gsi1sk: `${token.createdAt}#${token.hash}`,
      },
      'attribute_not_exists(pk)',
    );
  }

  async getToken(hash: string): Promise<StoredToken | undefined> {
    const item = await this.#table.get('read a token', tokenKey(hash));
    return item === undefined ? undefined : (JSON.parse(String(item.body)) as StoredToken);
  }

  async deleteToken(hash: string): Promise<void> {
    await this.#table.delete('delete a token', tokenKey(hash));
  }

  async listTokens(): Promise<StoredToken[]> {
    const items = await this.#table.queryAll('list tokens', {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': 'TOKENS' },
    });
    return items.map((item) => JSON.parse(String(item.body)) as StoredToken);
  }
}
