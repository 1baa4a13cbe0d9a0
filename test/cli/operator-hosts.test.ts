import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPERATOR_COMMANDS, runOperator } from '../../cli/operator.ts';
import { agentEvent } from '../helpers/api-events.ts';
import { API_NOW, type ApiHarness, apiHarness, OPERATOR_SECRET } from '../helpers/api-harness.ts';

const SYSTEM = 'Server-9080-M9S-SN78AB12C';
const VIOS1 = `vscsi:${SYSTEM}/vios1`;
const VIOS2 = `vscsi:${SYSTEM}/vios2`;

/**
 * `faultline hosts`, `faultline tokens create` with a grant, and `faultline announce`, against the
 * API served on loopback, as an operator runs them.
 */
describe('faultline hosts, tokens and announce', () => {
  let api: ApiHarness;
  let server: ReturnType<typeof serve>;
  let url: string;

  beforeEach(async () => {
    api = await apiHarness();
    await new Promise<void>((resolve) => {
      server = serve({ fetch: api.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as Server).closeAllConnections();
    });
    await api.close();
  });

  const run = async (
    command: (typeof OPERATOR_COMMANDS)[number],
    args: string[],
    token: string = OPERATOR_SECRET,
  ) => {
    let stdout = '';
    let stderr = '';
    const code = await runOperator(
      command,
      [...args, '--url', url, '--token', token],
      {
        stdout: (text) => {
          stdout += text;
        },
        stderr: (text) => {
          stderr += text;
        },
      },
      {},
    );
    return { code, stdout, stderr };
  };

  it('registers a server with repeated --serves or several domains after one, and lists the servers', async () => {
    const several = await run('hosts', ['register', 'vios1', '--role', 'hosting', '--serves', VIOS1, VIOS2]);
    expect(several).toEqual({
      code: 0,
      stdout: `registered vios1 as hosting serving ${VIOS1}, ${VIOS2}\n`,
      stderr: '',
    });
    const repeated = await run('hosts', [
      'register',
      't5-control',
      '--serves',
      'vdisk:t5-control/primary',
      '--role',
      'control',
      '--serves',
      'vdisk:t5-control/alternate',
    ]);
    expect(repeated.code).toBe(0);
    expect(await api.store.getHostRecord('t5-control')).toEqual({
      hostId: 't5-control',
      role: 'control',
      serves: ['vdisk:t5-control/primary', 'vdisk:t5-control/alternate'],
      registeredAt: new Date(API_NOW).toISOString(),
      registeredBy: 'ops',
    });

    const human = await run('hosts', ['list']);
    expect(human.code).toBe(0);
    const rows = human.stdout.trim().split('\n');
    expect(rows[0]?.split(/\s+/)).toEqual(['HOST', 'ROLE', 'SERVES', 'REGISTERED', 'BY']);
    expect(rows.slice(1).map((row) => row.split(/\s+/).slice(0, 3))).toEqual([
      ['t5-control', 'control', 'vdisk:t5-control/primary,vdisk:t5-control/alternate'],
      ['vios1', 'hosting', `${VIOS1},${VIOS2}`],
    ]);
    const json = JSON.parse((await run('hosts', ['list', '--json'])).stdout);
    expect(json.hosts.map((host: { hostId: string }) => host.hostId)).toEqual(['t5-control', 'vios1']);
  });

  it('says there are no servers when none is registered', async () => {
    expect((await run('hosts', ['list'])).stdout).toBe('no servers registered: every host is a client\n');
  });

  it('refuses a registration it can tell is wrong before asking, with exit code 2 and the reason', async () => {
    const cases: [string[], RegExp][] = [
      [['register', 'vios2', '--serves', VIOS2], /--serves needs --role hosting\|control/],
      [['register', 'vios2', '--role', 'hosting'], /--role needs at least one --serves/],
      [['register', 'vios2', '--role', 'client', '--serves', VIOS2], /--role must be hosting or control/],
      [
        ['register', 'vios2', '--role', 'hosting', '--serves', 'vios2'],
        /--serves vios2: .*not a failure domain/,
      ],
      [['register', 'vios2', '--role', 'hosting', '--serves', VIOS2, VIOS2], /lists a domain twice/],
      [['register', '--role', 'hosting', '--serves', VIOS2], /hosts register needs a host id/],
      [['register', 'no..host', '--role', 'hosting', '--serves', VIOS2], /is not a host id/],
      [['unregister', 'vios2'], /unknown hosts command unregister/],
      [[], /hosts needs list or register/],
    ];
    for (const [args, message] of cases) {
      const answer = await run('hosts', args);
      expect(answer.code, args.join(' ')).toBe(2);
      expect(answer.stderr, args.join(' ')).toMatch(message);
      expect(answer.stderr).toContain('faultline hosts register <hostId> --role hosting|control');
    }
    expect(await api.store.listHostRecords()).toEqual([]);
  });

  it('answers --help with the usage and exit code 0, for each command', async () => {
    for (const command of ['hosts', 'tokens', 'announce', 'incidents'] as const) {
      const help = await run(command, ['--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toContain(`faultline ${command}`);
      expect(help.stdout).toContain('--help');
    }
    expect((await run('announce', ['-h'])).stdout).toContain('--booted-at');
  });

  it('reports an agent token, a refused token and an absent control plane with their exit codes', async () => {
    const agent = await api.agentToken('vios2');
    const forbidden = await run(
      'hosts',
      ['register', 'vios2', '--role', 'hosting', '--serves', VIOS2],
      agent,
    );
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/^faultline hosts: 403 forbidden: /);
    expect((await run('hosts', ['list'], 'flt_not-a-token')).code).toBe(4);
    const closed = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as Server).closeAllConnections();
    });
    url = closed;
    const absent = await run('hosts', ['list']);
    expect(absent.code).toBe(3);
    expect(absent.stderr).toContain('the control plane is not answering');
    await new Promise<void>((resolve) => {
      server = serve({ fetch: api.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
    });
  });

  it('mints an agent token that registers its host with --role and --serves, and a plain one that does not', async () => {
    const minted = await run('tokens', [
      'create',
      '--host',
      'vios2',
      '--label',
      'vios2 agent',
      '--role',
      'hosting',
      '--serves',
      VIOS2,
    ]);
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    expect(token).toMatch(/^flt_/);
    expect(await api.store.getHostRecord('vios2')).toMatchObject({ role: 'hosting', serves: [VIOS2] });
    expect((await api.store.listTokens()).find((stored) => stored.kind === 'agent')).toMatchObject({
      hostId: 'vios2',
      label: 'vios2 agent',
    });
    const ipl = agentEvent('ipl.completed', 'vios2');
    expect((await api.request('POST', '/v1/events', { token, body: ipl })).status).toBe(202);

    const plain = await run('tokens', ['create', '--host', 'lnx01', '--json']);
    expect(JSON.parse(plain.stdout)).toMatchObject({ kind: 'agent', hostId: 'lnx01' });
    expect(await api.store.getHostRecord('lnx01')).toBeUndefined();
    const operator = await run('tokens', ['create', '--operator', '--label', 'hmc']);
    expect(operator.code).toBe(0);

    for (const [args, message] of [
      [['create', '--host', 'vios1', '--role', 'hosting'], /--role needs at least one --serves/],
      [
        ['create', '--operator', '--role', 'hosting', '--serves', VIOS1],
        /grant a host, not an operator token/,
      ],
      [['create'], /either --host <hostId> or --operator/],
      [['create', '--host', 'vios1', '--operator'], /either --host <hostId> or --operator/],
    ] as [string[], RegExp][]) {
      const refused = await run('tokens', args);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stderr).toMatch(message);
    }
    expect(await api.store.getHostRecord('vios1')).toBeUndefined();
  });

  it("announces a domain going down as the operator's own event", async () => {
    const before = Date.now();
    const answer = await run('announce', [VIOS2, 'going-down', '--reason', 'PTF group SF99740']);
    expect(answer.code).toBe(0);
    expect(answer.stdout).toMatch(new RegExp(`^announced domain.going-down for ${VIOS2} \\(event operator-`));
    const [queued, ...rest] = await api.drain();
    expect(rest).toEqual([]);
    expect(queued?.sender).toEqual({ kind: 'operator', label: 'ops' });
    const event = queued?.body as Record<string, unknown>;
    expect(event).toMatchObject({
      type: 'domain.going-down',
      source: 'faultline-agent://operator',
      hostid: 'operator',
      bootid: 'operator',
      subject: 'vios2',
      sentby: 'operator:ops',
      data: { failureDomain: VIOS2, reason: 'PTF group SF99740' },
    });
    expect(event.seq).toBeGreaterThanOrEqual(before);
    expect(event.seq).toBeLessThanOrEqual(Date.now());
    expect(event.id).toMatch(/^operator-[0-9a-f-]{36}$/);
  });

  it('announces a hosting partition up as ipl.completed and a service domain up as domain.rebooted', async () => {
    const bootedAt = '2026-11-22T03:31:52Z';
    expect((await run('announce', [VIOS2, 'up', '--booted-at', bootedAt])).code).toBe(0);
    const before = Date.now();
    expect((await run('announce', ['vdisk:t5-control/alternate', 'up'])).code).toBe(0);
    const [ipl, rebooted] = (await api.drain()).map((message) => message.body);
    expect(ipl).toMatchObject({
      type: 'ipl.completed',
      hostid: 'operator',
      data: { partition: 'vios2', system: SYSTEM, failureDomain: VIOS2, bootedAt },
    });
    expect(rebooted).toMatchObject({
      type: 'domain.rebooted',
      subject: 'alternate',
      data: { domain: 'alternate', role: 'service', failureDomain: 'vdisk:t5-control/alternate' },
    });
    const rebootedData = rebooted?.data as { bootedAt: string } | undefined;
    expect(Date.parse(rebootedData?.bootedAt ?? '')).toBeGreaterThanOrEqual(before - 1000);
    expect(rebooted?.seq as number).toBeGreaterThanOrEqual(ipl?.seq as number);
  });

  it('refuses an announcement it cannot make, with exit code 2 and the reason, and posts nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['fc:5005076801234567', 'up'], /only a hosting partition .* or a service domain .* is announced up/],
      [['local:lnx01', 'up'], /comes back when its clients report it/],
      [['vios2', 'going-down'], /vios2: .*not a failure domain/],
      [[VIOS2, 'sideways'], /say going-down or up/],
      [[VIOS2], /announce needs <domain> going-down\|up/],
      [[VIOS2, 'going-down', '--booted-at', '2026-11-22T03:31:52Z'], /--booted-at goes with up/],
      [[VIOS2, 'up', '--reason', 'x'], /--reason goes with going-down/],
      [[VIOS2, 'up', '--booted-at', 'yesterday'], /--booted-at yesterday: not an RFC 3339 time/],
    ];
    for (const [args, message] of cases) {
      const answer = await run('announce', args);
      expect(answer.code, args.join(' ')).toBe(2);
      expect(answer.stderr, args.join(' ')).toMatch(message);
    }
    expect(await api.drain()).toEqual([]);
    expect(OPERATOR_COMMANDS).toEqual(expect.arrayContaining(['hosts', 'announce', 'tokens']));
  });
});
