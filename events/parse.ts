import { z } from 'zod';
import { FaultlineEvent } from './event-types.ts';
import { Plan } from './plan.ts';

/** Limits of §3: what one event, one request and one batch may weigh. */
export const LIMITS = {
  maxEventBytes: 64 * 1024,
  maxBatchBytes: 1024 * 1024,
  maxBatchEvents: 500,
} as const;

/** One reason an input was rejected: where (`path`) and why (`message`). */
export const Issue = z.object({
  path: z.array(z.union([z.string(), z.number()])),
  message: z.string(),
  code: z.string().optional(),
});
export type Issue = z.infer<typeof Issue>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

/** A batch in which at least one event parsed; the rest are rejected by index, never dropped silently. */
export type BatchParseResult =
  | { ok: true; value: FaultlineEvent[]; rejected: { index: number; issues: Issue[] }[] }
  | { ok: false; issues: Issue[] };

const toIssues = (error: z.ZodError, prefix: (string | number)[] = []): Issue[] =>
  error.issues.map((issue) => ({
    path: [...prefix, ...issue.path.map((key) => (typeof key === 'number' ? key : String(key)))],
    message: issue.message,
    code: issue.code,
  }));

const fail = (
  message: string,
  code: string,
  path: (string | number)[] = [],
): { ok: false; issues: Issue[] } => ({
  ok: false,
  issues: [{ path, message, code }],
});

/** The UTF-8 size of an input as it travels: the string itself, or its JSON serialisation. */
const measure = (input: unknown): ParseResult<{ value: unknown; bytes: number }> => {
  if (typeof input === 'string') {
    const bytes = Buffer.byteLength(input, 'utf8');
    try {
      return { ok: true, value: { value: JSON.parse(input), bytes } };
    } catch (error) {
      return fail(`not JSON: ${(error as Error).message}`, 'invalid_json');
    }
  }
  try {
    const text = JSON.stringify(input);
    return {
      ok: true,
      value: { value: input, bytes: text === undefined ? 0 : Buffer.byteLength(text, 'utf8') },
    };
  } catch (error) {
    return fail(`not serialisable as JSON: ${(error as Error).message}`, 'invalid_json');
  }
};

const parseMeasuredEvent = (
  value: unknown,
  bytes: number,
  prefix: (string | number)[],
): ParseResult<FaultlineEvent> => {
  if (bytes > LIMITS.maxEventBytes) {
    return fail(
      `an event may not exceed ${LIMITS.maxEventBytes} bytes (this one is ${bytes})`,
      'too_big',
      prefix,
    );
  }
  const result = FaultlineEvent.safeParse(value);
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, issues: toIssues(result.error, prefix) };
};

/** Parses one CloudEvent, given as JSON text or as a parsed value. */
export const parseEvent = (input: unknown): ParseResult<FaultlineEvent> => {
  const measured = measure(input);
  if (!measured.ok) return measured;
  return parseMeasuredEvent(measured.value.value, measured.value.bytes, []);
};

/**
 * Parses one CloudEvent already read from the JSON `text` it travelled as (a queue message's
 * body): its size is the text's, so it is not serialised again to be measured.
 */
export const parseEventRead = (value: unknown, text: string): ParseResult<FaultlineEvent> =>
  parseMeasuredEvent(value, Buffer.byteLength(text, 'utf8'), []);

const isJsonSpace = (code: number): boolean =>
  code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;

/**
 * The UTF-8 size of each element of the JSON array `text` holds, as it stands in the text (from its
 * first character to its last, the space around it left out), or undefined when `text` is not an
 * array. `text` is JSON text that parsed: only strings, nesting and commas are followed.
 */
