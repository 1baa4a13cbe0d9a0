import { OpenAPIHono } from '@hono/zod-openapi';
import { afterEach, describe, expect, it } from 'vitest';
import { errorResponse } from '../../../functions/api/error-response.ts';
import { ConflictError, INTERNAL_ERROR_MESSAGE } from '../../../functions/api/errors.ts';
import { agentEvent } from '../../helpers/api-events.ts';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';

/**
 * Internal error texts never reach the client (issue 18): a 500 answers a fixed message and the
 * error id of the log line that holds the cause; a 4xx answers its own message, written for the
 * caller.
 */

const STACK_MESSAGE = 'Maximum call stack size exceeded';
const ERROR_ID = /with error id (err-[0-9a-f-]{36})$/;

describe('internal error texts', () => {
  let api: ApiHarness | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('answers a route that throws a RangeError with the fixed message and an error id that is in the log line', async () => {
    api = await apiHarness(
      {},
      {
        wrapStore: (store) =>
          new Proxy(store, {
            get: (target, property, receiver) => {
              if (property === 'stats') return async () => Promise.reject(new RangeError(STACK_MESSAGE));
              const value = Reflect.get(target, property, receiver);
              return typeof value === 'function' ? value.bind(target) : value;
            },
          }),
      },
    );
    const answer = await api.request('GET', '/v1/stats', { token: OPERATOR_SECRET });
    expect(answer.status).toBe(500);
    expect(answer.text).not.toContain(STACK_MESSAGE);
    expect(answer.text).not.toContain('RangeError');
    expect(answer.body.error.code).toBe('internal');
    expect(answer.body.error.message.startsWith(INTERNAL_ERROR_MESSAGE)).toBe(true);
    const errorId = ERROR_ID.exec(answer.body.error.message)?.[1];
    expect(errorId).toBeDefined();
    expect(api.logs).toEqual([
      expect.objectContaining({ level: 'error', errorId, cause: 'RangeError', detail: STACK_MESSAGE }),
    ]);
  });

  it('gives each failure its own error id', async () => {
    const app = new OpenAPIHono();
    const logs: Readonly<Record<string, unknown>>[] = [];
    app.onError((error, c) => errorResponse(c, error, (entry) => logs.push(entry)));
    app.get('/deep', () => {
      throw new RangeError(STACK_MESSAGE);
    });
    const ids = new Set<string>();
    for (let request = 0; request < 3; request += 1) {
      const response = await app.request('/deep');
      const text = await response.text();
      expect(response.status).toBe(500);
      expect(text).not.toContain(STACK_MESSAGE);
      ids.add(ERROR_ID.exec(JSON.parse(text).error.message)?.[1] ?? '');
    }
    expect(ids.size).toBe(3);
    expect(new Set(logs.map((entry) => entry.errorId))).toEqual(ids);
  });

  it('keeps the clear message of a 4xx, with no error id and no log line', async () => {
    const app = new OpenAPIHono();
    const logs: Readonly<Record<string, unknown>>[] = [];
    app.onError((error, c) => errorResponse(c, error, (entry) => logs.push(entry)));
    app.post('/approve', () => {
      throw new ConflictError('the incident is resolved; there is nothing to approve');
    });
    const response = await app.request('/approve', { method: 'POST' });
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({
      error: { code: 'conflict', message: 'the incident is resolved; there is nothing to approve' },
    });
    expect(logs).toEqual([]);
  });

  it('answers a deeply nested event with a reason of its own, never the stack overflow it would cause', async () => {
    api = await apiHarness();
    const token = await api.agentToken(AGENT_HOST);
    const depth = 20_000;
    const nested = JSON.stringify(agentEvent('mirror.degraded', AGENT_HOST)).replace(
      /\}$/,
      `,"deep":${'['.repeat(depth)}${']'.repeat(depth)}}`,
    );
    for (const body of [nested, `[${nested}]`]) {
      const answer = await api.request('POST', '/v1/events', { token, body });
      expect(answer.status).toBeLessThan(500);
      expect(answer.text).not.toContain(STACK_MESSAGE);
    }
    expect(api.logs.filter((entry) => entry.level === 'error')).toEqual([]);
  });
});
