import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Plan, planLines, type UnsignedPlan, verifyPlan } from '../../../events/index.ts';
import type { PlanSigner } from '../../../functions/adapters/signer/port.ts';
import type { DecisionRecord } from '../../../functions/adapters/store/port.ts';
import { NEXT_POLL_HEADER } from '../../../functions/api/routes/agents.ts';
import { type EffectPorts, performEffect } from '../../../functions/outbox/effects.ts';
import { API_NOW, type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { planSigner, unsignedPlan } from '../../helpers/api-plans.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';

/**
 * `GET /v1/agents/:hostId/plans?format=lines` (docs/architecture.md §6): the sh agent's plans, each
 * signed over exactly its lines when the outbox issued it, verified here with the real
 * `openssl dgst -sha256 -verify` as the sh agent verifies them.
 */

const LINES_PATH = `/v1/agents/${AGENT_HOST}/plans?format=lines`;

const record: DecisionRecord = {
  id: 'dec-lines',
  attempt: 1,
  status: 'committed',
  at: new Date(API_NOW).toISOString(),
  createdAt: API_NOW,
  about: 'a test decision',
  writes: [],
  effects: [],
  done: [],
};

describe('plans in lines', () => {
  let api: ApiHarness;
  let token: string;
  let ports: EffectPorts;

  /** Issues a plan as the outbox does: signed as JSON and in lines, stored with both. */
  const issue = async (plan: UnsignedPlan, signer: PlanSigner = planSigner(api.folder)): Promise<void> => {
    await performEffect({ ...ports, signer }, record, 0, { type: 'plan.issue', plan });
  };

  /** Splits a lines answer into its plans: each its lines before `sig`, and the signature. */
  const plansOf = (text: string): { lines: string; signature: string }[] =>
    text
      .split('\n\n')
      .filter((block) => block !== '')
      .map((block) => {
        const at = block.lastIndexOf('sig\t');
        return { lines: block.slice(0, at), signature: block.slice(at + 4).replace(/\n$/, '') };
      });

  /** `openssl dgst -sha256 -verify` of `bytes` against the signer's key, as the sh agent runs it. */
  const opensslVerifies = async (bytes: string | Buffer, signature: string): Promise<boolean> => {
    const pub = join(api.folder, 'plans.pub.pem');
    writeFileSync(pub, await planSigner(api.folder).publicKeyPem());
    writeFileSync(join(api.folder, 'plan.sig'), Buffer.from(signature, 'base64'));
    writeFileSync(join(api.folder, 'plan.txt'), bytes);
    try {
      execFileSync(
        'openssl',
        [
          'dgst',
          '-sha256',
          '-verify',
          pub,
          '-signature',
          join(api.folder, 'plan.sig'),
          join(api.folder, 'plan.txt'),
        ],
        { stdio: 'pipe' },
      );
      return true;
    } catch {
      return false;
    }
  };

  beforeEach(async () => {
    api = await apiHarness();
    token = await api.agentToken(AGENT_HOST);
    ports = {
      store: api.store,
      signer: planSigner(api.folder),
      notifyQueue: { send: async () => ({ messageId: 'n' }) },
      followUp: async () => undefined,
    };
  });
  afterEach(async () => api.close());

  it('serves each plan in lines with a signature the real openssl verifies, and refuses a one-byte change', async () => {
    const first = unsignedPlan({ hostId: AGENT_HOST, issuedAt: API_NOW - 2000, id: 'pln-lines-1' });
    const second = unsignedPlan({ hostId: AGENT_HOST, issuedAt: API_NOW - 1000, id: 'pln-lines-2' });
    await issue(first);
    await issue(second);

    const answer = await api.request('GET', LINES_PATH, { token });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(answer.headers.get(NEXT_POLL_HEADER)).toBe('5');
    const served = plansOf(answer.text);
    expect(served.map((plan) => plan.lines)).toEqual([planLines(first), planLines(second)]);
    expect(answer.text).toBe(
      `${planLines(first)}sig\t${served[0]?.signature}\n\n${planLines(second)}sig\t${served[1]?.signature}\n`,
    );

    for (const plan of served) expect(await opensslVerifies(plan.lines, plan.signature)).toBe(true);
    const [plan] = served;
    if (plan === undefined) throw new Error('no plan served');
    const bytes = Buffer.from(plan.lines, 'utf8');
    for (const at of [0, 5, bytes.length - 2]) {
      const changed = Buffer.from(bytes);
      changed[at] = (changed[at] ?? 0) ^ 0x01;
      expect(await opensslVerifies(changed, plan.signature)).toBe(false);
    }
    // A plan's signature does not verify another plan's lines.
    expect(await opensslVerifies(planLines(second), plan.signature)).toBe(false);
  });

  it('leaves the JSON plans exactly as they were: no lines signature inside them', async () => {
    const plan = unsignedPlan({ hostId: AGENT_HOST, issuedAt: API_NOW - 1000 });
    await issue(plan);
    const answer = await api.request('GET', `/v1/agents/${AGENT_HOST}/plans`, { token });
    expect(answer.status).toBe(200);
    expect(answer.body.nextPollSeconds).toBe(5);
    const [served] = answer.body.plans as Plan[];
    expect(Object.keys(served ?? {}).sort()).toEqual([...Object.keys(plan), 'signature'].sort());
    expect(served).toEqual({ ...plan, signature: served?.signature });
    expect(verifyPlan(served as Plan, await planSigner(api.folder).publicKeyPem())).toBe(true);
    expect((await api.store.getPlan(plan.id))?.linesSignature).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('serves a plan stored without a lines signature (issued before lines) as JSON only, and answers an empty body when none is left', async () => {
    await api.store.putPlan(
      await planSigner(api.folder).sign(
        unsignedPlan({ hostId: AGENT_HOST, issuedAt: API_NOW - 1000, id: 'pln-json-only' }),
      ),
    );
    expect((await api.store.getPlan('pln-json-only'))?.linesSignature).toBeUndefined();
    const lines = await api.request('GET', LINES_PATH, { token });
    expect(lines.status).toBe(200);
    expect(lines.text).toBe('');
    const json = await api.request('GET', `/v1/agents/${AGENT_HOST}/plans`, { token });
    expect(json.body.plans.map((plan: Plan) => plan.id)).toEqual(['pln-json-only']);
    const idle = await api.request('GET', '/v1/agents/ldg9/plans?format=lines', { token: OPERATOR_SECRET });
    expect(idle.text).toBe('');
    expect(idle.headers.get(NEXT_POLL_HEADER)).toBe('60');
  });

  it("refuses another host's plans in lines (403) and a format it does not know (400)", async () => {
    await issue(unsignedPlan({ hostId: 'ldg2', issuedAt: API_NOW - 1000 }));
    const other = await api.request('GET', '/v1/agents/ldg2/plans?format=lines', { token });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('forbidden');
    const unknown = await api.request('GET', `/v1/agents/${AGENT_HOST}/plans?format=xml`, { token });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.issues[0].path).toEqual(['query', 'format']);
  });

  it('documents the lines answer and the collect route in /openapi.json', async () => {
    const answer = await api.request('GET', '/openapi.json', { token: OPERATOR_SECRET });
    const plans = answer.body.paths['/v1/agents/{hostId}/plans'].get;
    expect(Object.keys(plans.responses['200'].content).sort()).toEqual(['application/json', 'text/plain']);
    expect(plans.parameters.map((parameter: { name: string }) => parameter.name)).toContain('format');
    const collect = answer.body.paths['/v1/agents/{hostId}/collect'].post;
    expect(Object.keys(collect.requestBody.content)).toEqual(['text/plain']);
    expect(collect.responses['202'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/CollectAnswer',
    });
    expect(Object.keys(collect.responses).sort()).toEqual([
      '202',
      '400',
      '401',
      '403',
      '413',
      '415',
      '429',
      '503',
    ]);
  });
});
