import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../events/index.ts';

/**
 * Plan signatures and derived ids are computed over these bytes, so they may never change: the
 * one-pass serialiser must give, for any value, exactly what the definition gives — keys sorted by
 * code unit, `undefined` members left out, `null` for an `undefined` element, a hole left empty as
 * `map` and `join` leave it — and throw where it throws.
 */
const byDefinition = (value: unknown): string => {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new TypeError('canonical JSON has no representation for a non-finite number');
    }
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`canonical JSON has no representation for ${typeof value}`);
    return text;
  }
  if (Array.isArray(value)) {
    return `[${value.map((element) => (element === undefined ? 'null' : byDefinition(element))).join(',')}]`;
  }
  const record = value as Record<string, unknown>;
  const entries = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${byDefinition(record[key])}`);
  return `{${entries.join(',')}}`;
};

const outcome = (serialise: (value: unknown) => string, value: unknown): string => {
  try {
    return serialise(value);
  } catch (error) {
    return `throws ${(error as Error).name}: ${(error as Error).message}`;
  }
};

describe('canonicalJson', () => {
  it('sorts keys by code unit, integer-like ones too, and leaves out undefined members', () => {
    expect(canonicalJson({ b: 1, a: [true, null, undefined], 9: 'x', 10: 'y', c: undefined })).toBe(
      '{"10":"y","9":"x","a":[true,null,null],"b":1}',
    );
  });

  test.prop(
    [
      fc.anything({
        withBigInt: true,
        withBoxedValues: true,
        withDate: true,
        withMap: true,
        withNullPrototype: true,
        withSparseArray: true,
        withTypedArray: true,
        withUnicodeString: true,
      }),
    ],
    { numRuns: 2000 },
  )('gives the bytes of its definition for any value, and throws where it throws', (value) => {
    expect(outcome(canonicalJson, value)).toBe(outcome(byDefinition, value));
  });
});
