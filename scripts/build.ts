import { statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * `npm run build`: the agent as one file, `dist/faultline-agent.mjs`, that runs with plain `node`
 * (20 or newer) and no node_modules. The createRequire banner lets bundled CommonJS (the AWS SDK)
 * load Node's built-ins from an ES module.
 */
const root = join(import.meta.dirname, '..');
const outfile = join(root, 'dist', 'faultline-agent.mjs');
await build({
  entryPoints: [join(root, 'agent', 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  legalComments: 'none',
  mainFields: ['module', 'main'],
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
console.log(`wrote ${outfile} (${(statSync(outfile).size / 1024).toFixed(0)} KiB)`);
