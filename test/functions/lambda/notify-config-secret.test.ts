import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LogEntry } from '../../../functions/adapters/observability/log-entry.ts';
import type { AwsHttpTimeouts } from '../../../functions/lambda/environment.ts';
import { SecretUnavailableError } from '../../../functions/lambda/errors.ts';
import { notifyFromEnv } from '../../../functions/lambda/notify.ts';
import { cachedNotifyConfig } from '../../../functions/lambda/notify-config-secret.ts';
import { type NotifyConfigInput, resolveDestinations } from '../../../functions/notify/config.ts';
import { NotifyConfigError } from '../../../functions/notify/errors.ts';
import {
  type FakeSecretsManager,
  type ServiceFailure,
  startFakeSecretsManager,
} from './fake-secrets-manager.ts';

/**
 * notify's configuration read from Secrets Manager at run time (functions/lambda/
 * notify-config-secret.ts), against a Secrets Manager endpoint on loopback that speaks the real
 * JSON protocol, with the real SDK client pointed at it. The cache's clock is injected: no test
 * waits.
 */

const OLD_KEY = 'ROLDKEY0123456789abcdef0123456789';
const NEW_KEY = 'RNEWKEY0123456789abcdef0123456789';
const CACHE_MS = 300_000;
/** Short enough that a hung call ends at once, long enough for any answer on loopback. */
const SHORT_TIMEOUTS: AwsHttpTimeouts = { connectionTimeoutMs: 500, requestTimeoutMs: 500 };
const T0 = Date.parse('2026-12-05T01:00:00Z');

const pagerDutyOnly = (routingKey: string): NotifyConfigInput => ({
  destinations: [{ kind: 'pagerduty', name: 'oncall', routingKey }],
});

const withSlack = (routingKey: string): NotifyConfigInput => ({
  destinations: [
    { kind: 'pagerduty', name: 'oncall', routingKey },
    { kind: 'slack', name: 'storage-team', url: 'https://hooks.slack.com/services/T0/B0/rotated' },
  ],
});

let fake: FakeSecretsManager;

beforeAll(async () => {
  // The SDK warns once that Node 20 support ends (TOOLCHAIN.md).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  fake = await startFakeSecretsManager();
});

afterEach(() => {
  fake.failWith(undefined);
  vi.unstubAllEnvs();
});

afterAll(async () => {
  await fake?.close();
});

