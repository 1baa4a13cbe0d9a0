import { afterEach, describe, expect, it } from 'vitest';
import { type AgentConfig, resolveAgentConfig } from '../../../agent/config.ts';
import { hostObserver } from '../../../agent/detect/host-observer.ts';
import { PlanFetchError } from '../../../agent/executor/errors.ts';
import { HttpPlanSource, type PlanPoll, type PlanSource } from '../../../agent/executor/plan-fetcher.ts';
import { capabilitiesFor, createPlanRunner } from '../../../agent/executor/plan-runner.ts';
import { startAgent } from '../../../agent/loop/agent-loop.ts';
import type { PlanRunnerContext } from '../../../agent/loop/plan-runner.ts';
import { createTransport } from '../../../agent/publish/proxy-tunnel.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { type FaultlineEvent, parseEvent, signPlan } from '../../../events/index.ts';
import { AGENT_TOKEN, agentConfigFile } from '../../helpers/agent-config.ts';
import {
  type ApiHandler,
  type EventsApi,
  makeTestCertificate,
  startConnectProxy,
  startEventsApi,
  startHttpsEventsApi,
} from '../../helpers/agent-http.ts';
import { waitUntil } from '../../helpers/agent-wait.ts';
import { type FakeHost, fakeMdClient, recordingSink } from '../../helpers/fake-host.ts';
import { FAKE_TIMING } from './field-case.ts';
import { fastPathPlan, KEYS, LAYOUT } from './harness.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const fakeHost = (remote: 'back' | 'offline' = 'back'): FakeHost => {
  const host = fakeMdClient(LAYOUT, remote);
  cleanups.push(() => host.remove());
  return host;
};

const api = async (handler: ApiHandler): Promise<EventsApi> => {
  const started = await startEventsApi(handler);
  cleanups.push(() => started.stop());
  return started;
};

const publicKeyPem = KEYS.publicKey.export({ type: 'spki', format: 'pem' }).toString();

const configFor = (host: FakeHost, url: string, overrides: Record<string, unknown> = {}): AgentConfig =>
  resolveAgentConfig(
    agentConfigFile({
      hostId: LAYOUT.hostId,
      root: host.root,
      stateDir: host.stateDir,
      fallbackStateDir: host.fallbackStateDir,
      stopFile: host.stopFile,
      targets: { api: { url, agentToken: AGENT_TOKEN } },
      planPublicKey: publicKeyPem,
      intervals: { scanSeconds: 3600, heartbeatSeconds: 3600 },
      retry: { initialSeconds: 0.02, maxSeconds: 0.2 },
      ...overrides,
    }),
    'agent.json',
  );

/** The loop's context for a direct `poll`. */
const contextFor = (host: FakeHost, config: AgentConfig) => {
  const model = host.model();
  const sink = recordingSink({ hostId: model.hostId, bootId: model.bootId }, host.clock.now);
  const attributed: (string | undefined)[] = [];
  const scans: string[] = [];
  const abort = new AbortController();
  cleanups.push(() => abort.abort());
  const context: PlanRunnerContext = {
    config,
    identity: { hostId: model.hostId, bootId: model.bootId, instanceId: 'i-1', machineId: undefined },
    sink,
    log: memoryLog(),
    latestSnapshot: () => undefined,
    scanNow: async (reason) => {
      scans.push(reason);
      return undefined;
    },
    attributeTo: (planId) => attributed.push(planId),
    signal: abort.signal,
  };
  return { context, sink, attributed, scans };
};

/** A plan source that serves the given answers in turn, then nothing. */
const servedPlans = (...answers: (PlanPoll | Error)[]): PlanSource & { waits: number[] } => {
  const waits: number[] = [];
  return {
    waits,
    fetchPlans: async ({ waitSeconds }) => {
      waits.push(waitSeconds);
      const next = answers.shift() ?? { plans: [], nextPollSeconds: 60, receivedAt: new Date() };
      if (next instanceof Error) throw next;
      return next;
    },
    close: () => undefined,
  };
};

