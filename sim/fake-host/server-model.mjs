import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The servers' side of a simulated host: an LDoms control domain's domains, services and guests'
 * virtual disks (fake-ldm.mjs), and a Virtual I/O Server's partition identity, boot record and
 * virtual server adapters (fake-vios.mjs), kept as JSON in `<root>/.fake-host/server.json`, apart
 * from the client model of host-model.mjs so either runs without the other. Every command the
 * fakes run is appended to `<root>/.fake-host/server-commands.jsonl` with its argument vector.
 *
 * Time: `now` (milliseconds) is the server's clock when set, else the wall clock; domain uptimes
 * and boot records are measured by it, so a test moves time without waiting.
 */

const FILE = 'server.json';

const path = (root, name) => join(root, '.fake-host', name);

const writeAtomically = (file, text) => {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
};

/** The model, or an empty one (no LDoms, no VIOS). */
export const loadServerModel = (root) => {
  const file = path(root, FILE);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { now: null, ldoms: null, vios: null };
};

export const saveServerModel = (root, model) =>
  writeAtomically(path(root, FILE), `${JSON.stringify(model, null, 2)}\n`);

/** Loads, changes and saves the model; returns what `change` returns. */
export const updateServerModel = (root, change) => {
  const model = loadServerModel(root);
  const result = change(model);
  saveServerModel(root, model);
  return result;
};

/** The server's clock, in milliseconds. */
export const serverNow = (model) => (typeof model.now === 'number' ? model.now : Date.now());

/** Records a command the fakes ran. */
export const logServerCommand = (root, argv) => {
  mkdirSync(path(root, ''), { recursive: true });
  appendFileSync(path(root, 'server-commands.jsonl'), `${JSON.stringify({ argv })}\n`);
};

/** The commands the fakes ran, in order. */
export const serverCommands = (root) => {
  const file = path(root, 'server-commands.jsonl');
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line).argv)
    : [];
};
