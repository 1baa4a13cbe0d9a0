// The parsers of issue 15 (metastat -c, lsvg, lspv, lspath) never throw, and what they return always
// fits the contract, whatever the text: arbitrary, or a fixture mutated line by line.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  LogicalVolumeName,
  LspathOutput,
  LsvgOutput,
  MetastatOutput,
  VolumeGroupName,
} from '../../events/index.ts';
import { parseLspath, toLspathOutput } from '../../probes/lspath.ts';
import { parseLspv, parseLspvLogicalVolumes } from '../../probes/lspv.ts';
import {
  parseLsvgActive,
  parseLsvgLogicalVolumes,
  parseLsvgPhysicalVolumes,
  toLsvgOutput,
} from '../../probes/lsvg.ts';
import { toMetastatOutput } from '../../probes/metastat.ts';
import { parseMetastatCompact } from '../../probes/metastat-compact.ts';
import { WARNING_COUNT_LIMIT } from '../../probes/tool-text.ts';
import { toolFixtures } from '../helpers/agent-probes.ts';

const RUNS = 500;

/** Every name a reading returns that reaches an argument vector (`lsvg -l <vg>`, `lspv -l <pv>`) is safe. */
const lvmNamesValid = (text: string): boolean =>
  parseLsvgActive(text).volumeGroups.every((name) => VolumeGroupName.safeParse(name).success) &&
  parseLsvgPhysicalVolumes(text).volumeGroups.every((group) =>
    group.physicalVolumes.every((volume) => /^hdisk\d{1,5}$/.test(volume.disk)),
  ) &&
  parseLspv(text).physicalVolumes.every((volume) => /^hdisk\d{1,5}$/.test(volume.disk)) &&
  parseLspvLogicalVolumes(text).logicalVolumes.every(
    (volume) => LogicalVolumeName.safeParse(volume.name).success,
  );

type Parser = { tool: string; folder: string; output: (text: string) => unknown; schema: z.ZodType };

const PARSERS: readonly Parser[] = [
  {
    tool: 'metastat -c',
    folder: 'metastat-compact',
    output: (text) => toMetastatOutput(parseMetastatCompact(text)),
    schema: MetastatOutput,
  },
  {
    tool: 'lsvg -l',
    folder: 'lsvg',
    output: (text) => toLsvgOutput(parseLsvgLogicalVolumes(text)),
    schema: LsvgOutput,
  },
  {
    tool: 'lspath',
    folder: 'lspath',
    output: (text) => toLspathOutput(parseLspath(text)),
    schema: LspathOutput,
  },
];

type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'replace'; at: number; offset: number; text: string }
  | { kind: 'insert'; at: number; text: string };

const STRUCTURAL = [...'()/:,.-_ \t\r\n0123456789%mspthdisk', '\u0000', '\u{1F4A5}'];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    offset: fc.nat(),
    text: fc.oneof(fc.constantFrom(...STRUCTURAL), fc.string({ maxLength: 6 })),
  }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 80 }) }),
);

const mutate = (text: string, mutations: readonly Mutation[]): string => {
  const lines = text.split('\n');
  for (const change of mutations) {
    if (lines.length === 0) lines.push('');
    const at = change.at % lines.length;
    const line = lines[at] ?? '';
    if (change.kind === 'delete') lines.splice(at, 1);
    else if (change.kind === 'duplicate') lines.splice(at, 0, line);
    else if (change.kind === 'insert') lines.splice(at, 0, change.text);
    else {
      const offset = line.length === 0 ? 0 : change.offset % line.length;
      lines[at] = `${line.slice(0, offset)}${change.text}${line.slice(offset + 1)}`;
    }
  }
  return lines.join('\n');
};

describe.each(PARSERS)('the $tool parser', ({ folder, output, schema }) => {
  const fixtures = toolFixtures(folder).map((fixture) => fixture.text);

  it('never throws on arbitrary text, and what it returns validates', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 2000 }), fc.string({ unit: 'binary', maxLength: 500 })),
        (text) => {
          expect(schema.safeParse(output(text)).success).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('never throws on mutated fixtures, and what it returns validates', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures),
        fc.array(mutation, { minLength: 1, maxLength: 8 }),
        (text, changes) => {
          expect(schema.safeParse(output(mutate(text, changes))).success).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('the lsvg and lspv readings the scan builds commands from', () => {
  const fixtures = [...toolFixtures('lsvg'), ...toolFixtures('lspv')].map((fixture) => fixture.text);

  it('return only names safe for an argument vector, whatever the text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 2000 }),
          fc
            .constantFrom(...fixtures)
            .chain((text) =>
              fc.array(mutation, { minLength: 1, maxLength: 8 }).map((changes) => mutate(text, changes)),
            ),
        ),
        (text) => {
          expect(lvmNamesValid(text)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('keep at most the warning limit, plus one line saying how many more were dropped', () => {
    const garbage = Array.from({ length: 1000 }, (_, index) => `;rm -rf / ${index}`).join('\n');
    expect(parseLsvgLogicalVolumes(garbage).warnings).toHaveLength(WARNING_COUNT_LIMIT + 1);
    expect(parseLspath(garbage).warnings).toHaveLength(WARNING_COUNT_LIMIT + 1);
    expect(parseMetastatCompact(garbage).warnings).toHaveLength(WARNING_COUNT_LIMIT + 1);
  });
});
