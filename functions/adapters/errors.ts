/**
 * Errors of the adapters (queues, plan signers, stores). Every adapter throws one of these and never a raw
 * SDK, SQLite or file-system error: callers decide on `code` and `retryable` alone, and the cause
 * is kept (`cause`) for the logs. `retryable` says whether the same call may succeed later without
 * anyone changing anything (throttling, a 5xx, a network error), as opposed to a request that will
 * fail the same way every time (a rejected message, a missing queue, a wrong key).
 */

import { FaultlineError } from '../../events/faultline-error.ts';

export const ADAPTER_ERROR_CODES = [
  'queue-not-found',
  'queue-unavailable',
  'queue-closed',
  'message-rejected',
  'batch-rejected',
  'message-not-in-flight',
  'invalid-queue-request',
  'no-dead-letter-queue',
  'signer-unavailable',
  'signer-rejected',
  'signer-key-invalid',
  'store-unavailable',
  'store-rejected',
] as const;
export type AdapterErrorCode = (typeof ADAPTER_ERROR_CODES)[number];

/** The base of every adapter error: one of `ADAPTER_ERROR_CODES`, retryable or not. */
export abstract class AdapterError extends FaultlineError<AdapterErrorCode> {}

/** The queue (or its dead-letter queue) does not exist: a deployment or configuration error. */
export class QueueNotFoundError extends AdapterError {
  readonly code = 'queue-not-found' as const;
  readonly retryable = false;
  constructor(
    readonly queue: string,
    options?: ErrorOptions,
  ) {
    super(`queue ${queue} does not exist`, options);
  }
}

/** The queue could not be reached or was busy (throttling, 5xx, network, a locked SQLite file). */
export class QueueUnavailableError extends AdapterError {
  readonly code = 'queue-unavailable' as const;
  readonly retryable = true;
  constructor(
    readonly queue: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`queue ${queue} unavailable: ${message}`, options);
  }
}

/** The adapter was closed (the local runtime is shutting down). */
export class QueueClosedError extends AdapterError {
  readonly code = 'queue-closed' as const;
  readonly retryable = false;
  constructor(
    readonly queue: string,
    options?: ErrorOptions,
  ) {
    super(`queue ${queue} is closed`, options);
  }
}

/** The queue refused a request as malformed: a body with characters SQS forbids, too large, bad attributes. */
export class MessageRejectedError extends AdapterError {
  readonly code = 'message-rejected' as const;
  readonly retryable = false;
  constructor(
    readonly queue: string,
    /** The queue's own code for the refusal (`InvalidMessageContents`, `InvalidParameterValue`). */
    readonly reason: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`queue ${queue} rejected the message (${reason}): ${message}`, options);
  }
}

/** A batch request as a whole was refused: empty, more than 10 entries, duplicate or invalid entry ids. */
export class BatchRejectedError extends AdapterError {
  readonly code = 'batch-rejected' as const;
  readonly retryable = false;
  constructor(
    readonly queue: string,
    readonly reason: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`queue ${queue} rejected the batch (${reason}): ${message}`, options);
  }
}

/** A visibility change for a message that is not in flight any more (deleted, or its timeout ran out). */
export class MessageNotInFlightError extends AdapterError {
  readonly code = 'message-not-in-flight' as const;
  readonly retryable = false;
  constructor(
    readonly queue: string,
    options?: ErrorOptions,
  ) {
    super(
      `queue ${queue}: the message is not in flight (deleted, or its visibility timeout ran out)`,
      options,
    );
  }
}

/** A queue call with arguments out of range (`maxMessages` 11, a wait of 30 s): a programming error. */
export class InvalidQueueRequestError extends AdapterError {
  readonly code = 'invalid-queue-request' as const;
  readonly retryable = false;
  constructor(
    readonly queue: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`queue ${queue}: ${message}`, options);
  }
}

/** A message was to be dead-lettered from a queue that has no dead-letter queue configured. */
export class NoDeadLetterQueueError extends AdapterError {
  readonly code = 'no-dead-letter-queue' as const;
  readonly retryable = false;
  constructor(
    readonly queue: string,
    options?: ErrorOptions,
  ) {
    super(`queue ${queue} has no dead-letter queue (no redrive policy)`, options);
  }
}

/** The signer (KMS) could not be reached or was throttled. */
export class SignerUnavailableError extends AdapterError {
  readonly code = 'signer-unavailable' as const;
  readonly retryable = true;
  constructor(message: string, options?: ErrorOptions) {
    super(`plan signer unavailable: ${message}`, options);
  }
}

/** The signer refused to sign (access denied, key disabled, wrong key usage). */
export class SignerRejectedError extends AdapterError {
  readonly code = 'signer-rejected' as const;
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(`plan signer refused: ${message}`, options);
  }
}

/** The signing key is unusable: not ECDSA P-256, unreadable, or its file is open to other users. */
export class SignerKeyInvalidError extends AdapterError {
  readonly code = 'signer-key-invalid' as const;
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(`plan signing key unusable: ${message}`, options);
  }
}

/** The store (DynamoDB, the SQLite file) could not be reached or was busy: throttling, 5xx, network, a lock. */
export class StoreUnavailableError extends AdapterError {
  readonly code = 'store-unavailable' as const;
  readonly retryable = true;
  constructor(message: string, options?: ErrorOptions) {
    super(`store unavailable: ${message}`, options);
  }
}

/** The store refused a request that will fail the same way again: an item too large, a bad cursor, a missing table. */
export class StoreRejectedError extends AdapterError {
  readonly code = 'store-rejected' as const;
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(`store refused: ${message}`, options);
  }
}

/** What an AWS SDK v3 error carries that tells a transient failure from a permanent one. */
interface SdkErrorShape {
  name?: unknown;
  $fault?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'ServiceUnavailable',
  'InternalError',
  'InternalFailure',
  'KmsThrottled',
]);

/**
 * Whether an SDK (or network) failure is worth trying again: throttling, server faults, and
 * errors that never got an HTTP answer (connection refused or reset, timeouts).
 */
export const isTransientSdkError = (error: unknown): boolean => {
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as SdkErrorShape;
  if (shape.$retryable !== undefined && shape.$retryable !== null) return true;
  if (typeof shape.name === 'string' && THROTTLING_NAMES.has(shape.name)) return true;
  if (shape.$fault === 'server') return true;
  const status = shape.$metadata?.httpStatusCode;
  if (typeof status === 'number') return status === 429 || status >= 500;
  // No HTTP status at all: the request never got an answer (ECONNREFUSED, ECONNRESET, a timeout).
  return true;
};

/** The error name an SDK failure carries (`QueueDoesNotExist`, `AccessDeniedException`), for messages. */
export const sdkErrorName = (error: unknown): string => {
  if (typeof error === 'object' && error !== null) {
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name.length > 0) return name;
  }
  return 'Error';
};

/** The message of any thrown value, for wrapping. */
export const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === 'string' ? error : 'unknown error';