/** A clock the test moves by hand. */
const manualClock = () => {
  let now = T0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

const NOTIFY_ENV = {
  FAULTLINE_NOTIFY_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/faultline-notify-dlq',
  AWS_REGION: 'eu-west-1',
};

describe('notify fromEnv with the configuration in Secrets Manager', () => {
  let arn: string;
  let clock: ReturnType<typeof manualClock>;
  const readsBefore = { count: 0 };
  const readsSince = () => fake.reads() - readsBefore.count;

  beforeEach(() => {
    arn = fake.create('faultline-notify-config', JSON.stringify(pagerDutyOnly(OLD_KEY)));
    clock = manualClock();
    readsBefore.count = fake.reads();
  });

  const deps = (extra: Record<string, string> = {}) =>
    notifyFromEnv(
      { ...NOTIFY_ENV, FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: arn, ...extra },
      { now: clock.now, secretsManager: fake.client() },
    );

  it('reads the destinations from the secret it names, once per cache time', async () => {
    const { loadConfig } = deps();
    const first = await loadConfig();
    expect(first.destinations).toMatchObject([{ name: 'oncall', routingKey: OLD_KEY }]);
    clock.advance(CACHE_MS - 1);
    expect(await loadConfig()).toBe(first);
    expect(readsSince()).toBe(1);
  });

  it('takes a rotated secret up after the cache time, not before', async () => {
    const { loadConfig } = deps();
    expect(resolveDestinations(await loadConfig()).allowed.map((d) => d.name)).toEqual(['oncall']);

    fake.put(arn, JSON.stringify(withSlack(NEW_KEY)));
    clock.advance(CACHE_MS - 1);
    // Still within the cache time: the configuration read before the rotation.
    expect((await loadConfig()).destinations).toMatchObject([{ routingKey: OLD_KEY }]);

    clock.advance(1);
    const rotated = resolveDestinations(await loadConfig());
    expect(rotated.allowed.map((d) => d.name)).toEqual(['oncall', 'storage-team']);
    expect(rotated.allowed[0]).toMatchObject({ kind: 'pagerduty', routingKey: NEW_KEY });
    expect(rotated.allowList).toContain('https://hooks.slack.com/services/T0/B0/rotated');
    expect(readsSince()).toBe(2);
  });

  it('answers the same configuration object while the secret’s version is unchanged', async () => {
    const { loadConfig } = deps();
    const first = await loadConfig();
    clock.advance(CACHE_MS);
    expect(await loadConfig()).toBe(first);
    expect(readsSince()).toBe(2);
  });

  it('shares one read among the batches that ask while it runs', async () => {
    const { loadConfig } = deps();
    const [a, b, c] = await Promise.all([loadConfig(), loadConfig(), loadConfig()]);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(readsSince()).toBe(1);
  });

  it('reads the secret on every batch with a cache time of 0', async () => {
    const { loadConfig } = deps({ FAULTLINE_NOTIFY_CONFIG_CACHE_SECONDS: '0' });
    await loadConfig();
    fake.put(arn, JSON.stringify(pagerDutyOnly(NEW_KEY)));
    expect((await loadConfig()).destinations).toMatchObject([{ routingKey: NEW_KEY }]);
    expect(readsSince()).toBe(2);
  });

  it('names the secret and the service’s error when the secret does not exist', async () => {
    const missing = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:no-such-secret-AbCdEf';
    const failure = notifyFromEnv(
      { ...NOTIFY_ENV, FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: missing },
      { now: clock.now, secretsManager: fake.client() },
    ).loadConfig();
    await expect(failure).rejects.toBeInstanceOf(SecretUnavailableError);
    await expect(failure).rejects.toMatchObject({
      code: 'secret-unavailable',
      retryable: true,
      secretArn: missing,
      errorName: 'ResourceNotFoundException',
      message: `cannot read the notify configuration secret ${missing}: GetSecretValue failed with ResourceNotFoundException (Secrets Manager can't find the specified secret.)`,
    });
  });

  it('gives up on a first read that is never answered, with the client notify makes, naming the secret', async () => {
    // notify's own client (not the fake's), pointed at the fake as the SDK lets any client be.
    vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', fake.url);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    fake.failWith('hang');
    const failure = notifyFromEnv(
      { ...NOTIFY_ENV, FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: arn },
      { now: clock.now, awsHttpTimeouts: SHORT_TIMEOUTS },
    ).loadConfig();
    await expect(failure).rejects.toBeInstanceOf(SecretUnavailableError);
    await expect(failure).rejects.toMatchObject({
      code: 'secret-unavailable',
      secretArn: arn,
      errorName: 'TimeoutError',
      message: expect.stringMatching(
        new RegExp(
          `^cannot read the notify configuration secret ${arn}: GetSecretValue failed with TimeoutError \\(.*500 ms requestTimeout`,
        ),
      ),
    });
    // The SDK's three attempts, each ended by the request timeout: a hung read is bounded by them.
    expect(readsSince()).toBe(3);
    // Answered again, the next batch reads it.
    fake.failWith(undefined);
    expect(
      (
        await notifyFromEnv(
          { ...NOTIFY_ENV, FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: arn },
          { now: clock.now, awsHttpTimeouts: SHORT_TIMEOUTS },
        ).loadConfig()
      ).destinations,
    ).toMatchObject([{ routingKey: OLD_KEY }]);
  });

  it('tries again on the next batch after a failed first read', async () => {
    fake.deny(arn);
    const { loadConfig } = deps();
    await expect(loadConfig()).rejects.toMatchObject({ errorName: 'AccessDeniedException' });
    fake.deny(arn, false);
    expect((await loadConfig()).destinations).toMatchObject([{ routingKey: OLD_KEY }]);
  });

  it('says the secret is not JSON without quoting any of it', async () => {
    // JSON.parse's own message would quote it: `Unexpected token 'R', "{"routingKe"...`.
    fake.put(arn, `{"routingKey": ${NEW_KEY}}`);
    const failure = await deps()
      .loadConfig()
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(NotifyConfigError);
    const error = failure as NotifyConfigError;
    expect(error.message).toMatch(
      new RegExp(`^the notify configuration secret ${arn} \\(version [0-9a-f-]+\\) is not JSON$`),
    );
    expect(error.cause).toBeUndefined();
    expect(`${error.message} ${error.stack} ${JSON.stringify(error)}`).not.toContain('RNEWKEY');
  });

  it('lists the problems of an invalid configuration by field, not by value', async () => {
    const secret = 'short-secret';
    fake.put(
      arn,
      JSON.stringify({
        destinations: [{ kind: 'webhook', name: 'hook', url: 'https://ops.example.com/h', secret }],
      }),
    );
    const failure = (await deps()
      .loadConfig()
      .catch((error: unknown) => error)) as NotifyConfigError;
    expect(failure).toBeInstanceOf(NotifyConfigError);
    expect(failure.message).toContain(
      `invalid notify configuration in the notify configuration secret ${arn}`,
    );
    expect(failure.problems).toEqual([expect.stringMatching(/^destinations\.0\.secret: /)]);
    expect(`${failure.message} ${JSON.stringify(failure)}`).not.toContain(secret);
  });
});

describe('the cached configuration when a refresh fails', () => {
  let arn: string;
  let clock: ReturnType<typeof manualClock>;
  let lines: LogEntry[];

  beforeEach(() => {
    arn = fake.create('faultline-notify-kept', JSON.stringify(pagerDutyOnly(OLD_KEY)));
    clock = manualClock();
    lines = [];
  });

  const load = () =>
    cachedNotifyConfig({
      secretArn: arn,
      cacheMs: CACHE_MS,
      client: () => fake.client(),
      now: clock.now,
      log: (entry) => lines.push(entry),
    });

  it('keeps delivering with the last configuration, logs what failed, and reads again after another cache time', async () => {
    const loadConfig = load();
    const first = await loadConfig();
    fake.deny(arn);
    clock.advance(CACHE_MS);
    expect(await loadConfig()).toBe(first);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        secretArn: arn,
        error: 'AccessDeniedException',
        message: expect.stringMatching(
          new RegExp(
            `^kept the notify configuration read at .*: cannot read the notify configuration secret ${arn}: GetSecretValue failed with AccessDeniedException`,
          ),
        ),
      }),
    ]);
    // The failure is not tried again on every batch...
    const reads = fake.reads();
    clock.advance(CACHE_MS - 1);
    await loadConfig();
    expect(fake.reads()).toBe(reads);
    // ...but once the cache time has passed again, with the permission back and a new value.
    fake.deny(arn, false);
    fake.put(arn, JSON.stringify(pagerDutyOnly(NEW_KEY)));
    clock.advance(1);
    expect((await loadConfig()).destinations).toMatchObject([{ routingKey: NEW_KEY }]);
    expect(JSON.stringify(lines)).not.toMatch(/ROLDKEY|RNEWKEY/);
  });

  it('keeps the last configuration when the new value does not validate, listing its problems', async () => {
    const loadConfig = load();
    await loadConfig();
    fake.put(arn, JSON.stringify({ destinations: [{ kind: 'pagerduty', name: 'oncall', routingKey: 'x' }] }));
    clock.advance(CACHE_MS);
    expect((await loadConfig()).destinations).toMatchObject([{ routingKey: OLD_KEY }]);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        error: 'NotifyConfigError',
        problems: [expect.stringMatching(/^destinations\.0\.routingKey: /)],
      }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(OLD_KEY);
  });
});

