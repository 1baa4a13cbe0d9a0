import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createStoreTable } from '../../functions/adapters/store/dynamodb-table.ts';

/**
 * A DynamoDB emulator (dynalite 4.0.0) for tests, in memory, on 127.0.0.1 and a free port.
 *
 * dynalite ships no types: its one export is declared here as the part the tests use. What it
 * does not emulate: transactions, TTL (`UpdateTimeToLive` is not an operation), and the eventual
 * consistency of GSIs (it reads indexes with strong consistency). It does enforce the 400 KB item
 * limit, the condition and update expressions, and GSI queries.
 *
 * ```ts
 * let dynamo: Dynalite;
 * beforeAll(async () => { dynamo = await startDynalite(); });
 * afterAll(() => dynamo.stop());
 * const table = await dynamo.createTable();
 * ```
 */
interface DynaliteOptions {
  readonly createTableMs?: number;
  readonly deleteTableMs?: number;
  readonly updateTableMs?: number;
  readonly maxItemSizeKb?: number;
  /** A LevelDB folder; in memory when absent. */
  readonly path?: string;
}
type DynaliteFactory = (options?: DynaliteOptions) => Server;

const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

export interface Dynalite {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** A new client on the emulator (static credentials, explicit endpoint); `stop` destroys it. */
  client(): DynamoDBClient;
  /** Creates a store table (STORE_TABLE's layout) with a fresh name and answers its name. */
  createTable(name?: string): Promise<string>;
  stop(): Promise<void>;
}

export const DYNALITE_REGION = 'us-east-1';

let tables = 0;

export const startDynalite = async (): Promise<Dynalite> => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: DynamoDBClient[] = [];
  const client = (): DynamoDBClient => {
    const made = new DynamoDBClient({
      endpoint,
      region: DYNALITE_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 3,
    });
    clients.push(made);
    return made;
  };
  const admin = client();
  return {
    endpoint,
    client,
    async createTable(name) {
      tables += 1;
      const tableName = name ?? `faultline-${process.pid}-${tables}`;
      await createStoreTable(admin, tableName);
      return tableName;
    },
    async stop() {
      for (const made of clients) made.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
