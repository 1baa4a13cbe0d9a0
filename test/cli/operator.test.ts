import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runOperator } from '../../cli/operator.ts';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../helpers/api-harness.ts';
import { incidentRow, putIncident } from '../helpers/api-incidents.ts';
import { member, mirror, mirroredClient, storage, VIOS1, VIOS2 } from '../helpers/api-topology.ts';

/** `faultline topology` and `faultline impact` against the API served on loopback, as an operator runs them. */
describe('faultline topology and impact', () => {
  let api: ApiHarness;
  let server: ReturnType<typeof serve>;
  let url: string;

  beforeEach(async () => {
    api = await apiHarness();
    await api.putHost('lnx01', mirroredClient());
    await api.putHost(
      'lnx02',
      storage([mirror('md0', [member('sda2', VIOS1, 'faulty'), member('sdb2', VIOS2)])]),
    );
    await api.putHost(
      'lnxspof',
      storage([
        mirror('md0', [member('sda2', VIOS1), member('sdb2', VIOS1)]),
        mirror('md1', [member('sda3', VIOS1), member('sdb3', VIOS1)]),
      ]),
    );
    await new Promise<void>((resolve) => {
      server = serve({ fetch: api.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await api.close();
  });

  const run = async (command: 'topology' | 'impact', args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runOperator(
      command,
      [...args, '--url', url, '--token', OPERATOR_SECRET],
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

  it('lists with --spof only the arrays whose halves share a domain', async () => {
    const { code, stdout } = await run('topology', ['--spof']);
    expect(code).toBe(0);
    const rows = stdout.trim().split('\n');
    expect(rows[0]).toBe('single points of failure');
    expect(rows.slice(2).map((row) => row.split(/\s+/))).toEqual([
      ['lnxspof', 'array', 'md0', VIOS1],
      ['lnxspof', 'array', 'md1', VIOS1],
    ]);
  });

  it('prints every host with its arrays, and as --json the hosts and single points of failure of every page', async () => {
    const human = await run('topology', []);
    expect(human.stdout).toMatch(
      /lnx02\s+md0\s+degraded\s+sda2 faulty \(vscsi:vios1\), sdb2 in-sync \(vscsi:vios2\)/,
    );
    const json = await run('topology', ['--domain', VIOS2, '--json']);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.hosts.map((host: { hostId: string }) => host.hostId)).toEqual(['lnx01', 'lnx02']);
    expect(parsed.singlePointsOfFailure).toEqual([]);
  });

  it('says who loses a half and who would lose the last in-sync copy when a domain goes down', async () => {
    const human = await run('impact', [VIOS2]);
    expect(human.code).toBe(0);
    expect(human.stdout.split('\n')[0]).toBe(
      `if ${VIOS2} goes down now: 1 host(s) lose a half, 1 would lose their last in-sync copy or path`,
    );
    expect(human.stdout).toMatch(/lnx02\s+LAST\s+array md0 \(already degraded\)\s+-/);
    const json = JSON.parse((await run('impact', [VIOS1, '--json'])).stdout);
    expect(
      json.hosts.map((host: { hostId: string; losesLast: boolean }) => [host.hostId, host.losesLast]),
    ).toEqual([
      ['lnx01', false],
      ['lnxspof', true],
    ]);
  });

  it('refuses an impact without a domain, and reports a domain the API refuses', async () => {
    expect((await run('impact', [])).code).toBe(2);
    const refused = await run('impact', ['vios2']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('params.id');
  });
});

/** `faultline incidents`: a page at a time, and its last line says how to read the next. */
describe('faultline incidents', () => {
  let api: ApiHarness;
  let server: ReturnType<typeof serve>;
  let url: string;

  beforeEach(async () => {
    api = await apiHarness();
    for (let index = 0; index < 3; index += 1) {
      await putIncident(
        api.store,
        incidentRow(`inc-page0000000000000${index}`, {
          openedAt: `2026-11-22T03:0${index}:00.000Z`,
          failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios2',
        }),
      );
    }
    await new Promise<void>((resolve) => {
      server = serve({ fetch: api.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await api.close();
  });

  const incidents = async (args: string[]): Promise<string> => {
    let stdout = '';
    const code = await runOperator(
      'incidents',
      [...args, '--url', url, '--token', OPERATOR_SECRET],
      {
        stdout: (text) => {
          stdout += text;
        },
        stderr: () => undefined,
      },
      {},
    );
    expect(code).toBe(0);
    return stdout;
  };

  it('says how to read the next page, with the same filters, until the last one', async () => {
    const first = await incidents(['--limit', '2', '--status', 'remediating']);
    expect(first).toContain('inc-page00000000000002');
    expect(first).not.toContain('inc-page00000000000000');
    const hint = first.trim().split('\n').at(-1) ?? '';
    expect(hint).toMatch(/^more incidents: faultline incidents --status remediating --limit 2 --cursor \S+$/);
    const cursor = hint.slice(hint.lastIndexOf(' ') + 1);
    const second = await incidents(['--limit', '2', '--status', 'remediating', '--cursor', cursor]);
    expect(second).toContain('inc-page00000000000000');
    expect(second).not.toContain('more incidents');
  });

  it('keeps a failure domain filter on the next page', async () => {
    const first = await incidents(['--limit', '1', '--domain', 'vscsi:Server-9080-M9S-SN78AB12C/vios2']);
    expect(first.trim().split('\n').at(-1)).toMatch(
      /^more incidents: faultline incidents --domain vscsi:Server-9080-M9S-SN78AB12C\/vios2 --limit 1 --cursor /,
    );
  });
});
