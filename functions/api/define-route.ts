import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { mergePath } from 'hono/utils/url';
import { z } from 'zod';
import { ErrorBody, type Issue, parseWith } from '../../events/index.ts';
import { type Principal, requireOperator } from './auth.ts';
import { readJsonBody } from './body.ts';
import { InvalidRequestError, UnauthorizedError } from './errors.ts';

/**
 * One route of the API: its OpenAPI description and its wiring, from the same zod schemas; and the
 * route groups the app is composed of (./routes/), each a sub-app mounted with `app.route()`.
 *
 * Why not `app.openapi()`: its validators read the body without a size limit and answer in their
 * own error shape, and its paths cannot hold a parameter that may contain `/` (a failure domain).
 * Here the description goes to its group's OpenAPI registry (which `app.route()` copies into the
 * app's, so `/openapi.json` lists it) and the route parses its own input at the edge: path parameters, then the query, then the body (size
 * first), each failure an `InvalidRequestError` with the zod issues under `params`, `query` or the
 * body's own paths.
 */

/** Who may call a route. `public` answers without a token (only `GET /v1/health`). */
export type Access = 'public' | 'authenticated' | 'operator';

export type ApiEnv = { Variables: { principal: Principal } };
export type ApiContext = Context<ApiEnv>;

type RouteConfig = Parameters<OpenAPIHono<ApiEnv>['openAPIRegistry']['registerPath']>[0];
type Responses = RouteConfig['responses'];

type Output<Schema> = Schema extends z.ZodType ? z.output<Schema> : undefined;

/** The largest body of an operator request (approve, resume, maintenance, tokens). */
export const MAX_COMMAND_BODY_BYTES = 16 * 1024;

/** A JSON body the route parses with `schema`; an empty body reads as `{}`. */
export interface BodySpec<Schema extends z.ZodType> {
  readonly schema: Schema;
  readonly maxBytes: number;
  readonly description?: string;
}

/** A body the handler reads itself (`POST /v1/events`); described here, not parsed. */
export interface RawBodySpec {
  readonly schema: z.ZodType;
  readonly maxBytes: number;
  readonly mediaTypes: readonly string[];
  readonly description?: string;
}

export interface RouteSpec<
  Params extends z.ZodObject | undefined,
  Query extends z.ZodObject | undefined,
  Body extends z.ZodType | undefined,
> {
  readonly method: 'get' | 'post' | 'put' | 'delete';
  /** The OpenAPI path: `/v1/incidents/{id}`. */
  readonly path: string;
  /** The Hono path when it differs from the OpenAPI one (a parameter that may hold `/`). */
  readonly routingPath?: string;
  readonly access: Access;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly params?: Params;
  readonly query?: Query;
  readonly body?: Body extends z.ZodType ? BodySpec<Body> : undefined;
  readonly rawBody?: RawBodySpec;
  /** The successful answers; the error answers are added from the route's access and input. */
  readonly responses: Responses;
}

export interface RouteInput<Params, Query, Body> {
  readonly params: Output<Params>;
  readonly query: Output<Query>;
  readonly body: Output<Body>;
  /** Undefined only on a public route. */
  readonly principal: Principal;
}

export type RouteHandler<Params, Query, Body> = (
  c: ApiContext,
  input: RouteInput<Params, Query, Body>,
) => Promise<Response> | Response;

/** A route as its group registered it: the Hono path is relative to where the group is mounted. */
export interface RouteEntry {
  readonly method: string;
  readonly path: string;
  readonly access: Access;
}

/**
 * One route group (./routes/): a sub-app and the routes it answers. Built whole, then mounted once
 * with {@link RouteTable.mount}, which is when Hono copies its routes into the app.
 */
export interface RouteGroup {
  readonly app: OpenAPIHono<ApiEnv>;
  readonly routes: RouteEntry[];
}

export const routeGroup = (): RouteGroup => ({ app: new OpenAPIHono<ApiEnv>(), routes: [] });

/** An error answer's description, with the error body's schema. */
export const errorAnswer = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorBody } },
});

/** What a route without query parameters parses its query with: nothing is allowed. */
const NO_QUERY = z.strictObject({});

const toHonoPath = (path: string): string => path.replaceAll(/\{([^}]+)\}/g, ':$1');

