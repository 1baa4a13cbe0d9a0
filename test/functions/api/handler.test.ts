import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../../functions/api/handler.ts';
import { apiFromEnv as fromEnv } from '../../../functions/lambda/api.ts';
import { agentEvent } from '../../helpers/api-events.ts';
import { API_NOW, type ApiHarness, apiHarness } from '../../helpers/api-harness.ts';
import { apiGatewayEvent } from '../../helpers/api-lambda.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';

describe('the Lambda handler', () => {
  let api: ApiHarness;
  let token: string;

  beforeEach(async () => {
    api = await apiHarness();
    token = await api.agentToken(AGENT_HOST);
  });
  afterEach(async () => api.close());

  it('serves the app to an API Gateway v2 event, a base64 batch in and JSON out', async () => {
    const handler = createHandler({ store: api.store, eventsQueue: api.events, now: () => API_NOW });
    const event = agentEvent('mirror.degraded', AGENT_HOST);
    const result = await handler(
      apiGatewayEvent('POST', '/v1/events', {
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/cloudevents-batch+json' },
        body: JSON.stringify([event]),
        base64: true,
      }),
    );
    expect(result.statusCode).toBe(202);
    expect(result.headers?.['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(result.body)).toEqual({ accepted: [event.id], rejected: [], plansPending: false });
    const [queued] = await api.drain();
    expect(queued?.body.receivedat).toBe(new Date(API_NOW).toISOString());

    const plans = await handler(
      apiGatewayEvent('GET', `/v1/agents/${AGENT_HOST}/plans`, {
        headers: { authorization: `Bearer ${token}` },
        query: 'wait=20',
      }),
    );
    expect(plans.statusCode).toBe(200);
    expect(JSON.parse(plans.body)).toEqual({ plans: [], nextPollSeconds: 60 });
    const anonymous = await handler(apiGatewayEvent('GET', '/v1/incidents'));
    expect(anonymous.statusCode).toBe(401);
  });

  it('builds its dependencies on the first request only, and answers 500 while they cannot be built', async () => {
    let calls = 0;
    const logged: Readonly<Record<string, unknown>>[] = [];
    const handler = createHandler(
      () => {
        calls += 1;
        if (calls === 1) throw new Error('FAULTLINE_EVENTS_QUEUE_URL is required');
        return { store: api.store, eventsQueue: api.events };
      },
      (entry) => logged.push(entry),
    );
    expect(calls).toBe(0);
    const failed = await handler(apiGatewayEvent('GET', '/v1/health'));
    expect(failed.statusCode).toBe(500);
    expect(JSON.parse(failed.body).error.code).toBe('internal');
    expect(failed.body).not.toContain('FAULTLINE_EVENTS_QUEUE_URL');
    expect(logged).toEqual([
      expect.objectContaining({ level: 'error', detail: 'FAULTLINE_EVENTS_QUEUE_URL is required' }),
    ]);
    expect((await handler(apiGatewayEvent('GET', '/v1/health'))).statusCode).toBe(200);
    expect((await handler(apiGatewayEvent('GET', '/v1/health'))).statusCode).toBe(200);
    expect(calls).toBe(2);
  });

  it('reads its environment on the first request, naming every problem in the log', async () => {
    const logged: Readonly<Record<string, unknown>>[] = [];
    const broken = createHandler(fromEnv({ FAULTLINE_STORE: 'postgres://db' }), (entry) =>
      logged.push(entry),
    );
    const answer = await broken(apiGatewayEvent('GET', '/v1/health'));
    expect(answer.statusCode).toBe(500);
    expect(String(logged[0]?.detail)).toContain('FAULTLINE_STORE: dynamodb:<table> or sqlite:<path>');
    expect(String(logged[0]?.detail)).toContain('FAULTLINE_EVENTS_QUEUE_URL');

    const configured = createHandler(
      fromEnv({
        FAULTLINE_STORE: `sqlite:${api.storePath}`,
        FAULTLINE_EVENTS_QUEUE_URL: 'http://127.0.0.1:9/000000000000/events',
        AWS_REGION: 'eu-west-1',
      }),
    );
    const health = await configured(apiGatewayEvent('GET', '/v1/health'));
    expect(health.statusCode).toBe(200);
    const plans = await configured(
      apiGatewayEvent('GET', `/v1/agents/${AGENT_HOST}/plans`, {
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    expect(JSON.parse(plans.body)).toEqual({ plans: [], nextPollSeconds: 60 });
  });
});
