import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsQueue } from '../adapters/queue/sqs-queue.ts';
import type { ApiDeps } from '../api/app.ts';
import { awsClientConfig, type Env, httpUrl, parseEnv } from './environment.ts';
import { lambdaObservability } from './observability.ts';
import { StoreEnv, storeFrom, storeSettings } from './store.ts';

/**
 * The API's composition root on Lambda: a function the handler calls on the first request, which
 * validates the environment and makes the clients then (an invalid environment: the handler
 * answers 500, logs each problem and tries again on the next request). Besides the store's
 * variables (store.ts):
 * - `FAULTLINE_EVENTS_QUEUE_URL`: the events queue correlate consumes.
 *
 * Long polling of plans is off: Lambda never holds a request open (docs/architecture.md §6).
 * Logs and metrics: ./observability.ts (the metrics are written after each request).
 */
const ApiEnv = StoreEnv.extend({ FAULTLINE_EVENTS_QUEUE_URL: httpUrl() });

export const apiFromEnv = (env: Env = process.env): (() => ApiDeps) => {
  const { log, metrics } = lambdaObservability('api', env);
  return () => {
    const parsed = parseEnv(ApiEnv, env, 'api');
    return {
      log,
      metrics,
      store: storeFrom(storeSettings(parsed)),
      eventsQueue: new SqsQueue({
        // Sends only (SendMessage, SendMessageBatch): the timeouts of every AWS client fit them.
        client: new SQSClient(awsClientConfig(parsed.AWS_REGION)),
        queueUrl: parsed.FAULTLINE_EVENTS_QUEUE_URL,
      }),
    };
  };
};
