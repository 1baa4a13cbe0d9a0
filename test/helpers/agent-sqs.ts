import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';

/**
 * The SQS emulator (fauxqs 1.9.2) for the agent's tests: on 127.0.0.1 only (buildApp, since
 * `startFauxqs` listens on every interface), on a free port or on a given one so a test can stop
 * the queue and bring it back where the agent expects it. Its state lives in memory: a restart
 * starts empty, with the events queue created again.
 */

export const AGENT_QUEUE_REGION = 'us-east-1';
export const AGENT_QUEUE_NAME = 'faultline-events';
/** Frozen: the SDK marks the credential objects it is given (`$source`), which must not leak into configs. */
export const EMULATOR_CREDENTIALS = Object.freeze({ accessKeyId: 'test', secretAccessKey: 'test' } as const);

export type AgentQueue = {
  readonly port: number;
  readonly endpoint: string;
  readonly queueUrl: string;
  /** The bodies of the messages waiting in the queue, oldest first, without receiving them. */
  bodies(): Promise<string[]>;
  /** The messages with their attributes, oldest first. */
  messages(): Promise<{ body: string; messageAttributes: Record<string, { StringValue?: string }> }[]>;
  stop(): Promise<void>;
};

export const startAgentQueue = async (port = 0): Promise<AgentQueue> => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const app = buildApp({ logger: false, defaultRegion: AGENT_QUEUE_REGION });
  await app.listen({ host: '127.0.0.1', port });
  const actualPort = (app.server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${actualPort}`;
  const admin = new SQSClient({
    endpoint,
    region: AGENT_QUEUE_REGION,
    credentials: { ...EMULATOR_CREDENTIALS },
    maxAttempts: 1,
  });
  let queueUrl: string | undefined;
  try {
    queueUrl = (await admin.send(new CreateQueueCommand({ QueueName: AGENT_QUEUE_NAME }))).QueueUrl;
  } finally {
    admin.destroy();
  }
  if (queueUrl === undefined) throw new Error('fauxqs created the queue without a URL');
  const messages = async () => {
    const answer = await app.inject({ method: 'GET', url: `/_fauxqs/queues/${AGENT_QUEUE_NAME}` });
    const inspected = answer.json() as {
      messages: { ready: { body: string; messageAttributes: Record<string, { StringValue?: string }> }[] };
    };
    return inspected.messages.ready;
  };
  return {
    port: actualPort,
    endpoint,
    queueUrl,
    messages,
    bodies: async () => (await messages()).map((message) => message.body),
    stop: async () => {
      await app.close();
    },
  };
};
