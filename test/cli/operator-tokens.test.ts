import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runOperator } from '../../cli/operator.ts';
import { hashToken, tokenIdOf } from '../../functions/adapters/store/tokens.ts';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../helpers/api-harness.ts';

const OPERATOR_ID = tokenIdOf(hashToken(OPERATOR_SECRET));

/** `faultline tokens create|list|revoke` against the API served on loopback, as an operator runs them. */
describe('faultline tokens', () => {
  let api: ApiHarness;
  let server: ReturnType<typeof serve>;
  let url: string;

  beforeEach(async () => {
    api = await apiHarness();
    await new Promise<void>((resolve) => {
      server = serve({ fetch: api.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as Server).closeAllConnections();
    });
    await api.close();
  });

  const run = async (args: string[], token: string = OPERATOR_SECRET) => {
    let stdout = '';
    let stderr = '';
    const code = await runOperator(
      'tokens',
      [...args, '--url', url, '--token', token],
      {
        stdout: (text) => {
          stdout += text;
        },
        stderr: (text) => {
          stderr += text;
        },
      },
      {},
    );
    return { code, stdout, stderr };
  };

  it('creates a token, lists it by id, revokes it, and its next request is refused while others work', async () => {
    api.clock.now += 60_000;
    const created = await run(['create', '--host', 'lnxclient09.example.net', '--label', 'rack 4']);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^flt_[A-Za-z0-9_-]{43}$/);
    const id = tokenIdOf(hashToken(secret));
    expect(created.stderr).toBe(
      `minted ${id}, agent for lnxclient09.example.net (rack 4); \`faultline tokens revoke ${id}\` revokes it\n`,
    );
    api.clock.now += 60_000;
    const kept = JSON.parse((await run(['create', '--operator', '--label', 'alice@ops', '--json'])).stdout);
    expect(kept.id).toBe(tokenIdOf(hashToken(kept.token)));

    const listed = await run(['list']);
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trim().split('\n');
    expect(rows[0]?.split(/\s{2,}/)).toEqual(['ID', 'KIND', 'HOST', 'LABEL', 'CREATED']);
    expect(rows.slice(1).map((row) => row.split(/\s{2,}/))).toEqual([
      [OPERATOR_ID, 'operator', '-', 'ops', '2026-11-22T03:40:00.000Z'],
      [id, 'agent', 'lnxclient09.example.net', 'rack 4', '2026-11-22T03:41:00.000Z'],
      [kept.id, 'operator', '-', 'alice@ops', '2026-11-22T03:42:00.000Z'],
    ]);
    expect(listed.stdout).not.toContain(secret);
    const json = JSON.parse((await run(['list', '--json'])).stdout);
    expect(json.tokens.map((token: { id: string }) => token.id)).toEqual([OPERATOR_ID, id, kept.id]);

    const revoked = await run(['revoke', id]);
    expect(revoked).toEqual({
      code: 0,
      stdout: `revoked ${id}, agent for lnxclient09.example.net (rack 4): its next request is refused\n`,
      stderr: '',
    });
    const plans = await api.request('GET', '/v1/agents/lnxclient09.example.net/plans', { token: secret });
    expect(plans.status).toBe(401);
    const stillListed = await run(['list', '--json'], kept.token);
    expect(JSON.parse(stillListed.stdout).tokens.map((token: { id: string }) => token.id)).toEqual([
      OPERATOR_ID,
      kept.id,
    ]);
  });

  it('refuses to revoke the token it runs with, an unknown id and something that is not an id', async () => {
    const self = await run(['revoke', OPERATOR_ID]);
    expect(self.code).toBe(1);
    expect(self.stderr).toBe(
      `faultline tokens: 409 conflict: ${OPERATOR_ID} is the token making this request: revoke it with another operator token, so that one is left to act with\n`,
    );
    const unknown = await run(['revoke', 'tok-0000000000000000']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^faultline tokens: 404 not-found: no token tok-0000000000000000/);

    const pasted = await run(['revoke', OPERATOR_SECRET]);
    expect(pasted.code).toBe(2);
    expect(pasted.stderr).toMatch(/^faultline tokens: a token secret is not a token id/);
    expect(pasted.stderr).not.toContain(OPERATOR_SECRET);
    for (const [args, message] of [
      [['revoke'], /tokens revoke needs a token id/],
      [['revoke', 'tok-1', 'tok-2'], /unexpected tok-2/],
      [['list', '--host', 'vios2'], /tokens list takes none of/],
      [['rotate'], /unknown tokens command rotate/],
      [[], /tokens needs create, list or revoke/],
    ] as [string[], RegExp][]) {
      const refused = await run(args);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stderr, args.join(' ')).toMatch(message);
    }
    expect((await api.request('GET', '/v1/tokens', { token: OPERATOR_SECRET })).status).toBe(200);
  });

  it('reports an agent token as forbidden for list and revoke (exit 1, 403)', async () => {
    const agent = await api.agentToken('lnxclient07.example.net');
    for (const args of [['list'], ['revoke', OPERATOR_ID]]) {
      const answer = await run(args, agent);
      expect(answer.code, args.join(' ')).toBe(1);
      expect(answer.stderr).toMatch(/^faultline tokens: 403 forbidden: /);
    }
  });

  it('answers --help with create, list and revoke', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const line of ['faultline tokens create', 'faultline tokens list', 'faultline tokens revoke <id>'])
      expect(help.stdout).toContain(line);
  });
});
