import { readFileSync } from 'node:fs';
import { type AgentConfig, ConfigError, DEFAULT_CONFIG_PATH, loadAgentConfig } from '../config.ts';
import { createPlanRunner } from '../executor/plan-runner.ts';
import {
  AgentAlreadyRunningError,
  type AgentDependencies,
  type RunningAgent,
  startAgent,
} from '../loop/agent-loop.ts';
import { type AgentLog, streamLog } from '../state/agent-log.ts';
import { EXIT } from './exit.ts';

/** `faultline-agent run --config agent.json` (§6): the loop of agent/loop/ with the live host and the executor. */

const USAGE = 'usage: faultline-agent run [--config /etc/faultline/agent.json]\n';

/** Reads `--config FILE` (or `--config=FILE`); undefined when the arguments are not that. */
export const parseRunArguments = (args: readonly string[]): { configPath: string } | undefined => {
  if (args.length === 0) return { configPath: DEFAULT_CONFIG_PATH };
  const [flag, value, ...rest] = args;
  if (flag === '--config' && value !== undefined && rest.length === 0) return { configPath: value };
  if (flag?.startsWith('--config=') && args.length === 1)
    return { configPath: flag.slice('--config='.length) };
  return undefined;
};

/** The scan of a live agent: the probes over the configured root. */
const liveDependencies = async (
  config: AgentConfig,
  log: AgentLog,
): Promise<Pick<AgentDependencies, 'observe' | 'examine'>> => {
  const { hostObserver } = await import('../detect/host-observer.ts');
  return hostObserver(config, log);
};

export const run = async (args: readonly string[]): Promise<number> => {
  const parsed = parseRunArguments(args);
  if (parsed === undefined) {
    process.stderr.write(USAGE);
    return EXIT.usage;
  }
  let config: AgentConfig;
  try {
    config = loadAgentConfig(parsed.configPath, (path) => readFileSync(path, 'utf8'));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `faultline-agent run: invalid configuration\n${error.issues.map((issue) => `  ${error.source}: ${issue}\n`).join('')}`,
      );
      return EXIT.usage;
    }
    throw error;
  }
  const log = streamLog();
  // The handlers go in before the agent takes its lock: from then on `hook` may send SIGUSR2,
  // whose default action would kill the process (SIGUSR1 belongs to Node's inspector).
  let agent: RunningAgent | undefined;
  let stopSignal: NodeJS.Signals | undefined;
  const onStop = (signal: NodeJS.Signals) => {
    log.info(`${signal}: stopping`);
    stopSignal = signal;
    void agent?.stop();
  };
  // SIGUSR2: a hook asks for a scan, or `announce` for an announcement (agent/serve/).
  const onScanRequest = () => {
    agent?.requestsPending();
  };
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  process.on('SIGUSR2', onScanRequest);
  try {
    // The guarded executor (agent/executor/): plans fetched from the API, verified, then run step by step.
    const planRunner = createPlanRunner({ platform: config.platform });
    agent = await startAgent(config, { ...(await liveDependencies(config, log)), log, planRunner });
    if (stopSignal !== undefined) void agent.stop();
    await agent.stopped;
  } catch (error) {
    if (error instanceof AgentAlreadyRunningError) {
      log.error(error.message);
      return EXIT.failure;
    }
    throw error;
  } finally {
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    process.off('SIGUSR2', onScanRequest);
  }
  return EXIT.ok;
};
