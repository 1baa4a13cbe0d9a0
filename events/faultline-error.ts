/**
 * The one base of every error Faultline throws on purpose. Each module's `errors.ts` extends it
 * with its own base (`AdapterError`, `ApiError`, `ExecutorError`...), so any room can tell a known
 * failure from a bug by its type, switch on its literal `code`, and decide whether to try again
 * from `retryable`, with no duck-typing. It lives in `events/` because every room may import
 * `events/`; it imports nothing and does no I/O.
 */

/**
 * A failure the code knows how to name. Why one base: callers that see errors from several
 * modules (a handler catching a store or an outbox failure) ask one question, `retryable`, and log
 * one shape, `code`, whatever module threw.
 *
 * `name` is the concrete class's name, so no subclass sets it (the bundles keep class names:
 * esbuild's `keepNames`, in scripts/build.ts and infra/constructs/faultline-function.ts).
 */
export abstract class FaultlineError<Code extends string = string> extends Error {
  /** What failed, stable and literal: callers switch on it (the API maps it to a status), never on the message. */
  abstract readonly code: Code;
  /** Whether the same call may succeed later with nothing changed (throttling, a lock, a network error). */
  abstract readonly retryable: boolean;

  /** `options.cause` keeps the wrapped failure (an SDK or file-system error) for the logs. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Whether a thrown value is one of Faultline's own errors, for callers that catch anything (a
 * batch handler deciding between retrying and dead-lettering a record).
 */
export const isFaultlineError = (error: unknown): error is FaultlineError => error instanceof FaultlineError;
