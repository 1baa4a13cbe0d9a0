import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  AWS_HTTP_TIMEOUTS,
  type AwsHttpTimeouts,
  awsClientConfig,
} from '../../../functions/lambda/environment.ts';

/**
 * A Secrets Manager endpoint on loopback, speaking the service's JSON protocol (API version
 * 2017-10-17, `application/x-amz-json-1.1`) for the one call notify makes, as the real service
 * answers it, failures first:
 *
 * - {@link FakeSecretsManager.failWith} makes every call fail as the service does when it is not
 *   well, whatever the secret:
 *   - `throttle`: 400 `{"__type":"ThrottlingException","message":"Rate exceeded"}`, the answer to
 *     more `GetSecretValue` calls per second than the account's quota;
 *   - `internal-error`: 500 `{"__type":"InternalServiceError","message":"An error occurred on the
 *     server side."}`, the service's own fault (the API reference's sentence);
 *   - `hang`: the connection is accepted and the request read, and nothing is ever answered, as
 *     in a brownout or behind a black-holed connection: only the client's timeouts end the call.
 * - `X-Amz-Target: secretsmanager.GetSecretValue` with `{SecretId}` (an ARN or a name) answers
 *   200 `{ARN, Name, SecretString, VersionId, VersionStages: ["AWSCURRENT"], CreatedDate}` for the
 *   current version; {@link FakeSecretsManager.put} is `put-secret-value`: a new `VersionId` becomes
 *   `AWSCURRENT`.
 * - An unknown id answers, as the real service does, 400
 *   `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`.
 * - A secret made unreadable ({@link FakeSecretsManager.deny}, the role's policy taken away)
 *   answers 400 `AccessDeniedException` with IAM's sentence: `User: <caller> is not authorized to
 *   perform: secretsmanager:GetSecretValue on resource: <id> because no identity-based policy
 *   allows the secretsmanager:GetSecretValue action`.
 * - Any other target answers 400 `UnknownOperationException`, as AWS JSON services do.
 *
 * Signatures are not checked (the SDK signs with the test's static credentials).
 */

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/faultline-notify/notify`;
const JSON_1_1 = 'application/x-amz-json-1.1';

/** How the service fails every call, when it does. */
export type ServiceFailure = 'throttle' | 'internal-error' | 'hang';

interface StoredSecret {
  readonly arn: string;
  readonly name: string;
  secretString: string;
  versionId: string;
  createdDate: number;
  denied: boolean;
}

export interface FakeSecretsManager {
  readonly url: string;
  /** Creates the secret (`create-secret`) and answers its ARN (made up as the service does, unless given). */
  create(name: string, secretString: string, arn?: string): string;
  /** `put-secret-value`: a new current version; answers its VersionId. */
  put(arn: string, secretString: string): string;
  /** Takes the caller's permission away (or gives it back). */
  deny(arn: string, denied?: boolean): void;
  /** Fails every call from now on the way given, or (undefined) answers again. */
  failWith(failure: ServiceFailure | undefined): void;
  /** `GetSecretValue` calls received so far, answered or not, successful or not. */
  readonly reads: () => number;
  /**
   * A client of the real SDK pointed at this endpoint, with the timeouts every Lambda client has
   * (functions/lambda/environment.ts) unless others are given: a test of a hang gives short ones.
   */
  client(timeouts?: AwsHttpTimeouts): SecretsManagerClient;
  close(): Promise<void>;
}

const answer = (response: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': JSON_1_1,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  response.end(text);
};

const bodyOf = async (request: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

export const startFakeSecretsManager = async (): Promise<FakeSecretsManager> => {
  const secrets = new Map<string, StoredSecret>();
  let reads = 0;
  let failure: ServiceFailure | undefined;
  const find = (id: unknown): StoredSecret | undefined =>
    typeof id !== 'string'
      ? undefined
      : (secrets.get(id) ?? [...secrets.values()].find((s) => s.name === id));

  const server = createServer(async (request, response) => {
    const target = request.headers['x-amz-target'];
    const text = await bodyOf(request);
    if (request.method !== 'POST' || target !== 'secretsmanager.GetSecretValue') {
      answer(response, 400, { __type: 'UnknownOperationException' });
      return;
    }
    reads += 1;
    if (failure === 'hang') return;
    if (failure === 'throttle') {
      answer(response, 400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
      return;
    }
    if (failure === 'internal-error') {
      answer(response, 500, {
        __type: 'InternalServiceError',
        message: 'An error occurred on the server side.',
      });
      return;
    }
    const { SecretId } = JSON.parse(text) as { SecretId?: unknown };
    const secret = find(SecretId);
    if (secret === undefined) {
      answer(response, 400, {
        __type: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
      });
      return;
    }
    if (secret.denied) {
      answer(response, 400, {
        __type: 'AccessDeniedException',
        Message: `User: ${CALLER} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${String(SecretId)} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
      });
      return;
    }
    answer(response, 200, {
      ARN: secret.arn,
      Name: secret.name,
      SecretString: secret.secretString,
      VersionId: secret.versionId,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: secret.createdDate,
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const clients: SecretsManagerClient[] = [];

  const stored = (arn: string): StoredSecret => {
    const secret = secrets.get(arn);
    if (secret === undefined) throw new Error(`the fake has no secret ${arn}`);
    return secret;
  };

  return {
    url,
    create: (name, secretString, given) => {
      // The real service appends a hyphen and six random characters to the name.
      const arn =
        given ?? `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${randomUUID().slice(0, 6)}`;
      secrets.set(arn, {
        arn,
        name,
        secretString,
        versionId: randomUUID(),
        createdDate: Date.now() / 1000,
        denied: false,
      });
      return arn;
    },
    put: (arn, secretString) => {
      const secret = stored(arn);
      secret.secretString = secretString;
      secret.versionId = randomUUID();
      secret.createdDate = Date.now() / 1000;
      return secret.versionId;
    },
    deny: (arn, denied = true) => {
      stored(arn).denied = denied;
    },
    failWith: (given) => {
      failure = given;
    },
    reads: () => reads,
    client: (timeouts = AWS_HTTP_TIMEOUTS) => {
      const client = new SecretsManagerClient({
        ...awsClientConfig(REGION, timeouts),
        endpoint: url,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        // One try: a test must not wait for the SDK's backoffs (it retries throttles, 500s and
        // timeouts, not the other 400s).
        maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    close: async () => {
      for (const client of clients) client.destroy();
      const closing = new Promise<void>((closed) => server.close(() => closed()));
      // A hung call's connection stays open until it is cut: close waits for none.
      server.closeAllConnections();
      await closing;
    },
  };
};
