import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * `faultline up` hosts each function's `createHandler` (functions/<name>/create-handler.ts) over
 * the embedded adapters, never the Lambda entry beside it (functions/<name>/handler.ts), whose
 * composition root (functions/lambda/) brings the AWS SDK's DynamoDB, SQS and KMS clients. Loaded
 * anyway, the SDK is memory the local runtime holds for nothing, in each of its threads
 * (docs/architecture.md §7: its RSS against Alertmanager's).
 *
 * Read from the import graph esbuild resolves, static imports, `require()` and dynamic imports
 * alike, from every file of local/ (a thread's entry file included, however the thread is started)
 * and from `faultline up`'s command.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const ENTRIES = [
  ...readdirSync(join(ROOT, 'local'))
    .filter((file) => file.endsWith('.ts'))
    .map((file) => `local/${file}`),
  'cli/up.ts',
];

/** Every module reachable from the entries, each with the chain that reaches it first. */
const reachable = async (): Promise<Map<string, string[]>> => {
  const { metafile } = await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    bundle: true,
    write: false,
    metafile: true,
    outdir: join(tmpdir(), 'faultline-local-graph'),
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  const chains = new Map<string, string[]>(ENTRIES.map((entry) => [entry, [entry]]));
  const pending = [...ENTRIES];
  for (let module = pending.shift(); module !== undefined; module = pending.shift()) {
    const chain = chains.get(module) ?? [module];
    for (const edge of metafile.inputs[module]?.imports ?? []) {
      if (chains.has(edge.path)) continue;
      chains.set(edge.path, [...chain, edge.path]);
      if (edge.external !== true) pending.push(edge.path);
    }
  }
  return chains;
};

describe('faultline up', () => {
  it('loads no module of the AWS SDK: only the handlers, never their Lambda entries', async () => {
    const chains = await reachable();
    // The graph holds what the local runtime does use, so an empty answer below means something.
    expect(chains.has('better-sqlite3')).toBe(true);
    expect(chains.has('functions/correlate/create-handler.ts')).toBe(true);
    const sdk = [...chains]
      .filter(([module]) => module.startsWith('@aws-sdk/'))
      .map(([, chain]) => chain.join(' → '));
    expect(sdk).toEqual([]);
  });
});
