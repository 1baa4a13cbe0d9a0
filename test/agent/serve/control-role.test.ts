import { afterEach, describe, expect, it } from 'vitest';
import { ControlRole } from '../../../agent/serve/control-role.ts';
import { ServeStateStore } from '../../../agent/serve/serve-state.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { openStateDirectory } from '../../../agent/state/state-directory.ts';
import { ldomsLayout, resetDomain } from '../../../sim/fake-host/fake-ldm.mjs';
import { runServerTool } from '../../../sim/fake-host/server-tools.mjs';
import { createServerHost, inProcessTools, type ServerHost } from './server-fakes.ts';

const hosts: ServerHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});

const T0 = Date.parse('2026-11-22T03:00:00.000Z');
const PRIMARY = 'vdisk:cdom1/primary';
const ALTERNATE = 'vdisk:cdom1/alternate';
const BOOT_ID = 'c0d00000-0000-4000-8000-00000000c0d1';

const controlDomain = () => {
  const host = createServerHost({
    now: T0,
    ldoms: ldomsLayout({ startedAt: T0 - 86_400_000, guests: ['ldg1', 'ldg2'] }),
    vios: null,
  });
  hosts.push(host);
  const clock = { now: T0 };
  const at = (ms: number) => {
    clock.now = ms;
    host.update((model) => {
      model.now = ms;
    });
  };
  /** The agent starting on the control domain: a fresh role over the same state directory. */
  const startAgent = () => {
    const log = memoryLog();
    const role = new ControlRole(
      {
        platform: 'solaris',
        root: host.root,
        hostId: 'cdom1',
        control: { guestHostIds: { ldg2: 'ldg2.example.net' } },
      },
      BOOT_ID,
      ServeStateStore.open(openStateDirectory(host, log), log),
      inProcessTools(host.root, { uptimeSeconds: () => 86_400 }),
      log,
    );
    return { role, log };
  };
  const check = async (role: ControlRole) => {
    const result = await role.check(new Date(clock.now));
    result.commit();
    return result;
  };
  const ldm = (...argv: string[]) => runServerTool('ldm', argv, host.root);
  return { host, at, startAgent, check, ldm };
};

