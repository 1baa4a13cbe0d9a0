import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DynamoDbStore } from '../../../functions/adapters/store/dynamodb-store.ts';
import { hashToken, tokenIdOf } from '../../../functions/adapters/store/tokens.ts';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { dynamoStore } from '../../helpers/store-dynamodb.ts';

/**
 * `GET /v1/tokens` and `DELETE /v1/tokens/:id` through the whole app, on the SQLite store (the
 * local runtime) and on the DynamoDB store (the cloud, on dynalite): a revoked token is refused on
 * its very next request, and every other token keeps working.
 */

const OPERATOR_ID = tokenIdOf(hashToken(OPERATOR_SECRET));
const CLIENT = 'lnxclient09.example.net';
const OTHER_CLIENT = 'lnxclient10.example.net';

interface StoreUnderTest {
  readonly name: string;
  readonly start: () => Promise<ApiHarness>;
}

let dynamo: Dynalite;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => dynamo.stop());

/** The API over the DynamoDB store, its operator token seeded there as the harness seeds SQLite's. */
const onDynamoDb = async (): Promise<ApiHarness> => {
  const { store, cleanup } = await dynamoStore(dynamo);
  await store.putToken({
    hash: hashToken(OPERATOR_SECRET),
    kind: 'operator',
    label: 'ops',
    createdAt: '2026-11-22T03:40:00.000Z',
  });
  const api = await apiHarness({}, { wrapStore: (): DynamoDbStore => store });
  return {
    ...api,
    close: async () => {
      await api.close();
      await cleanup();
    },
  };
};

const STORES: readonly StoreUnderTest[] = [
  { name: 'the SQLite store', start: () => apiHarness() },
  { name: 'the DynamoDB store (dynalite on loopback)', start: onDynamoDb },
];

