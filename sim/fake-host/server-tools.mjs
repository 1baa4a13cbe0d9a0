import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ldm } from './fake-ldm.mjs';
import { ioscli, uname, who } from './fake-vios.mjs';
import { toolResult } from './tool-result.mjs';

/**
 * The servers' fake tools (`ldm` of an LDoms control domain; `ioscli`, `uname` and `who` of a
 * VIOS), run by name over server-model.mjs: in process (`runServerTool`, what the simulated
 * fleet's runner calls) or as `#!/usr/bin/env node` executables in a folder the agent's live
 * command runner searches (`installServerTools`), so the agent's own `execFile` path is exercised.
 */

const TOOLS = { ldm, ioscli, uname, who };
export const SERVER_TOOL_NAMES = Object.keys(TOOLS);

/** Runs a fake server tool in process: `{code, stdout, stderr}`. */
export const runServerTool = (name, argv, root) => {
  const tool = TOOLS[name];
  if (tool === undefined) return toolResult(127, '', `${name}: command not found\n`);
  return tool(root, argv);
};

/** The entry point of a generated executable. */
export const main = (name, root) => {
  const { code, stdout, stderr } = runServerTool(name, process.argv.slice(2), root);
  process.stdout.write(stdout);
  process.stderr.write(stderr);
  process.exitCode = code;
};

/** Writes an executable per tool into `binDir` (with a `node` link for their shebang). */
export const installServerTools = (binDir, root) => {
  mkdirSync(binDir, { recursive: true });
  if (!existsSync(join(binDir, 'node'))) symlinkSync(process.execPath, join(binDir, 'node'));
  const module = pathToFileURL(join(import.meta.dirname, 'server-tools.mjs')).href;
  for (const name of SERVER_TOOL_NAMES) {
    const script = join(binDir, name);
    writeFileSync(
      script,
      `#!/usr/bin/env node\nimport(${JSON.stringify(module)}).then((tools) => tools.main(${JSON.stringify(name)}, ${JSON.stringify(root)}));\n`,
    );
    chmodSync(script, 0o755);
  }
};
