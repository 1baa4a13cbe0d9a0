import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { notifyFromEnv as fromEnv } from '../../../functions/lambda/notify.ts';
import { createHandler, handler } from '../../../functions/notify/handler.ts';
import { temporaryFolder } from '../../helpers/queue-files.ts';
import { event, notification, record } from '../notify/notifications.ts';

const CONFIG = JSON.stringify({
  destinations: [{ kind: 'pagerduty', name: 'pagerduty', routingKey: 'R0123456789abcdef0123456789abcde' }],
});

describe('notify fromEnv', () => {
  const folder = temporaryFolder('faultline-notify-env-');

  beforeAll(() => {
    nock.disableNetConnect();
  });
  afterEach(() => {
    nock.cleanAll();
  });
  afterAll(() => {
    nock.enableNetConnect();
    folder.remove();
  });

  it('lets the handler module load without an environment', () => {
    expect(handler).toEqual(expect.any(Function));
  });

  it('fails every batch with the problems of an invalid environment, naming each', async () => {
    const handle = createHandler(fromEnv({ FAULTLINE_NOTIFY_DLQ_URL: 'not a url' }));
    await expect(handle(event(record(notification())))).rejects.toMatchObject({
      code: 'notify-config-invalid',
      problems: [
        expect.stringMatching(/^FAULTLINE_NOTIFY_CONFIG: /),
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
});
