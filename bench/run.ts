import { MemoryWorld } from '../cli/replay/memory-world.ts';
import { type FaultlineEvent, parseEvent } from '../events/index.ts';
import { at, HostingPartition, random, VscsiClient, vscsi } from '../test/helpers/core-fleet.ts';

/**
 * `npm run bench`: figures, each beside its ceiling or peer measured in the same run (docs/architecture.md
 * §7). Absolute times drift from run to run; the ratios are what to compare.
 */

const rate = (count: number, run: () => void): number => {
  const started = process.hrtime.bigint();
  run();
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
};
const best = (times: number, count: number, run: () => void): number =>
  Math.max(...Array.from({ length: times }, () => rate(count, run)));
const figure = (label: string, value: number, unit: string, note = ''): void => {
  console.log(`${label.padEnd(58)} ${value.toFixed(0).padStart(10)} ${unit}${note ? `  ${note}` : ''}`);
};

/** A 10,000-client storm as agents send it: a heartbeat from each, then each loses its half on vios2. */
const stormLines = (clients: number): string[] => {
  const rng = random(7);
  const fleet = Array.from(
    { length: clients },
    (_, index) => new VscsiClient(`lpar${String(index).padStart(5, '0')}`, rng),
  );
  const vios2 = new HostingPartition('vios2', vscsi('vios2'));
  const events: FaultlineEvent[] = [vios2.heartbeat(at(0))];
  fleet.forEach((client, index) => {
    events.push(client.heartbeat(at(1 + index / 1000)));
  });
  fleet.forEach((client, index) => {
    events.push(client.rootDegraded(at(100 + index / 1000)));
  });
  events.push(vios2.iplCompleted(at(900), at(890)));
  return events.map((event) => JSON.stringify(event));
};

const CLIENTS = 10_000;
const lines = stormLines(CLIENTS);
const events = lines.map((line) => {
  const parsed = parseEvent(JSON.parse(line));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.value;
});

console.log(
  `core and contract, ${CLIENTS.toLocaleString('en')}-client storm (${lines.length.toLocaleString('en')} lines)`,
);
const jsonParse = best(3, lines.length, () => {
  for (const line of lines) JSON.parse(line);
});
figure('JSON.parse of the storm lines (the peer)', jsonParse, 'lines/s');
let world = new MemoryWorld();
const decideRate = best(3, events.length, () => {
  world = new MemoryWorld();
  for (const event of events) world.ingest(event);
});
figure(
  'decide: applying the parsed events (in-memory slices)',
  decideRate,
  'events/s',
  `${(decideRate / jsonParse).toFixed(2)}× JSON.parse (target ≥ 1)`,
);
const incidents = [...world.incidents.values()];
if (incidents.length !== 1 || incidents[0]?.affectedHosts !== CLIENTS) {
  throw new Error(
    `the storm should give one incident of ${CLIENTS} hosts, got ${JSON.stringify(incidents.map((i) => [i.kind, i.affectedHosts]))}`,
  );
}
const values = lines.map((line) => JSON.parse(line));
const validate = best(3, values.length, () => {
  for (const value of values) parseEvent(value);
});
figure(
  'parseEvent: validating the parsed lines',
  validate,
  'events/s',
  `${(validate / jsonParse).toFixed(2)}× JSON.parse`,
);
