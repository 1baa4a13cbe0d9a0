/**
 * `npm run bench:properties [-- --runs 100000] [--seed N] [--storm NAME] [--storms DIR]`: issue 12's
 * order property (test/functions/core/order.property.test.ts) at bench scale: every recorded storm
 * delivered the ways SQS may deliver it, each run compared with the time-ordered replay and checked
 * against the §5 safety rules. `--storms` reads the storms of another folder. The runs (`--runs`, else
 * `FAULTLINE_PROPERTY_RUNS`, else 100,000) are shared among the storms. Prints runs/s per storm and,
 * for a storm that fails, the counter-example fast-check shrank to, in words; exits 1 when any failed.
 */
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import {
  describeMoves,
  type FinalState,
  loadStorms,
  type Move,
  movesArbitrary,
  orderReference,
  STORMS_DIR,
  shuffledRun,
} from '../test/helpers/storm-shuffle.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string' },
    seed: { type: 'string' },
    storm: { type: 'string' },
    storms: { type: 'string' },
  },
});
const RUNS = Number(values.runs ?? process.env.FAULTLINE_PROPERTY_RUNS ?? 100_000);
if (!Number.isInteger(RUNS) || RUNS < 1)
  throw new Error(`--runs must be a positive integer, got ${values.runs}`);
const SEED = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);

const figure = (label: string, value: number, unit: string, note = ''): void => {
  console.log(`${label.padEnd(58)} ${value.toFixed(0).padStart(10)} ${unit}${note ? `  ${note}` : ''}`);
};

/** What differs between two final states, line by line. */
const difference = (expected: FinalState, actual: FinalState): string[] => {
  const lines: string[] = [];
  const compare = (what: string, want: readonly string[], got: readonly string[]) => {
    const missing = [...want];
    const extra: string[] = [];
    for (const item of got) {
      const at = missing.indexOf(item);
      if (at >= 0) missing.splice(at, 1);
      else extra.push(item);
    }
    for (const item of missing) lines.push(`  - ${what} ${item}`);
    for (const item of extra) lines.push(`  + ${what} ${item}`);
  };
  compare('incident', expected.incidents, actual.incidents);
  compare('page', expected.pages, actual.pages);
  for (const host of new Set([...Object.keys(expected.plans), ...Object.keys(actual.plans)])) {
    compare(`plan of ${host}`, expected.plans[host] ?? [], actual.plans[host] ?? []);
  }
  return lines;
};

const storms = loadStorms(values.storms ?? STORMS_DIR).filter(
  (storm) => values.storm === undefined || storm.name === values.storm,
);
if (storms.length === 0) throw new Error(`no storm named ${values.storm}`);
const perStorm = Math.ceil(RUNS / storms.length);
console.log(
  `order property, ${storms.length} storm(s), ${(perStorm * storms.length).toLocaleString('en')} runs, seed ${SEED}`,
);
let failed = 0;
let total = 0;
const started = process.hrtime.bigint();
for (const storm of storms) {
  const reference = orderReference(storm);
  let evaluations = 0;
  const property = fc.property(movesArbitrary(storm), (moves: Move[]) => {
    evaluations += 1;
    const run = shuffledRun(storm, reference, moves);
    return run.same && run.violations.length === 0;
  });
  const from = process.hrtime.bigint();
  const result = fc.check(property, { numRuns: perStorm, seed: SEED });
  const seconds = Number(process.hrtime.bigint() - from) / 1e9;
  total += result.numRuns;
  figure(
    `${storm.name} (${storm.inputs.length} inputs)`,
    evaluations / seconds,
    'runs/s',
    `${result.numRuns.toLocaleString('en')} runs${result.failed ? ` and ${result.numShrinks} shrinks, FAILED` : ''} in ${seconds.toFixed(1)} s`,
  );
  if (!result.failed || result.counterexample === null) continue;
  failed += 1;
  const [moves] = result.counterexample;
  const run = shuffledRun(storm, reference, moves);
  console.log(`  counter-example (seed ${result.seed}, path ${result.counterexamplePath}):`);
  console.log(describeMoves(storm, moves).replace(/^/gm, '  '));
  for (const line of difference(run.expected, run.actual)) console.log(line);
  for (const violation of run.violations)
    console.log(`  ! ${violation.host} ${violation.plan}: ${violation.rule}`);
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
figure(
  'all storms',
  total / seconds,
  'runs/s',
  `${total.toLocaleString('en')} runs in ${seconds.toFixed(1)} s`,
);
if (failed > 0) {
  console.log(`${failed} storm(s) failed the order property`);
  process.exitCode = 1;
}
