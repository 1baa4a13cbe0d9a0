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

/** Appends a step's field as `key=value` pairs; a list of objects flattens to `partitions.0.device=sdb1`. */
const pushPairs = (pairs: [string, string][], prefix: string, value: unknown, action: string): void => {
  if (value === undefined) return;
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      pushPairs(pairs, `${prefix}.${index}`, item, action);
    });
    return;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) pushPairs(pairs, `${prefix}.${key}`, item, action);
    return;
  }
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
    throw new TypeError(`${action} ${prefix} cannot be written in a plan line`);
  pairs.push([field(prefix, 'a step key'), field(String(value), `${action} ${prefix}`)]);
};

const stepLine = (branch: 'steps' | 'fast', index: number, step: PlanStep): string => {
  const { action } = step;
  const pairs: [string, string][] = [];
  for (const [key, value] of Object.entries(step)) {
    if (key !== 'action') pushPairs(pairs, key, value, action);
  }
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let line = `step\t${branch}\t${index}\t${field(action, 'an action')}`;
  for (const [key, value] of pairs) line += `\t${key}=${value}`;
  return line;
};

/**
 * The lines of a plan the caller already holds as the contract's type, without parsing it: the
 * core's own plans as the outbox issues them (functions/outbox/effects.ts), where a parse of every
 * plan of a wide wave cost about as much as its two signatures. For a plan within the
 * contract these are exactly the bytes {@link planLines} gives; every value is still checked, and
 * it throws rather than write one an agent would split differently. A plan outside the contract
 * is still never served in lines: the route writes them with {@link planLines}, which parses.
 */
export const encodePlanLines = (plan: UnsignedPlan): string => {
  const header = [
    'plan',
    field(plan.id, 'id'),
    field(plan.incidentId, 'incidentId'),
    field(plan.hostId, 'hostId'),
    field(plan.bootId ?? '', 'bootId'),
    String(plan.attempt),
    String(plan.wave),
    field(plan.issuedAt, 'issuedAt'),
    String(plan.ttlSeconds),
    field(plan.mode, 'mode'),
  ].join('\t');
  let text = `${header}\n`;
  plan.steps.forEach((step, index) => {
    text += `${stepLine('steps', index, step)}\n`;
  });
  (plan.fastPath ?? []).forEach((step, index) => {
    text += `${stepLine('fast', index, step)}\n`;
  });
  return text;
};

/**
 * The lines of one plan before its `sig` line, each ending in `\n`: exactly the bytes its line
 * signature covers. The plan is parsed with the contract first, so nothing outside it is written.
 */
export const planLines = (plan: UnsignedPlan): string =>
  encodePlanLines(UnsignedPlan.parse(stripSignature(plan)));

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
