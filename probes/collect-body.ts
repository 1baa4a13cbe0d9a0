import { z } from 'zod';
import {
  BootId,
  Code,
  Identifier,
  type Issue,
  PlanAction,
  type PlanBranch,
  Platform,
  ProgressOutcome,
  Rfc3339,
} from '../events/index.ts';

/**
 * The sh agent's collect (docs/architecture.md §6 `POST /v1/agents/:hostId/collect`): one
 * `text/plain` body of sections, each opened by a line `#faultline <section>` and holding the raw
 * output of one tool, or what the agent says of itself:
 *
 * ```
 * #faultline host
 * platform=solaris
 * role=client
 * agentVersion=0.3.0
 * intervalSeconds=60
 * bootid=5f1c0a2e
 * bootedAt=2026-11-20T08:00:00Z
 * seq=1042
 * time=2026-11-22T03:10:00Z
 * #faultline metastat
 * d0: Mirror
 * ...
 * #faultline progress
 * pln-1<TAB>1<TAB>svm.metareplace<TAB>succeeded<TAB><TAB>steps
 * #faultline announce
 * going-down shutdown -i5
 * ```
 *
 * Tool sections (`metastat`, `metastat-c`, `metadb` for `metadb -i`, `ldm-list` for
 * `ldm list -p`, `ldm-disks` for `ldm list -o disk -p`) are kept as text for the same parsers the
 * Node agent runs; a section the agent left out is a tool it did not run or that failed. `host`
 * is `key=value` lines (unknown keys ignored, an empty value read as absent; `capabilities`, the
 * plan actions the agent runs separated by spaces or commas, and `planid`, the plan running while
 * the tools ran, are optional). `progress` is one line
 * per plan step result, tab-separated: `planId step action outcome [code] [branch]`, where `code`
 * is empty when a `branch` follows without one, and `branch` is `steps` or `fast` (`fastPath`
 * too). `announce` is one line, `going-down [reason]`.
 *
 * Pure, and strict where the agent writes the text itself: a malformed section (a bad header, a
 * section twice, a `host` key that does not parse, a progress line that is not one, a section
 * over {@link COLLECT_LIMITS}) rejects the whole collect with every reason, so nothing of it is
 * applied; an unknown section is ignored (newer agents, older control planes). Tool sections are
 * not judged here: their parsers never throw, and what they cannot read they warn about.
 */

/** The sections a collect may carry that hold a tool's raw output. */
export const TOOL_SECTIONS = ['metastat', 'metastat-c', 'metadb', 'ldm-list', 'ldm-disks'] as const;
export type ToolSection = (typeof TOOL_SECTIONS)[number];

/** Every section this control plane reads; any other is ignored. */
export const COLLECT_SECTIONS = [...TOOL_SECTIONS, 'host', 'progress', 'announce'] as const;
export type CollectSection = (typeof COLLECT_SECTIONS)[number];

/**
 * The largest `seq` a collect may carry: the events a collect makes take the seqs from its own
 * up (functions/api/collect.ts), which must stay safe integers. (Agents count from the clock in
 * microseconds, as the Node agent does: about 2^51 today.)
 */
export const MAX_COLLECT_SEQ = Number.MAX_SAFE_INTEGER - 1000;

export const COLLECT_LIMITS = {
  /** One section's text: far above `metastat` of 256 mirrors. */
  maxSectionBytes: 512 * 1024,
  /**
   * One line of each known section: several times the longest a real tool prints (ldm's parseable
   * lines are the longest), and short enough that no parser spends long on a hostile line (the
   * `metadb` reader backtracks over long runs of blanks: its lines are kept short).
   */
  maxLineChars: {
    metastat: 1024,
    'metastat-c': 1024,
    metadb: 256,
    'ldm-list': 4096,
    'ldm-disks': 4096,
    host: 1024,
    progress: 1024,
    announce: 1100,
  } satisfies Record<CollectSection, number>,
  /** Plan step results in one collect; an agent with more sends them over several. */
  maxProgressLines: 256,
  /** Issues listed for a rejected collect. */
  maxIssues: 50,
  /** Names of ignored sections listed in the answer. */
  maxIgnoredListed: 16,
} as const;

