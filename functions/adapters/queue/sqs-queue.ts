import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { z } from 'zod';
import {
  AdapterError,
  BatchRejectedError,
  InvalidQueueRequestError,
  isTransientSdkError,
  MessageNotInFlightError,
  MessageRejectedError,
  messageOf,
  NoDeadLetterQueueError,
  QueueNotFoundError,
  QueueUnavailableError,
  sdkErrorName,
} from '../errors.ts';
import {
  type BatchEntryFailure,
  type BatchMessage,
  type DeleteBatchEntry,
  type DeleteBatchResult,
  type MessageAttribute,
  type MessageAttributes,
  type OutgoingMessage,
  QUEUE_LIMITS,
  type QueueCounts,
  type ReceivedMessage,
  type ReceiveManyOptions,
  type ReceiveOptions,
  type RedrivePolicy,
  SEND_MANY_IN_FLIGHT,
  type SendBatchResult,
  type SentMessage,
  sendToDeadLetterQueue,
  type WorkQueue,
} from './port.ts';
import { batchRefusal, checkReceiveOptions, checkVisibilityTimeout } from './rules.ts';

/**
 * The work queue on Amazon SQS (a standard queue). The client is passed in, built by the
 * function's composition root (functions/lambda/) (never at module scope), so credentials, region and
 * endpoint are the caller's: give it an explicit `endpoint` when talking to an emulator, or the SDK sends to
 * the host named in the queue URL.
 *
 * SQS itself enforces the message rules (size, characters, attributes) and the redrive policy
 * (set by infra); this adapter maps its answers onto the port and wraps its errors:
 * `QueueNotFoundError`, `MessageRejectedError`, `BatchRejectedError`, `MessageNotInFlightError`,
 * `InvalidQueueRequestError`, and `QueueUnavailableError` (retryable) for throttling, 5xx and
 * network failures.
 *
 * The dead-letter queue is the one named in the queue's `RedrivePolicy` (its URL looked up once
 * with `GetQueueUrl`), unless `deadLetterQueueUrl` names it.
 *
 * Against the fauxqs emulator (1.9.2, used by the tests): `ApproximateReceiveCount`,
 * `SentTimestamp`, the visibility timeout, long polling and the `RedrivePolicy` (move to the DLQ
 * at the receive after `maxReceiveCount` receives) behave as in SQS; `SenderId` is always
 * `000000000000` (there is no IAM), so sender binding (docs/architecture.md §3) cannot be exercised there;
 * message retention is not enforced.
 */
export interface SqsQueueOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** The DLQ's URL; by default found from the queue's `RedrivePolicy`. */
  readonly deadLetterQueueUrl?: string;
}

const ALL = 'All';

const RedrivePolicyAttribute = z.object({
  deadLetterTargetArn: z.string().regex(/^arn:[^:]+:sqs:[^:]*:[^:]*:[^:]+$/),
  maxReceiveCount: z.coerce.number().int().min(1),
});

const BATCH_ERRORS = new Set([
  'EmptyBatchRequest',
  'TooManyEntriesInBatchRequest',
  'BatchEntryIdsNotDistinct',
  'InvalidBatchEntryId',
  'BatchRequestTooLong',
]);
const NOT_FOUND_ERRORS = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue']);
const NOT_IN_FLIGHT_ERRORS = new Set(['MessageNotInflight', 'ReceiptHandleIsInvalid']);

type Operation = 'send' | 'batch' | 'receive' | 'delete' | 'visibility' | 'attributes';

const wrap = (queue: string, operation: Operation, error: unknown): AdapterError => {
  if (error instanceof AdapterError) return error;
  const name = sdkErrorName(error);
  const message = messageOf(error);
  if (NOT_FOUND_ERRORS.has(name)) return new QueueNotFoundError(queue, { cause: error });
  if (BATCH_ERRORS.has(name)) return new BatchRejectedError(queue, name, message, { cause: error });
  if (
    operation === 'visibility' &&
    (NOT_IN_FLIGHT_ERRORS.has(name) || (name === 'InvalidParameterValue' && /receipt handle/i.test(message)))
  ) {
    return new MessageNotInFlightError(queue, { cause: error });
  }
  if (isTransientSdkError(error)) {
    return new QueueUnavailableError(queue, `${name}: ${message}`, { cause: error });
  }
  if (operation === 'send') return new MessageRejectedError(queue, name, message, { cause: error });
  return new InvalidQueueRequestError(queue, `${name}: ${message}`, { cause: error });
};

