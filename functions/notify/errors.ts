/**
 * Errors of the notify function. Delivery failures are not errors here: a destination answering
 * 503 or 400 is an outcome (retried, or dead-lettered with its reason). What throws is what stops
 * notify from working at all: its configuration, or its delivery log.
 */

import { FaultlineError } from '../../events/faultline-error.ts';

export const NOTIFY_ERROR_CODES = [
  'notify-config-invalid',
  'delivery-log-unavailable',
  'delivery-log-rejected',
] as const;
export type NotifyErrorCode = (typeof NOTIFY_ERROR_CODES)[number];

/** The base of every notify error: one of `NOTIFY_ERROR_CODES`, retryable or not. */
export abstract class NotifyError extends FaultlineError<NotifyErrorCode> {}

/** The environment or the destinations configuration does not validate: nothing is delivered until fixed. */
export class NotifyConfigError extends NotifyError {
  readonly code = 'notify-config-invalid' as const;
  readonly retryable = false;
  constructor(
    message: string,
    /** One line per problem: `destinations.1.url: ...`. */
    readonly problems: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super(problems.length === 0 ? message : `${message}: ${problems.join('; ')}`, options);
  }
}

/**
 * The delivery log could not be read or written now: a locked or unwritable SQLite file; DynamoDB
 * throttling, a 5xx or no answer; a lane so contended that its conditional writes kept losing.
 */
export class DeliveryLogUnavailableError extends NotifyError {
  readonly code = 'delivery-log-unavailable' as const;
  readonly retryable = true;
  constructor(message: string, options?: ErrorOptions) {
    super(`delivery log unavailable: ${message}`, options);
  }
}

/**
 * The delivery log refused a request that will fail the same way again: its DynamoDB table is
 * missing, notify may not use it, or it will not take the item. Fixed by deployment, not by waiting.
 */
export class DeliveryLogRejectedError extends NotifyError {
  readonly code = 'delivery-log-rejected' as const;
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(`delivery log refused: ${message}`, options);
  }
}
