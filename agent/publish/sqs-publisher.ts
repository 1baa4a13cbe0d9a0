import { format } from 'node:util';
import {
  type BatchResultErrorEntry,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SQSClient,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import type { CredentialsConfig, SqsTargetConfig } from '../config.ts';
import type { AgentLog } from '../state/agent-log.ts';
import { credentialProcessProvider } from './credential-process.ts';
import type { EventPublisher, FailedEvent, PublishReport, RejectedEvent } from './event-publisher.ts';
import type { OutboundEvent } from './outbound-event.ts';
import type { Transport } from './proxy-tunnel.ts';
import { type RetrySchedule, retryDelayMs } from './retry-schedule.ts';
import { chunkForSendMessageBatch, sqsMessageAttributes } from './sqs-batching.ts';

/**
 * Publishing to the events queue with `SendMessageBatch`, under the host's own IAM role session
 * (IAM Roles Anywhere, session name = host id: correlate compares the message's `SenderId` with
 * `hostid`, §3). Events go in order, in calls of at most 10 entries and 256 KiB; the entries a
 * call reports failed are retried a few times at once (SQS fails single entries under load), then
 * left in the spool. An entry SQS blames on the sender (`SenderFault`) is rejected for good and
 * logged. A batch that still fails stops the call: later events wait, so order holds.
 */

/** Immediate retries of the failed entries of one batch before the spool's backoff takes over. */
export const SQS_PARTIAL_RETRY = {
  attempts: 3,
  schedule: { initialMs: 100, maxMs: 1000 },
} as const;

/** Events one `publish` call takes from the spool: ten batches. */
const SQS_EVENTS_PER_PUBLISH = 100;
const SQS_BYTES_PER_PUBLISH = 2 * 1024 * 1024;

export type SqsPublisherOptions = {
  target: SqsTargetConfig;
  credentials: CredentialsConfig;
  transport: Transport;
  requestTimeoutMs: number;
  log: AgentLog;
  /** A client to use instead of building one (tests add middleware to it). */
  client?: SQSClient;
  partialRetry?: { attempts: number; schedule: RetrySchedule };
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
};

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const credentialsOf = (credentials: CredentialsConfig): Partial<SQSClientConfig> => {
  switch (credentials.source) {
    case 'default':
      return {};
    case 'profile':
      return { profile: credentials.profile };
    case 'process':
      return { credentials: credentialProcessProvider(credentials.command) };
    case 'static':
      return {
        credentials: {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }),
        },
      };
  }
};

/** The SDK client for the events queue, with the agent's transport (proxy, CA) and credentials. */
export const createSqsClient = (options: Omit<SqsPublisherOptions, 'client'>): SQSClient => {
  // The SDK warns on every start that future releases will need Node 22; the agent supports
  // Node 20 on purpose (AIX and IBM i ship it), so the notice is noise in an operator's journal.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new SQSClient({
    region: options.target.region,
    ...(options.target.endpoint === undefined ? {} : { endpoint: options.target.endpoint }),
    ...credentialsOf(options.credentials),
    maxAttempts: 2,
    requestHandler: {
      httpAgent: options.transport.httpAgent,
      httpsAgent: options.transport.httpsAgent,
      requestTimeout: options.requestTimeoutMs,
      connectionTimeout: options.requestTimeoutMs,
    },
    // The SDK's own error lines repeat the failures the delivery already reports, with less
    // context; its warnings (a queue URL on another host than the endpoint) are worth a line.
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (...content: unknown[]) => options.log.warn(`aws sdk: ${format(...content)}`),
      error: () => undefined,
    },
  });
};

const describeError = (error: unknown): string => {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = (error as NodeJS.ErrnoException).code;
    const detail = `${error.name}: ${error.message}${code === undefined ? '' : ` (${code})`}`;
    return cause instanceof Error && cause.message !== error.message ? `${detail}; ${cause.message}` : detail;
  }
  return String(error);
};

