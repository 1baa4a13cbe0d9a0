import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { SqsQueue } from '../adapters/queue/sqs-queue.ts';
import { DynamoDbStore } from '../adapters/store/dynamodb-store.ts';
import { SqliteStore } from '../adapters/store/sqlite-store.ts';
import { type Env, parseEnv } from '../outbox/runtime.ts';
import type { ApiDeps } from './app.ts';

/**
 * The API's dependencies on Lambda, from its environment. `fromEnv` reads nothing when it is
 * called (at import of the handler): it answers a function that the handler calls on the first
 * request, which validates the environment once and builds the clients then. An invalid
 * environment throws a `RuntimeConfigError` naming each problem; the handler answers 500 and logs
 * it, and tries again on the next request.
 *
 * - `FAULTLINE_STORE`: `dynamodb:<table name>` (the cloud) or `sqlite:<path>` (one machine).
 * - `FAULTLINE_DYNAMODB_ENDPOINT`: optional, for DynamoDB Local or an emulator.
 * - `FAULTLINE_EVENTS_QUEUE_URL`: the events queue correlate consumes.
 * - `AWS_REGION`: set by Lambda.
 *
 * Long polling of plans is off: Lambda never holds a request open (DESIGN.md §6).
 */

const ApiEnv = z.object({
  FAULTLINE_STORE: z.string().regex(/^(?:dynamodb|sqlite):.+$/, 'dynamodb:<table> or sqlite:<path>'),
  FAULTLINE_DYNAMODB_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  FAULTLINE_EVENTS_QUEUE_URL: z.url({ protocol: /^https?$/ }),
  AWS_REGION: z.string().min(1).optional(),
});

export const fromEnv =
  (env: Env = process.env): (() => ApiDeps) =>
  () => {
    const settings = parseEnv(ApiEnv, env, 'api');
    const region = settings.AWS_REGION === undefined ? {} : { region: settings.AWS_REGION };
    const target = settings.FAULTLINE_STORE.slice(settings.FAULTLINE_STORE.indexOf(':') + 1);
    const store = settings.FAULTLINE_STORE.startsWith('sqlite:')
      ? new SqliteStore({ path: target })
      : new DynamoDbStore({
          client: new DynamoDBClient({
            ...region,
            ...(settings.FAULTLINE_DYNAMODB_ENDPOINT === undefined
              ? {}
              : { endpoint: settings.FAULTLINE_DYNAMODB_ENDPOINT }),
          }),
          tableName: target,
        });
    const eventsQueue = new SqsQueue({
      client: new SQSClient(region),
      queueUrl: settings.FAULTLINE_EVENTS_QUEUE_URL,
    });
    return { store, eventsQueue };
  };
