/**
 * A parser of the Prometheus text exposition format, version 0.0.4 (what `GET /metrics` serves),
 * written from the format's specification for the tests: it reads every line, refuses what the
 * format does not allow (with the line number), and groups samples into their metric families.
 *
 * What it reads and checks:
 * - `# HELP <name> <text>` (escapes `\\` and `\n`), `# TYPE <name> counter|gauge|histogram|summary|untyped`,
 *   at most one of each per family, the TYPE before the family's first sample; other `#` lines are comments;
 * - samples `name{label="value",...} value [timestamp]`: names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label
 *   names `[a-zA-Z_][a-zA-Z0-9_]*` (not `__` reserved, none twice), values in double quotes with
 *   the escapes `\\`, `\"` and `\n`, an optional trailing comma; values as Go reads floats (`NaN`,
 *   `+Inf`, `-Inf`, decimal or exponent forms); an optional integer timestamp;
 * - a histogram's samples are `<name>_bucket` (each with an `le`), `<name>_sum` and `<name>_count`;
 *   its buckets per label set rise with `le` and never fall, end at `le="+Inf"`, which equals `_count`;
 *   a summary's are `<name>`, `<name>_sum` and `<name>_count`; a counter's value is never negative;
 * - one sample per name and label set, and a family's samples together (not interleaved with another's).
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp?: number;
}

export interface MetricFamily {
  readonly name: string;
  type: MetricType;
  help: string | undefined;
  readonly samples: Sample[];
}

export class PrometheusParseError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'PrometheusParseError';
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

const parseValue = (text: string, line: number): number => {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!FLOAT.test(text)) throw new PrometheusParseError(line, `not a sample value: ${JSON.stringify(text)}`);
  return Number(text);
};

const unescapeHelp = (text: string, line: number): string =>
  text.replace(/\\(.?)/g, (_match, next: string) => {
    if (next === '\\') return '\\';
    if (next === 'n') return '\n';
    throw new PrometheusParseError(line, `bad escape \\${next} in HELP`);
  });

/** Reads a `{...}` label set starting at `text[0] === '{'`; answers the labels and the rest of the line. */
const parseLabels = (text: string, line: number): { labels: Record<string, string>; rest: string } => {
  const labels: Record<string, string> = {};
  let at = 1;
  const skipBlanks = (): void => {
    while (text[at] === ' ' || text[at] === '\t') at += 1;
  };
  for (;;) {
    skipBlanks();
    if (text[at] === '}') return { labels, rest: text.slice(at + 1) };
    const name = LABEL_NAME.exec(text.slice(at))?.[0];
    if (name === undefined) throw new PrometheusParseError(line, `a label name expected at column ${at + 1}`);
    if (name.startsWith('__')) throw new PrometheusParseError(line, `label name ${name} is reserved`);
    if (Object.hasOwn(labels, name)) throw new PrometheusParseError(line, `label ${name} given twice`);
    at += name.length;
    skipBlanks();
    if (text[at] !== '=') throw new PrometheusParseError(line, `= expected after label ${name}`);
    at += 1;
    skipBlanks();
    if (text[at] !== '"') throw new PrometheusParseError(line, `a quoted value expected for label ${name}`);
    at += 1;
    let value = '';
    for (;;) {
      const char = text[at];
      if (char === undefined) throw new PrometheusParseError(line, `unterminated value of label ${name}`);
      at += 1;
      if (char === '"') break;
      if (char === '\\') {
        const next = text[at];
        at += 1;
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new PrometheusParseError(line, `bad escape \\${next ?? ''} in label ${name}`);
        continue;
      }
      value += char;
    }
    labels[name] = value;
    skipBlanks();
    if (text[at] === ',') {
      at += 1;
      continue;
    }
    if (text[at] !== '}') throw new PrometheusParseError(line, `, or } expected after label ${name}`);
  }
};

/** The family a sample name belongs to, given the families typed so far. */
const familyNameOf = (name: string, families: ReadonlyMap<string, MetricFamily>): string => {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = families.get(base)?.type;
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
  }
  return name;
};

const labelKey = (labels: Readonly<Record<string, string>>, without?: string): string =>
  JSON.stringify(
    Object.entries(labels)
      .filter(([name]) => name !== without)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );

const checkFamily = (family: MetricFamily, line: number): void => {
  if (family.type === 'counter') {
    for (const sample of family.samples) {
      if (sample.value < 0) throw new PrometheusParseError(line, `counter ${sample.name} is negative`);
    }
  }
  if (family.type === 'histogram') {
    const series = new Map<string, { buckets: [number, number][]; count?: number }>();
    for (const sample of family.samples) {
      const isBucket = sample.name === `${family.name}_bucket`;
      const key = labelKey(sample.labels, isBucket ? 'le' : undefined);
      const entry = series.get(key) ?? { buckets: [] };
      series.set(key, entry);
      if (isBucket) {
        const le = sample.labels.le;
        if (le === undefined) throw new PrometheusParseError(line, `${sample.name} without le`);
        entry.buckets.push([parseValue(le, line), sample.value]);
      } else if (sample.name === `${family.name}_count`) entry.count = sample.value;
      else if (sample.name !== `${family.name}_sum`)
        throw new PrometheusParseError(line, `${sample.name} is not a sample of histogram ${family.name}`);
    }
    for (const { buckets, count } of series.values()) {
      const sorted = [...buckets].sort(([a], [b]) => a - b);
      const last = sorted.at(-1);
      if (last === undefined || last[0] !== Number.POSITIVE_INFINITY)
        throw new PrometheusParseError(line, `histogram ${family.name} has no le="+Inf" bucket`);
      for (let index = 1; index < sorted.length; index += 1) {
        if ((sorted[index]?.[1] ?? 0) < (sorted[index - 1]?.[1] ?? 0))
          throw new PrometheusParseError(line, `histogram ${family.name}'s buckets fall`);
      }
      if (count !== undefined && count !== last[1])
        throw new PrometheusParseError(
          line,
          `histogram ${family.name}: _count ${count} is not the +Inf bucket ${last[1]}`,
        );
    }
  }
  if (family.type === 'summary') {
    for (const sample of family.samples) {
      if (![family.name, `${family.name}_sum`, `${family.name}_count`].includes(sample.name))
        throw new PrometheusParseError(line, `${sample.name} is not a sample of summary ${family.name}`);
    }
  }
};

/** Parses Prometheus text into its families, by name; throws `PrometheusParseError` on anything the format refuses. */
export const parsePrometheusText = (text: string): Map<string, MetricFamily> => {
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const familyFor = (name: string, line: number): MetricFamily => {
    let family = families.get(name);
    if (family === undefined) {
      family = { name, type: 'untyped', help: undefined, samples: [] };
      families.set(name, family);
    }
    if (current !== name) {
      if (closed.has(name)) throw new PrometheusParseError(line, `the samples of ${name} are not together`);
      if (current !== undefined) closed.add(current);
      current = name;
    }
    return family;
  };
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    const content = raw.replace(/^[ \t]+/, '');
    if (content === '') return;
    if (content.startsWith('#')) {
      const match = /^#[ \t]+(HELP|TYPE)[ \t]+([^ \t]+)(?:[ \t]+(.*))?$/.exec(content);
      if (match === null) return;
      const [, keyword, name = '', rest = ''] = match;
      if (!METRIC_NAME.test(name) || METRIC_NAME.exec(name)?.[0] !== name)
        throw new PrometheusParseError(line, `bad metric name ${name}`);
      const existing = families.get(name);
      if (keyword === 'HELP') {
        const family = familyFor(name, line);
        if (existing?.help !== undefined) throw new PrometheusParseError(line, `second HELP for ${name}`);
        family.help = unescapeHelp(rest, line);
        return;
      }
      const type = rest.trim() as MetricType;
      if (!TYPES.includes(type)) throw new PrometheusParseError(line, `unknown type ${rest} for ${name}`);
      if (existing !== undefined && existing.samples.length > 0)
        throw new PrometheusParseError(line, `TYPE of ${name} after its samples`);
      if (existing !== undefined && existing.type !== 'untyped')
        throw new PrometheusParseError(line, `second TYPE for ${name}`);
      familyFor(name, line).type = type;
      return;
    }
    const name = METRIC_NAME.exec(content)?.[0];
    if (name === undefined) throw new PrometheusParseError(line, 'a metric name expected');
    let rest = content.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    const fields = rest.trim().split(/[ \t]+/);
    if (rest.length > 0 && !/^[ \t]/.test(rest))
      throw new PrometheusParseError(line, 'a blank expected before the value');
    if (fields.length < 1 || fields.length > 2 || fields[0] === '')
      throw new PrometheusParseError(line, 'a value and at most a timestamp expected');
    const value = parseValue(fields[0] ?? '', line);
    const timestamp = fields[1];
    if (timestamp !== undefined && !/^-?\d+$/.test(timestamp))
      throw new PrometheusParseError(line, `not a timestamp: ${timestamp}`);
    const key = `${name}${labelKey(labels)}`;
    if (seen.has(key)) throw new PrometheusParseError(line, `sample ${name} ${labelKey(labels)} given twice`);
    seen.add(key);
    const family = familyFor(familyNameOf(name, families), line);
    family.samples.push({
      name,
      labels,
      value,
      ...(timestamp === undefined ? {} : { timestamp: Number(timestamp) }),
    });
  });
  for (const family of families.values()) checkFamily(family, lines.length);
  return families;
};

/** The value of the sample `name` whose labels include `labels`; undefined when there is none, an error when several. */
export const sampleValue = (
  families: ReadonlyMap<string, MetricFamily>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined => {
  const found = [...families.values()]
    .flatMap((family) => family.samples)
    .filter(
      (sample) =>
        sample.name === name &&
        Object.entries(labels).every(([label, value]) => sample.labels[label] === value),
    );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
};