/** The `host` section: what the agent says of itself and of this collect. */
export type CollectHost = {
  platform: Platform;
  /** The sh agent runs on LDoms guests (`client`) and control domains (`control`). */
  role: 'client' | 'control';
  agentVersion: string;
  intervalSeconds: number;
  bootid: string;
  bootedAt: string | undefined;
  seq: number;
  time: string;
  /** Absent: the sh agent's own (./collect-events.ts `SH_AGENT_CAPABILITIES`). */
  capabilities: PlanAction[] | undefined;
  /**
   * The plan running while the tools ran, if one was: what the storage changes of this collect
   * are marked with (`planid`), as the Node agent marks detection's events while a plan runs.
   */
  planid: string | undefined;
};

/** One plan step result of the `progress` section. */
export type ProgressLine = {
  planId: string;
  step: number;
  action: PlanAction;
  outcome: ProgressOutcome;
  code?: string;
  branch?: PlanBranch;
};

/** The announcement of the `announce` section. */
export type CollectAnnouncement = { kind: 'going-down'; reason: string | undefined };

export type CollectBody = {
  host: CollectHost;
  /** The raw output of each tool the agent sent. */
  tools: Partial<Record<ToolSection, string>>;
  progress: ProgressLine[];
  announce: CollectAnnouncement | undefined;
  /** Sections not read here, by name (at most {@link COLLECT_LIMITS.maxIgnoredListed}). */
  ignored: string[];
};

export type CollectParse = { ok: true; value: CollectBody } | { ok: false; issues: Issue[] };

const HEADER = /^#faultline(?:[ \t]+(\S*))?[ \t]*$/;
const SECTION_NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** A control character other than TAB: never in a line the agent writes itself. */
const CONTROL = /[^\P{Cc}\t]/u;
const KEY = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

const Count = (max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, 'not a whole number')
    .transform(Number)
    .pipe(z.int().min(0).max(max));

const CapabilityList = z
  .string()
  .transform((text) => text.split(/[\s,]+/).filter((action) => action !== ''))
  .pipe(z.array(PlanAction).max(32));

const HostSection = z.object({
  platform: Platform,
  role: z.enum(['client', 'control'], 'the sh agent runs as client (an LDoms guest) or control'),
  agentVersion: z.string().regex(/^[0-9A-Za-z.+-]{1,64}$/, 'not a version such as 0.1.0'),
  intervalSeconds: Count(86_400).pipe(z.int().min(1)),
  bootid: BootId,
  bootedAt: Rfc3339.optional(),
  seq: Count(MAX_COLLECT_SEQ),
  time: Rfc3339,
  capabilities: CapabilityList.optional(),
  planid: Identifier.optional(),
});

const ProgressFields = z.object({
  planId: Identifier,
  step: Count(1_000_000),
  action: PlanAction,
  outcome: ProgressOutcome,
  code: Code.optional(),
  branch: z
    .enum(['steps', 'fast', 'fastPath'])
    .transform((branch): PlanBranch => (branch === 'steps' ? 'steps' : 'fastPath'))
    .optional(),
});

const Reason = z.string().max(1024);

type Line = { number: number; text: string };
type RawSection = { name: string; header: number; lines: Line[]; bytes: number };

