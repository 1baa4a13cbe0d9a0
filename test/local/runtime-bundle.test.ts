import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_ENTRIES, BUNDLED_ROOMS, runtimeBundle } from '../../local/runtime-bundle.mjs';
import { ROOM_IMPORTS, type Room } from '../lint/house-rules.ts';

/**
 * `faultline up` runs from a bundle of the sources (local/runtime-bundle.mjs, bin/faultline), made
 * again when a source changes and reused while none does.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-bundle-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A project of two modules: `src/main.ts` exports what `src/dep.ts` says. */
const fixture = (name: string, says: string): string => {
  const root = join(scratch, name);
  mkdirSync(join(root, 'src'), { recursive: true });
  writeFileSync(join(root, 'src', 'main.ts'), "export { says } from './dep.ts';\n");
  writeFileSync(join(root, 'src', 'dep.ts'), `export const says: string = ${JSON.stringify(says)};\n`);
  return root;
};

const options = (root: string) => ({
  root,
  cacheDir: join(root, 'cache'),
  rooms: ['src'],
  entries: { main: 'src/main.ts' },
});

/** The command names of this process's children (Linux /proc). */
const children = (): string[] =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // `pid (comm) state ppid ...`: comm may hold spaces, so read after its closing parenthesis.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === process.pid ? [stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))] : [];
      } catch {
        return [];
      }
    });

/** Whether esbuild's service process is gone (it exits once stopped; give it a second). */
const esbuildGone = async (): Promise<boolean> => {
  for (let tries = 0; tries < 20; tries += 1) {
    if (!children().includes('esbuild')) return true;
    await new Promise((resume) => setTimeout(resume, 50));
  }
  return false;
};

const saysOf = async (file: string): Promise<string> =>
  ((await import(`${pathToFileURL(file).href}?${Date.now()}`)) as { says: string }).says;

describe('the runtime bundle', () => {
  it('is made once for the sources as they are, and made again when one changes', async () => {
    const root = fixture('changes', 'first');
    const first = await runtimeBundle(options(root));
    expect(first.built).toBe(true);
    expect(await saysOf(first.files.main as string)).toBe('first');
    // esbuild's service process is gone once the bundle is made: it would stay beside the control plane.
    expect(await esbuildGone()).toBe(true);

    const again = await runtimeBundle(options(root));
    expect(again).toMatchObject({ built: false, dir: first.dir });

    writeFileSync(join(root, 'src', 'dep.ts'), 'export const says: string = "second";\n');
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(root, 'src', 'dep.ts'), later, later);
    const changed = await runtimeBundle(options(root));
    expect(changed.built).toBe(true);
    expect(changed.dir).not.toBe(first.dir);
    expect(await saysOf(changed.files.main as string)).toBe('second');
    // The older bundle stays, for a control plane that still runs it.
    expect(existsSync(first.files.main as string)).toBe(true);
  });

  it('never removes a bundle a live process holds, and keeps the four last used of the others', async () => {
    const root = fixture('prune', 'v0');
    const edit = (version: number): void => {
      writeFileSync(join(root, 'src', 'dep.ts'), `export const says: string = "v${version}";\n`);
      const later = new Date(Date.now() + version * 1_000);
      utimesSync(join(root, 'src', 'dep.ts'), later, later);
    };
    const held = await runtimeBundle({ ...options(root), holder: true });
    edit(1);
    const orphan = await runtimeBundle(options(root));
    // Held by a process that is gone: as good as not held.
    writeFileSync(join(orphan.dir, 'held-by-999999999'), '');
    for (let version = 2; version <= 7; version += 1) {
      edit(version);
      await runtimeBundle(options(root));
    }
    expect(existsSync(held.files.main as string)).toBe(true);
    expect(await saysOf(held.files.main as string)).toBe('v0');
    expect(existsSync(orphan.dir)).toBe(false);
    // The held one, the four last used, and the one just made.
    expect(readdirSync(join(root, 'cache'))).toHaveLength(6);
  });

  it('lets starts that race each build and all use the one that landed', async () => {
    const root = fixture('race', 'raced');
    const bundles = await Promise.all([1, 2, 3].map(() => runtimeBundle(options(root))));
    expect(new Set(bundles.map((bundle) => bundle.dir)).size).toBe(1);
    expect(await esbuildGone()).toBe(true);
    for (const bundle of bundles) expect(await saysOf(bundle.files.main as string)).toBe('raced');
    // No staging folder is left behind.
    expect(readdirSync(join(root, 'cache'))).toHaveLength(1);
  });

  it('fails with the error of the sources when they do not build', async () => {
    const root = fixture('broken', 'x');
    writeFileSync(join(root, 'src', 'dep.ts'), 'export const says = ;\n');
    await expect(runtimeBundle(options(root))).rejects.toThrow(/dep\.ts/);
    const cache = join(root, 'cache');
    expect(existsSync(cache) ? readdirSync(cache) : []).toEqual([]);
  });

  it('bundles the CLI and the decider thread of the checkout', async () => {
    const bundle = await runtimeBundle({ root: ROOT });
    expect(Object.keys(bundle.files).sort()).toEqual(Object.keys(BUNDLE_ENTRIES).sort());
    for (const file of Object.values(bundle.files)) expect(existsSync(file as string)).toBe(true);
  });

  it('is what `faultline up` runs', async () => {
    const data = join(scratch, 'up');
    const child = spawn(join(ROOT, 'bin', 'faultline'), ['up', '--port', '0', '--data', data], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    try {
      await new Promise<void>((ready, fail) => {
        let out = '';
        child.stdout.on('data', (chunk) => {
          out += chunk;
          if (/listening on http/.test(out)) ready();
        });
        child.once('exit', (code) => fail(new Error(`faultline up exited (${code}): ${stderr}`)));
      });
      expect(stderr).not.toMatch(/from the sources/);
    } finally {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe("the bundle's stamp", () => {
  it('covers every folder the CLI may reach through the house rules (a change there makes a new bundle)', () => {
    const reached = new Set<Room>(['cli']);
    for (let grown = true; grown; ) {
      grown = false;
      for (const room of [...reached])
        for (const next of ROOM_IMPORTS[room])
          if (!reached.has(next)) {
            reached.add(next);
            grown = true;
          }
    }
    expect([...BUNDLED_ROOMS].sort()).toEqual([...reached].sort());
  });
});
