import { FaultlineError } from '../../events/faultline-error.ts';
import type { Issue } from '../../events/index.ts';

/**
 * Errors of the HTTP API. Every client-facing failure is one of these, with a stable `code` that
 * `app.onError` (./error-response.ts) turns into a status and an `{error:{code,message,issues?}}`
 * body in one place. Messages are written for the caller and never carry internals: a store or
 * queue failure becomes a `ServiceUnavailableError` whose message names only what is unavailable,
 * its cause kept (`cause`) for the logs.
 */

export const API_ERROR_CODES = [
  'unauthorized',
  'forbidden',
  'not-found',
  'method-not-allowed',
  'payload-too-large',
  'unsupported-media-type',
  'invalid-json',
  'invalid-request',
  'events-rejected',
  'conflict',
  'rate-limited',
  'unavailable',
  'internal',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** The base of every API error; `retryable` says whether the same request may succeed later. */
export abstract class ApiError extends FaultlineError<ApiErrorCode> {
  /** The input issues, for a rejected request. */
  readonly issues: readonly Issue[] | undefined;

  constructor(message: string, issues?: readonly Issue[], options?: ErrorOptions) {
    super(message, options);
    this.issues = issues;
  }
}

/** Why a request carried no usable bearer token. */
export type UnauthorizedReason = 'missing' | 'malformed' | 'unknown';

const UNAUTHORIZED_MESSAGES: Readonly<Record<UnauthorizedReason, string>> = {
  missing: 'a bearer token is required (Authorization: Bearer <token>)',
  malformed: 'the Authorization header is not a bearer token (Authorization: Bearer <token>)',
  unknown: 'the bearer token is not valid',
};

/** No token, a malformed Authorization header, or a token the store does not know. */
export class UnauthorizedError extends ApiError {
  readonly code = 'unauthorized' as const;
  readonly retryable = false;
  constructor(readonly reason: UnauthorizedReason) {
    super(UNAUTHORIZED_MESSAGES[reason]);
  }
}

/** A valid token that may not do this: an agent token outside its own host, or on an operator route. */
export class ForbiddenError extends ApiError {
  readonly code = 'forbidden' as const;
  readonly retryable = false;
}

/** An unknown route, or a resource that does not exist. */
export class NotFoundError extends ApiError {
  readonly code = 'not-found' as const;
  readonly retryable = false;
}

/** A known path asked with a method it does not answer. */
export class MethodNotAllowedError extends ApiError {
  readonly code = 'method-not-allowed' as const;
  readonly retryable = false;
  constructor(
    readonly method: string,
    readonly path: string,
    /** The methods the path answers, for the `Allow` header. */
    readonly allowed: readonly string[],
  ) {
    super(`${path} does not answer ${method}; it answers ${allowed.join(', ')}`);
  }
}

/** A body over the route's limit (§3: one request ≤ 1 MiB); found before parsing anything. */
export class PayloadTooLargeError extends ApiError {
  readonly code = 'payload-too-large' as const;
  readonly retryable = false;
  constructor(readonly maxBytes: number) {
    super(`the request body may not exceed ${maxBytes} bytes`);
  }
}

/** A body that is not JSON by its Content-Type. */
export class UnsupportedMediaTypeError extends ApiError {
  readonly code = 'unsupported-media-type' as const;
  readonly retryable = false;
  constructor(
    readonly contentType: string,
    readonly accepted: readonly string[],
  ) {
    super(`a body of type ${contentType} is not accepted here; send ${accepted.join(' or ')}`);
  }
}

/** A body that is not UTF-8 JSON, or is empty where a body is required. */
export class InvalidJsonError extends ApiError {
  readonly code = 'invalid-json' as const;
  readonly retryable = false;
}

/** Parameters, query or body that do not match the route's schema; `issues` says where and why. */
export class InvalidRequestError extends ApiError {
  readonly code = 'invalid-request' as const;
  readonly retryable = false;
  constructor(message: string, issues: readonly Issue[], options?: ErrorOptions) {
    super(message, issues, options);
  }
}

/** `POST /v1/events` accepted none of the events it was given; `issues` carries every reason. */
export class EventsRejectedError extends ApiError {
  readonly code = 'events-rejected' as const;
  readonly retryable = false;
  constructor(message: string, issues: readonly Issue[]) {
    super(message, issues);
  }
}

/** The request is valid but the resource is not in a state it applies to (approving a resolved incident). */
export class ConflictError extends ApiError {
  readonly code = 'conflict' as const;
  readonly retryable = false;
}

/**
 * A token over its ingest rate limit (./rate-limit.ts): answered 429 with `Retry-After`; the same
 * request succeeds once that many seconds have passed (agents keep the events spooled meanwhile).
 */
export class RateLimitedError extends ApiError {
  readonly code = 'rate-limited' as const;
  readonly retryable = true;
  constructor(
    /** Whole seconds until the token's bucket holds what the request costs. */
    readonly retryAfterSeconds: number,
    /** What the request costs, in events. */
    readonly events: number,
  ) {
    super(
      `this token is over its ingest rate limit; send again in ${retryAfterSeconds} s (Retry-After), nothing of this request was taken`,
    );
  }
}

/** What the API depends on. */
export type Dependency = 'store' | 'queue' | 'configuration';

/** The store or the queue is unreachable or busy (throttling, network, a locked file): try again. */
export class ServiceUnavailableError extends ApiError {
  readonly code = 'unavailable' as const;
  readonly retryable = true;
  constructor(
    readonly dependency: Dependency,
    options?: ErrorOptions,
  ) {
    super(`the ${dependency} is unavailable; try again shortly`, undefined, options);
  }
}

/** The fixed message of every 500: nothing of the cause reaches the caller. */
export const INTERNAL_ERROR_MESSAGE = 'the request failed on the server; the error is logged';

/**
 * Anything else that failed on the server's side; the caller sees only the fixed message and the
 * error id of the log line that holds the cause (./error-response.ts), never the cause's text.
 */
export class InternalError extends ApiError {
  readonly code = 'internal' as const;
  readonly retryable = false;
  constructor(options?: ErrorOptions) {
    super(INTERNAL_ERROR_MESSAGE, undefined, options);
  }
}
