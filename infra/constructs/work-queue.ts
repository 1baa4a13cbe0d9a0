import { Duration } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUE_SETTINGS } from '../settings.ts';

export interface WorkQueueProps {
  /**
   * The timeout of the function that consumes the queue. The visibility timeout is derived from
   * it (six times, plus the batching window), never set on its own, so the two cannot drift.
   */
  readonly consumerTimeout: Duration;
  /** The consumer's batching window, which a message may also spend invisible. */
  readonly batchingWindow: Duration;
  readonly maxReceiveCount?: number;
}

/**
 * A work queue of docs/architecture.md §2: an SQS standard queue with its dead-letter queue, both encrypted
 * at rest (SQS-managed keys, so senders need no KMS permission) and refusing plain HTTP.
 *
 * A record its consumer rejects (it does not parse, it is not allowed) is sent to the DLQ by the
 * consumer with its reason; a record that keeps failing reaches it by the redrive policy after
 * `maxReceiveCount` receives.
 */
export class WorkQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly maxReceiveCount: number;
  readonly visibilityTimeout: Duration;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);
    this.maxReceiveCount = props.maxReceiveCount ?? QUEUE_SETTINGS.maxReceiveCount;
    this.visibilityTimeout = Duration.seconds(
      QUEUE_SETTINGS.visibilityTimeoutFactor * props.consumerTimeout.toSeconds() +
        props.batchingWindow.toSeconds(),
    );

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(QUEUE_SETTINGS.deadLetterRetentionDays),
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: this.visibilityTimeout,
      retentionPeriod: Duration.days(QUEUE_SETTINGS.retentionDays),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });
  }

  /** Lets `grantee` send to the queue, and nothing else (the adapters never look it up by name). */
  grantSend(grantee: IGrantable): void {
    grantSendOnly(this.queue, grantee);
  }

  /** Lets `grantee` send to the DLQ (a consumer dead-lettering a record with its reason). */
  grantSendToDeadLetterQueue(grantee: IGrantable): void {
    grantSendOnly(this.deadLetterQueue, grantee);
  }

  /** Throws when a consumer with this timeout would see its batches redelivered while it runs. */
  assertConsumerFits(consumerTimeout: Duration): void {
    const needed = QUEUE_SETTINGS.visibilityTimeoutFactor * consumerTimeout.toSeconds();
    if (this.visibilityTimeout.toSeconds() < needed) {
      throw new Error(
        `${this.node.path}: a visibility timeout of ${this.visibilityTimeout.toSeconds()} s is less than ` +
          `${QUEUE_SETTINGS.visibilityTimeoutFactor} times its consumer's timeout (${consumerTimeout.toSeconds()} s)`,
      );
    }
  }
}

/**
 * `sqs:SendMessage` (which also authorises `SendMessageBatch`) on one queue. Not the CDK's
 * `grantSendMessages`, which adds `GetQueueAttributes` and `GetQueueUrl` that no sender here needs.
 */
const grantSendOnly = (queue: IQueue, grantee: IGrantable): void => {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }),
  );
};
