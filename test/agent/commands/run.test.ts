import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseRunArguments, run } from '../../../agent/commands/run.ts';
import { type AgentConfig, resolveAgentConfig } from '../../../agent/config.ts';
import { AgentAlreadyRunningError, startAgent } from '../../../agent/loop/agent-loop.ts';
import type { PlanRunner } from '../../../agent/loop/plan-runner.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { type HostSnapshot, parseEvent } from '../../../events/index.ts';
import { agentConfigFile } from '../../helpers/agent-config.ts';
import { BOOT_ID, hostSnapshot, member, mirror } from '../../helpers/agent-snapshots.ts';
import { AGENT_QUEUE_REGION, type AgentQueue, startAgentQueue } from '../../helpers/agent-sqs.ts';
import { waitUntil } from '../../helpers/agent-wait.ts';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-run-'));
let queue: AgentQueue;
beforeAll(async () => {
  queue = await startAgentQueue();
});
afterAll(async () => {
  await queue.stop();
  rmSync(scratch, { recursive: true, force: true });
});

let count = 0;
const configFor = (overrides: Record<string, unknown> = {}): AgentConfig => {
  count += 1;
  const root = join(scratch, `root-${count}`);
  mkdirSync(join(root, 'proc', 'sys', 'kernel', 'random'), { recursive: true });
  writeFileSync(join(root, 'proc', 'sys', 'kernel', 'random', 'boot_id'), `${BOOT_ID}\n`);
  return resolveAgentConfig(
    agentConfigFile({
      root,
      stateDir: join(scratch, `state-${count}`),
      fallbackStateDir: join(scratch, `fallback-${count}`),
      targets: { sqs: { queueUrl: queue.queueUrl, region: AGENT_QUEUE_REGION, endpoint: queue.endpoint } },
      intervals: { scanSeconds: 3600, heartbeatSeconds: 3600 },
      retry: { initialSeconds: 0.02, maxSeconds: 0.2 },
      ...overrides,
    }),
    'agent.json',
  );
};

/** The host as the test says it is now. */
const host = (initial: HostSnapshot) => {
  let current = initial;
  return {
    set: (next: HostSnapshot) => {
      current = next;
    },
    observe: async () => ({ snapshot: current, progress: new Map([['md0', { progress: 42 }]]) }),
  };
};

const degraded = hostSnapshot({
  arrays: [mirror({ state: 'degraded', members: [member('sda1'), member('sdb1', 'faulty')] })],
});

