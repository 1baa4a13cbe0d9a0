import { parseEvent } from '../events/index.ts';
import { example } from '../test/helpers/examples.ts';

/**
 * `npm run bench`: figures, each beside its ceiling or peer measured in the same run (DESIGN.md §7).
 * Absolute times drift from run to run; the ratios are what to compare.
 */
const rate = (count: number, run: () => void): number => {
  const started = process.hrtime.bigint();
  run();
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
};

const lines = Array.from({ length: 20_000 }, (_, seq) =>
  JSON.stringify({ ...example('host.heartbeat'), seq }),
);
const values = lines.map((line) => JSON.parse(line));
const jsonParse = rate(lines.length, () => {
  for (const line of lines) JSON.parse(line);
});
const validate = rate(values.length, () => {
  for (const value of values) parseEvent(value);
});
console.log(`events: JSON.parse of heartbeat lines      ${jsonParse.toFixed(0).padStart(10)} /s`);
console.log(
  `events: parseEvent of parsed heartbeats     ${validate.toFixed(0).padStart(10)} /s  (${(validate / jsonParse).toFixed(2)}× JSON.parse)`,
);
