import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RuntimeConfig } from '../../local/config.ts';
import { OperatorTokenNotKnownError, startControlPlane } from '../../local/control-plane.ts';

/**
 * `faultline up --operator-token T` (or FAULTLINE_OPERATOR_TOKEN) against what the data folder
 * holds: T seeds a folder with no operator token, and on a folder that has some it must be one of
 * them. A unit that passes the same token at every start must not bring it back after an operator
 * revoked it (issue #18: "a revoked token gets 401 on its next request, locally").
 */

const folder = mkdtempSync(join(tmpdir(), 'faultline-operator-token-'));
const dataDir = join(folder, 'data');
const FIRST = 'operator-token-test-first-0123456789';

const start = (operatorToken: string | undefined) =>
  startControlPlane({
    listen: '127.0.0.1',
    port: 0,
    dataDir,
    config: RuntimeConfig.parse({ notify: { destinations: [] } }),
    operatorToken,
    log: () => undefined,
  });

const call = (url: string, path: string, token: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${url}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  });

afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

describe('the operator token given to faultline up', () => {
  it('seeds a new folder, stays revoked across a restart that passes it again, and is refused then', async () => {
    const first = await start(FIRST);
    let second: string;
    try {
      expect((await call(first.url, '/v1/tokens', FIRST)).status).toBe(200);
      const minted = await call(first.url, '/v1/tokens', FIRST, {
        method: 'POST',
        body: JSON.stringify({ kind: 'operator', label: 'night shift' }),
      });
      expect(minted.status).toBe(201);
      const created = (await minted.json()) as { token: string };
      second = created.token;
      const listed = (await (await call(first.url, '/v1/tokens', second)).json()) as {
        tokens: { id: string; label?: string }[];
      };
      const seeded = listed.tokens.find((token) => token.label === 'local operator from --operator-token');
      expect(seeded).toBeDefined();
      const revoked = await call(first.url, `/v1/tokens/${seeded?.id}`, second, { method: 'DELETE' });
      expect(revoked.status).toBeLessThan(300);
      expect((await call(first.url, '/v1/tokens', FIRST)).status).toBe(401);
    } finally {
      await first.stop();
    }

    await expect(start(FIRST)).rejects.toBeInstanceOf(OperatorTokenNotKnownError);

    const again = await start(second);
    try {
      expect((await call(again.url, '/v1/tokens', FIRST)).status).toBe(401);
      expect((await call(again.url, '/v1/tokens', second)).status).toBe(200);
      expect(readFileSync(join(dataDir, 'operator-token'), 'utf8').trim()).toBe(second);
    } finally {
      await again.stop();
    }
  });

  it('refuses a token the folder never held once it has operator tokens of its own', async () => {
    await expect(start('operator-token-test-stranger-0123456789')).rejects.toThrow(
      /is not an operator token of .*: it was revoked, or the folder already has operator tokens of its own/,
    );
  });

  it('starts without one on a folder that has its own', async () => {
    const plane = await start(undefined);
    await plane.stop();
  });
});
