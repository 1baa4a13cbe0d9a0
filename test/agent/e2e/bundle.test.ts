import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostSnapshot, parseEvent } from '../../../events/index.ts';
import { buildAgentBundle } from '../../../scripts/build.ts';
import { createFakeRoot, type FakeRoot, VIOS2_DOMAIN } from '../../helpers/agent-fake-root.ts';
import { writeAgentConfig } from '../../helpers/agent-process.ts';
import {
  AGENT_QUEUE_REGION,
  type AgentQueue,
  EMULATOR_CREDENTIALS,
  startAgentQueue,
} from '../../helpers/agent-sqs.ts';
import { waitUntil } from '../../helpers/agent-wait.ts';

/**
 * The bundled agent (`npm run build`) run with plain `node` from a folder with no node_modules
 * anywhere above it: the scan command over a fake root, and `run` publishing to the SQS emulator
 * through the bundled AWS SDK.
 */

const MAX_BUNDLE_BYTES = 2 * 1024 * 1024;
const folder = mkdtempSync(join(tmpdir(), 'faultline-bundle-'));
const bundle = join(folder, 'faultline-agent.mjs');
let bundleBytes = 0;
let fake: FakeRoot;
let queue: AgentQueue;
const children: ChildProcess[] = [];

beforeAll(async () => {
  bundleBytes = (await buildAgentBundle(bundle)).bytes;
  fake = createFakeRoot('degraded');
  queue = await startAgentQueue();
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await queue.stop();
  fake.remove();
  rmSync(folder, { recursive: true, force: true });
});

const hasNodeModulesAbove = (start: string): boolean => {
  for (let directory = start; ; directory = dirname(directory)) {
    if (existsSync(join(directory, 'node_modules'))) return true;
    if (dirname(directory) === directory) return false;
  }
};

describe('the agent bundle', () => {
  it('is one file within the 2 MB of docs/architecture.md §7, in a folder with no node_modules above it', () => {
    expect(bundleBytes).toBeGreaterThan(0);
    expect(bundleBytes).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
    expect(hasNodeModulesAbove(folder)).toBe(false);
  });

  it('prints the snapshot of a fake root with `scan --root DIR --json`', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [bundle, 'scan', '--root', fake.root, '--json'],
      {
        cwd: folder,
      },
    );
    const snapshot = HostSnapshot.parse(JSON.parse(stdout));
    expect(snapshot.arrays[0]?.members).toContainEqual({
      device: 'sdb1',
      disk: 'sdb',
      state: 'faulty',
      failureDomain: VIOS2_DOMAIN,
    });
  });

  it('runs the agent, publishing through the bundled SQS client, and stops on SIGTERM', async () => {
    const config = writeAgentConfig(join(folder, 'agent.json'), {
      hostId: 'lnxclient07.example.net',
      root: fake.root,
      stateDir: join(folder, 'state'),
      fallbackStateDir: join(folder, 'fallback'),
      targets: { sqs: { queueUrl: queue.queueUrl, region: AGENT_QUEUE_REGION, endpoint: queue.endpoint } },
      credentials: { source: 'static', ...EMULATOR_CREDENTIALS },
      intervals: { scanSeconds: 1, heartbeatSeconds: 3600 },
    });
    const child = spawn(process.execPath, [bundle, 'run', '--config', config], {
      cwd: folder,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    await waitUntil(async () => (await queue.bodies()).length >= 2, 'the heartbeat and mirror.degraded');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const events = (await queue.bodies()).map((body) => parseEvent(body));
    expect(events.map((event) => (event.ok ? event.value.type : 'invalid'))).toEqual([
      'mirror.degraded',
      'host.heartbeat',
    ]);
    expect(log).toContain('info: agent stopped {"undelivered":0}');
    expect(log).not.toContain('NodeVersionSupportWarning');
  });
});
