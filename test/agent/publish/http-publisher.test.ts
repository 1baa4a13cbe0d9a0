import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpEventPublisher } from '../../../agent/publish/http-publisher.ts';
import { createTransport, type Transport } from '../../../agent/publish/proxy-tunnel.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { parseEventBatch } from '../../../events/index.ts';
import { AGENT_TOKEN } from '../../helpers/agent-config.ts';
import { symptoms } from '../../helpers/agent-events.ts';
import {
  type ApiAnswer,
  type ApiHandler,
  type ConnectProxy,
  type EventsApi,
  makeTestCertificate,
  type RecordedRequest,
  startConnectProxy,
  startEventsApi,
  startHttpsEventsApi,
  type TestCertificate,
} from '../../helpers/agent-http.ts';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let answer: (request: RecordedRequest) => ApiAnswer = () => ({ status: 500 });
const handler: ApiHandler = (request) => answer(request);
let api: EventsApi;
let proxy: ConnectProxy;
let certificate: TestCertificate;

beforeAll(async () => {
  api = await startEventsApi(handler);
  proxy = await startConnectProxy();
  certificate = makeTestCertificate();
  cleanups.push(
    () => api.stop(),
    () => proxy.stop(),
  );
});

const publisherFor = (url: string, transport: Transport) => {
  const log = memoryLog();
  cleanups.push(() => transport.close());
  const publisher = new HttpEventPublisher({
    target: { url, agentToken: AGENT_TOKEN },
    transport,
    requestTimeoutMs: 5000,
    log,
  });
  return { publisher, log };
};

/** What the control plane answers to a valid batch: every event accepted. */
const acceptAll = (request: RecordedRequest): ApiAnswer => {
  const parsed = parseEventBatch(request.body);
  return parsed.ok
    ? {
        status: 202,
        body: {
          accepted: parsed.value.map((event) => event.id),
          rejected: parsed.rejected,
          plansPending: false,
        },
      }
    : {
        status: 400,
        body: { error: { code: 'invalid-request', message: 'no valid event', issues: parsed.issues } },
      };
};

