import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The checked-in examples of events/examples, as fresh copies a test may change. */
export const EXAMPLES_DIR = join(import.meta.dirname, '..', '..', 'events', 'examples');

export const exampleNames = (): string[] =>
  readdirSync(EXAMPLES_DIR)
    .filter((file) => file.endsWith('.json') && file !== 'plan.json')
    .map((file) => file.slice(0, -'.json'.length))
    .sort();

// biome-ignore lint/suspicious/noExplicitAny: examples are mutated freely by tests of invalid input
export const example = (name: string): any =>
  JSON.parse(readFileSync(join(EXAMPLES_DIR, `${name}.json`), 'utf8'));

export const examplePlanPublicKey = (): string =>
  readFileSync(join(EXAMPLES_DIR, 'example-plan-key.pub.pem'), 'utf8');
