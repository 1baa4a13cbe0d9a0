import { type PlanStep, UnsignedPlan } from './plan.ts';

/**
 * Plans in lines (docs/architecture.md §6 `GET /v1/agents/:hostId/plans?format=lines`), for the
 * POSIX sh agent, which has no JSON parser: per plan a header line, one line per step, then a
 * signature line over exactly the bytes before it:
 *
 *     plan<TAB>id<TAB>incidentId<TAB>hostId<TAB>bootId<TAB>attempt<TAB>wave<TAB>issuedAt<TAB>ttlSeconds<TAB>mode
 *     step<TAB>steps|fast<TAB>index<TAB>action<TAB>key=value<TAB>...
 *     sig<TAB><base64 DER ECDSA P-256 signature>
 *
 * Every line ends in `\n`; plans are separated by an empty line. `bootId` is empty when the plan
 * names none. A step's fields other than `action` follow as `key=value`, keys sorted. The names
 * a plan may carry are those of the JSON contract (events/names.ts), none of which can hold a tab,
 * a newline or a character a shell gives meaning to; the encoder checks every value again and
 * throws rather than write a line an agent would split differently.
 */

const SAFE_VALUE = /^[A-Za-z0-9._:/@+-]*$/;

const field = (value: string | number, what: string): string => {
  const text = String(value);
  if (!SAFE_VALUE.test(text))
    throw new TypeError(`${what} cannot be written in a plan line: ${JSON.stringify(text)}`);
  return text;
};

/** A step's fields as `key=value` pairs; a list of objects flattens to `partitions.0.device=sdb1`. */
const pairsOf = (prefix: string, value: unknown, action: string): [string, string][] => {
  if (value === undefined) return [];
  if (Array.isArray(value))
    return value.flatMap((item, index) => pairsOf(`${prefix}.${index}`, item, action));
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).flatMap(([key, item]) => pairsOf(`${prefix}.${key}`, item, action));
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
    throw new TypeError(`${action} ${prefix} cannot be written in a plan line`);
  return [[field(prefix, 'a step key'), field(String(value), `${action} ${prefix}`)]];
};

const stepLine = (branch: 'steps' | 'fast', index: number, step: PlanStep): string => {
  const { action, ...rest } = step;
  const pairs = Object.entries(rest)
    .flatMap(([key, value]) => pairsOf(key, value, action))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`);
  return ['step', branch, String(index), field(action, 'an action'), ...pairs].join('\t');
};

/**
 * The lines of one plan before its `sig` line, each ending in `\n`: exactly the bytes its line
 * signature covers. The plan is parsed with the contract first, so nothing outside it is written.
 */
export const planLines = (plan: UnsignedPlan): string => {
  const checked = UnsignedPlan.parse(stripSignature(plan));
  const header = [
    'plan',
    field(checked.id, 'id'),
    field(checked.incidentId, 'incidentId'),
    field(checked.hostId, 'hostId'),
    field(checked.bootId ?? '', 'bootId'),
    String(checked.attempt),
    String(checked.wave),
    field(checked.issuedAt, 'issuedAt'),
    String(checked.ttlSeconds),
    checked.mode,
  ].join('\t');
  const lines = [
    header,
    ...checked.steps.map((step, index) => stepLine('steps', index, step)),
    ...(checked.fastPath ?? []).map((step, index) => stepLine('fast', index, step)),
  ];
  return `${lines.map((line) => `${line}\n`).join('')}`;
};

/** One plan in lines with its signature line (the signature over `planLines(plan)`, base64 DER). */
export const signedPlanLines = (plan: UnsignedPlan, signature: string): string => {
  if (!/^[A-Za-z0-9+/]{16,256}={0,2}$/.test(signature)) throw new TypeError('not a base64 ECDSA signature');
  return `${planLines(plan)}sig\t${signature}\n`;
};

/** Plans in lines, separated by an empty line, as the route serves them. */
export const planLinesBody = (plans: readonly { lines: string }[]): string =>
  plans.map((plan) => plan.lines).join('\n');

const stripSignature = (plan: UnsignedPlan): UnsignedPlan => {
  const { signature: _signature, ...unsigned } = plan as UnsignedPlan & { signature?: string };
  return unsigned;
};