export const arrayElementBytes = (text: string): number[] | undefined => {
  let at = 0;
  while (at < text.length && isJsonSpace(text.charCodeAt(at))) at += 1;
  if (text.charCodeAt(at) !== 0x5b) return undefined;
  const sizes: number[] = [];
  let depth = 0;
  let first = -1;
  let last = -1;
  for (at += 1; at < text.length; at += 1) {
    const code = text.charCodeAt(at);
    if (code === 0x22) {
      if (first < 0) first = at;
      // To the closing quote: a backslash escapes the character after it.
      for (at += 1; at < text.length && text.charCodeAt(at) !== 0x22; at += 1) {
        if (text.charCodeAt(at) === 0x5c) at += 1;
      }
      last = at;
      continue;
    }
    if (isJsonSpace(code)) continue;
    if (depth === 0 && (code === 0x2c || code === 0x5d)) {
      if (first >= 0) sizes.push(Buffer.byteLength(text.slice(first, last + 1), 'utf8'));
      first = -1;
      if (code === 0x5d) return sizes;
      continue;
    }
    if (first < 0) first = at;
    last = at;
    if (code === 0x7b || code === 0x5b) depth += 1;
    else if (code === 0x7d || code === 0x5d) depth -= 1;
  }
  return undefined;
};

/**
 * Parses a batch (a JSON array of CloudEvents). A batch over the limits, empty, or with no valid
 * event fails whole with every issue (paths start with the event's index); otherwise the valid
 * events are returned and each invalid one is listed in `rejected` with its issues.
 *
 * `text`, when given, is the JSON text `input` was read from (a request body, `input` being its
 * parse or an array of the same length): the batch and each event are then measured as they
 * travelled, in that text, instead of being serialised again.
 */
export const parseEventBatch = (input: unknown, text?: string): BatchParseResult => {
  const elementBytes = text === undefined ? undefined : arrayElementBytes(text);
  const measured =
    text === undefined || elementBytes === undefined
      ? measure(input)
      : { ok: true as const, value: { value: input, bytes: Buffer.byteLength(text, 'utf8') } };
  if (!measured.ok) return measured;
  const { value, bytes } = measured.value;
  if (!Array.isArray(value)) return fail('a batch is a JSON array of CloudEvents', 'invalid_type');
  if (value.length === 0) return fail('a batch holds at least one event', 'too_small');
  if (value.length > LIMITS.maxBatchEvents) {
    return fail(
      `a batch may hold at most ${LIMITS.maxBatchEvents} events (this one holds ${value.length})`,
      'too_big',
    );
  }
  if (bytes > LIMITS.maxBatchBytes) {
    return fail(`a batch may not exceed ${LIMITS.maxBatchBytes} bytes (this one is ${bytes})`, 'too_big');
  }
  const events: FaultlineEvent[] = [];
  const rejected: { index: number; issues: Issue[] }[] = [];
  value.forEach((element: unknown, index) => {
    if (typeof element !== 'object' || element === null || Array.isArray(element)) {
      rejected.push({
        index,
        issues: [{ path: [index], message: 'an event is a JSON object', code: 'invalid_type' }],
      });
      return;
    }
    const travelled = elementBytes?.length === value.length ? elementBytes[index] : undefined;
    const size =
      travelled === undefined ? measure(element) : { ok: true as const, value: { bytes: travelled } };
    const parsed = size.ok ? parseMeasuredEvent(element, size.value.bytes, [index]) : size;
    if (parsed.ok) events.push(parsed.value);
    else rejected.push({ index, issues: parsed.issues });
  });
  if (events.length === 0) return { ok: false, issues: rejected.flatMap((entry) => entry.issues) };
  return { ok: true, value: events, rejected };
};

/** Parses a signed plan; the signature itself is checked by `verifyPlan`. */
export const parsePlan = (input: unknown): ParseResult<Plan> => {
  const measured = measure(input);
  if (!measured.ok) return measured;
  return parseWith(Plan, measured.value.value);
};

/** Parses any input against a schema, with issues in the same shape as the event parsers. */
export const parseWith = <Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
): ParseResult<z.infer<Schema>> => {
  const result = schema.safeParse(input);
  return result.success ? { ok: true, value: result.data } : { ok: false, issues: toIssues(result.error) };
};

/** Issues as one line (`path: message; …`), for an error a person reads. */
export const issuesText = (issues: readonly Issue[]): string =>
  issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
