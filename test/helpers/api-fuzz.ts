import fc from 'fast-check';
import { EVENT_TYPES, LIMITS } from '../../events/index.ts';
import { agentEvent } from './api-events.ts';
import { AGENT_HOST, INCIDENT_ID, ROUTES, type RouteCase } from './api-routes.ts';

/**
 * Requests for fuzzing the API: every route, asked with random and mutated paths, queries,
 * headers, tokens and bodies, alongside requests that are nearly right (a valid event with one
 * field changed) so the fuzzing reaches past the first check of each route.
 */

export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array | undefined;
}

export interface FuzzTokens {
  readonly operator: string;
  readonly agent: string;
  readonly otherAgent: string;
}

// biome-ignore lint/suspicious/noExplicitAny: mutates arbitrary JSON
type Json = any;

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  maxLength: 80,
});

/** Text that stresses names: unicode, separators, percent signs, dots. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '..',
    '.',
    '%2F',
    '%2e%2e',
    '%zz',
    '%',
    'a/b',
    'vscsi:s/p',
    'fc:0123456789abcdef',
    '\u0000',
    '\uffff',
    '',
  ),
  fc.string({ unit: fc.constantFrom('a', '.', '-', '_', ':', '/', '%', '0', 'Z'), maxLength: 300 }),
);

const encodeSegment = (segment: string, raw: boolean): string =>
  raw ? segment.replaceAll(/[?#\s]/g, '') : encodeURIComponent(segment);

/** A path for `route`: its own, one of its parameters replaced, or something else altogether. */
const pathArbitrary = (route: RouteCase): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(route.path) },
    {
      weight: route.template.includes('{') ? 3 : 0,
      arbitrary: fc
        .tuple(nasty, fc.boolean())
        .map(([value, raw]) =>
          route.template.replace(/\{[^}]+\}/, encodeSegment(value, raw)).replaceAll(/\{[^}]+\}/g, AGENT_HOST),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(
          fc.oneof(nasty, fc.constantFrom('v1', 'incidents', 'agents', 'plans', 'maintenance', 'events')),
          { maxLength: 6 },
        )
        .chain((segments) =>
          fc.boolean().map((raw) => `/${segments.map((segment) => encodeSegment(segment, raw)).join('/')}`),
        ),
    },
  );

const queryArbitrary = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.constantFrom(
            'wait',
            'limit',
            'cursor',
            'status',
            'domain',
            'host',
            'since',
            'until',
            'timelineCursor',
            'hostsCursor',
            'x',
          ),
          fc.oneof(
            nasty,
            fc.integer().map(String),
            fc.constantFrom('open', 'resolved', '2026-11-22T03:00:00Z', '20', '0'),
          ),
        ),
        { maxLength: 5 },
      )
      .map((pairs) => `?${new URLSearchParams(pairs).toString()}`),
  },
  { weight: 1, arbitrary: printable.map((text) => `?${text.replaceAll('#', '')}`) },
);

const contentTypeArbitrary = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/cloudevents+json',
      'application/cloudevents-batch+json; charset=utf-8',
    ),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
    ),
  },
  { weight: 1, arbitrary: printable },
);

/** One field of a JSON value replaced, removed or added. */
const mutate = (value: Json): fc.Arbitrary<Json> => {
  if (typeof value !== 'object' || value === null) return fc.jsonValue();
  const keys = Object.keys(value);
  if (keys.length === 0) return fc.jsonValue().map((extra) => ({ ...value, extra }));
  return fc
    .tuple(
      fc.constantFrom(...keys),
      fc.constantFrom('replace', 'delete', 'deeper', 'add'),
      fc.jsonValue(),
      nasty,
    )
    .chain(([key, how, replacement, text]) => {
      const copy: Json = Array.isArray(value) ? [...value] : { ...value };
      switch (how) {
        case 'replace':
          return fc.constantFrom(replacement, text).map((chosen) => {
            copy[key] = chosen;
            return copy;
          });
        case 'delete':
          delete copy[key];
          return fc.constant(copy);
        case 'add':
          copy[text] = replacement;
          return fc.constant(copy);
        default:
          return mutate(value[key]).map((inner) => {
            copy[key] = inner;
            return copy;
          });
      }
    });
};

