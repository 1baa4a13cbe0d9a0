import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSchemas } from '../events/index.ts';

/** `npm run schemas`: writes events/schema/<name>.schema.json from the zod source. */
const directory = join(import.meta.dirname, '..', 'events', 'schema');
mkdirSync(directory, { recursive: true });
for (const file of readdirSync(directory)) {
  if (file.endsWith('.schema.json')) rmSync(join(directory, file));
}
const schemas = jsonSchemas();
for (const [name, schema] of Object.entries(schemas)) {
  writeFileSync(join(directory, `${name}.schema.json`), `${JSON.stringify(schema, null, 2)}\n`);
}
console.log(`wrote ${Object.keys(schemas).length} JSON Schemas to ${directory}`);
