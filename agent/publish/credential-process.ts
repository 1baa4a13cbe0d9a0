import { execFile } from 'node:child_process';
import { z } from 'zod';
import { CredentialProcessError } from './errors.ts';

/**
 * AWS credentials from a credential process, the way IAM Roles Anywhere hands a host its own role
 * session: `aws_signing_helper credential-process --certificate ... --private-key ...
 * --trust-anchor-arn ... --profile-arn ... --role-arn ... --role-session-name <hostId>`. Run with
 * an argument vector (never a shell), its output parsed as the `credential_process` contract
 * (Version 1), and cached until shortly before it expires.
 */

const CredentialProcessOutput = z.object({
  Version: z.literal(1),
  AccessKeyId: z.string().min(1),
  SecretAccessKey: z.string().min(1),
  SessionToken: z.string().min(1).optional(),
  Expiration: z.iso.datetime({ offset: true }).optional(),
});

/** The credential shape the AWS SDK accepts from a provider function. */
export type AwsCredentials = {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
};

/** Credentials are renewed this long before they expire, so no request is signed with stale ones. */
const RENEW_BEFORE_EXPIRY_MS = 5 * 60 * 1000;
const PROCESS_TIMEOUT_MS = 30_000;
const PROCESS_OUTPUT_LIMIT = 64 * 1024;

export type RunCredentialProcess = (command: readonly string[]) => Promise<string>;

const runProcess: RunCredentialProcess = (command) =>
  new Promise((resolve, reject) => {
    const [file, ...args] = command;
    if (file === undefined) {
      reject(new CredentialProcessError('(none)', 'no command'));
      return;
    }
    execFile(
      file,
      args,
      { timeout: PROCESS_TIMEOUT_MS, maxBuffer: PROCESS_OUTPUT_LIMIT, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          reject(new CredentialProcessError(file, stderr.trim() || error.message, { cause: error }));
          return;
        }
        resolve(stdout);
      },
    );
  });

/** A credential provider for the SDK that runs the command when it has no fresh credentials. */
export const credentialProcessProvider = (
  command: readonly string[],
  options: { run?: RunCredentialProcess; clock?: () => Date } = {},
): (() => Promise<AwsCredentials>) => {
  const run = options.run ?? runProcess;
  const clock = options.clock ?? (() => new Date());
  let cached: AwsCredentials | undefined;
  let inFlight: Promise<AwsCredentials> | undefined;
  const name = command[0] ?? '(none)';
  const fetchCredentials = async (): Promise<AwsCredentials> => {
    const output = await run(command);
    let json: unknown;
    try {
      json = JSON.parse(output);
    } catch {
      throw new CredentialProcessError(name, 'did not print JSON');
    }
    const parsed = CredentialProcessOutput.safeParse(json);
    if (!parsed.success) {
      throw new CredentialProcessError(
        name,
        `printed no credentials (${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')})`,
      );
    }
    const { AccessKeyId, SecretAccessKey, SessionToken, Expiration } = parsed.data;
    return {
      accessKeyId: AccessKeyId,
      secretAccessKey: SecretAccessKey,
      ...(SessionToken === undefined ? {} : { sessionToken: SessionToken }),
      ...(Expiration === undefined ? {} : { expiration: new Date(Expiration) }),
    };
  };
  return async () => {
    const fresh =
      cached !== undefined &&
      (cached.expiration === undefined ||
        cached.expiration.getTime() - RENEW_BEFORE_EXPIRY_MS > clock().getTime());
    if (fresh && cached !== undefined) return cached;
    inFlight ??= fetchCredentials().finally(() => {
      inFlight = undefined;
    });
    cached = await inFlight;
    return cached;
  };
};