describe('HttpPlanSource', () => {
  it('asks GET /v1/agents/:hostId/plans with the agent token and a long-poll wait, and reads {plans, nextPollSeconds}', async () => {
    const server = await api(() => ({ status: 200, body: { plans: [{ id: 'p1' }], nextPollSeconds: 7 } }));
    const transport = createTransport({ connectTimeoutMs: 5_000 });
    cleanups.push(() => transport.close());
    const source = new HttpPlanSource({
      target: { url: `${server.url}/`, agentToken: AGENT_TOKEN },
      hostId: LAYOUT.hostId,
      transport,
      requestTimeoutMs: 5_000,
      clock: () => new Date('2026-11-22T03:13:00Z'),
    });
    const poll = await source.fetchPlans({ waitSeconds: 20 });
    expect(poll).toEqual({
      plans: [{ id: 'p1' }],
      nextPollSeconds: 7,
      receivedAt: new Date('2026-11-22T03:13:00Z'),
    });
    expect(server.requests[0]).toMatchObject({
      method: 'GET',
      url: `/v1/agents/${LAYOUT.hostId}/plans?wait=20`,
      headers: expect.objectContaining({ authorization: `Bearer ${AGENT_TOKEN}` }),
    });
    await source.fetchPlans({ waitSeconds: 0 });
    expect(server.requests[1]?.url).toBe(`/v1/agents/${LAYOUT.hostId}/plans`);
  });

  it('fails with the API error, or when the answer is not plans', async () => {
    let answer: { status: number; body?: unknown } = {
      status: 403,
      body: { error: { code: 'forbidden', message: 'this token reads its own host only' } },
    };
    const server = await api(() => answer);
    const transport = createTransport({ connectTimeoutMs: 5_000 });
    cleanups.push(() => transport.close());
    const source = new HttpPlanSource({
      target: { url: server.url, agentToken: AGENT_TOKEN },
      hostId: LAYOUT.hostId,
      transport,
      requestTimeoutMs: 5_000,
    });
    const refused = await source.fetchPlans({ waitSeconds: 0 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PlanFetchError);
    expect(refused).toMatchObject({ status: 403, retryable: true });
    expect((refused as Error).message).toContain('forbidden: this token reads its own host only');
    answer = { status: 200, body: { plans: 'none' } };
    await expect(source.fetchPlans({ waitSeconds: 0 })).rejects.toThrow('not {plans, nextPollSeconds}');
  });

  it('goes through the configured proxy with CONNECT and trusts the configured CA', async () => {
    const certificate = makeTestCertificate();
    const server = await startHttpsEventsApi(
      () => ({ status: 200, body: { plans: [], nextPollSeconds: 30 } }),
      certificate,
    );
    cleanups.push(() => server.stop());
    const proxy = await startConnectProxy();
    cleanups.push(() => proxy.stop());
    const transport = createTransport({
      proxy: proxy.url,
      caCertificates: certificate.caCert,
      connectTimeoutMs: 5_000,
    });
    cleanups.push(() => transport.close());
    const source = new HttpPlanSource({
      target: { url: server.url, agentToken: AGENT_TOKEN },
      hostId: LAYOUT.hostId,
      transport,
      requestTimeoutMs: 5_000,
    });
    expect((await source.fetchPlans({ waitSeconds: 0 })).nextPollSeconds).toBe(30);
    expect(proxy.tunnels).toEqual([new URL(server.url).host]);
  });
});

describe('createPlanRunner', () => {
  it('reports the actions of its platform as capabilities', () => {
    expect(createPlanRunner().capabilities).toEqual(capabilitiesFor('linux'));
    expect(createPlanRunner({ platform: 'solaris' }).capabilities).toEqual([
      'disk.probe',
      'svm.metareplace',
      'svm.wait-sync',
      'svm.metadb-restore',
    ]);
    expect(createPlanRunner({ platform: 'aix' }).capabilities).toEqual([]);
  });

  it('runs the plans a poll brings, attributing detection to the plan, then asks again soon', async () => {
    const host = fakeHost('back');
    const plan = signPlan(fastPathPlan(host), KEYS.privateKey);
    const source = servedPlans({
      plans: [plan],
      nextPollSeconds: 30,
      receivedAt: new Date(host.clock.now()),
    });
    const runner = createPlanRunner({
      source,
      searchPath: host.searchPath,
      writeSysfs: host.writeSysfs,
      clock: host.clock,
      timing: FAKE_TIMING,
      longPollSeconds: 15,
    });
    const { context, sink, attributed, scans } = contextFor(host, configFor(host, 'http://127.0.0.1:9'));
    expect(await runner.poll(context)).toEqual({ nextPollSeconds: 1 });
    expect(source.waits).toEqual([15]);
    expect(attributed).toEqual([plan.id, undefined]);
    expect(scans).toContain(`plan ${plan.id} finished`);
    expect(scans.filter((reason) => reason.startsWith(`plan ${plan.id} step`)).length).toBe(2);
    expect(host.actions()).toEqual([
      ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--re-add', '/dev/sdb1'],
    ]);
    expect(sink.events.every((event) => event.planid === plan.id)).toBe(true);
    // Idle: the control plane's pace.
    expect(await runner.poll(context)).toEqual({ nextPollSeconds: 60 });
  });

  it('reports a refused plan once, however often the control plane serves it again', async () => {
    const host = fakeHost('back');
    const plan = signPlan(fastPathPlan(host, { hostId: 'lnxclient08.example.net' }), KEYS.privateKey);
    const poll = (): PlanPoll => ({
      plans: [plan],
      nextPollSeconds: 5,
      receivedAt: new Date(host.clock.now()),
    });
    const runner = createPlanRunner({ source: servedPlans(poll(), poll(), poll()), clock: host.clock });
    const { context, sink } = contextFor(host, configFor(host, 'http://127.0.0.1:9'));
    for (let round = 0; round < 3; round += 1)
      expect(await runner.poll(context)).toEqual({ nextPollSeconds: 5 });
    const refusals = sink.events.filter((event) => event.type === 'command.progress');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]?.data).toMatchObject({ outcome: 'refused', code: 'wrong-host' });
    expect(host.actions()).toEqual([]);
  });

  it('backs off after a failed poll, up to the heartbeat interval', async () => {
    const host = fakeHost('back');
    const failure = new PlanFetchError('http://127.0.0.1:9/v1/agents/x/plans', undefined, 'ECONNREFUSED');
    const runner = createPlanRunner({ source: servedPlans(failure, failure, failure, failure, failure) });
    const { context } = contextFor(
      host,
      configFor(host, 'http://127.0.0.1:9', { intervals: { heartbeatSeconds: 30 } }),
    );
    const waits: number[] = [];
    for (let round = 0; round < 5; round += 1) waits.push((await runner.poll(context)).nextPollSeconds);
    expect(waits).toEqual([5, 10, 20, 30, 30]);
    expect(context.log).toBeDefined();
  });

  it('fetches nothing and runs nothing without an API target', async () => {
    const host = fakeHost('back');
    const config = resolveAgentConfig(
      agentConfigFile({ root: host.root, stateDir: host.stateDir }),
      'agent.json',
    );
    const { context } = contextFor(host, config);
    const runner = createPlanRunner();
    expect(await runner.poll(context)).toEqual({ nextPollSeconds: config.intervals.heartbeatSeconds });
  });
});

