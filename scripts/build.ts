import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';

/**
 * `npm run build`: the agent as one file, `dist/faultline-agent.mjs`, that runs with plain `node`
 * (20 or newer) and no node_modules: zod, the AWS SDK's SQS client and every agent module inlined.
 *
 * - `mainFields: ['module', 'main']` takes the SDK's ES module builds, which tree-shake;
 * - the `createRequire` banner gives the bundled CommonJS parts (the SDK's `require('node:https')`
 *   and friends) a `require` inside an ES module, where there is none;
 * - the commands stay lazily evaluated (agent/cli.ts imports them dynamically and esbuild keeps
 *   each behind its own initialiser), so `hook` does not pay for the SQS client it never uses.
 *
 * docs/architecture.md §7 caps the bundle at 2 MB; `buildAgentBundle` returns the size so tests can see it.
 */

const ROOT = join(import.meta.dirname, '..');
export const AGENT_BUNDLE = join(ROOT, 'dist', 'faultline-agent.mjs');

/** How the agent is bundled (`npm run bench` bundles its dependencies alone the same way). */
export const AGENT_BUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  keepNames: true,
  legalComments: 'none',
  mainFields: ['module', 'main'],
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** Bundles the agent into `outfile` (by default `dist/faultline-agent.mjs`). */
export const buildAgentBundle = async (
  outfile: string = AGENT_BUNDLE,
): Promise<{ outfile: string; bytes: number }> => {
  await build({
    ...AGENT_BUILD_OPTIONS,
    entryPoints: [join(ROOT, 'agent', 'main.ts')],
    outfile,
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  return { outfile, bytes: statSync(outfile).size };
};

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outfile, bytes } = await buildAgentBundle();
  console.log(`wrote ${outfile} (${(bytes / 1024).toFixed(0)} KiB)`);
}
