import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { z } from 'zod';
import type { RuntimeConfig } from '../../local/config.ts';

/**
 * The control plane as an operator runs it, for the end-to-end tests: `bin/faultline up` in a child
 * process on 127.0.0.1 with its data folder and `faultline.json` in the test's temporary folder, and
 * the operator CLI (`bin/faultline <command> --url --data`) against it. The timings are shortened so
 * a fleet of simulated hosts heals in seconds, not minutes.
 */

const ROOT = join(import.meta.dirname, '..', '..');
export const FAULTLINE_BIN = join(ROOT, 'bin', 'faultline');
const run = promisify(execFile);

/** How often the control plane sweeps (expiries, escalations, undrained effects) in these tests. */
export const QUICK_SWEEP_SECONDS = 0.2;

/** How often `until` asks again. */
const UNTIL_POLL_MS = 100;

/** `faultline.json` as a person writes it: every field optional. */
export type RuntimeConfigFile = z.input<typeof RuntimeConfig>;

/** Where a test's pages go: a PagerDuty destination at `url`. */
export const pagerDutyAt = (name: string, url: string): RuntimeConfigFile['notify'] => ({
  destinations: [{ name, kind: 'pagerduty', url, routingKey: 'R0UT1NGKEY0123456789abcd' }],
});

/**
 * The shortened timings: a 10 s grouping window and hold-down, a 1 s stability period, no
 * escalation during the test, multipathd's own reinstate delay 5 s, frequent sweeps, 1 s polls.
 */
export const quickHealingConfig = (options: {
  maxPlansInFlight: number;
  notify: RuntimeConfigFile['notify'];
}): RuntimeConfigFile => ({
  core: {
    groupingWindowSeconds: 10,
    holdDownSeconds: 10,
    stabilitySeconds: 1,
    escalateDownSeconds: 3600,
    maxPlansInFlight: options.maxPlansInFlight,
    // The multipath hosts' stuck path: multipathd's own chance to reinstate it, shortened.
    pathReinstateDelaySeconds: 5,
  },
  sweepIntervalSeconds: QUICK_SWEEP_SECONDS,
  queues: { waitTimeSeconds: 1, visibilityTimeoutSeconds: 5 },
  pollSeconds: { active: 1, idle: 5 },
  notify: options.notify,
});

export const writeConfigFile = (path: string, config: RuntimeConfigFile): string => {
  writeFileSync(path, JSON.stringify(config));
  return path;
};

export type FaultlineUp = {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:<port>`, as `faultline up` announced it. */
  readonly url: string;
  /** What it wrote to stderr so far: its warnings and errors, one JSON line each. */
  stderr(): string;
  /** What it wrote to stdout so far: the banner, then its log at `info`. */
  stdout(): string;
  /** SIGTERM (it drains what is in flight) and wait for the exit; nothing when already gone. */
  stop(): Promise<void>;
};

/** Starts `faultline up` on 127.0.0.1 (`port` 0: a free one) and waits until it listens. */
export const startFaultlineUp = async (options: {
  dataDir: string;
  configFile: string;
  port?: number;
}): Promise<FaultlineUp> => {
  const child = spawn(
    FAULTLINE_BIN,
    ['up', '--port', String(options.port ?? 0), '--data', options.dataDir, '--config', options.configFile],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Read all along, from the start (a first start warns on stderr before it listens), so a long
  // run never fills the pipe.
  let errors = '';
  child.stderr?.on('data', (chunk) => {
    errors += chunk;
  });
  let out = '';
  const url = await new Promise<string>((ready, fail) => {
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/\S+)/);
      if (match?.[1]) ready(match[1]);
    });
    child.once('exit', (code) => fail(new Error(`faultline up exited ${code}: ${out}${errors}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  };
  return { child, url, stderr: () => errors, stdout: () => out, stop };
};

/** The operator CLI, as a person runs it, against the control plane at `url` with data in `dataDir`. */
export const operatorCli =
  (url: string, dataDir: string) =>
  async (...args: string[]): Promise<string> =>
    (await run(FAULTLINE_BIN, [...args, '--url', url, '--data', dataDir], { cwd: ROOT })).stdout;

/** Asks `probe` until it answers something, or fails naming `what` after `seconds`. */
export const until = async <T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  seconds = 240,
): Promise<T> => {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(UNTIL_POLL_MS);
  }
};
