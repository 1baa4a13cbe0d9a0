import { parseArgs } from 'node:util';
import { MemoryWorld } from '../cli/replay/memory-world.ts';
import { parseEvent } from '../events/index.ts';
import { agentSection } from './agent.ts';
import { costSection } from './cost.ts';
import { dispatchSection } from './dispatch.ts';
import { ingestRows, steadyRows } from './ingest.ts';
import { stormEvents } from './storm.ts';
import { type BenchRow, count, printTable, ratioMark } from './table.ts';

/**
 * `npm run bench [-- --only core,ingest,steady,dispatch,cost,agent]`: one table of figures, each beside its ceiling or
 * peer measured in the same run and the target of docs/architecture.md §7. Absolute times drift
 * from run to run; the ratios are what to compare. Each section answers rows and the table is
 * printed at the end; progress goes to stderr.
 *
 * - `core`: `decide` and `parseEvent` over the 10,000-client storm beside `JSON.parse` of its lines.
 * - `ingest`: the storm over HTTP into `faultline up`, beside Alertmanager (bench/ingest.ts); sizes
 *   in events from `BENCH_SIZES` (comma-separated, default `20000,100000`).
 * - `steady`: 1,000 events/s into `faultline up` for `BENCH_STEADY_SECONDS` (default 60).
 * - `dispatch`: a 5,000-client outage, domain stable → every plan of a wave retrievable (bench/dispatch.ts).
 * - `cost`: DynamoDB write and read units per event on dynalite, Lambda ms and log bytes per
 *   event, and $ per million events at stated public prices (bench/cost.ts).
 * - `agent`: the agent's bundle size, idle RSS, CPU per scan, mdstat change → event sent (bench/agent.ts).
 */

const SECTIONS = ['core', 'ingest', 'steady', 'dispatch', 'cost', 'agent'] as const;
type Section = (typeof SECTIONS)[number];

const DEFAULTS = { sizes: [20_000, 100_000], steadySeconds: 60, coreClients: 10_000 } as const;

const usage = `usage: npm run bench [-- --only ${SECTIONS.join(',')}]`;

const positiveIntegers = (name: string, text: string): number[] =>
  text.split(',').map((item) => {
    const value = Number(item.trim());
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`${name} takes positive integers, got "${text}"`);
    return value;
  });

const { values } = parseArgs({ options: { only: { type: 'string' } } });
const only = values.only === undefined ? [...SECTIONS] : values.only.split(',').map((name) => name.trim());
for (const name of only) {
  if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`unknown section "${name}"\n${usage}`);
}
const sizes =
  process.env.BENCH_SIZES === undefined
    ? DEFAULTS.sizes
    : positiveIntegers('BENCH_SIZES', process.env.BENCH_SIZES);
const steadySeconds =
  process.env.BENCH_STEADY_SECONDS === undefined
    ? DEFAULTS.steadySeconds
    : (positiveIntegers('BENCH_STEADY_SECONDS', process.env.BENCH_STEADY_SECONDS)[0] ??
      DEFAULTS.steadySeconds);

const rate = (events: number, run: () => void): number => {
  const started = process.hrtime.bigint();
  run();
  return events / (Number(process.hrtime.bigint() - started) / 1e9);
};
const best = (times: number, events: number, run: () => void): number =>
  Math.max(...Array.from({ length: times }, () => rate(events, run)));

/** The core: applying and validating the parsed storm, beside reading its lines. */
const coreRows = (): BenchRow[] => {
  const clients = DEFAULTS.coreClients;
  const lines = stormEvents(clients).map((event) => JSON.stringify(event));
  const events = lines.map((line) => {
    const parsed = parseEvent(JSON.parse(line));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    return parsed.value;
  });
  const jsonParse = best(3, lines.length, () => {
    for (const line of lines) JSON.parse(line);
  });
  let world = new MemoryWorld();
  const decideRate = best(3, events.length, () => {
    world = new MemoryWorld();
    for (const event of events) world.ingest(event);
  });
  const incidents = [...world.incidents.values()];
  if (incidents.length !== 1 || incidents[0]?.affectedHosts !== clients) {
    throw new Error(
      `the storm should give one incident of ${clients} hosts, got ${JSON.stringify(incidents.map((i) => [i.kind, i.affectedHosts]))}`,
    );
  }
  const values = lines.map((line) => JSON.parse(line));
  const validate = best(3, values.length, () => {
    for (const value of values) parseEvent(value);
  });
  const section = 'core';
  const peer = `JSON.parse ${count(jsonParse)} lines/s`;
  const storm = `${count(clients)}-client storm, ${count(lines.length)} events`;
  return [
    {
      section,
      what: `decide: applying the parsed events (in-memory slices), ${storm}`,
      figure: `${count(decideRate)} events/s`,
      peer,
      target: `≥ 1× JSON.parse: ${ratioMark(decideRate / jsonParse, 1)}`,
    },
    {
      section,
      what: `parseEvent: validating the parsed lines, ${storm}`,
      figure: `${count(validate)} events/s`,
      peer,
      target: `${(validate / jsonParse).toFixed(2)}× JSON.parse (no target)`,
    },
  ];
};

const sections: Record<Section, () => Promise<BenchRow[]>> = {
  core: async () => coreRows(),
  ingest: () => ingestRows({ sizes }),
  steady: () => steadyRows({ seconds: steadySeconds }),
  dispatch: dispatchSection,
  cost: costSection,
  agent: agentSection,
};

const rows: BenchRow[] = [];
for (const section of SECTIONS) {
  if (!only.includes(section)) continue;
  process.stderr.write(`bench: ${section}…\n`);
  rows.push(...(await sections[section]()));
}
printTable(rows);
