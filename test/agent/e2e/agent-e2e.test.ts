import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConfigFile } from '../../../agent/config.ts';
import { type FaultlineEvent, parseEvent } from '../../../events/index.ts';
import {
  createFakeRoot,
  FAKE_ROOT_BOOT_ID,
  FAKE_ROOT_MD0_UUID,
  type FakeRoot,
  VIOS1_DOMAIN,
  VIOS2_DOMAIN,
} from '../../helpers/agent-fake-root.ts';
import {
  type AgentProcess,
  runAgentCommand,
  spawnAgent,
  writeAgentConfig,
} from '../../helpers/agent-process.ts';
import {
  AGENT_QUEUE_REGION,
  type AgentQueue,
  EMULATOR_CREDENTIALS,
  startAgentQueue,
} from '../../helpers/agent-sqs.ts';
import { waitUntil } from '../../helpers/agent-wait.ts';

/**
 * The agent end to end: `faultline-agent run` in a child process over a fake root whose md0 goes
 * through a VIOS reboot, publishing to the SQS emulator. What arrives in the queue is checked as
 * the control plane would read it, with `parseEvent`.
 */

const HOST_ID = 'lnxclient07.example.net';
const scratch = mkdtempSync(join(tmpdir(), 'faultline-e2e-'));
let queue: AgentQueue;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  queue = await startAgentQueue();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await queue.stop();
  rmSync(scratch, { recursive: true, force: true });
});

let count = 0;
const setup = (scanSeconds: number): { fake: FakeRoot; configPath: string } => {
  count += 1;
  const fake = createFakeRoot('healthy');
  cleanups.push(() => fake.remove());
  const config: AgentConfigFile = {
    hostId: HOST_ID,
    root: fake.root,
    stateDir: join(scratch, `state-${count}`),
    fallbackStateDir: join(scratch, `fallback-${count}`),
    targets: { sqs: { queueUrl: queue.queueUrl, region: AGENT_QUEUE_REGION, endpoint: queue.endpoint } },
    credentials: { source: 'static', ...EMULATOR_CREDENTIALS },
    intervals: { scanSeconds, heartbeatSeconds: 3600 },
    retry: { initialSeconds: 0.05, maxSeconds: 0.5 },
  };
  return { fake, configPath: writeAgentConfig(join(scratch, `agent-${count}.json`), config) };
};

const startAgent = (configPath: string): AgentProcess => {
  const agent = spawnAgent(['run', '--config', configPath]);
  cleanups.push(() => {
    if (agent.child.exitCode === null) agent.child.kill('SIGKILL');
  });
  return agent;
};

/** Every event in the queue from index `since`, parsed as the control plane parses it. */
const received = async (since: number): Promise<FaultlineEvent[]> =>
  (await queue.bodies()).slice(since).map((body) => {
    const parsed = parseEvent(body);
    if (!parsed.ok) throw new Error(`the queue holds an invalid event: ${JSON.stringify(parsed.issues)}`);
    return parsed.value;
  });

const waitForType = async (since: number, type: FaultlineEvent['type'], agent: AgentProcess) => {
  try {
    await waitUntil(async () => (await received(since)).some((event) => event.type === type), type);
  } catch (error) {
    throw new Error(`${(error as Error).message}; agent log:\n${agent.log()}`);
  }
  return (await received(since)).find((event) => event.type === type);
};

const stopAgent = async (agent: AgentProcess) => {
  agent.child.kill('SIGTERM');
  return agent.exited;
};

