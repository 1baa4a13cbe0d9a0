import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { houseViolations, importCycles, importsOf, productFiles, type SourceFile } from './house-rules.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const tree = productFiles(ROOT);

/** Folders the commands make and git ignores, or git's own. */
const IGNORED_FOLDERS = new Set([
  '.git',
  'node_modules',
  'dist',
  'cdk.out',
  '.faultline',
  'coverage',
  'test-results',
]);

/** The tree with `planted` added (or replacing a file of the same path). */
const plant = (...planted: SourceFile[]): SourceFile[] => [
  ...tree.filter((file) => !planted.some((p) => p.path === file.path)),
  ...planted,
];

/** A template literal's placeholder, written so that it stays text in the planted sources. */
const NAME = '$' + '{name}';

/** What the house checker says of the one planted file, read among the whole tree. */
const violationsOfPlanted = (file: SourceFile) =>
  houseViolations(plant(file)).filter((violation) => violation.file === file.path);

describe('the house (docs/architecture.md)', () => {
  it('reads every product room', () => {
    const rooms = new Set(tree.map((file) => file.path.split('/')[0]));
    for (const room of ['events', 'probes', 'functions', 'local', 'cli', 'sim', 'agent', 'infra']) {
      expect(rooms).toContain(room);
    }
  });

  it('has no import that breaks the table of rooms', () => {
    expect(houseViolations(tree)).toEqual([]);
  });

  it('has no import cycle between files', () => {
    expect(importCycles(tree)).toEqual([]);
  });

  it.each([
    ['a static import', "import { startAgent } from '../../agent/loop/agent-loop.ts';\n"],
    ['a type import', "import type { AgentConfig } from '../../agent/config.ts';\n"],
    ['a re-export', "export { EXIT } from '../../agent/commands/exit.ts';\n"],
    ['a dynamic import', "export const load = () => import('../../agent/cli.ts');\n"],
    ['a require', "const agent = require('../../agent/cli.ts');\nexport { agent };\n"],
    [
      'a multi-line import',
      "import {\n  type AgentConfig,\n  resolveAgentConfig,\n} from '../../agent/config.ts';\n",
    ],
    ['an import in double quotes', 'import { EXIT } from "../../agent/commands/exit.ts";\n'],
    ['an export of everything', "export * from '../../agent/commands/exit.ts';\n"],
    ['an import-require', "import exit = require('../../agent/commands/exit.ts');\nexport { exit };\n"],
    ['an import without an extension', "import { EXIT } from '../../agent/commands/exit';\n"],
    ['a JSDoc @import', "/** @import { AgentConfig } from '../../agent/config.ts' */\nexport const x = 1;\n"],
    ['a path reference by new URL', "export const agent = new URL('../../agent/cli.ts', import.meta.url);\n"],
    [
      'a path reference by import.meta.resolve',
      "export const agent = import.meta.resolve('../../agent/cli.ts');\n",
    ],
    [
      'an import from a .mjs file',
      "import { EXIT } from '../../agent/commands/exit.ts';\n",
      'functions/api/planted.mjs',
    ],
  ])('fails on %s of agent/ planted in functions/', (_, text, path = 'functions/api/planted.ts') => {
    const violations = violationsOfPlanted({ path, text });
    expect(violations).toEqual([
      expect.objectContaining({
        file: path,
        reason: expect.stringContaining('not agent/'),
      }),
    ]);
  });

  it.each([
    ['events/planted.ts', "import type { Incident } from '../functions/core/model.ts';\n", 'not functions/'],
    ['probes/planted.ts', "import { scanHost } from '../agent/scan/scan.ts';\n", 'not agent/'],
    ['agent/planted.ts', "import { createApp } from '../functions/api/app.ts';\n", 'not functions/'],
    ['sim/planted.ts', "import { startControlPlane } from '../local/control-plane.ts';\n", 'not local/'],
    ['local/planted.ts', "import { runFleetDemo } from '../cli/demo/run-demo.ts';\n", 'not cli/'],
    [
      'infra/planted.ts',
      "import { handler } from '../functions/sweep/handler.ts';\n",
      'imports nothing of the project',
    ],
    ['functions/core/planted.ts', "import { parseMdstat } from '../../probes/mdstat.ts';\n", 'pure'],
    ['functions/core/planted.ts', "import type { Store } from '../adapters/store/port.ts';\n", 'pure'],
    [
      'agent/executor/planted.ts',
      "import type { PlanRunner } from '../commands/run.ts';\n",
      'never imports a CLI command',
    ],
    [
      'events/planted.ts',
      "import pkg from '../package.json' with { type: 'json' };\n",
      'root file package.json',
    ],
    [
      'sim/planted.ts',
      `export const load = (name: string) => import(\`../agent/${NAME}.ts\`);\n`,
      'computed',
    ],
    [
      'infra/planted.ts',
      "export const core = new URL('../functions/core/decide.ts', import.meta.url);\n",
      'only handler entries',
    ],
  ])('fails on a forbidden import planted in %s', (path, text, reason) => {
    const violations = violationsOfPlanted({ path, text });
    expect(violations.map((v) => v.reason)).toEqual([expect.stringContaining(reason)]);
  });

  it('does not mistake an import in a comment or a string for one', () => {
    const text = [
      '// import { x } from "../../agent/cli.ts";',
      "/* import('../../agent/cli.ts') */",
      "export const hint = 'the agent is in ../../agent/cli.ts';",
    ].join('\n');
    expect(importsOf(text)).toEqual([]);
    expect(violationsOfPlanted({ path: 'functions/api/planted.ts', text })).toEqual([]);
  });

  it('finds a cycle planted between two files, type imports included', () => {
    const cycles = importCycles(
      plant(
        {
          path: 'functions/api/planted-a.ts',
          text: "import type { B } from './planted-b.ts';\nexport type A = B;\n",
        },
        {
          path: 'functions/api/planted-b.ts',
          text: "import { a } from './planted-a.ts';\nexport const b = a;\n",
        },
      ),
    );
    expect(cycles).toEqual([['functions/api/planted-a.ts', 'functions/api/planted-b.ts']]);
  });

  it('finds a cycle written with .js specifiers and without extensions, as tsc resolves them', () => {
    const cycles = importCycles(
      plant(
        {
          path: 'functions/api/planted-a.ts',
          text: "import { b } from './planted-b.js';\nexport const a = b;\n",
        },
        {
          path: 'functions/api/planted-b.ts',
          text: "import { a } from './planted-a';\nexport const b = a;\n",
        },
      ),
    );
    expect(cycles).toEqual([['functions/api/planted-a.ts', 'functions/api/planted-b.ts']]);
  });

  it('lets infra name its handler entries and the table layout by path, as it does today', () => {
    const text = [
      `export const entry = (name: string) => new URL(\`../functions/${NAME}/handler.ts\`, import.meta.url);`,
      "export const table = new URL('../functions/adapters/store/dynamodb/store-table.json', import.meta.url);",
    ].join('\n');
    expect(violationsOfPlanted({ path: 'infra/planted.ts', text })).toEqual([]);
  });
});

describe("the README's layout table", () => {
  it('names every top-level folder of the tree, and no folder that is not there', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const layout = readme.slice(readme.indexOf('## Layout'), readme.indexOf('## Conventions'));
    // A row's first cell names folders; a row that opens with a top-level one names only top-level ones.
    const named = new Set(
      layout
        .split('\n')
        .map((line) => line.split('|')[1] ?? '')
        .filter((cell) => /^\s*`[\w.-]+\/`/.test(cell))
        .flatMap((cell) => [...cell.matchAll(/`([\w.-]+)\/`/g)].map((match) => match[1])),
    );
    const folders = readdirSync(ROOT, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !IGNORED_FOLDERS.has(entry.name))
      .map((entry) => entry.name);
    expect([...named].sort()).toEqual(folders.sort());
  });
});
