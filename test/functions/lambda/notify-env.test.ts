import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { notifyFromEnv as fromEnv } from '../../../functions/lambda/notify.ts';
import { DEFAULT_VISIBILITY_TIMEOUT_MS } from '../../../functions/notify/create-handler.ts';
import { createHandler, handler } from '../../../functions/notify/handler.ts';
import { DYNALITE_REGION, type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { temporaryFolder } from '../../helpers/queue-files.ts';
import { event, notification, record } from '../notify/notifications.ts';

const CONFIG = JSON.stringify({
  destinations: [{ kind: 'pagerduty', name: 'pagerduty', routingKey: 'R0123456789abcdef0123456789abcde' }],
});

describe('notify fromEnv', () => {
  const folder = temporaryFolder('faultline-notify-env-');
  let dynamo: Dynalite;

  beforeAll(async () => {
    dynamo = await startDynalite();
    // The emulator is the one peer notify may reach.
    nock.disableNetConnect();
    nock.enableNetConnect((host) => host.startsWith('127.0.0.1'));
  });
  afterEach(() => {
    nock.cleanAll();
    vi.unstubAllEnvs();
  });
  afterAll(async () => {
    nock.enableNetConnect();
    folder.remove();
    await dynamo?.stop();
  });

  it('lets the handler module load without an environment', () => {
    expect(handler).toEqual(expect.any(Function));
  });

  it('fails every batch with the problems of an invalid environment, naming each', async () => {
    const handle = createHandler(fromEnv({ FAULTLINE_NOTIFY_DLQ_URL: 'not a url' }));
    await expect(handle(event(record(notification())))).rejects.toMatchObject({
      code: 'notify-config-invalid',
      problems: [
        expect.stringMatching(/^FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: required/),
        expect.stringMatching(/^FAULTLINE_NOTIFY_DLQ_URL: /),
      ],
    });
  });

  it('delivers with the configuration and the SQLite delivery log it names', async () => {
    let calls = 0;
    nock('https://events.pagerduty.com')
      .persist()
      .post('/v2/enqueue')
      .reply(202, () => {
        calls += 1;
        return { status: 'success' };
      });
    const env = {
      FAULTLINE_NOTIFY_CONFIG: CONFIG,
      FAULTLINE_NOTIFY_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/111122223333/faultline-notify-dlq',
      FAULTLINE_NOTIFY_DELIVERY_LOG: `sqlite:${folder.file('deliveries.sqlite')}`,
      AWS_REGION: 'eu-west-1',
    };
    const page = record(notification());
    expect(await createHandler(fromEnv(env))(event(page))).toEqual({ batchItemFailures: [] });
    // A cold start of another instance on the same log: already delivered.
    expect(await createHandler(fromEnv(env))(event(page))).toEqual({ batchItemFailures: [] });
    expect(calls).toBe(1);
  });

  it('delivers once across cold starts with the DynamoDB delivery log it names, on FAULTLINE_DYNAMODB_ENDPOINT', async () => {
    // The table as infra makes it: the partition key `pk` only.
    const tableName = `faultline-deliveries-${process.pid}`;
    await dynamo.client().send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    // The SDK's default credential chain, as on Lambda, finds these in the process's environment.
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    let calls = 0;
    nock('https://events.pagerduty.com')
      .persist()
      .post('/v2/enqueue')
      .reply(202, () => {
        calls += 1;
        return { status: 'success' };
      });
    const env = {
      FAULTLINE_NOTIFY_CONFIG: CONFIG,
      FAULTLINE_NOTIFY_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/111122223333/faultline-notify-dlq',
      FAULTLINE_NOTIFY_DELIVERY_LOG: `dynamodb:${tableName}`,
      FAULTLINE_DYNAMODB_ENDPOINT: dynamo.endpoint,
      AWS_REGION: DYNALITE_REGION,
    };
    const page = record(notification());
    expect(await createHandler(fromEnv(env))(event(page))).toEqual({ batchItemFailures: [] });
    expect(await createHandler(fromEnv(env))(event(page))).toEqual({ batchItemFailures: [] });
    expect(calls).toBe(1);
  });

  it('needs the delivery log named on Lambda, where a memory log would page twice across instances', async () => {
    const handle = createHandler(
      fromEnv({
        FAULTLINE_NOTIFY_CONFIG: CONFIG,
        FAULTLINE_NOTIFY_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/1/dlq',
        AWS_LAMBDA_FUNCTION_NAME: 'faultline-notify',
      }),
    );
    await expect(handle(event(record(notification())))).rejects.toMatchObject({
      code: 'notify-config-invalid',
      problems: [
        expect.stringMatching(/^FAULTLINE_NOTIFY_DELIVERY_LOG: required on Lambda: dynamodb:<table>/),
      ],
    });
  });

  it('keeps deliveries in memory on Lambda when asked by name, and by default elsewhere', async () => {
    let calls = 0;
    nock('https://events.pagerduty.com')
      .persist()
      .post('/v2/enqueue')
      .reply(202, () => {
        calls += 1;
        return { status: 'success' };
      });
    const base = {
      FAULTLINE_NOTIFY_CONFIG: CONFIG,
      FAULTLINE_NOTIFY_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/1/dlq',
    };
    const onLambda = createHandler(
      fromEnv({
        ...base,
        AWS_LAMBDA_FUNCTION_NAME: 'faultline-notify',
        FAULTLINE_NOTIFY_DELIVERY_LOG: 'memory',
      }),
    );
    const page = record(notification());
    expect(await onLambda(event(page))).toEqual({ batchItemFailures: [] });
    // Within one instance, delivered once.
    expect(await onLambda(event(page))).toEqual({ batchItemFailures: [] });
    expect(await createHandler(fromEnv(base))(event(page))).toEqual({ batchItemFailures: [] });
    // Memory is per instance: the second handler, a cold start, delivers the page again.
    expect(calls).toBe(2);
  });

  it('bounds deliveries by the notify queue’s visibility timeout it is given, in ms', () => {
    const base = {
      FAULTLINE_NOTIFY_CONFIG: CONFIG,
      FAULTLINE_NOTIFY_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/1/dlq',
    };
    expect(fromEnv({ ...base, FAULTLINE_NOTIFY_VISIBILITY_TIMEOUT_SECONDS: '720' }).visibilityTimeoutMs).toBe(
      720_000,
    );
    expect(fromEnv(base).visibilityTimeoutMs).toBe(DEFAULT_VISIBILITY_TIMEOUT_MS);
  });

  it('refuses a visibility timeout SQS cannot have, naming it', async () => {
    const handle = createHandler(
      fromEnv({
        FAULTLINE_NOTIFY_CONFIG: CONFIG,
        FAULTLINE_NOTIFY_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/1/dlq',
        FAULTLINE_NOTIFY_VISIBILITY_TIMEOUT_SECONDS: '0',
      }),
    );
    await expect(handle(event(record(notification())))).rejects.toMatchObject({
      code: 'notify-config-invalid',
      problems: [expect.stringMatching(/^FAULTLINE_NOTIFY_VISIBILITY_TIMEOUT_SECONDS: /)],
    });
  });
});