describe('HttpEventPublisher', () => {
  it('posts a JSON array of CloudEvents with the agent token and takes the accepted ones as delivered', async () => {
    answer = acceptAll;
    const { publisher } = publisherFor(api.url, createTransport({ connectTimeoutMs: 2000 }));
    const events = symptoms(3);
    const before = api.requests.length;
    const report = await publisher.publish(events);
    expect(report).toEqual({
      delivered: events.map((event) => event.id),
      rejected: [],
      failed: [],
      plansPending: false,
    });
    const [request] = api.requests.slice(before);
    expect(request).toMatchObject({
      method: 'POST',
      url: '/v1/events',
      headers: {
        authorization: `Bearer ${AGENT_TOKEN}`,
        'content-type': 'application/cloudevents-batch+json',
      },
    });
    expect(JSON.parse(request?.body ?? '')).toEqual(events.map((event) => JSON.parse(event.body)));
  });

  it('drops the events a 202 rejects, with their issues, and says when plans wait', async () => {
    answer = (request) => {
      const ids = (JSON.parse(request.body) as { id: string }[]).map((event) => event.id);
      return {
        status: 202,
        body: {
          accepted: [ids[0], ids[2]],
          rejected: [{ index: 1, issues: [{ path: [1, 'data', 'array'], message: 'not an array name' }] }],
          plansPending: 1,
        },
      };
    };
    const { publisher } = publisherFor(api.url, createTransport({ connectTimeoutMs: 2000 }));
    const events = symptoms(3, 10);
    const report = await publisher.publish(events);
    expect(report).toEqual({
      delivered: [events[0]?.id, events[2]?.id],
      rejected: [
        {
          id: events[1]?.id,
          reason: 'rejected by the API',
          issues: [{ path: [1, 'data', 'array'], message: 'not an array name' }],
        },
      ],
      failed: [],
      plansPending: true,
    });
  });

  it('rejects every event of a 400 with the issues that name it', async () => {
    answer = () => ({
      status: 400,
      body: {
        error: {
          code: 'invalid-request',
          message: 'no valid event',
          issues: [
            { path: [0, 'hostid'], message: 'hostid must match source' },
            { path: [1, 'seq'], message: 'Too small' },
          ],
        },
      },
    });
    const { publisher } = publisherFor(api.url, createTransport({ connectTimeoutMs: 2000 }));
    const events = symptoms(2, 20);
    const report = await publisher.publish(events);
    expect(report.failed).toEqual([]);
    expect(report.rejected).toEqual([
      {
        id: events[0]?.id,
        reason: '400 invalid-request: no valid event',
        issues: [{ path: [0, 'hostid'], message: 'hostid must match source' }],
      },
      {
        id: events[1]?.id,
        reason: '400 invalid-request: no valid event',
        issues: [{ path: [1, 'seq'], message: 'Too small' }],
      },
    ]);
  });

  it.each([500, 503, 429, 408])('keeps the events for later on %i', async (status) => {
    answer = () => ({ status, body: { error: { code: 'unavailable', message: 'try later' } } });
    const { publisher } = publisherFor(api.url, createTransport({ connectTimeoutMs: 2000 }));
    const report = await publisher.publish(symptoms(2));
    expect(report.delivered).toEqual([]);
    expect(report.rejected).toEqual([]);
    expect(report.failed.map((failure) => failure.reason)).toEqual([
      `${status} unavailable: try later`,
      `${status} unavailable: try later`,
    ]);
  });

  it('keeps the events on a 429 of the rate limit and passes on its Retry-After', async () => {
    answer = () => ({
      status: 429,
      headers: { 'retry-after': '7' },
      body: { error: { code: 'rate-limited', message: 'this token is over its ingest rate limit' } },
    });
    const { publisher } = publisherFor(api.url, createTransport({ connectTimeoutMs: 2000 }));
    const events = symptoms(2);
    const report = await publisher.publish(events);
    expect(report).toEqual({
      delivered: [],
      rejected: [],
      failed: events.map((event) => ({
        id: event.id,
        reason: '429 rate-limited: this token is over its ingest rate limit',
      })),
      retryAfterMs: 7000,
    });
  });

  it('keeps the events and logs an error when the token is refused, since no event is at fault', async () => {
    answer = () => ({ status: 401, body: { error: { code: 'unauthorized', message: 'bad token' } } });
    const { publisher, log } = publisherFor(api.url, createTransport({ connectTimeoutMs: 2000 }));
    const report = await publisher.publish(symptoms(1));
    expect(report.failed).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({ level: 'error', fields: { status: 401 } });
  });

  it('keeps the events when the API cannot be reached', async () => {
    const gone = await startEventsApi(() => ({ status: 202 }));
    await gone.stop();
    const { publisher } = publisherFor(gone.url, createTransport({ connectTimeoutMs: 2000 }));
    const report = await publisher.publish(symptoms(2));
    expect(report.failed).toHaveLength(2);
    expect(report.failed[0]?.reason).toMatch(/ECONNREFUSED/);
  });

  it('goes through an HTTP proxy with CONNECT', async () => {
    answer = acceptAll;
    const { publisher } = publisherFor(
      api.url,
      createTransport({ connectTimeoutMs: 2000, proxy: proxy.url }),
    );
    const before = proxy.tunnels.length;
    const report = await publisher.publish(symptoms(2, 30));
    expect(report.delivered).toHaveLength(2);
    expect(proxy.tunnels.slice(before)).toEqual([new URL(api.url).host]);
  });

  it('reaches an HTTPS API through the proxy, trusting the configured CA', async () => {
    answer = acceptAll;
    const secure = await startHttpsEventsApi(handler, certificate);
    cleanups.push(() => secure.stop());
    const trusting = publisherFor(
      secure.url,
      createTransport({ connectTimeoutMs: 2000, proxy: proxy.url, caCertificates: certificate.caCert }),
    );
    expect((await trusting.publisher.publish(symptoms(2, 40))).delivered).toHaveLength(2);
    expect(proxy.tunnels.at(-1)).toBe(new URL(secure.url).host);

    const untrusting = publisherFor(
      secure.url,
      createTransport({ connectTimeoutMs: 2000, proxy: proxy.url }),
    );
    const refused = await untrusting.publisher.publish(symptoms(1, 50));
    expect(refused.failed[0]?.reason).toMatch(/certificate/i);
  });

  it('sends proxy credentials from the proxy URL, and keeps the events when the proxy refuses', async () => {
    const guarded = await startConnectProxy({
      requireAuthorization: `Basic ${Buffer.from('agent:s3cret').toString('base64')}`,
    });
    cleanups.push(() => guarded.stop());
    answer = acceptAll;
    const withCredentials = new URL(guarded.url);
    withCredentials.username = 'agent';
    withCredentials.password = 's3cret';
    const allowed = publisherFor(
      api.url,
      createTransport({ connectTimeoutMs: 2000, proxy: withCredentials.href }),
    );
    expect((await allowed.publisher.publish(symptoms(1, 60))).delivered).toHaveLength(1);
    const refused = publisherFor(api.url, createTransport({ connectTimeoutMs: 2000, proxy: guarded.url }));
    const report = await refused.publisher.publish(symptoms(1, 61));
    expect(report.failed[0]?.reason).toMatch(/answered 407 to CONNECT/);
  });
});
