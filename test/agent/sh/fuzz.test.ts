import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { planLines } from '../../../events/index.ts';
import type { FakeModel } from '../../../sim/fake-host/host-model.mjs';
import {
  busyboxAwk,
  DASH,
  SHELLS,
  shAgentHost,
  shPlan,
  signedRaw,
  startControlPlaneStub,
  writeAwkPrograms,
} from '../../helpers/sh-agent.ts';
import { GUEST, RUNBOOK, returnedGuest } from '../executor/svm-guest.ts';

/**
 * Hostile plan lines (§6 plans in lines; issue #15 "fuzzed plan lines never make the sh agent run
 * anything not in its allow-list"). The mutated lines are signed, so they get past the signature
 * and reach the parser and the steps: shell metacharacters, backquotes, `;`, newlines and tabs in
 * values, huge lines, duplicated, dropped and reordered lines, other actions. Whatever the agent
 * does with them, it runs only `metareplace -e <dN> <slice>`, `metadb -d <slice>` and
 * `metadb -a -c <n> <slice>`, and nothing a metacharacter could have started.
 */

const scratch = mkdtempSync(join(tmpdir(), 'faultline-sh-fuzz-'));
const programs = join(scratch, 'awk');
writeAwkPrograms(programs);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const MARKER = join(scratch, 'pwned');

const HOSTILE = [
  `$(touch ${MARKER})`,
  `\`touch ${MARKER}\``,
  `;touch ${MARKER}`,
  `|touch ${MARKER}`,
  `&&touch ${MARKER}`,
  `\ntouch ${MARKER}\n`,
  `\ttouch=${MARKER}`,
  '../../etc/passwd',
  "'",
  '"',
  '\\',
  '*',
  '$IFS',
  `\${PATH}`,
  '-f',
  '--',
  ' ',
  '\r',
  '\n\n',
  '\u0000',
  'é',
  'A'.repeat(20_000),
  'd10 c0d0s0',
  'c0d0s0',
  'd99999999',
  'c0d1s7;c0d0s7',
  '=',
];

const OTHER_ACTIONS = ['md.fail', 'scsi.delete', 'svm.metareplace', 'svm.metadb-restore', 'rm', 'sh'];

/** One mutation of a plan's lines: where, and what. */
type Mutation =
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'replace-value'; line: number; field: number; text: string }
  | { kind: 'action'; line: number; action: string }
  | { kind: 'duplicate' | 'drop'; line: number }
  | { kind: 'swap'; line: number; other: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...HOSTILE) }),
  fc.record({
    kind: fc.constant('replace-value' as const),
    line: fc.nat(),
    field: fc.nat(),
    text: fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ maxLength: 12 })),
  }),
  fc.record({
    kind: fc.constant('action' as const),
    line: fc.nat(),
    action: fc.constantFrom(...OTHER_ACTIONS),
  }),
  fc.record({ kind: fc.constantFrom('duplicate' as const, 'drop' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), line: fc.nat(), other: fc.nat() }),
);

const mutate = (text: string, mutations: readonly Mutation[]): string => {
  let result = text;
  for (const change of mutations) {
    const lines = result.split('\n').slice(0, -1);
    const pick = (n: number) => n % Math.max(1, lines.length);
    switch (change.kind) {
      case 'insert': {
        const at = change.at % (result.length + 1);
        result = `${result.slice(0, at)}${change.text}${result.slice(at)}`;
        continue;
      }
      case 'replace-value': {
        const line = lines[pick(change.line)]?.split('\t') ?? [];
        const field = 1 + (change.field % Math.max(1, line.length - 1));
        const key = line[field]?.split('=')[0];
        line[field] = key !== undefined && line[field]?.includes('=') ? `${key}=${change.text}` : change.text;
        lines[pick(change.line)] = line.join('\t');
        break;
      }
      case 'action': {
        const line = lines[pick(change.line)]?.split('\t') ?? [];
        if (line[0] === 'step') line[3] = change.action;
        lines[pick(change.line)] = line.join('\t');
        break;
      }
      case 'duplicate':
        lines.splice(pick(change.line), 0, lines[pick(change.line)] ?? '');
        break;
      case 'drop':
        lines.splice(pick(change.line), 1);
        break;
      case 'swap': {
        const [a, b] = [pick(change.line), pick(change.other)];
        const first = lines[a] ?? '';
        lines[a] = lines[b] ?? '';
        lines[b] = first;
        break;
      }
    }
    result = `${lines.join('\n')}\n`;
  }
  return result;
};

const SLICE = /^c\d{1,4}(?:t[0-9A-Fa-f]{1,32})?d\d{1,4}[sp]\d{1,2}$/;
const allowed = (argv: readonly string[]): boolean => {
  const [tool, ...args] = argv;
  if (tool === 'metareplace')
    return (
      args.length === 3 && args[0] === '-e' && /^d\d{1,5}$/.test(args[1] ?? '') && SLICE.test(args[2] ?? '')
    );
  if (tool === 'metadb' && args[0] === '-d') return args.length === 2 && SLICE.test(args[1] ?? '');
  if (tool === 'metadb' && args[0] === '-a')
    return (
      args.length === 4 &&
      args[1] === '-c' &&
      /^([1-9]|[1-4]\d|50)$/.test(args[2] ?? '') &&
      SLICE.test(args[3] ?? '')
    );
  return false;
};

