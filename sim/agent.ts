import { resolveAgentConfig } from '../agent/config.ts';
import { HttpPlanSource, type PlanSource } from '../agent/executor/plan-fetcher.ts';
import { createPlanRunner } from '../agent/executor/plan-runner.ts';
import type { RunProgram } from '../agent/executor/programs.ts';
import type { Clock, ExecutorTiming } from '../agent/executor/step-context.ts';
import type { WriteSysfs } from '../agent/executor/sysfs.ts';
import { type AgentDependencies, type RunningAgent, startAgent } from '../agent/loop/agent-loop.ts';
import { createTransport, type Transport } from '../agent/publish/proxy-tunnel.ts';
import { type PlanAction, type Platform, parsePlan } from '../events/index.ts';
import type { TopologyOverrides } from '../probes/topology.ts';

/**
 * The real agent with its guarded executor over one simulated host: what every host of the demo
 * runs, whatever its storage. Plans come from the control plane's HTTP API through the agent's own
 * plan source, watched so the demo can show the canary and the waves.
 */

export type SimAgentTimings = {
  scanSeconds: number;
  heartbeatSeconds: number;
  longPollSeconds: number;
  executor: ExecutorTiming;
};

export type SimAgentSpec = {
  hostId: string;
  platform: Platform;
  host: { root: string; stateDir: string; fallbackStateDir: string; stopFile: string };
  topology?: TopologyOverrides;
  url: string;
  agentToken: string;
  planPublicKeyPem: string;
  timings: SimAgentTimings;
  runProgram: RunProgram;
  writeSysfs: WriteSysfs;
  clock: Clock;
  dependencies: Omit<AgentDependencies, 'planRunner'>;
  /** Whether this agent already ran the plan (its executor's ledger would refuse it again). */
  alreadyRan: (planId: string) => boolean;
  /** A plan the control plane served again after it ran (its healthy report not yet correlated). */
  onServedAgain: (planId: string) => void;
  /** A plan fetched, with the actions of its steps and fast path (none when it does not parse: the executor refuses it). */
  onFetched: (planId: string, wave: number, actions: readonly PlanAction[]) => void;
};

/** The actions a fetched plan carries, in its steps then its fast path; none when it does not parse. */
const plannedActions = (plan: unknown): PlanAction[] => {
  const parsed = parsePlan(plan);
  if (!parsed.ok) return [];
  return [...parsed.value.steps, ...(parsed.value.fastPath ?? [])].map((step) => step.action);
};

export const startSimAgent = async (
  spec: SimAgentSpec,
): Promise<{ agent: RunningAgent; transport: Transport }> => {
  const config = resolveAgentConfig(
    {
      hostId: spec.hostId,
      role: 'client',
      platform: spec.platform,
      root: spec.host.root,
      targets: { api: { url: spec.url, agentToken: spec.agentToken } },
      planPublicKey: spec.planPublicKeyPem,
      stateDir: spec.host.stateDir,
      fallbackStateDir: spec.host.fallbackStateDir,
      stopFile: spec.host.stopFile,
      ...(spec.topology === undefined ? {} : { topology: spec.topology }),
      intervals: { scanSeconds: spec.timings.scanSeconds, heartbeatSeconds: spec.timings.heartbeatSeconds },
      retry: { initialSeconds: 0.25, maxSeconds: 2 },
      requestTimeoutSeconds: 30,
    },
    `demo:${spec.hostId}`,
  );
  const transport = createTransport({ connectTimeoutMs: config.requestTimeoutSeconds * 1000 });
  const http = new HttpPlanSource({
    target: { url: spec.url, agentToken: spec.agentToken },
    hostId: spec.hostId,
    transport,
    requestTimeoutMs: config.requestTimeoutSeconds * 1000,
  });
  // A plan this agent already ran and the control plane serves again is kept from the executor:
  // its ledger would refuse it as `already-run`. Counted and shown by the demo, not hidden.
  const source: PlanSource = {
    fetchPlans: async (request) => {
      const poll = await http.fetchPlans(request);
      const fresh = (poll.plans as { id?: unknown; wave?: unknown }[]).filter((plan) => {
        if (typeof plan?.id !== 'string') return true;
        if (spec.alreadyRan(plan.id)) {
          spec.onServedAgain(plan.id);
          return false;
        }
        spec.onFetched(plan.id, typeof plan.wave === 'number' ? plan.wave : -1, plannedActions(plan));
        return true;
      });
      return { ...poll, plans: fresh };
    },
    close: () => http.close(),
  };
  const planRunner = createPlanRunner({
    source,
    platform: spec.platform,
    runProgram: spec.runProgram,
    writeSysfs: spec.writeSysfs,
    clock: spec.clock,
    timing: spec.timings.executor,
    longPollSeconds: spec.timings.longPollSeconds,
  });
  const agent = await startAgent(config, { ...spec.dependencies, planRunner });
  return { agent, transport };
};