for (const { name, start } of STORES) {
  describe(`tokens on ${name}`, () => {
    let api: ApiHarness;
    beforeEach(async () => {
      api = await start();
    });
    afterEach(async () => api.close());

    const mint = async (body: Record<string, unknown>) => {
      const answer = await api.request('POST', '/v1/tokens', { token: OPERATOR_SECRET, body });
      expect(answer.status).toBe(201);
      return answer.body as { token: string; id: string; kind: string; createdAt: string };
    };
    const plansOf = (hostId: string, token: string) =>
      api.request('GET', `/v1/agents/${hostId}/plans`, { token });

    it('answers each minted token with the id it is listed by, and lists none of their secrets or hashes', async () => {
      api.clock.now += 60_000;
      const agent = await mint({ hostId: CLIENT, label: 'rack 4' });
      api.clock.now += 60_000;
      const operator = await mint({ kind: 'operator', label: 'alice@ops' });
      expect(agent.id).toMatch(/^tok-[0-9a-f]{16}$/);
      expect(agent.id).toBe(tokenIdOf(hashToken(agent.token)));

      const listed = await api.request('GET', '/v1/tokens', { token: OPERATOR_SECRET });
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual({
        tokens: [
          { id: OPERATOR_ID, kind: 'operator', label: 'ops', createdAt: '2026-11-22T03:40:00.000Z' },
          {
            id: agent.id,
            kind: 'agent',
            hostId: CLIENT,
            label: 'rack 4',
            createdAt: '2026-11-22T03:41:00.000Z',
          },
          { id: operator.id, kind: 'operator', label: 'alice@ops', createdAt: '2026-11-22T03:42:00.000Z' },
        ],
        cursor: null,
      });
      for (const secret of [OPERATOR_SECRET, agent.token, operator.token]) {
        expect(listed.text).not.toContain(secret);
        expect(listed.text).not.toContain(hashToken(secret));
      }
    });

    it('refuses a revoked agent token on its next request (401) while another agent token works on', async () => {
      const revoked = await mint({ hostId: CLIENT });
      api.clock.now += 1_000;
      const kept = await mint({ hostId: OTHER_CLIENT });
      expect((await plansOf(CLIENT, revoked.token)).status).toBe(200);

      const answer = await api.request('DELETE', `/v1/tokens/${revoked.id}`, { token: OPERATOR_SECRET });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ id: revoked.id, kind: 'agent', hostId: CLIENT });

      const refused = await plansOf(CLIENT, revoked.token);
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('unauthorized');
      expect((await plansOf(OTHER_CLIENT, kept.token)).status).toBe(200);
      const listed = await api.request('GET', '/v1/tokens', { token: OPERATOR_SECRET });
      expect(listed.body.tokens.map((token: { id: string }) => token.id)).toEqual([OPERATOR_ID, kept.id]);
    });

    it("revokes another operator's token, and the one that revoked it still works", async () => {
      const colleague = await mint({ kind: 'operator', label: 'bob' });
      expect((await api.request('GET', '/v1/incidents', { token: colleague.token })).status).toBe(200);
      const answer = await api.request('DELETE', `/v1/tokens/${colleague.id}`, { token: OPERATOR_SECRET });
      expect(answer.status).toBe(200);
      expect((await api.request('GET', '/v1/incidents', { token: colleague.token })).status).toBe(401);
      expect((await api.request('GET', '/v1/incidents', { token: OPERATOR_SECRET })).status).toBe(200);
    });

    it('refuses to revoke the token making the request (409), so the last operator token is never lost', async () => {
      const answer = await api.request('DELETE', `/v1/tokens/${OPERATOR_ID}`, { token: OPERATOR_SECRET });
      expect(answer.status).toBe(409);
      expect(answer.body.error).toEqual({
        code: 'conflict',
        message: `${OPERATOR_ID} is the token making this request: revoke it with another operator token, so that one is left to act with`,
      });
      expect((await api.request('GET', '/v1/tokens', { token: OPERATOR_SECRET })).status).toBe(200);

      // With a second operator token, the first one can go.
      const successor = await mint({ kind: 'operator', label: 'successor' });
      expect(
        (await api.request('DELETE', `/v1/tokens/${OPERATOR_ID}`, { token: successor.token })).status,
      ).toBe(200);
      expect((await api.request('GET', '/v1/tokens', { token: OPERATOR_SECRET })).status).toBe(401);
    });

    it('answers 404 in the house error shape for an id no token has, and 400 for one that is not an id', async () => {
      const revoked = await mint({ hostId: CLIENT });
      await api.request('DELETE', `/v1/tokens/${revoked.id}`, { token: OPERATOR_SECRET });
      for (const id of [revoked.id, 'tok-0000000000000000']) {
        const answer = await api.request('DELETE', `/v1/tokens/${id}`, { token: OPERATOR_SECRET });
        expect(answer.status, id).toBe(404);
        expect(answer.body).toEqual({
          error: { code: 'not-found', message: `no token ${id}: see GET /v1/tokens` },
        });
      }
      const malformed = await api.request('DELETE', `/v1/tokens/${revoked.token}`, {
        token: OPERATOR_SECRET,
      });
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.issues[0].path).toEqual(['params', 'id']);
    });

    it('lets no agent token list or revoke tokens, not even its own (403)', async () => {
      const agent = await mint({ hostId: CLIENT });
      for (const [method, path] of [
        ['GET', '/v1/tokens'],
        ['DELETE', `/v1/tokens/${agent.id}`],
        ['DELETE', `/v1/tokens/${OPERATOR_ID}`],
      ] as const) {
        const answer = await api.request(method, path, { token: agent.token });
        expect(answer.status, `${method} ${path}`).toBe(403);
        expect(answer.body.error.code).toBe('forbidden');
      }
      expect((await plansOf(CLIENT, agent.token)).status).toBe(200);
      expect((await api.request('GET', '/v1/tokens', { token: OPERATOR_SECRET })).body.tokens).toHaveLength(
        2,
      );
    });

    it('pages the listing oldest first: each token once, whatever is minted or revoked between pages', async () => {
      const minted = [];
      for (let host = 0; host < 5; host += 1) {
        api.clock.now += 1_000;
        minted.push(await mint({ hostId: `lnxclient${20 + host}.example.net` }));
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${encodeURIComponent(cursor)}`;
        const page = await api.request('GET', `/v1/tokens${query}`, { token: OPERATOR_SECRET });
        expect(page.status).toBe(200);
        expect(page.body.tokens.length).toBeLessThanOrEqual(2);
        seen.push(...page.body.tokens.map((token: { id: string }) => token.id));
        cursor = page.body.cursor;
        pages += 1;
        if (pages === 1) {
          // Revoking a token already shown moves nothing: the cursor names a token, not an offset.
          await api.request('DELETE', `/v1/tokens/${minted[0]?.id}`, { token: OPERATOR_SECRET });
        }
      } while (cursor !== null);
      expect(seen).toEqual([OPERATOR_ID, ...minted.map((token) => token.id)]);
      expect(pages).toBe(3);

      const bad = await api.request('GET', '/v1/tokens?cursor=not-ours', { token: OPERATOR_SECRET });
      expect(bad.status).toBe(400);
      expect(bad.body.error.issues[0].path).toEqual(['query', 'cursor']);
    });
  });
}
