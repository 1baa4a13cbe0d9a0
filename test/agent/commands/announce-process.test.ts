import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_TOKEN } from '../../helpers/agent-config.ts';
import {
  type AgentProcess,
  runAgentCommand,
  spawnAgent,
  writeAgentConfig,
} from '../../helpers/agent-process.ts';
import { waitUntil } from '../../helpers/agent-wait.ts';
import { acceptingApi, createServerHost } from '../serve/server-fakes.ts';

/**
 * `faultline-agent run` and `faultline-agent announce going-down` as an operator's shutdown
 * sequence runs them: two processes, the announcement handed over by SIGUSR2 and a request file.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const DOMAIN = 'vscsi:Server-9080-M9S-SN78AB12C/lnxvios1';

describe('announce going-down beside a running agent process', () => {
  it('is delivered through the agent, after the agent announced its IPL once its serving check passed', async () => {
    const host = createServerHost(
      { now: null, ldoms: null, vios: null },
      {
        'proc/sys/kernel/random/boot_id': '6a1f3c2e-5b4d-4e8f-9a0b-1c2d3e4f5a6b\n',
        'proc/stat': 'btime 1763800000\n',
        'proc/mdstat': 'Personalities : [raid1]\nunused devices: <none>\n',
      },
    );
    cleanups.push(() => host.remove());
    const check = join(host.base, 'check-serving');
    writeFileSync(check, '#!/bin/sh\n# the LUNs are exported\nexit 0\n');
    chmodSync(check, 0o755);
    const api = await acceptingApi();
    cleanups.push(() => api.stop());
    mkdirSync(host.stateDir, { recursive: true });
    const config = writeAgentConfig(join(host.base, 'agent.json'), {
      hostId: 'lnxvios1.example.net',
      role: 'hosting',
      platform: 'linux',
      root: host.root,
      stateDir: host.stateDir,
      fallbackStateDir: host.fallbackStateDir,
      targets: { api: { url: api.url, agentToken: AGENT_TOKEN } },
      intervals: { scanSeconds: 60, heartbeatSeconds: 3600, serverCheckSeconds: 0.5 },
      retry: { initialSeconds: 0.05, maxSeconds: 0.5 },
      hosting: { failureDomain: DOMAIN, servingCheck: { command: [check] } },
    });
    const agent: AgentProcess = spawnAgent(['run', '--config', config]);
    cleanups.push(async () => {
      if (agent.child.exitCode === null) agent.child.kill('SIGKILL');
      await agent.exited;
    });
    await waitUntil(
      () => api.events().some((event) => event.type === 'ipl.completed'),
      'the IPL announcement',
      30_000,
    );

    const announced = await runAgentCommand([
      'announce',
      'going-down',
      '--reason',
      'maintenance',
      '--config',
      config,
    ]);
    expect(announced.log).toContain(
      `faultline-agent announce: domain.going-down ${DOMAIN}: delivered to api ${api.url}/v1/events`,
    );
    expect(announced.code).toBe(0);
    const restart = await runAgentCommand([
      'announce',
      'going-down',
      '--only-at-shutdown',
      '--config',
      config,
    ]);
    expect(restart.code).toBe(0);
    expect(restart.log).toMatch(/nothing to announce: the system is not shutting down/);

    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    expect(agent.log()).toContain('announce going-down: spooled');
    expect(
      api
        .events()
        .filter((event) => event.type !== 'host.heartbeat')
        .map((event) => [event.type, event.data]),
    ).toEqual([
      [
        'ipl.completed',
        {
          partition: 'lnxvios1',
          system: 'Server-9080-M9S-SN78AB12C',
          failureDomain: DOMAIN,
          bootedAt: new Date(1763800000 * 1000).toISOString(),
        },
      ],
      ['domain.going-down', { failureDomain: DOMAIN, reason: 'maintenance' }],
    ]);
  });
});
