import { afterEach, describe, expect, it } from 'vitest';
import {
  QueueUnavailableError,
  StoreRejectedError,
  StoreUnavailableError,
} from '../../../functions/adapters/errors.ts';
import type { BatchMessage, SendBatchResult } from '../../../functions/adapters/queue/port.ts';
import type { ApiDeps } from '../../../functions/api/app.ts';
import { agentEvent } from '../../helpers/api-events.ts';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';

const SECRET_DETAIL = '/var/lib/faultline/store.db: SQLITE_IOERR';

describe('API errors', () => {
  let api: ApiHarness | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  /** The harness with one store method failing with `failure`. */
  const withStore = async (method: keyof ApiDeps['store'], failure: unknown): Promise<ApiHarness> => {
    api = await apiHarness(
      {},
      {
        wrapStore: (store) =>
          new Proxy(store, {
            get: (target, property, receiver) => {
              if (property === method) return async () => Promise.reject(failure);
              const value = Reflect.get(target, property, receiver);
              return typeof value === 'function' ? value.bind(target) : value;
            },
          }),
      },
    );
    return api;
  };

  it('answers 503 with a generic message when the store is unavailable, and logs the cause', async () => {
    const harness = await withStore('listIncidents', new StoreUnavailableError(SECRET_DETAIL));
    const answer = await harness.request('GET', '/v1/incidents', { token: OPERATOR_SECRET });
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({
      error: { code: 'unavailable', message: 'the store is unavailable; try again shortly' },
    });
    expect(answer.headers.get('retry-after')).toBe('5');
    expect(answer.text).not.toContain('SQLITE');
    expect(harness.logs).toEqual([
      expect.objectContaining({
        level: 'error',
        code: 'unavailable',
        causeCode: 'store-unavailable',
        path: '/v1/incidents',
      }),
    ]);
    expect(JSON.stringify(harness.logs)).toContain(SECRET_DETAIL);
  });

  it('answers 500 with a generic message for a store error no retry fixes, and for any other throw', async () => {
    for (const failure of [
      new StoreRejectedError(SECRET_DETAIL),
      new TypeError(SECRET_DETAIL),
      SECRET_DETAIL,
    ]) {
      const harness = await withStore('stats', failure);
      const answer = await harness.request('GET', '/v1/stats', { token: OPERATOR_SECRET });
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual({
        error: {
          code: 'internal',
          message: expect.stringMatching(
            /^the request failed on the server; the error is logged with error id err-/,
          ),
        },
      });
      expect(answer.text).not.toContain('SQLITE');
      expect(harness.logs).toHaveLength(1);
      await harness.close();
      api = undefined;
    }
  });

  it('answers 503 when the token store cannot be read, rather than 401', async () => {
    const harness = await withStore('getToken', new StoreUnavailableError('locked'));
    const answer = await harness.request('GET', '/v1/incidents', { token: OPERATOR_SECRET });
    expect(answer.status).toBe(503);
    expect((await harness.request('GET', '/v1/health')).status).toBe(200);
  });

  it('answers 503 when the queue is unavailable, so the agent sends the batch again', async () => {
    const base = await apiHarness();
    const token = await base.agentToken(AGENT_HOST);
    await base.close();
    api = await apiHarness({
      eventsQueue: {
        send: async () => Promise.reject(new QueueUnavailableError('events', 'throttled')),
        sendMany: async () => Promise.reject(new QueueUnavailableError('events', 'throttled')),
      },
    });
    await api.agentToken(AGENT_HOST);
    const answer = await api.request('POST', '/v1/events', {
      token,
      body: [agentEvent('mirror.degraded', AGENT_HOST)],
    });
    expect(answer.status).toBe(503);
    expect(answer.body.error.message).toBe('the queue is unavailable; try again shortly');
    const pause = await api.request('POST', '/v1/control/pause', { token: OPERATOR_SECRET });
    expect(pause.status).toBe(503);
  });

  it('tries again the entries a queue fails for its own reasons, and rejects the ones it refuses', async () => {
    const calls: string[][] = [];
    let transientLeft = 1;
    const sendMany = async (messages: readonly BatchMessage[]): Promise<SendBatchResult> => {
      calls.push(messages.map((message) => message.id));
      const failed = messages.flatMap((message) => {
        if (message.id === 'e1')
          return [{ id: 'e1', code: 'InvalidMessageContents', message: 'no', senderFault: true }];
        if (message.id === 'e2' && transientLeft > 0) {
          transientLeft -= 1;
          return [{ id: 'e2', code: 'InternalError', message: 'try later', senderFault: false }];
        }
        return [];
      });
      const failedIds = new Set(failed.map((failure) => failure.id));
      return {
        successful: messages
          .filter((message) => !failedIds.has(message.id))
          .map((message) => ({ id: message.id, messageId: message.id })),
        failed,
      };
    };
    api = await apiHarness({ eventsQueue: { send: async () => ({ messageId: 'x' }), sendMany } });
    const token = await api.agentToken(AGENT_HOST);
    const events = [0, 1, 2].map(() => agentEvent('mirror.degraded', AGENT_HOST));
    const answer = await api.request('POST', '/v1/events', { token, body: events });
    expect(answer.status).toBe(202);
    expect(answer.body.accepted).toEqual([events[0].id, events[2].id]);
    expect(answer.body.rejected).toEqual([
      { index: 1, issues: [expect.objectContaining({ code: 'queue-refused', path: [1] })] },
    ]);
    expect(calls).toEqual([['e0', 'e1', 'e2'], ['e2']]);
  });

  it('answers 405 with Allow for a known path asked the wrong way, and 404 for an unknown one', async () => {
    api = await apiHarness();
    const wrong = await api.request('DELETE', '/v1/incidents/inc-1', { token: OPERATOR_SECRET });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    expect(wrong.body.error.code).toBe('method-not-allowed');
    const unknown = await api.request('GET', '/v2/incidents', { token: OPERATOR_SECRET });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual({ code: 'not-found', message: 'no route GET /v2/incidents' });
  });

  it('refuses an operator body over its limit (413) and one that is not JSON (415)', async () => {
    api = await apiHarness();
    const big = await api.request('POST', '/v1/tokens', {
      token: OPERATOR_SECRET,
      body: { hostId: 'h'.repeat(20_000) },
    });
    expect(big.status).toBe(413);
    const text = await api.request('POST', '/v1/tokens', {
      token: OPERATOR_SECRET,
      body: 'hostId=h1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(text.status).toBe(415);
    expect(text.body.error.message).toContain('application/json');
  });
});