/** Splits the body into its sections; text before the first header is an issue unless blank. */
const splitSections = (text: string, issues: Issue[]): RawSection[] => {
  const sections: RawSection[] = [];
  let current: RawSection | undefined;
  const lines = text.split('\n');
  // A body ending in a newline has no line after it.
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, index) => {
    const number = index + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith('#faultline')) {
      const header = HEADER.exec(line);
      const name = header?.[1] ?? '';
      if (header === null || !SECTION_NAME.test(name)) {
        issues.push({
          path: ['body', number],
          message: 'not a section header: #faultline <section>',
          code: 'bad-header',
        });
        current = undefined;
        return;
      }
      current = { name, header: number, lines: [], bytes: 0 };
      sections.push(current);
      return;
    }
    if (current === undefined) {
      if (line.trim() !== '')
        issues.push({
          path: ['body', number],
          message: 'text before the first #faultline <section> line',
          code: 'outside-section',
        });
      return;
    }
    current.lines.push({ number, text: line });
    current.bytes += Buffer.byteLength(raw, 'utf8') + 1;
  });
  return sections;
};

const located = (issues: readonly z.core.$ZodIssue[], section: string, line: number): Issue[] =>
  issues.map((issue) => ({
    path: [section, line, ...issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part))],
    message: issue.message,
    code: issue.code,
  }));

/** The `host` section's `key=value` lines, judged with the contract's names. */
const readHost = (section: RawSection, issues: Issue[]): CollectHost | undefined => {
  const values: Record<string, string> = {};
  const lineOf: Record<string, number> = {};
  for (const { number, text } of section.lines) {
    if (text.trim() === '') continue;
    const equals = text.indexOf('=');
    const key = equals < 0 ? text : text.slice(0, equals);
    if (equals < 0 || !KEY.test(key)) {
      issues.push({ path: ['host', number], message: 'not a key=value line', code: 'bad-line' });
      continue;
    }
    if (Object.hasOwn(values, key)) {
      issues.push({ path: ['host', number, key], message: `${key} is given twice`, code: 'repeated' });
      continue;
    }
    const value = text.slice(equals + 1).trim();
    if (value === '') continue;
    values[key] = value;
    lineOf[key] = number;
  }
  const parsed = HostSection.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = typeof issue.path[0] === 'string' ? issue.path[0] : '';
      issues.push({
        path: ['host', lineOf[key] ?? section.header, ...(key === '' ? [] : [key])],
        message:
          issue.code === 'invalid_type' && values[key] === undefined ? `${key} is missing` : issue.message,
        code: issue.code,
      });
    }
    return undefined;
  }
  const host = parsed.data;
  return {
    platform: host.platform,
    role: host.role,
    agentVersion: host.agentVersion,
    intervalSeconds: host.intervalSeconds,
    bootid: host.bootid,
    bootedAt: host.bootedAt,
    seq: host.seq,
    time: host.time,
    capabilities: host.capabilities,
    planid: host.planid,
  };
};

const readProgress = (section: RawSection, issues: Issue[]): ProgressLine[] => {
  const results: ProgressLine[] = [];
  const lines = section.lines.filter((line) => line.text.trim() !== '');
  if (lines.length > COLLECT_LIMITS.maxProgressLines) {
    issues.push({
      path: ['progress', section.header],
      message: `${lines.length} plan step results; at most ${COLLECT_LIMITS.maxProgressLines} in one collect`,
      code: 'too_big',
    });
    return results;
  }
  for (const { number, text } of lines) {
    const fields = text.split('\t');
    if (fields.length < 4 || fields.length > 6) {
      issues.push({
        path: ['progress', number],
        message: 'not a step result: planId<TAB>step<TAB>action<TAB>outcome[<TAB>code[<TAB>branch]]',
        code: 'bad-line',
      });
      continue;
    }
    const [planId, step, action, outcome, code = '', branch = ''] = fields;
    const parsed = ProgressFields.safeParse({
      planId,
      step,
      action,
      outcome,
      ...(code === '' ? {} : { code }),
      ...(branch === '' ? {} : { branch }),
    });
    if (!parsed.success) {
      issues.push(...located(parsed.error.issues, 'progress', number));
      continue;
    }
    const result = parsed.data;
    results.push({
      planId: result.planId,
      step: result.step,
      action: result.action,
      outcome: result.outcome,
      ...(result.code === undefined ? {} : { code: result.code }),
      ...(result.branch === undefined ? {} : { branch: result.branch }),
    });
  }
  return results;
};

