import type { LambdaEvent } from 'hono/aws-lambda';

/** An API Gateway HTTP API (payload v2) event, as Lambda receives it. */
export const apiGatewayEvent = (
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; query?: string; base64?: boolean } = {},
): LambdaEvent => {
  const body =
    options.body === undefined
      ? null
      : options.base64
        ? Buffer.from(options.body).toString('base64')
        : options.body;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: options.query ?? '',
    headers: { host: 'api.faultline.example', 'x-forwarded-proto': 'https', ...options.headers },
    body,
    isBase64Encoded: options.base64 === true,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authentication: null,
      authorizer: {} as never,
      domainName: 'api.faultline.example',
      domainPrefix: 'api',
      http: {
        method,
        path,
        protocol: 'HTTP/1.1',
        sourceIp: '192.0.2.10',
        userAgent: 'faultline-agent/0.1.0',
      },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '22/Nov/2026:03:40:00 +0000',
      timeEpoch: Date.parse('2026-11-22T03:40:00Z'),
    },
  };
};