const returnedModel = (): FakeModel => {
  const built = returnedGuest();
  const model = built.model();
  built.remove();
  return model;
};

const BASE_LINES = planLines(shPlan(GUEST, RUNBOOK, { id: 'pln-sh-fuzz' }));

describe('plan lines, mutated and signed', () => {
  it.each(['mawk', 'busybox awk'])(
    'are parsed by plan.awk (%s) into fields of strict shapes, or refused',
    (awk) => {
      const awkCommand = awk === 'mawk' ? ['mawk'] : ['busybox', 'awk'];
      const input = join(scratch, `lines-${awk.replace(' ', '-')}`);
      const parsed = { accepted: 0, refused: 0 };
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
          writeFileSync(input, mutate(BASE_LINES, mutations));
          const [command, ...prefix] = awkCommand;
          const output = execFileSync(
            command ?? 'awk',
            [...prefix, '-f', join(programs, 'lib.awk'), '-f', join(programs, 'plan.awk'), input],
            { encoding: 'utf8' },
          );
          const records = output.split('\n').filter(Boolean);
          if (records[0]?.startsWith('E\t')) {
            parsed.refused += 1;
            return;
          }
          parsed.accepted += 1;
          expect(records[0]).toMatch(/^H\t[A-Za-z0-9][A-Za-z0-9._:-]*\t/);
          for (const record of records.slice(1)) {
            const [tag, branch, index, action, first, second] = record.split('\t');
            expect(tag).toBe('S');
            expect(['steps', 'fastPath']).toContain(branch);
            expect(index).toMatch(/^\d+$/);
            if (action === 'svm.metareplace') {
              expect(first).toMatch(/^d\d{1,5}$/);
              expect(second).toMatch(/^c\d{1,4}(?:t[0-9A-Fa-f]{1,32})?d\d{1,4}(?:[sp]\d{1,2})?$/);
            } else if (action === 'svm.metadb-restore') {
              expect(first).toMatch(/^c\d{1,4}(?:t[0-9A-Fa-f]{1,32})?d\d{1,4}(?:[sp]\d{1,2})?$/);
              expect(second).toMatch(/^([1-9]|[1-4]\d|50)$/);
            } else if (action === 'svm.wait-sync') {
              expect(first).toMatch(/^d\d{1,5}$/);
              expect(second).toMatch(/^\d{1,5}$/);
            } else if (action === 'disk.probe') {
              expect(first).toMatch(/^c\d{1,4}(?:t[0-9A-Fa-f]{1,32})?d\d{1,4}$/);
            } else {
              expect([first, second]).toEqual(['-', '-']);
            }
          }
        }),
        { numRuns: 250, examples: [[[{ kind: 'replace-value', line: 2, field: 4, text: 'd11' }]]] },
      );
      expect(parsed.accepted).toBeGreaterThan(0);
      expect(parsed.refused).toBeGreaterThan(0);
      expect(existsSync(MARKER)).toBe(false);
    },
  );

  it('never make the agent run anything outside its allow-list', { timeout: 300_000 }, async () => {
    const stub = await startControlPlaneStub(GUEST);
    const outcomes = { ran: 0, ranNothing: 0 };
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(mutation, { minLength: 1, maxLength: 3 }),
          fc.constantFrom(...SHELLS),
          fc.boolean(),
          async (mutations, shell, withBusyboxAwk) => {
            const agent = shAgentHost(returnedModel(), { apiUrl: stub.url });
            try {
              if (withBusyboxAwk) agent.configure({ apiUrl: stub.url, awk: busyboxAwk(agent.base) });
              stub.setPlans(signedRaw(mutate(BASE_LINES, mutations), agent.privateKey));
              const { code, stderr } = await agent.run(shell ?? DASH, ['run', '--once']);
              expect(code, stderr).toBe(0);
              const actions = agent.host.actions();
              for (const argv of actions) expect(allowed(argv), argv.join(' ')).toBe(true);
              expect(existsSync(MARKER)).toBe(false);
              outcomes[actions.length > 0 ? 'ran' : 'ranNothing'] += 1;
            } finally {
              agent.host.remove();
            }
          },
        ),
        {
          numRuns: 24,
          // A mutation the contract allows (another incident id: the header's field at 1 + 1) still
          // heals: the path that runs commands is walked, not only the refusals.
          examples: [[[{ kind: 'replace-value', line: 0, field: 1, text: 'inc-other' }], DASH, false]],
        },
      );
    } finally {
      await stub.close();
    }
    expect(outcomes.ran).toBeGreaterThan(0);
    expect(outcomes.ranNothing).toBeGreaterThan(0);
  });
});