const readAnnounce = (section: RawSection, issues: Issue[]): CollectAnnouncement | undefined => {
  const lines = section.lines.filter((line) => line.text.trim() !== '');
  const [first, ...more] = lines;
  if (first === undefined) {
    issues.push({
      path: ['announce', section.header],
      message: 'no announcement: going-down [reason]',
      code: 'bad-line',
    });
    return undefined;
  }
  for (const extra of more) {
    issues.push({
      path: ['announce', extra.number],
      message: 'one announcement per collect',
      code: 'bad-line',
    });
  }
  const match = /^going-down(?:[ \t]+(.*))?$/.exec(first.text.trim());
  if (match === null) {
    issues.push({
      path: ['announce', first.number],
      message: 'not an announcement: going-down [reason]',
      code: 'bad-line',
    });
    return undefined;
  }
  const reason = match[1]?.trim() ?? '';
  const checked = Reason.safeParse(reason);
  if (!checked.success) {
    issues.push(...located(checked.error.issues, 'announce', first.number));
    return undefined;
  }
  return { kind: 'going-down', reason: reason === '' ? undefined : reason };
};

const isKnown = (name: string): name is CollectSection =>
  (COLLECT_SECTIONS as readonly string[]).includes(name);
const isTool = (name: string): name is ToolSection => (TOOL_SECTIONS as readonly string[]).includes(name);

/** Reads a collect body. Never throws; a malformed collect is every issue found, by section and line. */
export const parseCollectBody = (text: string): CollectParse => {
  const issues: Issue[] = [];
  const sections = splitSections(text, issues);
  const seen = new Set<string>();
  const ignored: string[] = [];
  const tools: Partial<Record<ToolSection, string>> = {};
  let host: CollectHost | undefined;
  let progress: ProgressLine[] = [];
  let announce: CollectAnnouncement | undefined;
  for (const section of sections) {
    if (!isKnown(section.name)) {
      if (!ignored.includes(section.name) && ignored.length < COLLECT_LIMITS.maxIgnoredListed)
        ignored.push(section.name);
      continue;
    }
    if (seen.has(section.name)) {
      issues.push({
        path: [section.name, section.header],
        message: `section ${section.name} is given twice`,
        code: 'repeated',
      });
      continue;
    }
    seen.add(section.name);
    if (section.bytes > COLLECT_LIMITS.maxSectionBytes) {
      issues.push({
        path: [section.name, section.header],
        message: `section ${section.name} holds ${section.bytes} bytes; at most ${COLLECT_LIMITS.maxSectionBytes}`,
        code: 'too_big',
      });
      continue;
    }
    const maxLine = COLLECT_LIMITS.maxLineChars[section.name];
    const long = section.lines.find((line) => line.text.length > maxLine);
    if (long !== undefined) {
      issues.push({
        path: [section.name, long.number],
        message: `a line of ${long.text.length} characters; at most ${maxLine} in ${section.name}`,
        code: 'too_big',
      });
      continue;
    }
    if (isTool(section.name)) {
      tools[section.name] = section.lines.map((line) => `${line.text}\n`).join('');
      continue;
    }
    const unprintable = section.lines.find((line) => CONTROL.test(line.text));
    if (unprintable !== undefined) {
      issues.push({
        path: [section.name, unprintable.number],
        message: 'a control character in a line the agent writes itself',
        code: 'not-text',
      });
      continue;
    }
    if (section.name === 'host') host = readHost(section, issues);
    else if (section.name === 'progress') progress = readProgress(section, issues);
    else announce = readAnnounce(section, issues);
  }
  if (!seen.has('host')) {
    issues.push({
      path: ['host'],
      message: 'no host section: every collect says its bootid, seq and time (#faultline host)',
      code: 'missing',
    });
  }
  if (issues.length > 0 || host === undefined) {
    return { ok: false, issues: issues.slice(0, COLLECT_LIMITS.maxIssues) };
  }
  return { ok: true, value: { host, tools, progress, announce, ignored } };
};
