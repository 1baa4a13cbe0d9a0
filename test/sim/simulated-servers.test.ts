import { afterEach, describe, expect, it } from 'vitest';
import { parseEvent } from '../../events/index.ts';
import { SimControlDomain } from '../../sim/control-domain.ts';
import { DEMO_SYSTEM, vscsiDomain } from '../../sim/managed-system.ts';
import { SimVios } from '../../sim/vios.ts';
import { acceptingApi } from '../agent/serve/server-fakes.ts';
import { AGENT_TOKEN } from '../helpers/agent-config.ts';
import { waitUntil } from '../helpers/agent-wait.ts';

/**
 * The demo's simulated servers (sim/vios.ts, sim/control-domain.ts) run the real agent in its
 * server role over their fakes, against an events API on 127.0.0.1: what they say, and when.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Sent = Awaited<ReturnType<typeof acceptingApi>>;

const startApi = async (): Promise<Sent> => {
  const api = await acceptingApi();
  cleanups.push(() => api.stop());
  return api;
};

const VIOS2 = vscsiDomain('vios2', DEMO_SYSTEM);

const vios = (url: string, loses: readonly ('ipl.completed' | 'host.heartbeat')[] = []) => {
  const server = new SimVios({
    hostId: 'vios2',
    system: DEMO_SYSTEM,
    lparId: 2,
    vscsiClients: [
      { hostId: 'lnx001', partitionId: 3 },
      { hostId: 'lnx002', partitionId: 4 },
    ],
    url,
    agentToken: AGENT_TOKEN,
    loses,
  });
  cleanups.push(async () => {
    await server.stop();
    server.remove();
  });
  return server;
};

const heartbeats = (api: Sent) => api.events().filter((event) => event.type === 'host.heartbeat');

describe('a simulated VIOS', () => {
  it('heartbeats as a hosting partition serving its own domain, and its shutdown announces going-down through its agent', async () => {
    const api = await startApi();
    const server = vios(api.url);
    await server.start();
    await waitUntil(() => heartbeats(api).length > 0, 'its first heartbeat');
    expect(heartbeats(api)[0]?.data).toMatchObject({ role: 'hosting', platform: 'aix', serves: [VIOS2] });

    const summary = await server.shutdown('shutdown -restart');
    expect(summary.via).toBe('agent');
    expect(summary.result.outcome).toBe('delivered');
    expect(server.running).toBe(false);
    const goingDown = api.events().filter((event) => event.type === 'domain.going-down');
    expect(goingDown).toHaveLength(1);
    expect(goingDown[0]).toMatchObject({
      subject: 'vios2',
      data: { failureDomain: VIOS2, reason: 'shutdown -restart' },
    });
    expect(api.events().every((event) => parseEvent(JSON.stringify(event)).ok)).toBe(true);
    // Its IPL waits for the minute after the shutdown: `who -b` dates a boot to the minute.
    expect(server.iplAt()).toBeGreaterThan(Date.now());
    expect(new Date(server.iplAt()).getUTCSeconds()).toBe(0);
  });

  it('boots anew listing nothing while its targets are Defined, then announces its IPL once, with its new boot', async () => {
    const api = await startApi();
    const server = vios(api.url);
    await server.start();
    await waitUntil(() => heartbeats(api).length > 0, 'its first heartbeat');
    const firstBoot = heartbeats(api)[0]?.bootid;
    await server.stop();
    const before = api.events().length;

    await server.ipl();
    await server.checkNow();
    await waitUntil(() => heartbeats(api).length > 1, 'a heartbeat of the new boot');
    const early = heartbeats(api).at(-1);
    expect(early?.bootid).not.toBe(firstBoot);
    expect(early?.data.serves).toEqual([]);
    expect(
      api
        .events()
        .slice(before)
        .some((event) => event.type === 'ipl.completed'),
    ).toBe(false);

    server.configure();
    await server.checkNow();
    await waitUntil(
      () =>
        api
          .events()
          .slice(before)
          .some((event) => event.type === 'ipl.completed'),
      'ipl.completed',
    );
    const ipl = api
      .events()
      .filter((event) => event.type === 'ipl.completed')
      .at(-1);
    expect(ipl?.bootid).toBe(early?.bootid);
    expect(ipl?.data).toMatchObject({ partition: 'vios2', failureDomain: VIOS2 });
    expect(server.boots).toBe(2);
  });

  it('loses its ipl.completed on the way when told to: only its new-boot heartbeat listing its domain arrives', async () => {
    const api = await startApi();
    const server = vios(api.url, ['ipl.completed']);
    await server.start();
    await waitUntil(() => heartbeats(api).length > 0, 'its first heartbeat');
    const firstBoot = heartbeats(api)[0]?.bootid;
    await server.stop();
    await server.ipl();
    server.configure();
    await server.checkNow();
    const newBoot = () => heartbeats(api).filter((event) => event.bootid !== firstBoot);
    await waitUntil(
      () => newBoot().some((event) => (event.data.serves as string[]).includes(VIOS2)),
      'a heartbeat of the new boot listing its domain',
    );
    expect(api.events().some((event) => event.type === 'ipl.completed')).toBe(false);
    expect(server.lost.map((event) => event.type)).toEqual(['ipl.completed', 'ipl.completed']);
    expect(newBoot().at(-1)?.data.bootedAt).toEqual(expect.any(String));
  });
});

describe('a simulated LDoms control domain', () => {
  it('reports its guests disks, and announces its alternate service domain stopping and running again', async () => {
    const api = await startApi();
    const server = new SimControlDomain({
      hostId: 'ctl1',
      guests: ['ldg01'],
      url: api.url,
      agentToken: AGENT_TOKEN,
    });
    cleanups.push(async () => {
      await server.stop();
      server.remove();
    });
    await server.start();
    await waitUntil(() => heartbeats(api).length > 0, 'its first heartbeat');
    expect(heartbeats(api)[0]?.data).toMatchObject({
      role: 'control',
      serves: server.serves,
      guests: [
        { guest: 'ldg01', disk: 'c0d0', failureDomain: 'vdisk:ctl1/primary' },
        { guest: 'ldg01', disk: 'c0d1', failureDomain: 'vdisk:ctl1/alternate' },
      ],
    });

    await server.stopServiceDomain('alternate');
    await waitUntil(
      () => api.events().some((event) => event.type === 'domain.going-down'),
      'domain.going-down',
    );
    await server.startServiceDomain('alternate');
    await server.checkNow();
    await waitUntil(
      () => api.events().some((event) => event.type === 'domain.rebooted' && event.subject === 'alternate'),
      'domain.rebooted of the alternate',
    );
    const said = api
      .events()
      .filter((event) => event.type !== 'host.heartbeat')
      .map((event) => [event.type, event.subject, event.data.failureDomain]);
    expect(said).toEqual([
      ['domain.rebooted', 'primary', 'vdisk:ctl1/primary'],
      ['domain.going-down', 'alternate', 'vdisk:ctl1/alternate'],
      ['domain.rebooted', 'alternate', 'vdisk:ctl1/alternate'],
    ]);
  });
});