describe('the executor in the agent loop', () => {
  it('fetches a plan from the API, runs it on the host and sends every event with the plan id', async () => {
    const host = fakeHost('back');
    const plan = signPlan(fastPathPlan(host), KEYS.privateKey);
    let served = false;
    const events: FaultlineEvent[] = [];
    const server = await api((request) => {
      if (request.method === 'GET') {
        const plans = served ? [] : [plan];
        served = true;
        return { status: 200, body: { plans, nextPollSeconds: 3600 } };
      }
      const batch = JSON.parse(request.body) as unknown[];
      for (const body of batch) {
        const parsed = parseEvent(body);
        if (parsed.ok) events.push(parsed.value);
      }
      return {
        status: 202,
        body: { accepted: batch.map((body) => (body as { id: string }).id), rejected: [] },
      };
    });
    const config = configFor(host, server.url);
    const log = memoryLog();
    const planRunner = createPlanRunner({
      platform: config.platform,
      searchPath: host.searchPath,
      writeSysfs: host.writeSysfs,
      clock: host.clock,
      timing: FAKE_TIMING,
      longPollSeconds: 1,
    });
    const agent = await startAgent(config, { ...hostObserver(config, log), log, planRunner });
    cleanups.push(() => agent.stop());
    await waitUntil(
      () =>
        events.some(
          (event) =>
            event.type === 'command.progress' &&
            event.data.action === 'md.wait-sync' &&
            event.data.outcome !== 'started',
        ),
      'the plan to finish',
    );
    await agent.stop();
    const progress = events.filter((event) => event.type === 'command.progress');
    expect(
      progress.map(
        (event) =>
          event.type === 'command.progress' && [event.data.step, event.data.branch, event.data.outcome],
      ),
    ).toEqual([
      [0, 'steps', 'started'],
      [0, 'steps', 'succeeded'],
      [0, 'fastPath', 'started'],
      [0, 'fastPath', 'succeeded'],
      [1, 'fastPath', 'started'],
      [1, 'fastPath', 'succeeded'],
      [2, 'fastPath', 'started'],
      [2, 'fastPath', 'succeeded'],
    ]);
    expect(progress.every((event) => event.planid === plan.id)).toBe(true);
    expect(events.find((event) => event.type === 'disk.probed')?.planid).toBe(plan.id);
    const heartbeat = events.find((event) => event.type === 'host.heartbeat');
    expect(heartbeat?.type === 'host.heartbeat' && heartbeat.data.capabilities).toEqual(
      capabilitiesFor('linux'),
    );
    const get = server.requests.find((request) => request.method === 'GET');
    expect(get?.url).toBe(`/v1/agents/${LAYOUT.hostId}/plans?wait=1`);
    expect(get?.headers.authorization).toBe(`Bearer ${AGENT_TOKEN}`);
    expect(
      Object.values(host.model().arrays).every((array) =>
        array.members.every((member) => member.state === 'in_sync'),
      ),
    ).toBe(true);
  });
});
