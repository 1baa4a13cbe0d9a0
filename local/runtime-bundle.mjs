import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * `faultline up` from one bundle of its sources (bin/faultline): the control plane's two threads
 * then hold only their own code, without the TypeScript loader that tsx runs in a thread of its own
 * beside each of them (measured idle: 170 MB under tsx, 126 MB from the bundle). The bundle is made
 * with esbuild, the project's own code only (packages stay in node_modules), into
 * `node_modules/.cache/faultline/<stamp>/`, where `<stamp>` names the sources it was made from
 * (every source file's path, size and modification time, with package.json and tsconfig.json): a
 * change to any of them makes a new one on the next start; a start with nothing changed takes
 * about 3 ms to know it. Starts that race each build their own and keep the first that lands (a
 * directory is renamed into place whole). The cache must lie inside the checkout's node_modules:
 * the bundle imports its packages (better-sqlite3, hono, zod...) from there.
 *
 * A bundle a live process holds (`holder`) is never removed, so its decider thread can always be
 * started again; of the others, the `KEPT` last used stay.
 *
 * Plain JavaScript, so that bin/faultline can run it before anything reads TypeScript.
 */

/** The folders a bundle's sources come from: whatever `cli/main.ts` may import. */
export const BUNDLED_ROOMS = ['cli', 'local', 'functions', 'web', 'events', 'probes', 'sim', 'agent'];

/** The entry points, by the name of their output (`<name>.mjs`): the CLI and the decider thread. */
export const BUNDLE_ENTRIES = { main: 'cli/main.ts', 'decider-thread': 'local/decider-thread.ts' };

/** Bundles no live process holds that are kept, the last used first. */
const KEPT = 4;
/** Files outside the rooms that change what a bundle holds (the agent's version; how TypeScript is read). */
const STAMPED_FILES = ['package.json', 'tsconfig.json'];
const HELD_BY = 'held-by-';
/** Builds of this process under way (they share esbuild's service process). */
let building = 0;
const COMPLETE = 'complete';
const SOURCE = /\.(?:ts|mts|mjs|js|json)$/;

const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * What names a bundle: every source file under `rooms` (path, size, modification time), the entry
 * points, this file, and esbuild's version.
 * @param {string} root
 * @param {readonly string[]} rooms
 * @param {Readonly<Record<string, string>>} entries
 * @param {string} esbuildVersion
 * @returns {string}
 */
const sourceStamp = (root, rooms, entries, esbuildVersion) => {
  const hash = createHash('sha256');
  hash.update(`${JSON.stringify(entries)}\n${esbuildVersion}\n${readFileSync(new URL(import.meta.url))}\n`);
  for (const file of STAMPED_FILES) {
    if (existsSync(join(root, file))) hash.update(`${file}\0${readFileSync(join(root, file))}\n`);
  }
  /** @param {string} dir */
  const walk = (dir) => {
    let entriesHere;
    try {
      entriesHere = readdirSync(join(root, dir), { withFileTypes: true });
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entriesHere.sort(byName)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(path);
      } else if (SOURCE.test(entry.name)) {
        const stat = statSync(join(root, path));
        hash.update(`${path}\0${stat.size}\0${stat.mtimeMs}\n`);
      }
    }
  };
  for (const room of rooms) walk(room);
  return hash.digest('hex').slice(0, 20);
};

/** Whether a process with this id is alive (one that cannot be signalled by us still is). */
const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === 'EPERM';
  }
};

/** Whether a live process holds the bundle in `path`. */
const isHeld = (path) =>
  readdirSync(path).some((name) => name.startsWith(HELD_BY) && isAlive(Number(name.slice(HELD_BY.length))));

/**
 * Removes the bundles no live process holds but the `KEPT` last used, and staging folders an hour
 * old. Best effort: another start may be removing the same folders.
 */
const prune = (cacheDir, current) => {
  const now = Date.now();
  const bundles = [];
  for (const entry of readdirSync(cacheDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === current) continue;
    const path = join(cacheDir, entry.name);
    try {
      const modified = statSync(path).mtimeMs;
      if (entry.name.includes('.')) {
        if (now - modified > 3_600_000) rmSync(path, { recursive: true, force: true });
      } else if (!isHeld(path)) bundles.push({ path, modified });
    } catch {
      // Gone already, or being removed by another start.
    }
  }
  bundles.sort((a, b) => b.modified - a.modified);
  for (const old of bundles.slice(KEPT)) rmSync(old.path, { recursive: true, force: true });
};

/** Marks the bundle in `dir` as held by this process until it exits, and as used now. */
const hold = (dir) => {
  const marker = join(dir, `${HELD_BY}${process.pid}`);
  writeFileSync(marker, '');
  process.once('exit', () => rmSync(marker, { force: true }));
  const now = new Date();
  utimesSync(dir, now, now);
};

/**
 * The bundle of `entries` for the sources as they are now, made if there is none yet; with
 * `holder`, held by this process until it exits (see {@link prune}).
 * @param {{ root: string; cacheDir?: string; rooms?: readonly string[]; entries?: Readonly<Record<string, string>>; holder?: boolean }} options
 * @returns {Promise<{ dir: string; built: boolean; files: Record<string, string> }>} `files`: each entry's output by name
 */
export const runtimeBundle = async ({
  root,
  cacheDir = join(root, 'node_modules', '.cache', 'faultline'),
  rooms = BUNDLED_ROOMS,
  entries = BUNDLE_ENTRIES,
  holder = false,
}) => {
  const esbuild = await import('esbuild');
  const stamp = sourceStamp(root, rooms, entries, esbuild.version);
  const dir = join(cacheDir, stamp);
  const files = Object.fromEntries(Object.keys(entries).map((name) => [name, join(dir, `${name}.mjs`)]));
  if (existsSync(join(dir, COMPLETE))) {
    if (holder) hold(dir);
    return { dir, built: false, files };
  }
  const staging = `${dir}.${process.pid}.${randomBytes(6).toString('hex')}`;
  building += 1;
  try {
    await esbuild.build({
      absWorkingDir: root,
      entryPoints: entries,
      outdir: staging,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      packages: 'external',
      platform: 'node',
      target: 'node20',
      format: 'esm',
      sourcemap: 'linked',
      logLevel: 'silent',
    });
    writeFileSync(join(staging, COMPLETE), `${new Date().toISOString()}\n`);
    try {
      renameSync(staging, dir);
    } catch (error) {
      // Another start landed the same bundle first: use it.
      if (!existsSync(join(dir, COMPLETE))) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
    // esbuild builds in a child process it keeps for the next build: once no build of this
    // process is under way, it goes, or it would stay beside the control plane (about 70 MB).
    building -= 1;
    if (building === 0) await esbuild.stop();
  }
  if (holder) hold(dir);
  try {
    prune(cacheDir, stamp);
  } catch {
    // A cache that cannot be pruned is no reason not to start.
  }
  return { dir, built: true, files };
};