const hostArbitrary = fc.constantFrom(AGENT_HOST, 'lnxclient08.example.net', 'vios2');

/** A valid event of any type, possibly mutated. */
const eventArbitrary = fc
  .tuple(fc.constantFrom(...EVENT_TYPES), hostArbitrary)
  .map(([type, host]) => agentEvent(type, host))
  .chain((event) => fc.oneof(fc.constant(event), mutate(event)));

/** Bodies that are nearly right for `route`, and noise. */
const bodyArbitrary = (route: RouteCase, method: string): fc.Arbitrary<string | Uint8Array | undefined> => {
  if (method === 'GET' || method === 'HEAD') return fc.constant(undefined);
  const events = route.template === '/v1/events';
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: events ? 4 : 1, arbitrary: eventArbitrary.map((event) => JSON.stringify(event)) },
    {
      weight: events ? 6 : 1,
      arbitrary: fc
        .array(fc.oneof({ weight: 8, arbitrary: eventArbitrary }, { weight: 1, arbitrary: fc.jsonValue() }), {
          minLength: 1,
          maxLength: 12,
        })
        .map((batch) => JSON.stringify(batch)),
    },
    {
      weight: events ? 1 : 6,
      arbitrary: fc
        .oneof(
          fc.constant(route.body ?? {}),
          mutate(route.body ?? {}),
          mutate({ canaryHost: 'lnxclient12.example.net' }),
          mutate({ on: true }),
          mutate({ hostId: 'h2', label: 'rack 4' }),
          mutate({ kind: 'operator' }),
          mutate({ failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios2' }),
        )
        .map((body) => JSON.stringify(body)),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('[', '{"a":'))
        .map(([depth, open]) => open.repeat(depth)),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: LIMITS.maxBatchBytes - 8, max: LIMITS.maxBatchBytes + 8 })
        .map((size) => `[${' '.repeat(Math.max(0, size - 2))}]`),
    },
    {
      weight: 1,
      arbitrary: fc.constant(JSON.stringify(Array.from({ length: LIMITS.maxBatchEvents + 1 }, () => ({})))),
    },
  );
};

const authorizationArbitrary = (tokens: FuzzTokens): fc.Arbitrary<string | undefined> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(tokens.operator, tokens.agent).map((token) => `Bearer ${token}`),
    },
    { weight: 1, arbitrary: fc.constant(`Bearer ${tokens.otherAgent}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(tokens.operator, tokens.agent).map((token) => `bearer   ${token}  `),
    },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: printable.map((text) => `Bearer ${text}`) },
    { weight: 1, arbitrary: printable },
    { weight: 1, arbitrary: fc.constantFrom('Bearer', 'Basic dXNlcjpwYXNz', `Bearer ${'a'.repeat(600)}`) },
  );

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

/** A whole request: a route, asked mostly the right way, with its path, query, headers and body varied. */
export const fuzzRequest = (tokens: FuzzTokens): fc.Arbitrary<FuzzRequest> =>
  fc.constantFrom(...ROUTES).chain((route) =>
    fc
      .tuple(
        fc.oneof(
          { weight: 8, arbitrary: fc.constant(route.method as string) },
          { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
        ),
        pathArbitrary(route),
        queryArbitrary,
        authorizationArbitrary(tokens),
        contentTypeArbitrary,
        fc.dictionary(
          fc.constantFrom('accept', 'x-forwarded-for', 'user-agent', 'if-none-match', 'x-request-id'),
          printable,
          { maxKeys: 2 },
        ),
      )
      .chain(([method, path, query, authorization, contentType, extra]) =>
        bodyArbitrary(route, method).map((body) => {
          const headers: Record<string, string> = { ...extra };
          if (authorization !== undefined) headers.authorization = authorization;
          if (contentType !== undefined) headers['content-type'] = contentType;
          return { method, path: `${path}${query}`, headers, body };
        }),
      ),
  );

/** The incident the fuzzed approve and resolve requests find. */
export const FUZZ_INCIDENT_ID = INCIDENT_ID;
