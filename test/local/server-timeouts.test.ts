import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeConfig } from '../../local/config.ts';
import { type ControlPlane, SERVER_TIMEOUTS, startControlPlane } from '../../local/control-plane.ts';

/**
 * Node's HTTP server timeouts, set explicitly by the local runtime (local/control-plane.ts
 * `SERVER_TIMEOUTS`): a client that opens a request and never finishes its headers (slowloris)
 * is answered 408 and disconnected once `headersTimeout` has passed, instead of holding its
 * socket as long as it likes; while a long poll, silent until it answers, is not cut.
 */

const folder = mkdtempSync(join(tmpdir(), 'faultline-timeouts-'));
const OPERATOR_TOKEN = 'server-timeouts-operator-token-0123456789';
let plane: ControlPlane;

beforeAll(async () => {
  plane = await startControlPlane({
    listen: '127.0.0.1',
    port: 0,
    dataDir: join(folder, 'data'),
    config: RuntimeConfig.parse({ notify: { destinations: [] }, longPollMaxSeconds: 3 }),
    operatorToken: OPERATOR_TOKEN,
    log: () => undefined,
  });
});
afterAll(async () => {
  await plane?.stop();
  rmSync(folder, { recursive: true, force: true });
});

describe("the local runtime's HTTP server", () => {
  it('gives a 1 MiB batch time to arrive over a 56 kbit/s link', () => {
    // The socket's idle timeout cuts a trickled body; the request timeout must not cut a slow honest one.
    const oneMiBAt56kbitMs = ((1024 * 1024 * 8) / 56_000) * 1000;
    expect(SERVER_TIMEOUTS.requestTimeoutMs).toBeGreaterThanOrEqual(oneMiBAt56kbitMs);
    expect(SERVER_TIMEOUTS.requestTimeoutMs).toBe(300_000);
  });

  it(
    'answers 408 and closes the socket of a request whose headers never end',
    async () => {
      const { port } = new URL(plane.url);
      const socket = connect(Number(port), '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => {
        received += chunk;
      });
      await new Promise<void>((connected) => socket.once('connect', () => connected()));
      socket.write('GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      await new Promise<void>((closed) => socket.once('close', () => closed()));
      expect(received).toMatch(/^HTTP\/1\.1 408 /);
    },
    SERVER_TIMEOUTS.headersTimeoutMs + SERVER_TIMEOUTS.checkEveryMs + 15_000,
  );

  it('keeps a long poll open for its whole wait', async () => {
    const minted = await fetch(`${plane.url}/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` },
      body: JSON.stringify({ kind: 'agent', hostId: 'lnx-timeouts.example.net' }),
    });
    expect(minted.status).toBe(201);
    const { token } = (await minted.json()) as { token: string };
    const polled = await fetch(`${plane.url}/v1/agents/lnx-timeouts.example.net/plans?wait=3`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(polled.status).toBe(200);
    expect(await polled.json()).toMatchObject({ plans: [] });
  }, 30_000);
});
