import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ApiError as ApiErrorBody, Issue } from '../../events/index.ts';
import { AdapterError } from '../adapters/errors.ts';
import {
  ApiError,
  type ApiErrorCode,
  type Dependency,
  ForbiddenError,
  InternalError,
  InvalidRequestError,
  MethodNotAllowedError,
  NotFoundError,
  RateLimitedError,
  ServiceUnavailableError,
  UnauthorizedError,
} from './errors.ts';

/** One JSON log line's fields; the API never logs request bodies or tokens. */
export type ApiLog = (entry: Readonly<Record<string, unknown>>) => void;

/** The one place error codes become statuses (STYLE.md: `app.onError` maps codes to statuses). */
export const STATUS_BY_CODE = {
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  'method-not-allowed': 405,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'invalid-json': 400,
  'invalid-request': 400,
  'events-rejected': 400,
  conflict: 409,
  'rate-limited': 429,
  unavailable: 503,
  internal: 500,
} as const satisfies Record<ApiErrorCode, ContentfulStatusCode>;

/** How long a caller should wait after a 503 before trying again. */
const RETRY_AFTER_SECONDS = 5;

/** An error body lists at most this many issues (a 1 MiB batch of bad events can have thousands). */
export const MAX_ERROR_ISSUES = 1000;

const dependencyOf = (error: AdapterError): Dependency =>
  error.code.startsWith('queue') || error.code.startsWith('message') || error.code.startsWith('batch')
    ? 'queue'
    : 'store';

/** An HTTPException (from Hono itself) as one of ours, keeping its client-facing meaning only. */
const fromHttpException = (error: HTTPException): ApiError => {
  switch (error.status) {
    case 400:
      return new InvalidRequestError('the request could not be read', [], { cause: error });
    case 401:
      return new UnauthorizedError('missing');
    case 403:
      return new ForbiddenError('this token may not do that');
    case 404:
      return new NotFoundError('not found');
    default:
      return new InternalError({ cause: error });
  }
};

/**
 * Any thrown value as an {@link ApiError}: ours as they are; an adapter's (store, queue) as
 * `unavailable` when trying again may help and `internal` otherwise; anything else as `internal`.
 * Only ours carry a message meant for the caller.
 */
export const toApiError = (error: unknown): ApiError => {
  if (error instanceof ApiError) return error;
  if (error instanceof AdapterError) {
    return error.retryable
      ? new ServiceUnavailableError(dependencyOf(error), { cause: error })
      : new InternalError({ cause: error });
  }
  if (error instanceof HTTPException) return fromHttpException(error);
  return new InternalError({ cause: error });
};

const describeCause = (error: unknown): Record<string, unknown> => {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  if (cause instanceof Error) {
    return {
      cause: cause.name,
      detail: cause.message,
      ...(cause instanceof AdapterError ? { causeCode: cause.code } : {}),
      stack: cause.stack,
    };
  }
  return { detail: String(cause) };
};

/**
 * The JSON body of an error (events/api-error.ts). Only an {@link ApiError}'s own message is
 * shown, and an internal error's is fixed: `errorId` (the id of its log line) is added to it.
 */
export const errorBody = (error: ApiError, errorId?: string): ApiErrorBody => {
  const issues: Issue[] | undefined =
    error.issues === undefined || error.issues.length === 0
      ? undefined
      : error.issues.slice(0, MAX_ERROR_ISSUES);
  const message =
    error instanceof InternalError && errorId !== undefined
      ? `${error.message} with error id ${errorId}`
      : error.message;
  return {
    error: { code: error.code, message, ...(issues === undefined ? {} : { issues }) },
  };
};

/**
 * The id of one server-side failure, in its log line and in the 500 answer: what a caller quotes
 * and an operator greps the logs for (the cause's text stays in the log).
 */
export const newErrorId = (): string => `err-${randomUUID()}`;

/**
 * The answer to a failed request, and its log line when the failure is the server's: the status
 * from {@link STATUS_BY_CODE}, `WWW-Authenticate` on 401, `Allow` on 405, `Retry-After` on 429 and
 * 503. A 5xx is logged with its cause under an `errorId` that a 500's answer names; a 4xx answers
 * its own message, written for the caller.
 */
export const errorResponse = (
  c: Context,
  thrown: unknown,
  log: ApiLog,
  newId: () => string = newErrorId,
): Response => {
  const error = toApiError(thrown);
  const status = STATUS_BY_CODE[error.code];
  let errorId: string | undefined;
  if (status >= 500) {
    errorId = newId();
    log({
      level: 'error',
      msg: 'request failed',
      errorId,
      method: c.req.method,
      path: c.req.path,
      code: error.code,
      ...describeCause(thrown),
    });
  }
  if (error instanceof UnauthorizedError) {
    c.header(
      'WWW-Authenticate',
      error.reason === 'unknown'
        ? 'Bearer realm="faultline", error="invalid_token"'
        : 'Bearer realm="faultline"',
    );
  }
  if (error instanceof MethodNotAllowedError) c.header('Allow', error.allowed.join(', '));
  if (status === 503) c.header('Retry-After', String(RETRY_AFTER_SECONDS));
  if (error instanceof RateLimitedError) c.header('Retry-After', String(error.retryAfterSeconds));
  c.header('Cache-Control', 'no-store');
  c.header('X-Content-Type-Options', 'nosniff');
  return c.json(errorBody(error, errorId), status);
};
