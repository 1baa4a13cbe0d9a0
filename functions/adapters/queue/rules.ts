import { InvalidQueueRequestError } from '../errors.ts';
import {
  type MessageAttributes,
  type OutgoingMessage,
  QUEUE_LIMITS,
  type ReceiveOptions,
  SQS_INVALID_CHARACTER,
} from './port.ts';

/**
 * The rules SQS applies to what it is sent, for the adapters that must apply them themselves (the
 * SQLite queue): a message the local runtime accepts must be one SQS would accept too, or a
 * handler would pass its tests locally and fail in the cloud. The SQS adapter leaves these checks
 * to SQS, the authority.
 */

/** What SQS says when it refuses one message or one batch: its error code and a sentence. */
export interface Refusal {
  readonly code: string;
  readonly message: string;
}

const INVALID_BODY_CHAR = SQS_INVALID_CHARACTER;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]+$/;
const RESERVED_ATTRIBUTE_PREFIX = /^(?:aws\.|amazon\.)/i;
const NUMBER_VALUE = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const BATCH_ENTRY_ID = /^[A-Za-z0-9_-]+$/;

/** The size SQS counts for a message: the body, and each attribute's name, type and value. */
export const messageBytes = (body: string, attributes: MessageAttributes = {}): number => {
  let bytes = Buffer.byteLength(body, 'utf8');
  for (const [name, attribute] of Object.entries(attributes)) {
    bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(attribute.type, 'utf8');
    bytes +=
      attribute.type === 'Binary' ? attribute.value.byteLength : Buffer.byteLength(attribute.value, 'utf8');
  }
  return bytes;
};

const attributeRefusal = (attributes: MessageAttributes): Refusal | undefined => {
  const entries = Object.entries(attributes);
  if (entries.length > QUEUE_LIMITS.maxAttributes) {
    return {
      code: 'InvalidParameterValue',
      message: `a message may carry at most ${QUEUE_LIMITS.maxAttributes} attributes (this one has ${entries.length})`,
    };
  }
  for (const [name, attribute] of entries) {
    if (
      name.length === 0 ||
      name.length > QUEUE_LIMITS.maxAttributeNameLength ||
      !ATTRIBUTE_NAME.test(name) ||
      RESERVED_ATTRIBUTE_PREFIX.test(name) ||
      name.startsWith('.') ||
      name.endsWith('.') ||
      name.includes('..')
    ) {
      return {
        code: 'InvalidParameterValue',
        message: `invalid message attribute name ${JSON.stringify(name)}`,
      };
    }
    if (attribute.type === 'Binary') {
      if (attribute.value.byteLength === 0) {
        return { code: 'InvalidParameterValue', message: `message attribute ${name} has an empty value` };
      }
      continue;
    }
    if (attribute.value.length === 0) {
      return { code: 'InvalidParameterValue', message: `message attribute ${name} has an empty value` };
    }
    if (INVALID_BODY_CHAR.test(attribute.value)) {
      return { code: 'InvalidParameterValue', message: `message attribute ${name} has invalid characters` };
    }
    if (attribute.type === 'Number' && !NUMBER_VALUE.test(attribute.value)) {
      return { code: 'InvalidParameterValue', message: `message attribute ${name} is not a number` };
    }
  }
  return undefined;
};

/** Why SQS would refuse this message, or undefined when it would take it. */
export const messageRefusal = (message: OutgoingMessage, maxMessageBytes: number): Refusal | undefined => {
  if (message.body.length === 0) {
    return { code: 'MissingParameter', message: 'the message body is empty' };
  }
  if (INVALID_BODY_CHAR.test(message.body)) {
    return {
      code: 'InvalidMessageContents',
      message:
        'invalid characters found: valid are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
    };
  }
  const delay = message.delaySeconds;
  if (
    delay !== undefined &&
    (!Number.isInteger(delay) || delay < 0 || delay > QUEUE_LIMITS.maxDelaySeconds)
  ) {
    return {
      code: 'InvalidParameterValue',
      message: `DelaySeconds must be an integer from 0 to ${QUEUE_LIMITS.maxDelaySeconds}`,
    };
  }
  const refused = attributeRefusal(message.attributes ?? {});
  if (refused !== undefined) return refused;
  const bytes = messageBytes(message.body, message.attributes);
  if (bytes > maxMessageBytes) {
    return {
      code: 'InvalidParameterValue',
      message: `message must be shorter than ${maxMessageBytes} bytes (this one is ${bytes})`,
    };
  }
  return undefined;
};

/**
 * Why SQS would refuse a batch as a whole (its entry ids, its size), or undefined. `maxEntries` is
 * SQS's limit, or more for a `sendMany` that the adapter splits itself.
 */
export const batchRefusal = (
  ids: readonly string[],
  maxEntries: number = QUEUE_LIMITS.maxBatchEntries,
): Refusal | undefined => {
  if (ids.length === 0) {
    return { code: 'EmptyBatchRequest', message: 'the batch request contains no entries' };
  }
  if (ids.length > maxEntries) {
    return {
      code: 'TooManyEntriesInBatchRequest',
      message: `a batch holds at most ${maxEntries} entries (this one has ${ids.length})`,
    };
  }
  for (const id of ids) {
    if (id.length > QUEUE_LIMITS.maxBatchEntryIdLength || !BATCH_ENTRY_ID.test(id)) {
      return {
        code: 'InvalidBatchEntryId',
        message: `batch entry id ${JSON.stringify(id)} is not 1–80 letters, digits, - or _`,
      };
    }
  }
  if (new Set(ids).size !== ids.length) {
    return { code: 'BatchEntryIdsNotDistinct', message: 'two or more batch entries have the same id' };
  }
  return undefined;
};

/**
 * An integer setting in `[min, max]`, or `InvalidQueueRequestError` naming it: the one range check
 * of queue requests and of the SQLite queue's configuration.
 */
export const checkRange = (queue: string, name: string, value: number, min: number, max: number): number => {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidQueueRequestError(
      queue,
      `${name} must be an integer from ${min} to ${max} (got ${value})`,
    );
  }
  return value;
};

/** A visibility timeout in range, or `InvalidQueueRequestError`. */
export const checkVisibilityTimeout = (queue: string, seconds: number): number =>
  checkRange(queue, 'visibilityTimeoutSeconds', seconds, 0, QUEUE_LIMITS.maxVisibilityTimeoutSeconds);

/**
 * Receive options in range with their defaults applied, or `InvalidQueueRequestError`;
 * `maxReceiveMessages` is SQS's limit, or more for a `receiveMany`.
 */
export const checkReceiveOptions = (
  queue: string,
  options: ReceiveOptions,
  maxReceiveMessages: number = QUEUE_LIMITS.maxReceiveMessages,
): { maxMessages: number; waitTimeSeconds: number; visibilityTimeoutSeconds: number | undefined } => ({
  maxMessages: checkRange(queue, 'maxMessages', options.maxMessages ?? 1, 1, maxReceiveMessages),
  waitTimeSeconds: checkRange(
    queue,
    'waitTimeSeconds',
    options.waitTimeSeconds ?? 0,
    0,
    QUEUE_LIMITS.maxWaitTimeSeconds,
  ),
  visibilityTimeoutSeconds:
    options.visibilityTimeoutSeconds === undefined
      ? undefined
      : checkVisibilityTimeout(queue, options.visibilityTimeoutSeconds),
});
