import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfigFile } from '../../agent/config.ts';

/**
 * The agent as an operator runs it: `bin/faultline-agent` in a child process (from the checkout,
 * through tsx), with its configuration in a file. The test reads its log from stderr and stops it
 * with the signal systemd sends.
 */

export const AGENT_BIN = join(import.meta.dirname, '..', '..', 'bin', 'faultline-agent');

export type AgentProcess = {
  readonly child: ChildProcess;
  /** Everything the agent logged so far. */
  log(): string;
  /** Resolves with the exit code (or the signal) once the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

export const writeAgentConfig = (path: string, config: AgentConfigFile): string => {
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
};

/** Starts `faultline-agent <args>` from the checkout. */
export const spawnAgent = (args: readonly string[]): AgentProcess => {
  const child = spawn(process.execPath, [AGENT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, log: () => output, exited };
};

/** Runs `faultline-agent <args>` to its end. */
export const runAgentCommand = async (
  args: readonly string[],
): Promise<{ code: number | null; log: string }> => {
  const started = spawnAgent(args);
  const { code } = await started.exited;
  return { code, log: started.log() };
};
