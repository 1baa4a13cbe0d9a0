import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { canonicalJson, type Issue, parseEvent, parseWith, Rfc3339 } from '../../events/index.ts';
import { CoreConfig, type CoreInput, OperatorCommand } from '../../functions/core/index.ts';
import type { Streams } from '../streams.ts';
import { type ReplayOutput, replay } from './replay.ts';

/**
 * `faultline replay <events.ndjson> [--json] [--until <time>] [--config faultline.json]`: runs
 * recorded events (and operator commands) through the core with no I/O beyond reading the file.
 * A line that does not parse is reported with its issues on stderr and skipped; the exit code is
 * then 1, the output still printed.
 */

const parseLine = (line: string): { ok: true; value: CoreInput } | { ok: false; issues: Issue[] } => {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { ok: false, issues: [{ path: [], message: `not JSON: ${(error as Error).message}` }] };
  }
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && type.startsWith('operator.')) return parseWith(OperatorCommand, value);
  return parseEvent(value);
};

/** Reads an NDJSON file of CloudEvents and operator commands, collecting every rejected line. */
export const readInputs = (
  text: string,
): { inputs: CoreInput[]; rejected: { line: number; issues: Issue[] }[] } => {
  const inputs: CoreInput[] = [];
  const rejected: { line: number; issues: Issue[] }[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parsed = parseLine(line);
    if (parsed.ok) inputs.push(parsed.value);
    else rejected.push({ line: index + 1, issues: parsed.issues });
  });
  return { inputs, rejected };
};

/** The output with every object's keys sorted, two-space indented: two runs print the same bytes. */
export const sortedJson = (value: unknown): string =>
  `${JSON.stringify(JSON.parse(canonicalJson(value)), null, 2)}\n`;

const pad = (text: string, width: number): string =>
  text.length >= width ? text : text + ' '.repeat(width - text.length);

/** A summary for people: the incidents, the plans by wave, the pages. */
export const describeReplay = (output: ReplayOutput): string => {
  const lines: string[] = [];
  lines.push(`${output.incidents.length} incident(s)`);
  for (const incident of output.incidents) {
    lines.push(
      `  ${pad(incident.id, 26)} ${pad(incident.kind, 13)} ${pad(incident.status, 18)} ${pad(String(incident.affectedHosts), 5)} ${incident.failureDomain}`,
    );
    lines.push(
      `  ${' '.repeat(26)} opened ${incident.openedAt}${incident.resolvedAt ? `, resolved ${incident.resolvedAt}` : ''}${incident.escalated ? ', escalated' : ''}`,
    );
  }
  const waves = new Map<number, number>();
  for (const plan of output.plans) waves.set(plan.wave, (waves.get(plan.wave) ?? 0) + 1);
  lines.push(`${output.plans.length} plan(s)${output.plans.length === 0 ? '' : ':'}`);
  for (const [wave, count] of [...waves].sort(([a], [b]) => a - b)) {
    lines.push(`  ${wave === 0 ? 'canary' : `wave ${wave}`}: ${count}`);
  }
  lines.push(`${output.notifications.length} notification(s)`);
  for (const notification of output.notifications) {
    lines.push(
      `  ${notification.time} ${pad(notification.action, 11)} ${pad(notification.severity, 8)} ${notification.summary}`,
    );
  }
  return `${lines.join('\n')}\n`;
};

const USAGE = `usage: faultline replay <events.ndjson> [--json] [--until <time>] [--config faultline.json]
  recorded events (and operator commands) through the core, with no I/O; --json prints the
  incidents, plans and notifications, keys sorted; --until fires the timers due by then
`;

export const runReplay = async (args: readonly string[], streams: Streams): Promise<number> => {
  const options = {
    json: { type: 'boolean' },
    until: { type: 'string' },
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true });
  } catch (error) {
    streams.stderr(`faultline replay: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help === true) {
    streams.stdout(USAGE);
    return 0;
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined || extra.length > 0) {
    streams.stderr(USAGE);
    return 2;
  }
  const until = parsed.values.until;
  if (until !== undefined && !Rfc3339.safeParse(until).success) {
    streams.stderr(`faultline replay: --until must be an RFC 3339 time such as 2026-11-22T03:30:00Z\n`);
    return 2;
  }
  let text: string;
  let config: CoreConfig | undefined;
  try {
    text = readFileSync(file, 'utf8');
    if (parsed.values.config !== undefined) {
      const result = parseWith(CoreConfig, JSON.parse(readFileSync(parsed.values.config, 'utf8')));
      if (!result.ok) {
        for (const issue of result.issues)
          streams.stderr(`${parsed.values.config}: ${issue.path.join('.')}: ${issue.message}\n`);
        return 2;
      }
      config = result.value;
    }
  } catch (error) {
    streams.stderr(`faultline replay: ${(error as Error).message}\n`);
    return 1;
  }
  const { inputs, rejected } = readInputs(text);
  for (const { line, issues } of rejected) {
    for (const issue of issues)
      streams.stderr(`${file}:${line}: ${issue.path.join('.') || '(event)'}: ${issue.message}\n`);
  }
  const output = replay(inputs, {
    ...(until === undefined ? {} : { until }),
    ...(config === undefined ? {} : { config }),
  });
  streams.stdout(parsed.values.json ? sortedJson(output) : describeReplay(output));
  return rejected.length > 0 ? 1 : 0;
};
