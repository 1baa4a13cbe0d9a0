import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

/**
 * The house of docs/architecture.md as a checker: which top-level folder (room) may import which,
 * and no import cycle between files. It reads every import form a bundler or the type checker
 * follows (static, `export … from`, `import type`, `import x = require()`, side-effect, dynamic
 * `import('…')`, `require('…')`, JSDoc `@import`), so neither a type-only nor a lazy import slips
 * through, and the references to files by path (`new URL('…', import.meta.url)`,
 * `import.meta.resolve('…')`), which must follow the same table. A relative import whose target is
 * computed (a template with `${…}`) cannot be checked, so it is refused. Comments and strings that
 * only mention a path are not imports.
 */

/** Product rooms and the rooms each may import, besides itself. */
export const ROOM_IMPORTS = {
  events: [],
  probes: ['events'],
  functions: ['events', 'probes', 'web'],
  local: ['functions', 'probes', 'events'],
  cli: ['local', 'sim', 'functions', 'probes', 'events'],
  sim: ['agent', 'probes', 'events'],
  web: ['events'],
  agent: ['events', 'probes'],
  infra: [],
} as const satisfies Record<string, readonly string[]>;

export type Room = keyof typeof ROOM_IMPORTS;

/** Rules finer than a room: a folder inside one that may not import another place. */
export const INNER_RULES: readonly { from: string; forbidden: string; why: string }[] = [
  { from: 'functions/core/', forbidden: 'functions/', why: 'the core is pure: it imports only events/' },
  { from: 'functions/core/', forbidden: 'probes/', why: 'the core is pure: it imports only events/' },
  { from: 'agent/executor/', forbidden: 'agent/commands/', why: 'the executor never imports a CLI command' },
  { from: 'agent/executor/', forbidden: 'agent/cli.ts', why: 'the executor never imports a CLI command' },
];

/** Files at the project root a room may read: the agent reports its version from package.json. */
const ROOT_FILES_ALLOWED: Readonly<Record<string, readonly string[]>> = { agent: ['package.json'] };

/**
 * What infra names by path (it imports no code of the project): the project root and its lock file
 * (what NodejsFunction bundles from), each function's handler entry, and the store's table layout.
 */
const INFRA_PATHS: readonly RegExp[] = [
  /^\.$/,
  /^package-lock\.json$/,
  /^functions\/\$\{\w+\}\/handler\.ts$/,
  /^functions\/[a-z-]+\/handler\.ts$/,
  /^functions\/adapters\/store\/dynamodb\/store-table\.json$/,
];

const SOURCE = /\.(?:ts|mts|cts|tsx|js|mjs|cjs|jsx)$/;

export interface SourceFile {
  /** Project-relative, with `/`. */
  readonly path: string;
  readonly text: string;
}

export interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly reason: string;
}

