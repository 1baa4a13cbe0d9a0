import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueNotFoundError, QueueUnavailableError } from '../../../../functions/adapters/errors.ts';
import { SqsQueue } from '../../../../functions/adapters/queue/sqs-queue.ts';
import { type Fauxqs, startFauxqs } from '../../../helpers/fauxqs.ts';
import { uniqueQueueName } from '../../../helpers/queue-files.ts';
import { describeQueueContract } from './contract.ts';

/** Waits a little past `seconds`, so the emulator's visibility and delay timers have run out. */
const SETTLE_MS = 150;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

{
  let sqs: Fauxqs;
  describeQueueContract('SQS on fauxqs', {
    async setup() {
      sqs = await startFauxqs();
      const client = sqs.client();
      return {
        async create({ visibilityTimeoutSeconds, maxReceiveCount }) {
          const name = uniqueQueueName('events');
          if (maxReceiveCount === undefined) {
            const { queueUrl } = await sqs.createQueue(name, { visibilityTimeoutSeconds });
            return { queue: new SqsQueue({ client, queueUrl }), deadLetters: undefined };
          }
          const dlq = await sqs.createQueue(`${name}-dlq`);
          const { queueUrl } = await sqs.createQueue(name, {
            visibilityTimeoutSeconds,
            redrive: { deadLetterQueueArn: dlq.queueArn, maxReceiveCount },
          });
          return {
            queue: new SqsQueue({ client, queueUrl }),
            deadLetters: new SqsQueue({ client, queueUrl: dlq.queueUrl }),
          };
        },
        elapse: (seconds) => sleep(seconds * 1_000 + SETTLE_MS),
        async reopen(queue) {
          if (!(queue instanceof SqsQueue)) throw new TypeError('not an SQS queue');
          return new SqsQueue({ client: sqs.client(), queueUrl: queue.queueUrl });
        },
      };
    },
    teardown: () => sqs.stop(),
  });
}

describe('SqsQueue on fauxqs', () => {
  let sqs: Fauxqs;
  beforeAll(async () => {
    sqs = await startFauxqs();
  });
  afterAll(() => sqs.stop());

  it('sees SenderId as the account id, since fauxqs has no IAM (sender binding cannot be tested here)', async () => {
    const { queueUrl } = await sqs.createQueue(uniqueQueueName('events'));
    const queue = new SqsQueue({ client: sqs.client(), queueUrl });
    await queue.send({ body: 'who sent this' });
    const [message] = await queue.receive({ waitTimeSeconds: 1 });
    expect(message?.senderId).toBe('000000000000');
  });

  it('uses the DLQ named by deadLetterQueueUrl', async () => {
    const dlq = await sqs.createQueue(uniqueQueueName('elsewhere'));
    const { queueUrl } = await sqs.createQueue(uniqueQueueName('events'));
    const queue = new SqsQueue({ client: sqs.client(), queueUrl, deadLetterQueueUrl: dlq.queueUrl });
    await queue.send({ body: 'bad' });
    const [message] = await queue.receive({ waitTimeSeconds: 1 });
    if (message === undefined) expect.fail('expected a message');
    await queue.deadLetter(message, 'unparseable');
    const [dead] = await new SqsQueue({ client: sqs.client(), queueUrl: dlq.queueUrl }).receive({
      waitTimeSeconds: 1,
    });
    expect(dead?.body).toBe('bad');
  });

  it('wraps a missing queue as QueueNotFoundError', async () => {
    const queue = new SqsQueue({
      client: sqs.client(),
      queueUrl: `${sqs.endpoint}/000000000000/${uniqueQueueName('missing')}`,
    });
    await expect(queue.send({ body: 'x' })).rejects.toBeInstanceOf(QueueNotFoundError);
  });

  it('wraps an unreachable endpoint as a retryable QueueUnavailableError', async () => {
    const stopped = await startFauxqs();
    const { queueUrl } = await stopped.createQueue('gone');
    const client = new SQSClient({
      endpoint: stopped.endpoint,
      region: stopped.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    await stopped.stop();
    const queue = new SqsQueue({ client, queueUrl });
    await expect(queue.send({ body: 'x' })).rejects.toMatchObject({
      code: 'queue-unavailable',
      retryable: true,
    });
    await expect(queue.receive()).rejects.toBeInstanceOf(QueueUnavailableError);
    client.destroy();
  });
});

describe('startFauxqs', () => {
  it('brings an emulator back on the port it had, empty, for clients that kept its endpoint', async () => {
    const first = await startFauxqs();
    const { port, endpoint } = first;
    const { queueUrl } = await first.createQueue('events');
    const client = first.client();
    await new SqsQueue({ client, queueUrl }).send({ body: 'before the restart' });
    await first.stop();
    const again = await startFauxqs({ port });
    try {
      expect(again.endpoint).toBe(endpoint);
      const recreated = await again.createQueue('events');
      expect(recreated.queueUrl).toBe(queueUrl);
      const queue = new SqsQueue({ client: again.client(), queueUrl });
      expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    } finally {
      await again.stop();
    }
  });
});