describe('an LDoms control domain', () => {
  it('announces a service domain that stops and runs again once each, across its own restarts', async () => {
    const { at, startAgent, check, ldm } = controlDomain();
    let agent = startAgent();

    const first = await check(agent.role);
    // Its own boot, once: the control domain runs primary-vds0.
    expect(first.drafts).toEqual([
      {
        type: 'domain.rebooted',
        subject: 'primary',
        data: {
          domain: 'primary',
          role: 'primary',
          failureDomain: PRIMARY,
          bootedAt: new Date(T0 - 86_400_000).toISOString(),
        },
      },
    ]);
    expect(first.report.serves).toEqual([PRIMARY, ALTERNATE]);
    expect(first.report.guests).toEqual([
      { guest: 'ldg1', disk: 'c0d0', failureDomain: PRIMARY, state: 'active' },
      { guest: 'ldg1', disk: 'c0d1', failureDomain: ALTERNATE, state: 'active' },
      { guest: 'ldg2.example.net', disk: 'c0d0', failureDomain: PRIMARY, state: 'active' },
      { guest: 'ldg2.example.net', disk: 'c0d1', failureDomain: ALTERNATE, state: 'active' },
    ]);
    expect((await check(agent.role)).drafts).toEqual([]);

    expect(ldm('stop', 'alternate')).toEqual({ code: 0, stdout: 'LDom alternate stopped\n', stderr: '' });
    at(T0 + 5_000);
    const stopped = await check(agent.role);
    expect(stopped.drafts).toEqual([
      {
        type: 'domain.going-down',
        subject: 'alternate',
        data: { failureDomain: ALTERNATE, reason: 'service domain alternate is bound' },
      },
    ]);
    expect(stopped.report.serves).toEqual([PRIMARY]);
    at(T0 + 10_000);
    expect((await check(agent.role)).drafts).toEqual([]);

    // The agent restarts while alternate is down: nothing said twice.
    agent = startAgent();
    expect((await check(agent.role)).drafts).toEqual([]);

    const started = T0 + 60_000;
    at(started);
    expect(ldm('start', 'alternate').stdout).toBe('LDom alternate started\n');
    at(started + 10_000);
    const booting = await check(agent.role);
    // Active, but in transition through OpenBoot and its boot: not serving yet.
    expect(booting.drafts).toEqual([]);
    expect(booting.report.serves).toEqual([PRIMARY]);
    at(started + 70_000);
    const back = await check(agent.role);
    expect(back.drafts).toEqual([
      {
        type: 'domain.rebooted',
        subject: 'alternate',
        data: {
          domain: 'alternate',
          role: 'alternate',
          failureDomain: ALTERNATE,
          bootedAt: new Date(started).toISOString(),
        },
      },
    ]);
    expect(back.report.serves).toEqual([PRIMARY, ALTERNATE]);
    at(started + 75_000);
    expect((await check(agent.role)).drafts).toEqual([]);
    agent = startAgent();
    expect((await check(agent.role)).drafts).toEqual([]);
  });

  it('tells a service domain rebooted while its agent was not running by its uptime', async () => {
    const { host, at, startAgent, check } = controlDomain();
    await check(startAgent().role);
    // The agent is down; alternate is reset from inside (init 6) and boots again.
    const reset = T0 + 3_600_000;
    at(reset);
    host.update((model) => resetDomain(model, 'alternate'));
    at(reset + 300_000);
    const agent = startAgent();
    const seen = await check(agent.role);
    expect(seen.drafts).toEqual([
      {
        type: 'domain.rebooted',
        subject: 'alternate',
        data: {
          domain: 'alternate',
          role: 'alternate',
          failureDomain: ALTERNATE,
          bootedAt: new Date(reset).toISOString(),
        },
      },
    ]);
    at(reset + 305_000);
    expect((await check(agent.role)).drafts).toEqual([]);
  });

  it('changes nothing while the Logical Domains Manager does not answer, and says so once', async () => {
    const { host, at, startAgent, check, ldm } = controlDomain();
    const agent = startAgent();
    await check(agent.role);
    host.update((model) => {
      if (model.ldoms !== null) model.ldoms.ldmd = false;
    });
    expect(ldm('list', '-p')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Failed to connect to logical domain manager: Connection refused\n',
    });
    at(T0 + 5_000);
    const blind = await check(agent.role);
    at(T0 + 10_000);
    await check(agent.role);
    expect(blind.drafts).toEqual([]);
    expect(blind.report.serves).toEqual([PRIMARY, ALTERNATE]);
    expect(
      agent.log.lines.filter((line) => line.message.startsWith('cannot watch the service domains')),
    ).toHaveLength(1);
  });

  it('watches only the service domains its configuration names, with their roles', async () => {
    const { at, ldm, host } = controlDomain();
    const log = memoryLog();
    const role = new ControlRole(
      {
        platform: 'solaris',
        root: host.root,
        hostId: 'cdom1',
        control: { serviceDomains: { alternate: 'io' } },
      },
      BOOT_ID,
      ServeStateStore.open(openStateDirectory(host, log), log),
      inProcessTools(host.root),
      log,
    );
    const first = await role.check(new Date(T0));
    first.commit();
    expect(first.drafts).toEqual([]);
    expect(first.report.serves).toEqual([ALTERNATE]);
    ldm('stop', 'alternate');
    at(T0 + 5_000);
    const stopped = await role.check(new Date(T0 + 5_000));
    expect(stopped.drafts.map((draft) => [draft.type, draft.subject])).toEqual([
      ['domain.going-down', 'alternate'],
    ]);
    expect(await role.ownDomains()).toEqual({
      domains: [],
      reason:
        'the control domain primary is no service domain (it runs no virtual disk service, or control.serviceDomains leaves it out)',
    });
  });
});
