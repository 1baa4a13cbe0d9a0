import { type APIGatewayProxyResult, handle, type LambdaContext, type LambdaEvent } from 'hono/aws-lambda';
import { apiFromEnv } from '../lambda/api.ts';
import { type ApiDeps, createApp } from './app.ts';
import { type ApiLog, errorBody, STATUS_BY_CODE } from './error-response.ts';
import { InternalError } from './errors.ts';

/**
 * The API on Lambda (API Gateway HTTP API, payload v2): `hono/aws-lambda` over the same app the
 * local runtime serves with `@hono/node-server`. Wiring only.
 *
 * The dependencies may be given as a function, called once, on the first request: nothing is read
 * or built when the module loads (`apiFromEnv` reads the environment then). If that fails — an
 * invalid environment — the request is answered 500 with the usual error body, the cause is
 * logged (with `log`, or the dependencies' own logger once they exist), and the next request
 * tries again. The app's metrics are flushed after each request (on Lambda: its EMF lines).
 */

export type ApiHandler = (event: LambdaEvent, context?: LambdaContext) => Promise<APIGatewayProxyResult>;

const jsonLog: ApiLog = (entry) => {
  console.log(JSON.stringify({ service: 'api', ...entry }));
};

const failure = (): APIGatewayProxyResult => {
  const error = new InternalError();
  return {
    statusCode: STATUS_BY_CODE[error.code],
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(errorBody(error)),
    isBase64Encoded: false,
  };
};

export const createHandler = (deps: ApiDeps | (() => ApiDeps), log: ApiLog = jsonLog): ApiHandler => {
  let served: ApiHandler | undefined;
  let metrics: ApiDeps['metrics'];
  return async (event, context) => {
    if (served === undefined) {
      let resolved: ApiDeps | undefined;
      try {
        resolved = typeof deps === 'function' ? deps() : deps;
        served = handle(createApp(resolved));
        metrics = resolved.metrics;
      } catch (error) {
        (resolved?.log ?? log)({
          level: 'error',
          msg: 'the API could not start',
          detail: error instanceof Error ? error.message : String(error),
        });
        return failure();
      }
    }
    try {
      return await served(event, context);
    } finally {
      // Buffered metrics (EMF on Lambda) are written once the request is answered.
      metrics?.flush();
    }
  };
};

export const handler = createHandler(apiFromEnv());