/** A regular expression matching the paths a Hono path answers (`:id`, `:id{.+}`). */
const matcherOf = (honoPath: string): RegExp => {
  const pattern = honoPath
    .split('/')
    .map((segment) => {
      const custom = /^:[A-Za-z0-9_]+\{(.+)\}$/.exec(segment);
      if (custom?.[1] !== undefined) return custom[1];
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${pattern}$`);
};

/** Issues of a failed parse, under `where` (`params`, `query`). */
const located = (issues: readonly Issue[], where: string | undefined): Issue[] =>
  where === undefined ? [...issues] : issues.map((issue) => ({ ...issue, path: [where, ...issue.path] }));

const parseInput = <Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  what: string,
  where: string | undefined,
): z.output<Schema> => {
  const parsed = parseWith(schema, value);
  if (!parsed.ok) throw new InvalidRequestError(`invalid ${what}`, located(parsed.issues, where));
  return parsed.value;
};

/** Path parameters, percent-decoded by Hono (`%2F` in a failure domain reads as `/`). */
const paramsOf = (c: ApiContext): Record<string, string> => ({
  ...(c.req.param() as Record<string, string>),
});

/** Query parameters; a repeated one is refused rather than silently reduced to one value. */
const queryOf = (c: ApiContext): Record<string, string> => {
  const query: Record<string, string> = {};
  const repeated: Issue[] = [];
  for (const [name, values] of Object.entries(c.req.queries())) {
    const [first] = values;
    if (first === undefined) continue;
    if (values.length > 1)
      repeated.push({ path: ['query', name], message: 'given more than once', code: 'repeated' });
    query[name] = first;
  }
  if (repeated.length > 0) throw new InvalidRequestError('invalid query', repeated);
  return query;
};

/** Registers a route's description in its group and wires its handler, behind its access rule. */
export const defineRoute = <
  Params extends z.ZodObject | undefined = undefined,
  Query extends z.ZodObject | undefined = undefined,
  Body extends z.ZodType | undefined = undefined,
>(
  { app, routes }: RouteGroup,
  spec: RouteSpec<Params, Query, Body>,
  handler: RouteHandler<Params, Query, Body>,
): void => {
  const bodySpec = (spec.body ?? spec.rawBody) as BodySpec<z.ZodType> | RawBodySpec | undefined;
  const mediaTypes = spec.rawBody?.mediaTypes ?? ['application/json'];
  const responses: Responses = { ...spec.responses };
  if (spec.params !== undefined || spec.query !== undefined || bodySpec !== undefined) {
    responses[400] = errorAnswer('The input does not parse; `issues` says where and why.');
  }
  if (spec.access !== 'public') {
    responses[401] = errorAnswer('No bearer token, or not a valid one.');
  }
  if (spec.access === 'operator') responses[403] = errorAnswer('An agent token may not do this.');
  if (bodySpec !== undefined) {
    responses[413] = errorAnswer(`The body is over ${bodySpec.maxBytes} bytes.`);
    responses[415] = errorAnswer(
      spec.rawBody !== undefined && !spec.rawBody.mediaTypes.some((type) => type.endsWith('json'))
        ? `The body is not ${spec.rawBody.mediaTypes.join(' or ')} by its Content-Type.`
        : 'The body is not JSON by its Content-Type.',
    );
  }
  // A route may answer its 503 with its own body (health does).
  responses[503] ??= errorAnswer('The store or the queue is unavailable; try again shortly.');

  app.openAPIRegistry.registerPath({
    method: spec.method,
    path: spec.path,
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    tags: [...spec.tags],
    security: spec.access === 'public' ? [] : [{ bearer: [] }],
    request: {
      ...(spec.params === undefined ? {} : { params: spec.params }),
      ...(spec.query === undefined ? {} : { query: spec.query }),
      ...(bodySpec === undefined
        ? {}
        : {
            body: {
              ...(bodySpec.description === undefined ? {} : { description: bodySpec.description }),
              required: !bodySpec.schema.safeParse({}).success,
              content: Object.fromEntries(mediaTypes.map((type) => [type, { schema: bodySpec.schema }])),
            },
          }),
    },
    responses,
  });

  const routingPath = spec.routingPath ?? toHonoPath(spec.path);
  routes.push({ method: spec.method.toUpperCase(), path: routingPath, access: spec.access });

  app.on(spec.method.toUpperCase(), routingPath, async (c) => {
    const principal = c.get('principal') as Principal | undefined;
    if (spec.access !== 'public') {
      if (principal === undefined) throw new UnauthorizedError('missing');
      if (spec.access === 'operator') requireOperator(principal);
    }
    const params =
      spec.params === undefined
        ? undefined
        : parseInput(spec.params, paramsOf(c), 'path parameters', 'params');
    const query = parseInput(spec.query ?? NO_QUERY, queryOf(c), 'query', 'query');
    let body: unknown;
    if (spec.body !== undefined) {
      const value = await readJsonBody(c.req.raw, { maxBytes: spec.body.maxBytes, required: false });
      body = parseInput(spec.body.schema, value ?? {}, 'body', undefined);
    }
    return handler(c, {
      params: params as Output<Params>,
      query: (spec.query === undefined ? undefined : query) as Output<Query>,
      body: body as Output<Body>,
      principal: principal as Principal,
    });
  });
};

/** A mounted route, for telling an unknown path (404) from a known one asked the wrong way (405). */
interface MountedRoute {
  readonly method: string;
  readonly matcher: RegExp;
  readonly access: Access;
}

/**
 * Every route of the app, by its full path: what the app's own middleware and `notFound` ask
 * before any route group answers (whether a route is public, which methods a path allows).
 */
export class RouteTable {
  readonly #routes: MountedRoute[] = [];

  /** Mounts `group` at `prefix` with `app.route()` and records its routes under that prefix. */
  mount(app: OpenAPIHono<ApiEnv>, prefix: string, group: RouteGroup): void {
    app.route(prefix, group.app);
    for (const route of group.routes) {
      this.#routes.push({
        method: route.method,
        matcher: matcherOf(mergePath(prefix, route.path)),
        access: route.access,
      });
    }
  }

  /** The methods some route answers at `path`: none for an unknown path. */
  allowedMethods(path: string): string[] {
    return [
      ...new Set(this.#routes.filter((route) => route.matcher.test(path)).map((route) => route.method)),
    ];
  }

  /** Whether `method` on `path` answers without a token. */
  isPublic(method: string, path: string): boolean {
    return this.#routes.some(
      (route) => route.access === 'public' && route.method === method && route.matcher.test(path),
    );
  }
}