const isAbort = (error: unknown, signal: AbortSignal | undefined): boolean =>
  signal?.aborted === true || (error instanceof Error && error.name === 'AbortError');

const toSqsAttributes = (
  attributes: MessageAttributes | undefined,
): Record<string, MessageAttributeValue> | undefined => {
  const entries = Object.entries(attributes ?? {});
  if (entries.length === 0) return undefined;
  return Object.fromEntries(
    entries.map(([name, attribute]) => [
      name,
      attribute.type === 'Binary'
        ? { DataType: 'Binary', BinaryValue: attribute.value }
        : { DataType: attribute.type, StringValue: attribute.value },
    ]),
  );
};

const fromSqsAttributes = (
  attributes: Record<string, MessageAttributeValue> | undefined,
): MessageAttributes => {
  const result: Record<string, MessageAttribute> = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    const type = value.DataType ?? 'String';
    if (type.startsWith('Binary')) {
      if (value.BinaryValue !== undefined) result[name] = { type: 'Binary', value: value.BinaryValue };
    } else if (value.StringValue !== undefined) {
      result[name] = { type: type.startsWith('Number') ? 'Number' : 'String', value: value.StringValue };
    }
  }
  return result;
};

const toFailure = (entry: {
  Id?: string | undefined;
  Code?: string | undefined;
  Message?: string | undefined;
  SenderFault?: boolean | undefined;
}): BatchEntryFailure => ({
  id: entry.Id ?? '',
  code: entry.Code ?? 'Unknown',
  message: entry.Message ?? '',
  senderFault: entry.SenderFault ?? false,
});

const queueNameOf = (queueUrl: string): string => {
  try {
    const name = new URL(queueUrl).pathname.split('/').filter(Boolean).pop();
    if (name !== undefined) return name;
  } catch {
    // fall through
  }
  throw new InvalidQueueRequestError(queueUrl, 'not an SQS queue URL');
};

export class SqsQueue implements WorkQueue {
  readonly name: string;
  readonly queueUrl: string;
  readonly #client: SQSClient;
  readonly #deadLetterQueueUrl: string | undefined;
  #deadLetterQueue: Promise<SqsQueue> | undefined;

  constructor(options: SqsQueueOptions) {
    this.#client = options.client;
    this.queueUrl = options.queueUrl;
    this.name = queueNameOf(options.queueUrl);
    this.#deadLetterQueueUrl = options.deadLetterQueueUrl;
  }