describe('the cached configuration when the service fails a refresh', () => {
  let arn: string;
  let clock: ReturnType<typeof manualClock>;
  let lines: LogEntry[];

  beforeEach(() => {
    arn = fake.create('faultline-notify-outage', JSON.stringify(pagerDutyOnly(OLD_KEY)));
    clock = manualClock();
    lines = [];
  });

  it.each<[what: string, errorName: string, failure: ServiceFailure]>([
    ['a throttle', 'ThrottlingException', 'throttle'],
    ['a 500', 'InternalServiceError', 'internal-error'],
    ['a read never answered', 'TimeoutError', 'hang'],
  ])('keeps the last configuration through %s, logging the %s as an error', async (_, errorName, failure) => {
    const client = fake.client(SHORT_TIMEOUTS);
    const loadConfig = cachedNotifyConfig({
      secretArn: arn,
      cacheMs: CACHE_MS,
      client: () => client,
      now: clock.now,
      log: (entry) => lines.push(entry),
    });
    const first = await loadConfig();
    fake.failWith(failure);
    clock.advance(CACHE_MS);
    expect(await loadConfig()).toBe(first);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        secretArn: arn,
        error: errorName,
        message: expect.stringContaining(
          `cannot read the notify configuration secret ${arn}: GetSecretValue failed with ${errorName}`,
        ),
      }),
    ]);
    // The service recovered and the cache time passed again: read anew.
    fake.failWith(undefined);
    fake.put(arn, JSON.stringify(pagerDutyOnly(NEW_KEY)));
    clock.advance(CACHE_MS);
    expect((await loadConfig()).destinations).toMatchObject([{ routingKey: NEW_KEY }]);
    expect(JSON.stringify(lines)).not.toMatch(/ROLDKEY|RNEWKEY/);
  });
});

describe('notify fromEnv’s configuration source', () => {
  const problemsOf = async (env: Record<string, string>): Promise<readonly string[]> => {
    const error = (await notifyFromEnv({ ...NOTIFY_ENV, ...env })
      .loadConfig()
      .catch((caught: unknown) => caught)) as NotifyConfigError;
    expect(error).toBeInstanceOf(NotifyConfigError);
    return error.problems;
  };

  it('needs the secret’s ARN, or inline JSON where there is no Secrets Manager', async () => {
    expect(await problemsOf({})).toEqual([
      expect.stringMatching(/^FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: required/),
    ]);
  });

  it('refuses both at once, and an ARN that is not a secret’s', async () => {
    expect(
      await problemsOf({
        FAULTLINE_NOTIFY_CONFIG: JSON.stringify({ destinations: [] }),
        FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf',
      }),
    ).toEqual([
      expect.stringMatching(/^FAULTLINE_NOTIFY_CONFIG: set with FAULTLINE_NOTIFY_CONFIG_SECRET_ARN/),
    ]);
    expect(
      await problemsOf({
        FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: 'arn:aws:ssm:eu-west-1:123456789012:parameter/x',
      }),
    ).toEqual([
      expect.stringMatching(/^FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: the ARN of a Secrets Manager secret/),
    ]);
  });

  it('refuses a cache time over an hour', async () => {
    expect(
      await problemsOf({
        FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf',
        FAULTLINE_NOTIFY_CONFIG_CACHE_SECONDS: '7200',
      }),
    ).toEqual([expect.stringMatching(/^FAULTLINE_NOTIFY_CONFIG_CACHE_SECONDS: /)]);
  });
});
