import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Plan, verifyPlan } from '../../../events/index.ts';
import { freshHost } from '../../../functions/core/index.ts';
import { API_NOW, type ApiHarness, apiHarness } from '../../helpers/api-harness.ts';
import { planSigner, signedPlan, unsignedPlan } from '../../helpers/api-plans.ts';
import { AGENT_HOST } from '../../helpers/api-routes.ts';

const PLANS_PATH = `/v1/agents/${AGENT_HOST}/plans`;

const hostPlan = (
  plan: Plan,
  status: 'issued' | 'started' | 'succeeded' | 'failed' | 'refused' | 'revoked',
) => ({
  id: plan.id,
  incidentId: plan.incidentId,
  failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios2',
  wave: plan.wave,
  mode: plan.mode,
  issuedAt: plan.issuedAt,
  status,
  stepCount: plan.steps.length,
  fastPathCount: plan.fastPath?.length ?? 0,
  changed: [],
  lastProgressAt: plan.issuedAt,
});

describe('GET /v1/agents/:hostId/plans', () => {
  let api: ApiHarness;
  let token: string;

  beforeEach(async () => {
    api = await apiHarness();
    token = await api.agentToken(AGENT_HOST);
  });
  afterEach(async () => api.close());

  it('answers the host plans signed, and verifyPlan accepts them with the public key', async () => {
    const plan = await signedPlan(api.folder, { hostId: AGENT_HOST, issuedAt: API_NOW - 1000 });
    await api.store.putPlan(plan);
    const answer = await api.request('GET', PLANS_PATH, { token });
    expect(answer.status).toBe(200);
    expect(answer.body.plans).toEqual([plan]);
    expect(answer.body.nextPollSeconds).toBe(5);
    const publicKey = await planSigner(api.folder).publicKeyPem();
    expect(verifyPlan(answer.body.plans[0], publicKey)).toBe(true);
    const tampered = { ...answer.body.plans[0], mode: 'dry-run' };
    expect(verifyPlan(tampered, publicKey)).toBe(false);
  });

  it('offers a plan the host slice has forgotten only while its part in the incident names it', async () => {
    const signer = planSigner(api.folder);
    const plan = await signer.sign(
      unsignedPlan({ hostId: AGENT_HOST, id: 'pln-forgotten', issuedAt: API_NOW - 60_000 }),
    );
    await api.store.putPlan(plan);
    const episode = {
      incidentId: plan.incidentId,
      failureDomain: 'vscsi:sys/vios2',
      status: 'planned' as const,
      joinedAt: new Date(API_NOW).toISOString(),
      attempt: 1,
      planId: plan.id,
    };
    await api.putHost(AGENT_HOST, { ...freshHost(AGENT_HOST), episodes: { [plan.incidentId]: episode } });
    expect(
      (await api.request('GET', PLANS_PATH, { token })).body.plans.map((served: Plan) => served.id),
    ).toEqual([plan.id]);
    // The incident ended: the host slice forgot its part in it and its plans; the plan is not served again.
    await api.putHost(AGENT_HOST, freshHost(AGENT_HOST));
    expect((await api.request('GET', PLANS_PATH, { token })).body.plans).toEqual([]);
  });

  it('leaves out revoked, expired, finished and other hosts plans', async () => {
    const signer = planSigner(api.folder);
    const current = await signer.sign(
      unsignedPlan({ hostId: AGENT_HOST, id: 'pln-current', issuedAt: API_NOW - 60_000 }),
    );
    const started = await signer.sign(
      unsignedPlan({ hostId: AGENT_HOST, id: 'pln-started', issuedAt: API_NOW - 50_000 }),
    );
    const succeeded = await signer.sign(
      unsignedPlan({ hostId: AGENT_HOST, id: 'pln-done', issuedAt: API_NOW - 40_000 }),
    );
    const revoked = await signer.sign(
      unsignedPlan({ hostId: AGENT_HOST, id: 'pln-revoked', issuedAt: API_NOW - 30_000 }),
    );
    const expired = await signer.sign(
      unsignedPlan({ hostId: AGENT_HOST, id: 'pln-expired', issuedAt: API_NOW - 3_600_000, ttlSeconds: 900 }),
    );
    const foreign = await signer.sign(
      unsignedPlan({ hostId: 'lnxclient08.example.net', id: 'pln-other', issuedAt: API_NOW }),
    );
    for (const plan of [current, started, succeeded, revoked, expired, foreign])
      await api.store.putPlan(plan);
    await api.store.revokePlan(revoked.id, AGENT_HOST, new Date(API_NOW).toISOString());
    await api.putHost(AGENT_HOST, {
      plans: {
        [current.id]: hostPlan(current, 'issued'),
        [started.id]: hostPlan(started, 'started'),
        [succeeded.id]: hostPlan(succeeded, 'succeeded'),
      },
    });
    const answer = await api.request('GET', PLANS_PATH, { token });
    expect(answer.body.plans.map((plan: Plan) => plan.id)).toEqual(['pln-current', 'pln-started']);
  });

  it('asks an idle agent to poll every minute and one waiting in an incident every few seconds', async () => {
    expect((await api.request('GET', PLANS_PATH, { token })).body.nextPollSeconds).toBe(60);
    await api.putHost(AGENT_HOST, {
      ...freshHost(AGENT_HOST),
      episodes: {
        'inc-1': {
          incidentId: 'inc-1',
          failureDomain: 'vscsi:sys/vios2',
          status: 'waiting',
          joinedAt: new Date(API_NOW).toISOString(),
          attempt: 0,
        },
      },
    });
    const waiting = await api.request('GET', PLANS_PATH, { token });
    expect(waiting.body).toEqual({ plans: [], nextPollSeconds: 5 });
  });

  it('answers at once, ignoring ?wait=, where the deployment holds no request open (Lambda)', async () => {
    const answer = await api.request('GET', `${PLANS_PATH}?wait=20`, { token });
    expect(answer.status).toBe(200);
    expect(answer.body.plans).toEqual([]);
  });

  it('refuses a wait beyond 20 seconds or not a whole number', async () => {
    for (const wait of ['21', '-1', '1.5', 'soon', '']) {
      const answer = await api.request('GET', `${PLANS_PATH}?wait=${wait}`, { token });
      expect(answer.status, wait).toBe(400);
      expect(answer.body.error.issues[0].path).toEqual(['query', 'wait']);
    }
  });

  describe('with long polling (the local runtime)', () => {
    let poll: ApiHarness;
    let pollToken: string;
    const wakes: number[] = [];

    beforeEach(async () => {
      wakes.length = 0;
      poll = await apiHarness({
        longPoll: {
          maxWaitSeconds: 20,
          intervalMs: 1000,
          wake: async (hostId, timeoutMs) => {
            wakes.push(timeoutMs);
            poll.clock.now += timeoutMs;
            if (wakes.length === 3) {
              await poll.store.putPlan(await signedPlan(poll.folder, { hostId, issuedAt: poll.clock.now }));
            }
          },
        },
      });
      pollToken = await poll.agentToken(AGENT_HOST);
    });
    afterEach(async () => poll.close());

    it('holds the request until a plan is stored, then answers it', async () => {
      const answer = await poll.request('GET', `${PLANS_PATH}?wait=20`, { token: pollToken });
      expect(answer.body.plans).toHaveLength(1);
      expect(wakes).toEqual([1000, 1000, 1000]);
    });

    it('gives up when the wait is over', async () => {
      const answer = await poll.request('GET', `${PLANS_PATH}?wait=2`, { token: pollToken });
      expect(answer.body.plans).toEqual([]);
      expect(wakes).toEqual([1000, 1000]);
    });

    it('answers at once without ?wait=', async () => {
      await poll.request('GET', PLANS_PATH, { token: pollToken });
      expect(wakes).toEqual([]);
    });
  });
});
