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

/** The JSON body of an error (events/api-error.ts). */
export const errorBody = (error: ApiError): ApiErrorBody => {
  const issues: Issue[] | undefined =
    error.issues === undefined || error.issues.length === 0
      ? undefined
      : error.issues.slice(0, MAX_ERROR_ISSUES);
  return {
    error: { code: error.code, message: error.message, ...(issues === undefined ? {} : { issues }) },
  };
};

/**
 * The answer to a failed request, and its log line when the failure is the server's: the status
 * from {@link STATUS_BY_CODE}, `WWW-Authenticate` on 401, `Allow` on 405, `Retry-After` on 503.
 */
export const errorResponse = (c: Context, thrown: unknown, log: ApiLog): Response => {
  const error = toApiError(thrown);
  const status = STATUS_BY_CODE[error.code];
  if (status >= 500) {
    log({
      level: 'error',
      msg: 'request failed',
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
  c.header('Cache-Control', 'no-store');
  c.header('X-Content-Type-Options', 'nosniff');
  return c.json(errorBody(error), status);
};
