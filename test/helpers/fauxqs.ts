import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';

/**
 * An SQS emulator (fauxqs 1.9.2) for tests, on 127.0.0.1 and a free port, with its own state.
 *
 * Started from `buildApp` rather than `startFauxqs`, which always listens on 0.0.0.0: tests use
 * loopback only. Create queues through {@link Fauxqs.createQueue} (the SQS API), and talk to it
 * with {@link Fauxqs.client}, which sets the emulator as the explicit endpoint (so the SDK never
 * follows the host in fauxqs's queue URLs, `sqs.<region>.localhost`) and static credentials (so
 * it never looks for real ones).
 *
 * What fauxqs emulates, as seen by the queue contract suite: send, batch send with per-entry
 * failures, receive with visibility timeout and long polling, delete, change visibility,
 * `ApproximateReceiveCount`, `SentTimestamp`, message attributes, and a `RedrivePolicy` (moved to
 * the DLQ at the receive after `maxReceiveCount` receives). What it does not: `SenderId` is
 * always `000000000000` (no IAM), and message retention is not enforced.
 *
 * ```ts
 * let sqs: Fauxqs;
 * beforeAll(async () => { sqs = await startFauxqs(); });
 * afterAll(() => sqs.stop());
 * ```
 */
export interface Fauxqs {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  /** A new client on the emulator; the caller destroys it (`client.destroy()`) or lets `stop` do it. */
  client(): SQSClient;
  /** Creates a queue (and with `redrive`, points it at an existing dead-letter queue). */
  createQueue(name: string, options?: FauxqsQueueOptions): Promise<{ queueUrl: string; queueArn: string }>;
  /** Stops the emulator and destroys the clients made by `client()`. */
  stop(): Promise<void>;
}

export interface FauxqsQueueOptions {
  readonly visibilityTimeoutSeconds?: number;
  readonly redrive?: { readonly deadLetterQueueArn: string; readonly maxReceiveCount: number };
}

export const FAUXQS_REGION = 'us-east-1';

export interface StartFauxqsOptions {
  /**
   * A fixed port, to bring an emulator back where a client expects it after `stop` (its state
   * starts empty again). Default: a free port.
   */
  readonly port?: number;
}

export const startFauxqs = async (options: StartFauxqsOptions = {}): Promise<Fauxqs> => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const app = buildApp({ logger: false, defaultRegion: FAUXQS_REGION });
  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const { port } = app.server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: SQSClient[] = [];
  const client = (): SQSClient => {
    const made = new SQSClient({
      endpoint,
      region: FAUXQS_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    clients.push(made);
    return made;
  };
  const admin = client();
  return {
    endpoint,
    port,
    region: FAUXQS_REGION,
    client,
    async createQueue(name, options = {}) {
      const attributes: Record<string, string> = {};
      if (options.visibilityTimeoutSeconds !== undefined) {
        attributes.VisibilityTimeout = String(options.visibilityTimeoutSeconds);
      }
      if (options.redrive !== undefined) {
        attributes.RedrivePolicy = JSON.stringify({
          deadLetterTargetArn: options.redrive.deadLetterQueueArn,
          maxReceiveCount: options.redrive.maxReceiveCount,
        });
      }
      const created = await admin.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      const queueUrl = created.QueueUrl;
      if (queueUrl === undefined) throw new Error(`fauxqs created ${name} without a URL`);
      const described = await admin.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
      );
      const queueArn = described.Attributes?.QueueArn;
      if (queueArn === undefined) throw new Error(`fauxqs has no ARN for ${name}`);
      return { queueUrl, queueArn };
    },
    async stop() {
      for (const made of clients) made.destroy();
      await app.close();
    },
  };
};
