import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  LdmOutput,
  MdstatOutput,
  MdUuid,
  MetastatOutput,
  MultipathOutput,
  ProbedPartition,
} from '../../events/index.ts';
import { parseLdmList, toLdmOutput } from '../../probes/ldm.ts';
import { parseMdadmDetail } from '../../probes/mdadm-detail.ts';
import { parseMdadmExamine, toProbedPartition } from '../../probes/mdadm-examine.ts';
import { parseMdstat, toMdstatOutput } from '../../probes/mdstat.ts';
import { parseMetastat, toMetastatOutput } from '../../probes/metastat.ts';
import { parseMultipath, toMultipathOutput } from '../../probes/multipath.ts';
import { toolFixtures } from '../helpers/agent-probes.ts';

/** Runs per property: enough to find a crash in a regex-driven parser, quick on a shared machine. */
const RUNS = 1000;

type Parser = { tool: string; folder: string; output: (text: string) => unknown; schema: z.ZodType };

const PARSERS: readonly Parser[] = [
  {
    tool: 'mdstat',
    folder: 'mdstat',
    output: (text) => toMdstatOutput(parseMdstat(text)),
    schema: MdstatOutput,
  },
  {
    tool: 'multipath',
    folder: 'multipath',
    output: (text) => toMultipathOutput(parseMultipath(text)),
    schema: MultipathOutput,
  },
  {
    tool: 'metastat',
    folder: 'metastat',
    output: (text) => toMetastatOutput(parseMetastat(text)),
    schema: MetastatOutput,
  },
  { tool: 'ldm', folder: 'ldm', output: (text) => toLdmOutput(parseLdmList(text)), schema: LdmOutput },
];

/** Characters the tools' layouts hang on: brackets, flags, tree drawing, separators, odd bytes. */
const STRUCTURAL = [...'[]()|:`-_\\/=%#., \t\r\n0123456789UFSWRJabcdmnps', '\u0000', '\u00e9', '\u{1F4A5}'];

type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'swap'; at: number; other: number }
  | { kind: 'replace'; at: number; offset: number; text: string }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'truncate'; at: number; offset: number };

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), other: fc.nat() }),
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    offset: fc.nat(),
    text: fc.oneof(fc.constantFrom(...STRUCTURAL), fc.string({ maxLength: 6 })),
  }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 80 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), offset: fc.nat() }),
);

const mutate = (text: string, mutations: readonly Mutation[]): string => {
  const lines = text.split('\n');
  for (const mutation of mutations) {
    if (lines.length === 0) lines.push('');
    const at = mutation.at % lines.length;
    const line = lines[at] ?? '';
    switch (mutation.kind) {
      case 'delete':
        lines.splice(at, 1);
        break;
      case 'duplicate':
        lines.splice(at, 0, line);
        break;
      case 'swap': {
        const other = mutation.other % lines.length;
        lines[at] = lines[other] ?? '';
        lines[other] = line;
        break;
      }
      case 'replace': {
        const offset = line.length === 0 ? 0 : mutation.offset % line.length;
        lines[at] = `${line.slice(0, offset)}${mutation.text}${line.slice(offset + 1)}`;
        break;
      }
      case 'insert':
        lines.splice(at, 0, mutation.text);
        break;
      case 'truncate':
        lines[at] = line.slice(0, line.length === 0 ? 0 : mutation.offset % line.length);
        break;
    }
  }
  return lines.join('\n');
};

/** Text made of the pieces tool output is made of, so the parsers' own paths are exercised. */
const toolishText = (fixtures: readonly string[]): fc.Arbitrary<string> => {
  const tokens = [...new Set(fixtures.flatMap((text) => text.split(/(\s+)/)))].filter(Boolean);
  return fc
    .array(fc.oneof(fc.constantFrom(...tokens), fc.constantFrom(...STRUCTURAL)), { maxLength: 200 })
    .map((pieces) => pieces.join(''));
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

  it('never throws on text made of tool-output pieces, and what it returns validates', () => {
    fc.assert(
      fc.property(toolishText(fixtures), (text) => {
        expect(schema.safeParse(output(text)).success).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws on mutated fixtures, and what it returns validates', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures),
        fc.array(mutationArbitrary, { minLength: 1, maxLength: 8 }),
        (text, mutations) => {
          expect(schema.safeParse(output(mutate(text, mutations))).success).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('the mdadm parsers', () => {
  const fixtures = toolFixtures('mdadm').map((fixture) => fixture.text);

  it('never throw on mutated captures, and every UUID and probed partition they return validates', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures),
        fc.array(mutationArbitrary, { maxLength: 8 }),
        (text, mutations) => {
          const mutated = mutate(text, mutations);
          for (const array of parseMdadmDetail(mutated).arrays) {
            if (array.uuid !== null) expect(MdUuid.safeParse(array.uuid).success).toBe(true);
          }
          for (const device of parseMdadmExamine(mutated).devices) {
            expect(ProbedPartition.safeParse(toProbedPartition(device, new Map())).success).toBe(true);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('never throw on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (text) => {
        parseMdadmDetail(text);
        for (const device of parseMdadmExamine(text).devices) {
          expect(ProbedPartition.safeParse(toProbedPartition(device, new Map())).success).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
