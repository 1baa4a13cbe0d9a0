import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const BIOME = join(ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');

/**
 * Runs the project's Biome configuration over files laid out in a scratch tree, so the rule is
 * proven on a deliberately bad file without ever writing one into the source tree.
 */
const lint = (files: Record<string, string>): { passed: boolean; output: string } => {
  const scratch = mkdtempSync(join(tmpdir(), 'faultline-lint-'));
  scratches.push(scratch);
  copyFileSync(join(ROOT, 'biome.json'), join(scratch, 'biome.json'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(scratch, path, '..'), { recursive: true });
    writeFileSync(join(scratch, path), text);
  }
  try {
    const output = execFileSync(process.execPath, [BIOME, 'lint', '--vcs-enabled=false', '.'], {
      cwd: scratch,
      encoding: 'utf8',
      stdio: 'pipe',
    });
    return { passed: true, output };
  } catch (error) {
    const failure = error as { stdout: string; stderr: string };
    return { passed: false, output: `${failure.stdout}${failure.stderr}` };
  }
};
const scratches: string[] = [];
afterAll(() => {
  for (const scratch of scratches) rmSync(scratch, { recursive: true, force: true });
});

describe('the purity lint rule (events/, probes/, functions/core/)', () => {
  it.each([
    ['events/bad.ts', "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n"],
    ['functions/core/bad.ts', "import { request } from 'node:http';\nexport const call = request;\n"],
    [
      'functions/core/bad.ts',
      "import { SQSClient } from '@aws-sdk/client-sqs';\nexport const client = SQSClient;\n",
    ],
    ['functions/core/bad.ts', "import { Hono } from 'hono';\nexport const app = Hono;\n"],
    ['events/bad.ts', "import { execFile } from 'node:child_process';\nexport const run = execFile;\n"],
    ['functions/core/bad.ts', "import { connect } from 'node:net';\nexport const dial = connect;\n"],
    ['functions/core/bad.ts', "export const load = async () => await import('node:fs/promises');\n"],
    ['functions/core/bad.ts', 'export const region = process.env.AWS_REGION;\n'],
    ['functions/core/bad.ts', "export const get = () => fetch('http://127.0.0.1');\n"],
    ['probes/bad.ts', "import { readFile } from 'node:fs/promises';\nexport const read = readFile;\n"],
    ['probes/bad.ts', "import { execFile } from 'node:child_process';\nexport const run = execFile;\n"],
  ])('fails on I/O in %s', (path, text) => {
    const result = lint({ [path]: text });
    expect(result.passed).toBe(false);
    expect(result.output).toMatch(/noRestricted(Imports|Globals)/);
  });

  it('passes the same imports outside the pure folders, and pure code inside them', () => {
    const result = lint({
      'functions/api/fine.ts': "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
      'functions/core/fine.ts': "import { z } from 'zod';\nexport const Name = z.string();\n",
      'probes/fine.ts': "import { z } from 'zod';\nexport const Line = z.string();\n",
    });
    expect(result.output).not.toMatch(/noRestricted/);
    expect(result.passed).toBe(true);
  });
});
