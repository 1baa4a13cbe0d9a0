import type { HostSnapshot, PlanAction } from '../../events/index.ts';
import type { AgentConfig } from '../config.ts';
import type { EventSink } from '../detect/event-sink.ts';
import type { AgentIdentity } from '../identity.ts';
import type { AgentLog } from '../state/agent-log.ts';

/**
 * The seam between the agent's loop and the executor: the loop calls `poll` repeatedly, and the
 * runner (agent/executor/plan-runner.ts) fetches plans, verifies and runs them, reporting through
 * `context.sink`. With no runner the agent only observes and reports.
 */
export interface PlanRunner {
  /** The plan actions this agent can run; heartbeats report them as `capabilities`. */
  readonly capabilities: readonly PlanAction[];
  /**
   * Fetches and runs what plans there are; resolves with the seconds until the next poll (the
   * API's `nextPollSeconds`). The loop polls again at once when the API says plans wait.
   */
  poll(context: PlanRunnerContext): Promise<{ nextPollSeconds: number }>;
}

/** What the loop gives the plan runner. */
export type PlanRunnerContext = {
  config: AgentConfig;
  identity: AgentIdentity;
  /** `command.progress` and `disk.probed` go here (with their `planid`). */
  sink: EventSink;
  log: AgentLog;
  /** The last snapshot the loop diffed. */
  latestSnapshot: () => HostSnapshot | undefined;
  /** Scans and diffs now (a step's effect shows at once); resolves with the new snapshot. */
  scanNow: (reason: string) => Promise<HostSnapshot | undefined>;
  /**
   * While a plan runs, detection's events carry its id as `planid`, so the cloud never takes
   * Faultline's own work (an `md.fail`) for a new fault. Undefined when no plan runs.
   */
  attributeTo: (planId: string | undefined) => void;
  /** Aborted when the agent stops: abandon waits. */
  signal: AbortSignal;
};