describe('faultline-agent run, end to end', () => {
  it('reports md0 degraded with the failure domain from sysfs, then recovering, then healthy', async () => {
    const { fake, configPath } = setup(0.2);
    const since = (await queue.bodies()).length;
    const agent = startAgent(configPath);

    const heartbeat = await waitForType(since, 'host.heartbeat', agent);
    expect(heartbeat).toMatchObject({
      source: `faultline-agent://${HOST_ID}`,
      hostid: HOST_ID,
      bootid: FAKE_ROOT_BOOT_ID,
      subject: HOST_ID,
      data: {
        platform: 'linux',
        role: 'client',
        disks: [
          expect.objectContaining({
            disk: 'sda',
            hctl: '0:0:1:0',
            scsiHost: 'host0',
            failureDomain: VIOS1_DOMAIN,
          }),
          expect.objectContaining({
            disk: 'sdb',
            hctl: '1:0:2:0',
            scsiHost: 'host1',
            failureDomain: VIOS2_DOMAIN,
          }),
        ],
      },
    });

    fake.setMd0('degraded');
    const degraded = await waitForType(since, 'mirror.degraded', agent);
    expect(degraded).toMatchObject({
      subject: 'md0',
      data: {
        array: 'md0',
        kind: 'md',
        level: 'raid1',
        bitmap: true,
        uuid: FAKE_ROOT_MD0_UUID,
        members: expect.arrayContaining([
          { device: 'sdb1', disk: 'sdb', state: 'faulty', failureDomain: VIOS2_DOMAIN },
          { device: 'sda1', disk: 'sda', state: 'in-sync', failureDomain: VIOS1_DOMAIN },
        ]),
      },
    });

    fake.setMd0('recovering');
    const recovering = await waitForType(since, 'mirror.recovering', agent);
    expect(recovering?.data).toMatchObject({
      array: 'md0',
      progress: 27.1,
      finishMinutes: 0.3,
      syncedSectors: 524_288,
      totalSectors: 2_097_024,
      members: expect.arrayContaining([expect.objectContaining({ device: 'sdb1', state: 'rebuilding' })]),
    });

    fake.setMd0('recovered');
    const healthy = await waitForType(since, 'mirror.healthy', agent);
    expect(healthy?.data).toMatchObject({
      array: 'md0',
      members: expect.arrayContaining([expect.objectContaining({ device: 'sdb1', state: 'in-sync' })]),
    });

    expect(await stopAgent(agent)).toEqual({ code: 0, signal: null });
    expect(agent.log()).toMatch(/info: agent stopped \{"undelivered":0\}/);
    const events = await received(since);
    expect(events.map((event) => event.type)).toEqual([
      'host.heartbeat',
      'mirror.degraded',
      'mirror.recovering',
      'mirror.healthy',
    ]);
    const seqs = events.map((event) => event.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
    expect(events.every((event) => event.receivedat === undefined)).toBe(true);
  });

  it('scans at once when mdadm runs the hook, and the hook spools by itself when no agent runs', async () => {
    const { fake, configPath } = setup(3600);
    const since = (await queue.bodies()).length;
    const agent = startAgent(configPath);
    await waitForType(since, 'host.heartbeat', agent);

    fake.setMd0('degraded');
    const hook = await runAgentCommand(['hook', '--config', configPath, 'Fail', '/dev/md0', '/dev/sdb1']);
    expect(hook.code).toBe(0);
    await waitForType(since, 'mirror.degraded', agent);
    expect(agent.log()).toMatch(
      /mdadm reported an array event \{"event":"Fail","array":"md0","component":"sdb1"/,
    );
    expect(await stopAgent(agent)).toEqual({ code: 0, signal: null });

    fake.setMd0('recovering');
    const alone = await runAgentCommand(['hook', '--config', configPath, 'RebuildStarted', '/dev/md0']);
    expect(alone.code).toBe(0);
    expect(alone.log).toMatch(/RebuildStarted md0: no agent runs; 1 event\(s\) spooled for it/);

    const restarted = startAgent(configPath);
    const recovering = await waitForType(since, 'mirror.recovering', restarted);
    await waitUntil(
      async () => (await received(since)).filter((event) => event.type === 'host.heartbeat').length === 2,
      "the restarted agent's heartbeat",
    );
    expect(await stopAgent(restarted)).toEqual({ code: 0, signal: null });
    const events = await received(since);
    expect(events.map((event) => event.type)).toEqual([
      'host.heartbeat',
      'mirror.degraded',
      'mirror.recovering',
      'host.heartbeat',
    ]);
    const seqs = events.map((event) => event.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(recovering?.data).toMatchObject({ progress: 27.1 });
  });
});