export class SqsEventPublisher implements EventPublisher {
  readonly target: string;
  readonly limits = { maxEvents: SQS_EVENTS_PER_PUBLISH, maxBytes: SQS_BYTES_PER_PUBLISH };
  private readonly client: SQSClient;
  private readonly queueUrl: string;
  private readonly partialRetry: { attempts: number; schedule: RetrySchedule };
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(options: SqsPublisherOptions) {
    this.queueUrl = options.target.queueUrl;
    this.target = `sqs ${options.target.queueUrl}`;
    this.client = options.client ?? createSqsClient(options);
    this.partialRetry = options.partialRetry ?? SQS_PARTIAL_RETRY;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  async publish(events: readonly OutboundEvent[]): Promise<PublishReport> {
    const report: PublishReport = { delivered: [], rejected: [], failed: [] };
    const batches = chunkForSendMessageBatch(events);
    for (const [index, batch] of batches.entries()) {
      const outcome = await this.sendWithRetries(batch);
      report.delivered.push(...outcome.delivered);
      report.rejected.push(...outcome.rejected);
      if (outcome.failed.length > 0) {
        report.failed.push(...outcome.failed);
        const reason = outcome.failed[0]?.reason ?? 'an earlier batch failed';
        for (const later of batches.slice(index + 1).flat()) {
          report.failed.push({ id: later.id, reason: `not sent: ${reason}` });
        }
        break;
      }
    }
    return report;
  }

  close(): void {
    this.client.destroy();
  }

  private async sendWithRetries(batch: readonly OutboundEvent[]): Promise<PublishReport> {
    const delivered: string[] = [];
    const rejected: RejectedEvent[] = [];
    let remaining = [...batch];
    let failed: FailedEvent[] = [];
    for (let attempt = 1; attempt <= this.partialRetry.attempts && remaining.length > 0; attempt += 1) {
      if (attempt > 1) await this.sleep(retryDelayMs(this.partialRetry.schedule, attempt - 1, this.random()));
      const entryIds = new Map(remaining.map((event, index) => [`e${index}`, event]));
      const entries: SendMessageBatchRequestEntry[] = [...entryIds].map(([entryId, event]) => ({
        Id: entryId,
        MessageBody: event.body,
        MessageAttributes: sqsMessageAttributes(event),
      }));
      let successful: readonly { Id?: string | undefined }[];
      let failedEntries: readonly BatchResultErrorEntry[];
      try {
        const output = await this.client.send(
          new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }),
        );
        successful = output.Successful ?? [];
        failedEntries = output.Failed ?? [];
      } catch (error) {
        // The call itself failed (network, credentials, throttling): the SDK already retried it.
        return {
          delivered,
          rejected,
          failed: remaining.map((event) => ({ id: event.id, reason: describeError(error) })),
        };
      }
      const answered = new Set<string>();
      for (const entry of successful) {
        const event = entry.Id === undefined ? undefined : entryIds.get(entry.Id);
        if (event === undefined) continue;
        answered.add(event.id);
        delivered.push(event.id);
      }
      const retry: OutboundEvent[] = [];
      failed = [];
      for (const entry of failedEntries) {
        const event = entry.Id === undefined ? undefined : entryIds.get(entry.Id);
        if (event === undefined) continue;
        answered.add(event.id);
        const reason = `${entry.Code ?? 'error'}: ${entry.Message ?? 'no message'}`;
        if (entry.SenderFault === true) {
          rejected.push({ id: event.id, reason });
        } else {
          retry.push(event);
          failed.push({ id: event.id, reason });
        }
      }
      // An entry in neither list was not processed: send it again.
      for (const event of remaining) {
        if (answered.has(event.id)) continue;
        retry.push(event);
        failed.push({ id: event.id, reason: 'not in the SendMessageBatch answer' });
      }
      remaining = batch.filter((event) => retry.includes(event));
    }
    return { delivered, rejected, failed };
  }
}
