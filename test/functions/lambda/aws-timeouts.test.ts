import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AwsHttpTimeouts, awsClientConfig, sqsClient } from '../../../functions/lambda/environment.ts';
import { notifyFromEnv } from '../../../functions/lambda/notify.ts';
import { dynamoDbClientOf } from '../../../functions/lambda/store.ts';
import { createHandler } from '../../../functions/notify/handler.ts';
import { event, notification, record } from '../notify/notifications.ts';

/**
 * Every AWS client the Lambda roots make gives up on a peer that accepts the connection and never
 * answers (a brownout, a black-holed connection), instead of holding the batch until Lambda's
 * timeout: the peer here is a loopback server that reads each request and answers none. The
 * timeouts are the roots' own (functions/lambda/environment.ts), made short; the SDK's retries are
 * left as they are on Lambda, so each call ends after its last attempt.
 */

const SHORT_TIMEOUTS: AwsHttpTimeouts = { connectionTimeoutMs: 500, requestTimeoutMs: 500 };
const REGION = 'eu-west-1';

let silent: Server;
let url: string;

beforeAll(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  silent = createServer((request) => {
    // Read, never answered.
    request.resume();
  });
  await new Promise<void>((listening) => silent.listen(0, '127.0.0.1', listening));
  url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
});

afterEach(() => {
  vi.unstubAllEnvs();
});

afterAll(async () => {
  const closing = new Promise<void>((closed) => silent.close(() => closed()));
  silent.closeAllConnections();
  await closing;
});

const withCredentials = () => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
};

describe('the AWS clients of the Lambda roots, on a peer that never answers', () => {
  it('DynamoDB (the store of every function, notify’s delivery log) fails with a TimeoutError', async () => {
    withCredentials();
    const client = dynamoDbClientOf({ dynamodbEndpoint: url, region: REGION }, SHORT_TIMEOUTS);
    await expect(client.send(new DescribeTableCommand({ TableName: 'faultline' }))).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    client.destroy();
  });

  it('SQS (the queues every function sends to) fails with a TimeoutError', async () => {
    withCredentials();
    // The roots' client takes no endpoint: the SDK's own variable points it here.
    vi.stubEnv('AWS_ENDPOINT_URL_SQS', url);
    const client = sqsClient(() => ({ region: REGION }), SHORT_TIMEOUTS)();
    await expect(
      client.send(
        new SendMessageCommand({ QueueUrl: `${url}/123456789012/faultline-notify-dlq`, MessageBody: '{}' }),
      ),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
    client.destroy();
  });

  it('KMS (the plan signer) fails with a TimeoutError', async () => {
    withCredentials();
    const client = new KMSClient({ ...awsClientConfig(REGION, SHORT_TIMEOUTS), endpoint: url });
    await expect(
      client.send(
        new SignCommand({
          KeyId: 'alias/faultline-plans',
          Message: new Uint8Array(32),
          MessageType: 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      ),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
    client.destroy();
  });

  it('notify fails the batch whose delivery log never answers, instead of holding it', async () => {
    withCredentials();
    const handle = createHandler(
      notifyFromEnv(
        {
          FAULTLINE_NOTIFY_CONFIG: JSON.stringify({
            destinations: [
              { kind: 'pagerduty', name: 'pagerduty', routingKey: 'R0123456789abcdef0123456789abcde' },
            ],
          }),
          FAULTLINE_NOTIFY_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/1/dlq',
          FAULTLINE_NOTIFY_DELIVERY_LOG: 'dynamodb:faultline-deliveries',
          FAULTLINE_DYNAMODB_ENDPOINT: url,
          AWS_REGION: REGION,
        },
        { awsHttpTimeouts: SHORT_TIMEOUTS },
      ),
    );
    const page = record(notification());
    const outcome = await handle(event(page)).then(
      (answer) => ({ answer }),
      (error: unknown) => ({ error }),
    );
    expect(outcome).toEqual({ answer: { batchItemFailures: [{ itemIdentifier: page.messageId }] } });
  });
});