/** The product files of the tree under `root`. */
export const productFiles = (root: string): SourceFile[] => {
  const files: SourceFile[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'cdk.out') walk(path);
      } else if (SOURCE.test(entry.name)) {
        files.push({ path, text: readFileSync(join(root, path), 'utf8') });
      }
    }
  };
  for (const room of Object.keys(ROOM_IMPORTS)) {
    try {
      walk(room);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return files;
};

/** Source with comments blanked, string and template literals kept. */
const withoutComments = (text: string): string => {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
      out += ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
};

const IMPORT_FORMS: readonly RegExp[] = [
  /\b(?:import|export)\s+(?:type\s+)?[\w*${}\s,]*?\bfrom\s*(['"`])([^'"`]+)\1/g,
  /\bimport\s*(['"`])([^'"`]+)\1/g,
  /\bimport\s*\(\s*(['"`])([^'"`]+)\1\s*[,)]/g,
  /\brequire\s*\(\s*(['"`])([^'"`]+)\1\s*\)/g,
];
/** JSDoc `@import … from '…'` lives in a comment, so it is read from the text as written. */
const JSDOC_IMPORT = /@import\s+[^'"`]*?\bfrom\s*(['"`])([^'"`]+)\1/g;
const PATH_FORMS: readonly RegExp[] = [
  /\bnew\s+URL\s*\(\s*(['"`])([^'"`]+)\1\s*,\s*import\.meta\.url\s*\)/g,
  /\bimport\.meta\.resolve\s*\(\s*(['"`])([^'"`]+)\1\s*\)/g,
];

/** One reference from a file to a module or a path. */
export interface Reference {
  readonly specifier: string;
  /** `import`: code the bundler or type checker follows; `path`: a file named by its path. */
  readonly kind: 'import' | 'path';
}

/** Every module specifier and path reference a file holds. */
export const referencesOf = (text: string): Reference[] => {
  const code = withoutComments(text);
  const found = new Map<string, Reference>();
  const add = (specifier: string | undefined, kind: Reference['kind']) => {
    if (specifier !== undefined) found.set(`${kind} ${specifier}`, { specifier, kind });
  };
  for (const form of IMPORT_FORMS) for (const match of code.matchAll(form)) add(match[2], 'import');
  for (const match of text.matchAll(JSDOC_IMPORT)) add(match[2], 'import');
  for (const form of PATH_FORMS) for (const match of code.matchAll(form)) add(match[2], 'path');
  return [...found.values()];
};

/** Every module specifier a file imports. */
export const importsOf = (text: string): string[] =>
  referencesOf(text)
    .filter((reference) => reference.kind === 'import')
    .map((reference) => reference.specifier);

/** The project path a relative specifier names, or null for a package. */
const resolveSpecifier = (from: string, specifier: string): string | null => {
  if (!specifier.startsWith('.')) return null;
  return normalize(join(dirname(from), specifier))
    .split('\\')
    .join('/');
};

/**
 * The file a resolved path names among `known`: itself, its TypeScript source when written as
 * `.js`/`.mjs`/`.cjs` (as tsc allows), with an extension added, or a folder's index.
 */
const fileAmong = (target: string, known: ReadonlySet<string>): string | undefined => {
  const candidates = [
    target,
    target.replace(/\.js$/, '.ts'),
    target.replace(/\.mjs$/, '.mts'),
    target.replace(/\.cjs$/, '.cts'),
    target.replace(/\.js$/, '.tsx'),
    ...['.ts', '.tsx', '.mts', '.js', '.mjs'].map((extension) => `${target}${extension}`),
    ...['index.ts', 'index.js'].map((index) => `${target}/${index}`),
  ];
  return candidates.find((candidate) => known.has(candidate));
};

const roomOf = (path: string): string => path.split('/')[0] ?? '';

/** The imports and path references that break the room table or an inner rule. */
export const houseViolations = (files: readonly SourceFile[]): Violation[] => {
  const violations: Violation[] = [];
  for (const file of files) {
    const from = roomOf(file.path) as Room;
    const allowed: readonly string[] = ROOM_IMPORTS[from] ?? [];
    for (const { specifier, kind } of referencesOf(file.text)) {
      const target = resolveSpecifier(file.path, specifier);
      if (target === null) continue;
      const refuse = (reason: string) => violations.push({ file: file.path, specifier, reason });
      if (target.startsWith('..')) {
        refuse('reaches outside the project');
        continue;
      }
      if (kind === 'import' && specifier.includes('${')) {
        refuse('a relative import whose target is computed cannot be checked: name the file');
        continue;
      }
      const to = roomOf(target);
      if (from === 'infra' && to !== 'infra') {
        if (kind === 'import')
          refuse('infra/ imports nothing of the project: it names handler entries by path');
        else if (!INFRA_PATHS.some((pattern) => pattern.test(target)))
          refuse(`infra/ names by path only handler entries and the store's table layout, not ${target}`);
        continue;
      }
      if (!target.includes('/')) {
        if (!(ROOT_FILES_ALLOWED[from] ?? []).includes(target))
          refuse(`${from}/ may not read the root file ${target}`);
      } else if (to !== from && !allowed.includes(to)) {
        refuse(
          `${from}/ may import only ${allowed.length === 0 ? 'nothing of the project' : allowed.map((r) => `${r}/`).join(', ')}, not ${to}/`,
        );
      }
      for (const rule of INNER_RULES) {
        if (
          file.path.startsWith(rule.from) &&
          target.startsWith(rule.forbidden) &&
          !target.startsWith(rule.from)
        )
          refuse(rule.why);
      }
    }
  }
  return violations;
};

/** The import cycles between files (each a strongly connected component of more than one file, or a self-import). */
export const importCycles = (files: readonly SourceFile[]): string[][] => {
  const known = new Set(files.map((f) => f.path));
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const targets: string[] = [];
    for (const specifier of importsOf(file.text)) {
      const target = resolveSpecifier(file.path, specifier);
      const found = target === null ? undefined : fileAmong(target, known);
      if (found !== undefined) targets.push(found);
    }
    edges.set(file.path, targets);
  }
  // Tarjan's strongly connected components, iterative so a deep chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  for (const start of edges.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; next: number };
      const targets = edges.get(frame.node) ?? [];
      if (frame.next < targets.length) {
        const target = targets[frame.next++] as string;
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, next: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(target) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent)
        low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string | undefined;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfImport = (edges.get(frame.node) ?? []).includes(frame.node);
        if (component.length > 1 || selfImport) cycles.push(component.sort());
      }
    }
  }
  return cycles;
};

/** The project root, from this file. */
export const PROJECT_ROOT = relative(process.cwd(), join(import.meta.dirname, '..', '..')) || '.';
