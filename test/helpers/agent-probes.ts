import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Fixtures of the agent's probes: tool output as the tools print it (`test/fixtures/agent/<tool>/`)
 * and fake filesystem trees (`test/fixtures/agent/trees/<name>/`) whose symlinks (sysfs is mostly
 * links) are listed in `trees/<name>.links` and made by {@link materializeTree} in a scratch copy,
 * so the repository holds plain files only and a test may change its copy freely.
 */
export const AGENT_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'agent');

/** The text of a fixture, exactly as stored (trailing spaces, TABs and all). */
export const fixtureText = (relativePath: string): string =>
  readFileSync(join(AGENT_FIXTURES, relativePath), 'utf8');

/** Every fixture file of one tool folder (`mdstat`, `multipath`, ...), by name. */
export const toolFixtures = (tool: string): Array<{ name: string; text: string }> =>
  readdirSync(join(AGENT_FIXTURES, tool))
    .filter((file) => file.endsWith('.txt'))
    .sort()
    .map((name) => ({ name, text: fixtureText(join(tool, name)) }));

const scratchRoots: string[] = [];

/** Removes every tree this helper made; call it from `afterAll`. */
export const removeScratchTrees = (): void => {
  for (const root of scratchRoots.splice(0)) rmSync(root, { recursive: true, force: true });
};

/** A scratch copy of a fixture tree with its symlinks made; returns its root. */
export const materializeTree = (name: string): string => {
  const root = mkdtempSync(join(tmpdir(), `faultline-${name}-`));
  scratchRoots.push(root);
  cpSync(join(AGENT_FIXTURES, 'trees', name), root, { recursive: true });
  const manifestPath = join(AGENT_FIXTURES, 'trees', `${name}.links`);
  const manifest = existsSync(manifestPath) ? readFileSync(manifestPath, 'utf8') : '';
  for (const line of manifest.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const [link, target] = line.split(' -> ');
    if (link === undefined || target === undefined) throw new Error(`bad line in ${name}.links: ${line}`);
    addLink(root, link, target);
  }
  return root;
};

/** A tree built from scratch: files by path, links by path → target. */
export const buildTree = (files: Record<string, string>, links: Record<string, string> = {}): string => {
  const root = mkdtempSync(join(tmpdir(), 'faultline-tree-'));
  scratchRoots.push(root);
  for (const [path, text] of Object.entries(files)) writeTreeFile(root, path, text);
  for (const [link, target] of Object.entries(links)) addLink(root, link, target);
  return root;
};

/** Writes (or replaces) a file in a tree, making its folders. */
export const writeTreeFile = (root: string, path: string, text: string): void => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
};

/** Removes a file or folder of a tree (a disk that went away). */
export const removeTreePath = (root: string, path: string): void => {
  rmSync(join(root, path), { recursive: true, force: true });
};

const addLink = (root: string, link: string, target: string): void => {
  mkdirSync(dirname(join(root, link)), { recursive: true });
  symlinkSync(target, join(root, link));
};
