import { fileURLToPath } from 'node:url';

/**
 * Where the sources are, from this file rather than the working directory, so `cdk synth`, the
 * tests and an editor all bundle the same files.
 */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The lock file NodejsFunction hashes and esbuild resolves against. */
export const DEPS_LOCK_FILE = fileURLToPath(new URL('../package-lock.json', import.meta.url));

/** A function's handler file: `functions/<name>/handler.ts`, exporting `handler`. */
export const handlerEntry = (name: string): string =>
  fileURLToPath(new URL(`../functions/${name}/handler.ts`, import.meta.url));

/**
 * The store's table layout, which the DynamoDB adapter owns as data (its keys, indexes and TTL
 * attribute): infra reads the file by its path and provisions exactly that, importing no code of
 * functions/.
 */
export const STORE_TABLE_FILE = fileURLToPath(
  new URL('../functions/adapters/store/dynamodb/store-table.json', import.meta.url),
);
