import { OpenAPIHono } from '@hono/zod-openapi';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../../events/index.ts';
import { MetricsBuffer } from '../../../functions/adapters/observability/metrics-buffer.ts';
import { authenticate, type Principal } from '../../../functions/api/auth.ts';
import type { ApiEnv } from '../../../functions/api/define-route.ts';
import { errorResponse } from '../../../functions/api/error-response.ts';
import { RateLimitedError } from '../../../functions/api/errors.ts';
import { POLL_SECONDS } from '../../../functions/api/plans.ts';
import {
  INGEST_RATE_LIMITS,
  IngestRateLimit,
  type IngestRateLimitOptions,
} from '../../../functions/api/rate-limit.ts';
import { agentRoutes } from '../../../functions/api/routes/agents.ts';
import { eventRoutes } from '../../../functions/api/routes/events.ts';
import { degradedBatch } from '../../helpers/api-events.ts';
import { type ApiHarness, apiHarness } from '../../helpers/api-harness.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';
import { collectBody, METADB_HEALTHY, METASTAT_OKAY } from './collect-bodies.ts';

const T0 = Date.parse('2026-11-22T03:40:00.000Z');
const agent = (hostId: string, tokenId = `tok-${hostId}`): Principal => ({ kind: 'agent', hostId, tokenId });
const operator = (tokenId: string): Principal => ({ kind: 'operator', label: 'ops', tokenId });
const bearer = (secret: string): string => `Bearer ${secret}`;

/** A limiter on a clock the test moves. */
const limiter = (options: Partial<IngestRateLimitOptions> = {}) => {
  const clock = { now: T0 };
  return { clock, limit: new IngestRateLimit(options, () => clock.now) };
};

