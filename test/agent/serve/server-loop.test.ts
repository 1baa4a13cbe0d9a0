import { afterEach, describe, expect, it } from 'vitest';
import { type AgentConfig, resolveAgentConfig } from '../../../agent/config.ts';
import { startAgent } from '../../../agent/loop/agent-loop.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { parseEvent } from '../../../events/index.ts';
import { ldomsLayout } from '../../../sim/fake-host/fake-ldm.mjs';
import { configureVios, iplVios, viosLayout } from '../../../sim/fake-host/fake-vios.mjs';
import { AGENT_TOKEN } from '../../helpers/agent-config.ts';
import { hostSnapshot } from '../../helpers/agent-snapshots.ts';
import { waitUntil } from '../../helpers/agent-wait.ts';
import { acceptingApi, createServerHost, inProcessTools, type ServerHost } from './server-fakes.ts';

/**
 * The server side inside the agent's loop: announcements spooled and delivered to an events API on
 * 127.0.0.1, heartbeats that carry `bootedAt`, `serves` and `guests`.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';

const configFor = (host: ServerHost, url: string, file: Record<string, unknown>): AgentConfig =>
  resolveAgentConfig(
    {
      root: host.root,
      stateDir: host.stateDir,
      fallbackStateDir: host.fallbackStateDir,
      targets: { api: { url, agentToken: AGENT_TOKEN } },
      intervals: { scanSeconds: 3600, heartbeatSeconds: 3600 },
      retry: { initialSeconds: 0.02, maxSeconds: 0.2 },
      ...file,
    },
    'agent.json',
  );

const observeNothing = (hostId: string) => async () => ({
  snapshot: hostSnapshot({ hostId, arrays: [], maps: [], disks: [] }),
  progress: new Map(),
});

describe('a hosting partition running the agent', () => {
  it('heartbeats with nothing served until lsmap passes, then announces its IPL once; a restart in that boot says nothing', async () => {
    const ipl = new Date(2026, 10, 22, 10, 42);
    const host = createServerHost({ now: null, ldoms: null, vios: viosLayout({ bootedAt: ipl.getTime() }) });
    cleanups.push(() => host.remove());
    host.update((model) => iplVios(model, ipl.getTime()));
    const api = await acceptingApi();
    cleanups.push(() => api.stop());
    const config = configFor(host, api.url, {
      hostId: 'vios2.example.net',
      role: 'hosting',
      platform: 'aix',
    });
    const tools = inProcessTools(host.root);
    const dependencies = {
      observe: observeNothing('vios2.example.net'),
      log: memoryLog(),
      serverTools: tools,
    };

    const agent = await startAgent(config, dependencies);
    await waitUntil(
      () => api.events().some((event) => event.type === 'host.heartbeat'),
      'the first heartbeat',
    );
    const [first] = api.events();
    expect(first?.data).toMatchObject({
      role: 'hosting',
      platform: 'aix',
      bootedAt: ipl.toISOString(),
      serves: [],
    });
    await agent.checkServerNow();
    expect(api.events().some((event) => event.type === 'ipl.completed')).toBe(false);

    host.update((model) => configureVios(model));
    await agent.checkServerNow();
    agent.heartbeatNow();
    await waitUntil(
      () => api.events().filter((event) => event.type === 'host.heartbeat').length >= 2,
      'the second heartbeat',
    );
    await agent.checkServerNow();
    await agent.stop();

    const restarted = await startAgent(config, { ...dependencies, log: memoryLog() });
    await waitUntil(
      () => api.events().filter((event) => event.type === 'host.heartbeat').length >= 3,
      'the heartbeat after the restart',
    );
    await restarted.checkServerNow();
    await restarted.stop();

    const events = api.events();
    expect(events.every((event) => parseEvent(JSON.stringify(event)).ok)).toBe(true);
    expect(events.map((event) => event.type)).toEqual([
      'host.heartbeat',
      'ipl.completed',
      'host.heartbeat',
      'host.heartbeat',
    ]);
    expect(events[1]).toMatchObject({
      subject: 'vios2.example.net',
      data: {
        partition: 'vios2',
        system: 'Server-9080-M9S-SN78AB12C',
        failureDomain: VIOS2,
        bootedAt: ipl.toISOString(),
      },
    });
    expect(events[2]?.data).toMatchObject({ bootedAt: ipl.toISOString(), serves: [VIOS2] });
    expect(events[3]?.data).toMatchObject({ serves: [VIOS2] });
  });
});

describe('a control domain running the agent', () => {
  it('heartbeats the service domains that run and its guests disks, and announces a service domain stopping', async () => {
    const T0 = Date.parse('2026-11-22T03:00:00.000Z');
    const host = createServerHost({ now: T0, ldoms: ldomsLayout({ startedAt: T0 - 3_600_000 }), vios: null });
    cleanups.push(() => host.remove());
    const api = await acceptingApi();
    cleanups.push(() => api.stop());
    const config = configFor(host, api.url, { hostId: 'cdom1', role: 'control', platform: 'solaris' });
    const agent = await startAgent(config, {
      observe: observeNothing('cdom1'),
      log: memoryLog(),
      serverTools: inProcessTools(host.root, { uptimeSeconds: () => 7200 }),
    });
    await waitUntil(
      () => api.events().some((event) => event.type === 'host.heartbeat'),
      'the first heartbeat',
    );
    host.update((model) => {
      const alternate = model.ldoms?.domains.find((domain) => domain.name === 'alternate');
      if (alternate !== undefined) {
        alternate.state = 'bound';
        alternate.startedAt = null;
      }
    });
    await agent.checkServerNow();
    agent.heartbeatNow();
    await waitUntil(
      () => api.events().filter((event) => event.type === 'host.heartbeat').length >= 2,
      'the second heartbeat',
    );
    await agent.stop();

    const events = api.events();
    expect(events.map((event) => [event.type, event.subject])).toEqual([
      ['domain.rebooted', 'primary'],
      ['host.heartbeat', 'cdom1'],
      ['domain.going-down', 'alternate'],
      ['host.heartbeat', 'cdom1'],
    ]);
    expect(events[1]?.data).toMatchObject({
      role: 'control',
      serves: ['vdisk:cdom1/primary', 'vdisk:cdom1/alternate'],
      guests: [
        { guest: 'ldg1', disk: 'c0d0', failureDomain: 'vdisk:cdom1/primary' },
        { guest: 'ldg1', disk: 'c0d1', failureDomain: 'vdisk:cdom1/alternate' },
      ],
    });
    expect(typeof events[1]?.data.bootedAt).toBe('string');
    expect(events[3]?.data).toMatchObject({ serves: ['vdisk:cdom1/primary'] });
  });
});
