import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../../events/index.ts';
import { agentEvent } from '../../helpers/api-events.ts';
import { type ApiHarness, apiHarness } from '../../helpers/api-harness.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';

/** The same app as the local runtime serves it: @hono/node-server on loopback. */
describe('the API served by @hono/node-server', () => {
  let api: ApiHarness;
  let token: string;
  let server: ReturnType<typeof serve>;
  let base: string;
  let wakeSignals: AbortSignal[];
  let woken: () => void;
  let firstWake: Promise<void>;

  beforeEach(async () => {
    wakeSignals = [];
    firstWake = new Promise((resolve) => {
      woken = resolve;
    });
    api = await apiHarness({
      longPoll: {
        maxWaitSeconds: 20,
        // Waits until the request goes away: the test ends the wait by hanging up.
        wake: (_hostId, _timeoutMs, signal) =>
          new Promise((resolve) => {
            wakeSignals.push(signal);
            woken();
            signal.addEventListener('abort', () => resolve(), { once: true });
          }),
      },
    });
    token = await api.agentToken(AGENT_HOST);
    await new Promise<void>((resolve) => {
      server = serve({ fetch: api.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as Server).closeAllConnections();
    });
    await api.close();
  });

  it('takes a batch over HTTP', async () => {
    const event = agentEvent('mirror.degraded', AGENT_HOST);
    const response = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([event]),
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: [event.id] });
  });

  it('answers 413 to a chunked upload over 1 MiB without buffering it, and keeps serving', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${base}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
      request.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
        request.destroy();
      });
      request.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        for (let sent = 0; sent < (LIMITS.maxBatchBytes / chunk.length) * 4; sent += 1) {
          if (request.destroyed) return;
          if (!request.write(chunk)) {
            request.once('drain', pump);
            return;
          }
        }
        request.end();
      };
      pump();
    });
    expect(status).toBe(413);
    expect((await fetch(`${base}/v1/health`)).status).toBe(200);
  });

  it('ends a long poll when the agent hangs up', async () => {
    const client = new AbortController();
    const poll = fetch(`${base}/v1/agents/${AGENT_HOST}/plans?wait=20`, {
      headers: { authorization: `Bearer ${token}` },
      signal: client.signal,
    }).catch((error: unknown) => error);
    await firstWake;
    client.abort();
    expect(await poll).toBeInstanceOf(Error);
    const [signal] = wakeSignals;
    if (signal === undefined) throw new Error('no wait began');
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    expect(signal.aborted).toBe(true);
    expect(wakeSignals).toHaveLength(1);
  });
});
