import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import type { OutgoingMessage, WorkQueue } from '../adapters/queue/port.ts';
import { SqsQueue } from '../adapters/queue/sqs-queue.ts';
import { RuntimeConfigError } from './errors.ts';

/**
 * What every Lambda composition root shares: reading its environment with zod (the only place in
 * functions/ that knows environment variable names is functions/lambda/), and making clients on
 * first use. Nothing here reads `process.env` or builds a client at import: each function's root
 * is handed the environment when its handler module loads and validates it on the first
 * invocation, so importing a handler never fails and opens no connection.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** An `http(s)` URL, such as a queue's. */
export const httpUrl = () => z.url({ protocol: /^https?$/ });

/** A value `<prefix>:<rest>` for one of `prefixes`. */
export const prefixed = (prefixes: readonly string[], what: string) =>
  z.string().regex(new RegExp(`^(?:${prefixes.join('|')}):.+$`), what);

/** The part of `kind:rest` after the first colon. */
export const afterColon = (value: string): string => value.slice(value.indexOf(':') + 1);

/** One line per problem: `FAULTLINE_STORE: ...`. */
export const problemsOf = (error: z.ZodError, prefix = ''): string[] =>
  error.issues.map((issue) => `${prefix}${issue.path.join('.')}: ${issue.message}`);

/** Parses an environment with `schema`, or throws `RuntimeConfigError` naming every problem. */
export const parseEnv = <S extends z.ZodType>(schema: S, env: Env, what: string): z.infer<S> => {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new RuntimeConfigError(`invalid ${what} environment`, problemsOf(parsed.error));
  return parsed.data;
};

/** A value made on first use, once. */
export const once = <T>(make: () => T): (() => T) => {
  let made: { value: T } | undefined;
  return () => {
    if (made === undefined) made = { value: make() };
    return made.value;
  };
};

/** An object whose target is made on first use (the first property read), then reused. */
export const lazy = <T extends object>(make: () => T): T => {
  const target = once(make);
  return new Proxy({} as T, {
    get: (_, property) => {
      const made = target();
      const value = Reflect.get(made, property, made) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(made) : value;
    },
  });
};

export const regionOf = (region: string | undefined): { region?: string } =>
  region === undefined ? {} : { region };

/** How long one attempt of an AWS call may take to connect, and in all. */
export interface AwsHttpTimeouts {
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

/**
 * The timeouts of every AWS client the functions make on Lambda (Secrets Manager, DynamoDB, KMS,
 * SQS). The SDK's HTTP handler has none by default: an endpoint that accepts the connection and
 * never answers (a brownout, a connection black-holed on the way) would hold the batch until
 * Lambda's own timeout ends the invocation, and every batch after it on a secret's refresh. Every
 * call made on Lambda is short: `GetSecretValue`, DynamoDB item writes and page reads, KMS `Sign`
 * and SQS sends (no function receives from SQS on Lambda, where the event source mapping polls,
 * so none long-polls). A TCP connect in the region takes milliseconds and an answer well under a
 * second, so 2 s and 5 s only end attempts that would not finish; the SDK's retries (a
 * `TimeoutError` is transient: 3 attempts, 4 for DynamoDB) then try on a new connection, which is
 * what ends a stale or black-holed one. A call that hangs on every attempt gives up within about
 * 20 s: inside the timeouts of notify (150 s), sweep and correlate; the API's (10 s) ends first,
 * but only when the service is down for every attempt, and a single hung attempt still leaves
 * time for the retry that succeeds.
 */
export const AWS_HTTP_TIMEOUTS: AwsHttpTimeouts = { connectionTimeoutMs: 2_000, requestTimeoutMs: 5_000 };

/**
 * The options of an AWS client in `region` with `timeouts`: the SDK makes its `NodeHttpHandler`
 * from them (`NodeHttpHandler.create`), so no @smithy package is imported here.
 */
export const awsClientConfig = (
  region: string | undefined,
  timeouts: AwsHttpTimeouts = AWS_HTTP_TIMEOUTS,
) => ({
  ...regionOf(region),
  requestHandler: {
    connectionTimeout: timeouts.connectionTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    // @smithy/node-http-handler 4 only logs a warning when requestTimeout passes, and keeps waiting,
    // unless told to throw (requestTimeout long acted as a socket idle timeout, and it kept that default).
    throwOnRequestTimeout: true,
  },
});

/** One SQS client per function, shared by its queues, made on first use. */
export const sqsClient = (
  settings: () => { readonly region: string | undefined },
  timeouts: AwsHttpTimeouts = AWS_HTTP_TIMEOUTS,
): (() => SQSClient) => once(() => new SQSClient(awsClientConfig(settings().region, timeouts)));

/** A queue that only sends, made on its first message. */
export const lazySender = (sqs: () => SQSClient, queueUrl: () => string): Pick<WorkQueue, 'send'> => {
  const queue = once(() => new SqsQueue({ client: sqs(), queueUrl: queueUrl() }));
  return { send: (message: OutgoingMessage) => queue().send(message) };
};