  async send(message: OutgoingMessage): Promise<SentMessage> {
    try {
      const answer = await this.#client.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: message.body,
          MessageAttributes: toSqsAttributes(message.attributes),
          DelaySeconds: message.delaySeconds,
        }),
      );
      if (answer.MessageId === undefined) {
        throw new QueueUnavailableError(this.name, 'SendMessage answered without a MessageId');
      }
      return { messageId: answer.MessageId };
    } catch (error) {
      throw wrap(this.name, 'send', error);
    }
  }

  async sendBatch(messages: readonly BatchMessage[]): Promise<SendBatchResult> {
    try {
      const answer = await this.#client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: messages.map((message) => ({
            Id: message.id,
            MessageBody: message.body,
            MessageAttributes: toSqsAttributes(message.attributes),
            DelaySeconds: message.delaySeconds,
          })),
        }),
      );
      return {
        successful: (answer.Successful ?? []).map((entry) => ({
          id: entry.Id ?? '',
          messageId: entry.MessageId ?? '',
        })),
        failed: (answer.Failed ?? []).map(toFailure),
      };
    } catch (error) {
      throw wrap(this.name, 'batch', error);
    }
  }

  sendMany(messages: readonly BatchMessage[]): Promise<SendBatchResult> {
    return this.#inRequestsOfTen(messages, (batch) => this.sendBatch(batch));
  }

  deleteMany(entries: readonly DeleteBatchEntry[]): Promise<DeleteBatchResult> {
    return this.#inRequestsOfTen(entries, (batch) => this.deleteBatch(batch));
  }

  /**
   * `call` over `items` ten at a time, {@link SEND_MANY_IN_FLIGHT} requests in flight, their
   * answers merged. SQS checks ids within one request only: distinct across the requests is
   * checked here first. After a failed request no new one starts (the caller does again what this
   * did not), and the first failure is thrown once those in flight have settled.
   */
  async #inRequestsOfTen<T extends { readonly id: string }, Done>(
    items: readonly T[],
    call: (
      batch: readonly T[],
    ) => Promise<{ successful: readonly Done[]; failed: readonly BatchEntryFailure[] }>,
  ): Promise<{ successful: Done[]; failed: BatchEntryFailure[] }> {
    const successful: Done[] = [];
    const failed: BatchEntryFailure[] = [];
    if (items.length === 0) return { successful, failed };
    const refused = batchRefusal(
      items.map((item) => item.id),
      Number.POSITIVE_INFINITY,
    );
    if (refused !== undefined) throw new BatchRejectedError(this.name, refused.code, refused.message);
    const batches: (readonly T[])[] = [];
    for (let start = 0; start < items.length; start += QUEUE_LIMITS.maxBatchEntries) {
      batches.push(items.slice(start, start + QUEUE_LIMITS.maxBatchEntries));
    }
    let failure: unknown;
    let next = 0;
    const worker = async (): Promise<void> => {
      for (
        let batch = batches[next++];
        batch !== undefined && failure === undefined;
        batch = batches[next++]
      ) {
        try {
          const result = await call(batch);
          successful.push(...result.successful);
          failed.push(...result.failed);
        } catch (error) {
          failure ??= error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SEND_MANY_IN_FLIGHT, batches.length) }, worker));
    if (failure !== undefined) throw failure;
    return { successful, failed };
  }

  /** A receive that waits, then receives that do not, ten at most each, until `maxMessages` or none is ready. */
  async receiveMany(options: ReceiveManyOptions): Promise<ReceivedMessage[]> {
    const { maxMessages } = checkReceiveOptions(this.name, options, Number.POSITIVE_INFINITY);
    const receive = (waitTimeSeconds: number | undefined, wanted: number) =>
      this.receive({
        ...options,
        maxMessages: Math.min(wanted, QUEUE_LIMITS.maxReceiveMessages),
        ...(waitTimeSeconds === undefined ? {} : { waitTimeSeconds }),
      });
    const messages = await receive(undefined, maxMessages);
    while (messages.length > 0 && messages.length < maxMessages && options.signal?.aborted !== true) {
      const more = await receive(0, maxMessages - messages.length);
      if (more.length === 0) break;
      messages.push(...more);
    }
    return messages;
  }

  async receive(options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const { maxMessages, waitTimeSeconds, visibilityTimeoutSeconds } = checkReceiveOptions(
      this.name,
      options,
    );
    if (options.signal?.aborted === true) return [];
    try {
      const answer = await this.#client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: maxMessages,
          WaitTimeSeconds: waitTimeSeconds,
          VisibilityTimeout: visibilityTimeoutSeconds,
          MessageSystemAttributeNames: [ALL],
          MessageAttributeNames: [ALL],
        }),
        options.signal === undefined ? {} : { abortSignal: options.signal },
      );
      return (answer.Messages ?? []).map((message) => this.#toReceived(message));
    } catch (error) {
      if (isAbort(error, options.signal)) return [];
      throw wrap(this.name, 'receive', error);
    }
  }

  #toReceived(message: Message): ReceivedMessage {
    if (message.MessageId === undefined || message.ReceiptHandle === undefined) {
      throw new QueueUnavailableError(
        this.name,
        'ReceiveMessage answered a message without id or receipt handle',
      );
    }
    const system = message.Attributes ?? {};
    const sentTimestamp = Number(system.SentTimestamp);
    const receiveCount = Number(system.ApproximateReceiveCount);
    return {
      messageId: message.MessageId,
      receiptHandle: message.ReceiptHandle,
      body: message.Body ?? '',
      receiveCount: Number.isFinite(receiveCount) && receiveCount > 0 ? receiveCount : 1,
      sentAt: new Date(Number.isFinite(sentTimestamp) ? sentTimestamp : 0),
      senderId: system.SenderId,
      attributes: fromSqsAttributes(message.MessageAttributes),
    };
  }

  async delete(receiptHandle: string): Promise<void> {
    try {
      await this.#client.send(
        new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle }),
      );
    } catch (error) {
      throw wrap(this.name, 'delete', error);
    }
  }

  async deleteBatch(entries: readonly DeleteBatchEntry[]): Promise<DeleteBatchResult> {
    try {
      const answer = await this.#client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: entries.map((entry) => ({ Id: entry.id, ReceiptHandle: entry.receiptHandle })),
        }),
      );
      return {
        successful: (answer.Successful ?? []).map((entry) => ({ id: entry.Id ?? '' })),
        failed: (answer.Failed ?? []).map(toFailure),
      };
    } catch (error) {
      throw wrap(this.name, 'batch', error);
    }
  }

  async changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): Promise<void> {
    const seconds = checkVisibilityTimeout(this.name, visibilityTimeoutSeconds);
    try {
      await this.#client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (error) {
      throw wrap(this.name, 'visibility', error);
    }
  }

  async #attributes(names: readonly string[]): Promise<Record<string, string>> {
    try {
      const answer = await this.#client.send(
        new GetQueueAttributesCommand({
          QueueUrl: this.queueUrl,
          AttributeNames: names as GetQueueAttributesCommand['input']['AttributeNames'],
        }),
      );
      return answer.Attributes ?? {};
    } catch (error) {
      throw wrap(this.name, 'attributes', error);
    }
  }

  /** The redrive policy with the DLQ's ARN, as SQS holds it. */
  async #redrive(): Promise<z.infer<typeof RedrivePolicyAttribute> | undefined> {
    const { RedrivePolicy: text } = await this.#attributes(['RedrivePolicy']);
    if (text === undefined || text.length === 0) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new InvalidQueueRequestError(this.name, `RedrivePolicy is not JSON: ${messageOf(error)}`, {
        cause: error,
      });
    }
    const parsed = RedrivePolicyAttribute.safeParse(json);
    if (!parsed.success) {
      throw new InvalidQueueRequestError(this.name, `unexpected RedrivePolicy ${text}`, {
        cause: parsed.error,
      });
    }
    return parsed.data;
  }

  async redrivePolicy(): Promise<RedrivePolicy | undefined> {
    const redrive = await this.#redrive();
    if (redrive === undefined) return undefined;
    const deadLetterQueue = redrive.deadLetterTargetArn.split(':').pop() ?? '';
    return { deadLetterQueue, maxReceiveCount: redrive.maxReceiveCount };
  }

  deadLetterQueue(): Promise<SqsQueue> {
    if (this.#deadLetterQueue === undefined) {
      const found = this.#findDeadLetterQueue();
      this.#deadLetterQueue = found;
      // A failed lookup is not remembered: the next call tries again.
      found.catch(() => {
        if (this.#deadLetterQueue === found) this.#deadLetterQueue = undefined;
      });
    }
    return this.#deadLetterQueue;
  }

  async #findDeadLetterQueue(): Promise<SqsQueue> {
    if (this.#deadLetterQueueUrl !== undefined) {
      return new SqsQueue({ client: this.#client, queueUrl: this.#deadLetterQueueUrl });
    }
    const redrive = await this.#redrive();
    if (redrive === undefined) throw new NoDeadLetterQueueError(this.name);
    const [, , , , account, queueName] = redrive.deadLetterTargetArn.split(':');
    try {
      const answer = await this.#client.send(
        new GetQueueUrlCommand({
          QueueName: queueName,
          ...(account === undefined || account.length === 0 ? {} : { QueueOwnerAWSAccountId: account }),
        }),
      );
      if (answer.QueueUrl === undefined)
        throw new QueueNotFoundError(queueName ?? redrive.deadLetterTargetArn);
      return new SqsQueue({ client: this.#client, queueUrl: answer.QueueUrl });
    } catch (error) {
      throw wrap(queueName ?? this.name, 'attributes', error);
    }
  }

  deadLetter(message: ReceivedMessage, reason: string): Promise<void> {
    return sendToDeadLetterQueue(this, message, reason);
  }

  async counts(): Promise<QueueCounts> {
    const attributes = await this.#attributes([
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateNumberOfMessagesDelayed',
    ]);
    const count = (name: string): number => {
      const value = Number(attributes[name]);
      return Number.isFinite(value) ? value : 0;
    };
    return {
      visible: count('ApproximateNumberOfMessages'),
      inFlight: count('ApproximateNumberOfMessagesNotVisible'),
      delayed: count('ApproximateNumberOfMessagesDelayed'),
    };
  }
}