const refusal = (action: () => void): RateLimitedError => {
  try {
    action();
  } catch (error) {
    if (error instanceof RateLimitedError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
};

describe('IngestRateLimit', () => {
  it('takes events from a full bucket, then refuses with the seconds until the request fits', () => {
    const { clock, limit } = limiter({ agent: { capacity: 1000, refillPerSecond: 200 } });
    const who = limit.keyOf(agent('lnx1'));
    limit.take(who, 500);
    limit.take(who, 500);
    expect(() => limit.admit(who)).toThrow(RateLimitedError);
    const refused = refusal(() => limit.take(who, 500));
    expect(refused.retryAfterSeconds).toBe(3); // 500 events at 200 a second: 2.5 s, in whole seconds
    expect(refused.events).toBe(500);
    clock.now += 2_000;
    expect(() => limit.take(who, 500)).toThrow(RateLimitedError); // 400 held: a refusal takes none
    clock.now += 500;
    limit.take(who, 500);
  });

  it('lets a request larger than the bucket through once the bucket is full', () => {
    const { clock, limit } = limiter({ agent: { capacity: 100, refillPerSecond: 10 } });
    const who = limit.keyOf(agent('lnx1'));
    limit.take(who, LIMITS.maxBatchEvents);
    expect(refusal(() => limit.take(who, LIMITS.maxBatchEvents)).retryAfterSeconds).toBe(10);
    clock.now += 10_000;
    limit.take(who, LIMITS.maxBatchEvents);
  });

  it('counts every request as at least one event', () => {
    const { limit } = limiter({ agent: { capacity: 2, refillPerSecond: 1 } });
    const who = limit.keyOf(agent('lnx1'));
    limit.take(who, 0);
    limit.take(who, 0);
    expect(refusal(() => limit.take(who, 0)).retryAfterSeconds).toBe(1);
  });

  it('refills nothing when the clock steps back, and drains nothing either', () => {
    const { clock, limit } = limiter({ agent: { capacity: 10, refillPerSecond: 1 } });
    const who = limit.keyOf(agent('lnx1'));
    limit.take(who, 10);
    clock.now -= 60_000;
    expect(() => limit.admit(who)).toThrow(RateLimitedError);
    clock.now = T0 + 1_000;
    limit.take(who, 1);
  });

  it('keys an agent token by its host and an operator token by its hash, not its shared label', () => {
    const { limit } = limiter({
      agent: { capacity: 1, refillPerSecond: 1 },
      operator: { capacity: 1, refillPerSecond: 1 },
    });
    // Two tokens of one host share its bucket; another host has its own.
    limit.take(limit.keyOf(agent('lnx1', 'tok-first')), 1);
    expect(() => limit.admit(limit.keyOf(agent('lnx1', 'tok-second')))).toThrow(RateLimitedError);
    limit.take(limit.keyOf(agent('lnx2')), 1);
    // Two operator tokens labelled alike are two buckets, by token id.
    const first = limit.keyOf(operator('tok-0123456789abcdef'));
    limit.take(first, 1);
    expect(() => limit.admit(first)).toThrow(RateLimitedError);
    limit.take(limit.keyOf(operator('tok-fedcba9876543210')), 1);
  });

  it('tracks at most maxTrackedTokens, evicting the least recently used, which comes back full', () => {
    const { limit } = limiter({ agent: { capacity: 5, refillPerSecond: 1 }, maxTrackedTokens: 3 });
    const key = (host: string) => limit.keyOf(agent(host));
    for (const host of ['a', 'b', 'c']) limit.take(key(host), 5);
    expect(() => limit.admit(key('a'))).toThrow(RateLimitedError); // `a` is now the most recent
    limit.take(key('d'), 1); // evicts `b`, the least recently used
    expect(limit.trackedTokens).toBe(3);
    limit.take(key('b'), 5); // forgotten, so full again (and `c` goes)
    expect(() => limit.admit(key('a'))).toThrow(RateLimitedError); // still tracked, still empty
    for (let host = 0; host < 1000; host += 1) limit.admit(key(`host-${host}`));
    expect(limit.trackedTokens).toBe(3);
  });

  it('passes the benches and a host storm at their own pace with the default sizes', () => {
    const { clock, limit } = limiter();
    // bench/ingest.ts: its largest storm, 100,000 events in batches of 500, one operator token,
    // with no time passing at all (any ingest speed).
    const collector = limit.keyOf(operator('tok-bench-collector'));
    for (let batch = 0; batch < 100_000 / LIMITS.maxBatchEvents; batch += 1) {
      limit.admit(collector);
      limit.take(collector, LIMITS.maxBatchEvents);
    }
    // Its steady section: 1,000 events a second in 10 batches, for ten minutes.
    for (let tenth = 0; tenth < 6_000; tenth += 1) {
      clock.now += 100;
      limit.take(collector, 100);
    }
    // One host: 20 full batches at once (a storm, or a spool drained after an outage).
    const host = limit.keyOf(agent('lnx1'));
    for (let batch = 0; batch < 20; batch += 1) limit.take(host, LIMITS.maxBatchEvents);
    expect(refusal(() => limit.take(host, LIMITS.maxBatchEvents)).retryAfterSeconds).toBe(
      Math.ceil(LIMITS.maxBatchEvents / INGEST_RATE_LIMITS.agent.refillPerSecond),
    );
  });
});

describe('the ingest rate limit over HTTP', () => {
  let api: ApiHarness;
  let token: string;
  beforeEach(async () => {
    api = await apiHarness();
    token = await api.agentToken(AGENT_HOST);
  });
  afterEach(async () => api.close());

  it("takes a host's 20 full batches at once, answers the next 429 with Retry-After and takes none of it, then takes it after that wait", async () => {
    for (let batch = 0; batch < 20; batch += 1) {
      const answer = await api.request('POST', '/v1/events', {
        token,
        body: degradedBatch(AGENT_HOST, LIMITS.maxBatchEvents),
      });
      expect(answer.status).toBe(202);
    }
    expect(await api.drain()).toHaveLength(20 * LIMITS.maxBatchEvents);

    // The bucket is empty: refused before the body is read, for the soonest any request fits.
    const next = degradedBatch(AGENT_HOST, LIMITS.maxBatchEvents);
    const refused = await api.request('POST', '/v1/events', { token, body: next });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toEqual({
      error: { code: 'rate-limited', message: expect.stringContaining('rate limit') },
    });
    // A second later it holds 200 events: the batch, once read, costs 500, 300 more to wait for.
    api.clock.now += 1_000;
    const short = await api.request('POST', '/v1/events', { token, body: next });
    expect(short.status).toBe(429);
    expect(short.headers.get('retry-after')).toBe('2');
    expect(await api.drain()).toEqual([]);

    api.clock.now += 2_000;
    const again = await api.request('POST', '/v1/events', { token, body: next });
    expect(again.status).toBe(202);
    expect(again.body.accepted).toHaveLength(LIMITS.maxBatchEvents);
  });
});

/**
 * The ingest routes mounted as app.ts mounts them (the principal from the bearer token, errors
 * through `errorResponse`), given a small limit, so a test reaches it in a few requests.
 */
describe('the ingest routes under a small limit', () => {
  let api: ApiHarness;
  let token: string;
  let metrics: MetricsBuffer;
  let app: OpenAPIHono<ApiEnv>;
  const GUEST = 'ldg1';

  beforeEach(async () => {
    api = await apiHarness();
    token = await api.agentToken(GUEST);
    metrics = new MetricsBuffer();
    const now = () => api.clock.now;
    const log = (entry: Readonly<Record<string, unknown>>) => api.logs.push(entry);
    const rateLimit = new IngestRateLimit(
      { agent: { capacity: 4, refillPerSecond: 1 }, operator: { capacity: 4, refillPerSecond: 1 } },
      now,
    );
    const ingest = { store: api.store, queue: api.events, now, log, metrics, rateLimit };
    app = new OpenAPIHono<ApiEnv>();
    app.onError((error, c) => errorResponse(c, error, log));
    app.use('*', async (c, next) => {
      c.set('principal', await authenticate(c.req.header('authorization'), api.store));
      await next();
    });
    app.route('/v1/events', eventRoutes(ingest).app);
    app.route(
      '/v1/agents',
      agentRoutes({ store: api.store, now, longPoll: undefined, poll: POLL_SECONDS, collect: ingest }).app,
    );
  });
  afterEach(async () => api.close());

  const post = async (path: string, body: string, type: string, secret = token) => {
    const response = await app.request(path, {
      method: 'POST',
      headers: { authorization: bearer(secret), 'content-type': type },
      body,
    });
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      // biome-ignore lint/suspicious/noExplicitAny: answers are inspected freely by the tests
      body: (await response.json()) as any,
    };
  };
  const rateLimited = () =>
    metrics
      .drain()
      .filter(
        (sample) =>
          sample.kind === 'count' &&
          sample.metric === 'eventsRejected' &&
          sample.labels.reason === 'rate-limited',
      )
      .reduce((sum, sample) => sum + (sample.kind === 'count' ? sample.value : 0), 0);

  it("shares one bucket per host between the sh agent's collects and posted events, and counts what it refuses", async () => {
    const collect = (seq: number) =>
      post(
        `/v1/agents/${GUEST}/collect`,
        collectBody(
          { seq, time: new Date(api.clock.now).toISOString() },
          { metastat: METASTAT_OKAY, metadb: METADB_HEALTHY },
        ),
        'text/plain',
      );
    // Each collect makes one event (its heartbeat): four fill the bucket.
    for (let seq = 1; seq <= 4; seq += 1) expect((await collect(seq)).status).toBe(202);
    const refused = await collect(5);
    expect(refused).toMatchObject({
      status: 429,
      retryAfter: '1',
      body: { error: { code: 'rate-limited' } },
    });
    // Refused before anything was remembered: the same collect, sent again later, is new.
    api.clock.now += 1_000;
    const taken = await collect(5);
    expect(taken.status).toBe(202);
    expect(taken.body.outcome).toBe('new');

    // The events route, for the same host, finds the bucket empty.
    const events = await post('/v1/events', JSON.stringify(degradedBatch(GUEST, 2)), 'application/json');
    expect(events).toMatchObject({ status: 429, retryAfter: '1' });
    expect(rateLimited()).toBe(2);
  });

  it('charges a batch its events once read, refusing a batch the bucket cannot hold whole', async () => {
    const batch = (count: number) => JSON.stringify(degradedBatch(GUEST, count));
    expect((await post('/v1/events', batch(3), 'application/json')).status).toBe(202);
    const refused = await post('/v1/events', batch(3), 'application/json');
    expect(refused).toMatchObject({ status: 429, retryAfter: '2' });
    expect(rateLimited()).toBe(3);
    expect((await post('/v1/events', batch(1), 'application/json')).status).toBe(202);
  });
});