describe('startAgent', () => {
  it('sends a heartbeat at start, then the events of each change, through SQS', async () => {
    const config = configFor();
    const before = (await queue.bodies()).length;
    const state = host(hostSnapshot());
    const log = memoryLog();
    const agent = await startAgent(config, { observe: state.observe, log });
    await waitUntil(async () => (await queue.bodies()).length > before, 'the start heartbeat');
    state.set(degraded);
    await agent.scanNow('test');
    await waitUntil(async () => (await queue.bodies()).length >= before + 2, 'mirror.degraded');
    await agent.stop();
    const bodies = (await queue.bodies()).slice(before);
    const events = bodies.map((body) => JSON.parse(body));
    expect(events.map((event) => event.type)).toEqual(['host.heartbeat', 'mirror.degraded']);
    expect(bodies.every((body) => parseEvent(body).ok)).toBe(true);
    expect(events[0]).toMatchObject({
      statestore: 'disk',
      instanceid: agent.identity.instanceId,
      data: { capabilities: [], intervalSeconds: 3600 },
    });
    expect(events[1].seq).toBe(events[0].seq + 1);
    expect(log.lines.map((line) => line.message)).toEqual(
      expect.arrayContaining(['agent started', 'mirror.degraded md0', 'agent stopped']),
    );
  });

  it('continues seq after a restart, and refuses a second agent on the same state', async () => {
    const config = configFor();
    const before = (await queue.bodies()).length;
    const first = await startAgent(config, { observe: host(hostSnapshot()).observe, log: memoryLog() });
    await expect(
      startAgent(config, { observe: host(hostSnapshot()).observe, log: memoryLog() }),
    ).rejects.toThrow(AgentAlreadyRunningError);
    await waitUntil(async () => (await queue.bodies()).length > before, 'the first heartbeat');
    await first.stop();
    const second = await startAgent(config, { observe: host(degraded).observe, log: memoryLog() });
    await waitUntil(async () => (await queue.bodies()).length >= before + 3, 'the second start');
    await second.stop();
    const seqs = (await queue.bodies()).slice(before).map((body) => JSON.parse(body).seq);
    expect(seqs).toHaveLength(3);
    expect(seqs[1]).toBeGreaterThan(seqs[0]);
    expect(seqs[2]).toBeGreaterThan(seqs[1]);
  });

  it('keeps events spooled while the queue is unreachable and stops cleanly anyway', async () => {
    const down = await startAgentQueue();
    await down.stop();
    const config = configFor({
      targets: { sqs: { queueUrl: down.queueUrl, region: AGENT_QUEUE_REGION, endpoint: down.endpoint } },
    });
    const log = memoryLog();
    const agent = await startAgent(config, { observe: host(degraded).observe, log });
    await waitUntil(
      () => log.lines.some((line) => line.message === 'cannot deliver events; spooling'),
      'a failed delivery',
    );
    await agent.stop();
    expect(log.lines.at(-1)).toMatchObject({ message: 'agent stopped', fields: { undelivered: 2 } });
  });

  it('reports no heartbeat until a scan works, and says the scan failed', async () => {
    const config = configFor();
    const log = memoryLog();
    let works = false;
    const before = (await queue.bodies()).length;
    const agent = await startAgent(config, {
      log,
      observe: async () => {
        if (!works) throw new Error('mdstat unreadable');
        return { snapshot: hostSnapshot(), progress: new Map() };
      },
    });
    await waitUntil(() => log.lines.some((line) => line.message === 'scan failed'), 'the failed scan');
    expect((await queue.bodies()).length).toBe(before);
    works = true;
    await agent.scanNow('test');
    await waitUntil(async () => (await queue.bodies()).length > before, 'the heartbeat');
    await agent.stop();
    expect(JSON.parse((await queue.bodies())[before] ?? '{}').type).toBe('host.heartbeat');
  });

  it('calls the plan runner, whose plan id marks the events its steps cause', async () => {
    const config = configFor();
    const state = host(hostSnapshot());
    const before = (await queue.bodies()).length;
    const polls: number[] = [];
    const planRunner: PlanRunner = {
      capabilities: ['disk.probe', 'md.add'],
      poll: async (context) => {
        polls.push(polls.length);
        if (polls.length === 1) {
          context.attributeTo('plan-inc1-lnxclient07-1');
          state.set(degraded);
          await context.scanNow('md.fail');
          context.attributeTo(undefined);
        }
        return { nextPollSeconds: 3600 };
      },
    };
    const agent = await startAgent(config, { observe: state.observe, log: memoryLog(), planRunner });
    await waitUntil(async () => (await queue.bodies()).length >= before + 2, 'heartbeat and event');
    await agent.stop();
    const events = (await queue.bodies()).slice(before).map((body) => JSON.parse(body));
    const byType = Object.fromEntries(events.map((event) => [event.type, event]));
    expect(byType['mirror.degraded']?.planid).toBe('plan-inc1-lnxclient07-1');
    expect(byType['host.heartbeat']?.data.capabilities).toEqual(['disk.probe', 'md.add']);
    expect(polls.length).toBeGreaterThanOrEqual(1);
  });
});

describe('faultline-agent run', () => {
  it('reads --config FILE, --config=FILE, or the default path', () => {
    expect(parseRunArguments([])).toEqual({ configPath: '/etc/faultline/agent.json' });
    expect(parseRunArguments(['--config', 'a.json'])).toEqual({ configPath: 'a.json' });
    expect(parseRunArguments(['--config=b.json'])).toEqual({ configPath: 'b.json' });
    expect(parseRunArguments(['--verbose'])).toBeUndefined();
  });

  it('exits 2 naming the bad key of an invalid configuration', async () => {
    const path = join(scratch, 'bad.json');
    writeFileSync(path, JSON.stringify({ ...agentConfigFile(), intervals: { scanSeconds: -1 } }));
    const written: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      expect(await run(['--config', path])).toBe(2);
      expect(await run(['--nonsense'])).toBe(2);
    } finally {
      stderr.mockRestore();
    }
    expect(written.join('')).toContain(`${path}: intervals.scanSeconds: Too small`);
  });
});
