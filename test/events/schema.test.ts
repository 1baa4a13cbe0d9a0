import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, jsonSchemas } from '../../events/index.ts';

const SCHEMA_DIR = join(import.meta.dirname, '..', '..', 'events', 'schema');

describe('events/schema', () => {
  const generated = jsonSchemas();

  it('has a JSON Schema for every event type, the plan and the snapshot', () => {
    for (const name of [...EVENT_TYPES, 'plan', 'snapshot']) expect(generated).toHaveProperty([name]);
  });

  it('matches the zod source (run `npm run schemas` after changing a schema)', () => {
    const committed = readdirSync(SCHEMA_DIR).filter((file) => file.endsWith('.schema.json'));
    expect(committed.sort()).toEqual(
      Object.keys(generated)
        .map((name) => `${name}.schema.json`)
        .sort(),
    );
    for (const [name, schema] of Object.entries(generated)) {
      const onDisk = readFileSync(join(SCHEMA_DIR, `${name}.schema.json`), 'utf8');
      expect(onDisk, name).toBe(`${JSON.stringify(schema, null, 2)}\n`);
    }
  });
});
