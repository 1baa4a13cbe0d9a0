import {
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { Log } from '../adapters/observability/log-entry.ts';
import { type NotifyConfig, parseNotifyConfig } from '../notify/config.ts';
import { NotifyConfigError } from '../notify/errors.ts';
import { SecretUnavailableError } from './errors.ts';

/**
 * notify's configuration (routing keys, Slack webhook URLs, webhook signing secrets) read from
 * Secrets Manager at run time, never from the function's environment, and cached for `cacheMs`:
 * a `put-secret-value` (a rotation) takes effect within the cache time, on every warm instance,
 * with no deployment.
 *
 * - One `GetSecretValue` (the current version) at a time per instance: calls made while it runs
 *   share it, so a slow read holds every batch of the instance; the client's timeouts
 *   (environment.ts `AWS_HTTP_TIMEOUTS`) end one that is never answered, which then fails as any
 *   other failed read does.
 * - While the secret's `VersionId` stays the same, the same configuration object is answered, so
 *   a caller may tell a changed configuration by identity.
 * - A failed first read throws, naming the secret's ARN and the error's name
 *   ({@link SecretUnavailableError}, or `NotifyConfigError` for a value that does not validate);
 *   nothing is delivered until it succeeds. A failed refresh once a configuration was read keeps
 *   that one for another cache time and logs the failure as an error: pages keep going to the
 *   destinations they went to a minute ago through a Secrets Manager outage, a throttle, a
 *   permission or an invalid new value, and the error line says what to fix.
 * - The secret's value is never logged or put in an error: a value that is not JSON is reported
 *   without the parser's message, which quotes the text.
 */

export interface NotifyConfigSecret {
  readonly secretArn: string;
  /** How long a read configuration is used before the secret is read again (0: every call). */
  readonly cacheMs: number;
  /** Made on the first read, so that loading the handler opens nothing. */
  readonly client: () => SecretsManagerClient;
  readonly now: () => number;
  readonly log: Log;
}

interface ReadConfig {
  readonly config: NotifyConfig;
  readonly versionId: string | undefined;
  readonly readAt: number;
}

const errorNameOf = (error: unknown): string =>
  error instanceof Error ? error.name : typeof error === 'string' ? error : 'UnknownError';

const readSecretString = async (
  source: NotifyConfigSecret,
): Promise<{ secretString: string; versionId: string | undefined }> => {
  let answer: GetSecretValueCommandOutput;
  try {
    answer = await source.client().send(new GetSecretValueCommand({ SecretId: source.secretArn }));
  } catch (error) {
    const name = errorNameOf(error);
    // The service's messages name the secret or the caller, never the value.
    const detail = error instanceof Error && error.message.length > 0 ? ` (${error.message})` : '';
    throw new SecretUnavailableError(
      source.secretArn,
      name,
      `cannot read the notify configuration secret ${source.secretArn}: GetSecretValue failed with ${name}${detail}`,
      { cause: error },
    );
  }
  if (typeof answer.SecretString !== 'string') {
    throw new SecretUnavailableError(
      source.secretArn,
      'NoSecretString',
      `the notify configuration secret ${source.secretArn} holds no SecretString (a binary secret?): put the destinations as JSON text`,
    );
  }
  return { secretString: answer.SecretString, versionId: answer.VersionId };
};

/** Validates the secret's text; the problems name fields, never values, and no cause is kept. */
const parseSecret = (secretArn: string, versionId: string | undefined, text: string): NotifyConfig => {
  const where = `the notify configuration secret ${secretArn}${versionId === undefined ? '' : ` (version ${versionId})`}`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text: it stays out.
    throw new NotifyConfigError(`${where} is not JSON`);
  }
  try {
    return parseNotifyConfig(value);
  } catch (error) {
    if (error instanceof NotifyConfigError) {
      throw new NotifyConfigError(`invalid notify configuration in ${where}`, error.problems);
    }
    throw error;
  }
};

/** `loadConfig` over the secret: cached for `cacheMs`, refreshed one read at a time. */
export const cachedNotifyConfig = (source: NotifyConfigSecret): (() => Promise<NotifyConfig>) => {
  let last: ReadConfig | undefined;
  let reading: Promise<NotifyConfig> | undefined;

  const read = async (): Promise<NotifyConfig> => {
    try {
      const { secretString, versionId } = await readSecretString(source);
      const config =
        last !== undefined && versionId !== undefined && last.versionId === versionId
          ? last.config
          : parseSecret(source.secretArn, versionId, secretString);
      last = { config, versionId, readAt: source.now() };
      return config;
    } catch (error) {
      if (last === undefined) throw error;
      source.log({
        level: 'error',
        message: `kept the notify configuration read at ${new Date(last.readAt).toISOString()}: ${(error as Error).message}`,
        secretArn: source.secretArn,
        error: error instanceof SecretUnavailableError ? error.errorName : errorNameOf(error),
        ...(error instanceof NotifyConfigError ? { problems: error.problems } : {}),
        versionId: last.versionId,
      });
      // Tried again after another cache time: a fixed secret takes effect within it, as a rotation does.
      last = { ...last, readAt: source.now() };
      return last.config;
    }
  };

  return () => {
    if (last !== undefined && source.now() - last.readAt < source.cacheMs)
      return Promise.resolve(last.config);
    if (reading === undefined) {
      const started = read();
      reading = started;
      const clear = () => {
        if (reading === started) reading = undefined;
      };
      started.then(clear, clear);
    }
    return reading;
  };
};
