import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type OPERATOR_COMMANDS, runOperator } from '../../cli/operator.ts';
import { INCIDENT_PAGE_ROWS, wholeIncident } from '../../cli/operator-incident.ts';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../helpers/api-harness.ts';
import { incidentRow, minute, putIncident, VIOS2 } from '../helpers/api-incidents.ts';

/**
 * `faultline incident <id>` (every row of a large incident, read page by page) and
 * `faultline resolve <id>`, against the API served on loopback over its SQLite store, as an
 * operator runs them.
 */

/** More rows than two of the largest pages the API gives, and hosts just past one. */
const TIMELINE_ROWS = 2 * INCIDENT_PAGE_ROWS + 345;
const AFFECTED_HOSTS = INCIDENT_PAGE_ROWS + 50;

const hostName = (index: number): string => `lnx${String(index).padStart(4, '0')}`;

describe('faultline incident and resolve', () => {
  let api: ApiHarness;
  let server: ReturnType<typeof serve>;
  let url: string;
  /** The paths the API was asked, in order. */
  let asked: string[];

  beforeEach(async () => {
    api = await apiHarness();
    asked = [];
    await new Promise<void>((resolve) => {
      server = serve(
        {
          fetch: (request) => {
            const target = new URL(request.url);
            asked.push(`${request.method} ${target.pathname}${target.search}`);
            return api.app.fetch(request);
          },
          hostname: '127.0.0.1',
          port: 0,
        },
        () => resolve(),
      );
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

  const run = async (command: (typeof OPERATOR_COMMANDS)[number], args: string[]) => {
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

  /** An outage of `hosts` clients whose timeline has `rows` rows, one a second from 03:00. */
  const bigIncident = async (id: string, hosts: number, rows: number): Promise<void> => {
    await putIncident(
      api.store,
      incidentRow(id, { affectedHosts: hosts }),
      Array.from({ length: hosts }, (_, index) => hostName(index)),
    );
    for (let index = 0; index < rows; index += 1) {
      await api.store.putTimeline({
        id: `tln-${String(index).padStart(5, '0')}`,
        incidentId: id,
        at: new Date(Date.parse(minute(0)) + index * 1000).toISOString(),
        hostId: hostName(index % hosts),
        text: `row ${index}`,
      });
    }
  };

  it('shows every timeline row and every affected host of a large incident, page by page', async () => {
    await bigIncident('inc-big', AFFECTED_HOSTS, TIMELINE_ROWS);
    const { code, stdout, stderr } = await run('incident', ['inc-big']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.split('\n');
    const timelineAt = lines.indexOf(`timeline (${TIMELINE_ROWS} rows)`);
    expect(timelineAt).toBeGreaterThan(0);
    const rows = lines.slice(timelineAt + 2).filter((line) => line !== '');
    expect(rows).toHaveLength(TIMELINE_ROWS);
    expect(rows.map((row) => row.split(/\s+/).slice(2).join(' '))).toEqual(
      Array.from({ length: TIMELINE_ROWS }, (_, index) => `row ${index}`),
    );
    expect(lines).toContain(`affected hosts (${AFFECTED_HOSTS})`);
    const hosts = lines
      .filter((line) => /^lnx\d{4}\s+waiting/.test(line))
      .map((line) => line.split(/\s+/)[0]);
    expect(hosts).toEqual(Array.from({ length: AFFECTED_HOSTS }, (_, index) => hostName(index)));
    // Three pages of the timeline; the hosts' cursor is sent only while they have a next page.
    const reads = asked.filter((request) => request.startsWith('GET /v1/incidents/inc-big'));
    expect(reads).toHaveLength(3);
    expect(reads.map((request) => new URL(request.slice(4), url).searchParams.has('hostsCursor'))).toEqual([
      false,
      true,
      false,
    ]);
  });

  it('prints the whole incident as --json, both listings complete and their cursors null', async () => {
    await bigIncident('inc-json', 3, INCIDENT_PAGE_ROWS + 1);
    const { code, stdout } = await run('incident', ['inc-json', '--json']);
    expect(code).toBe(0);
    const detail = JSON.parse(stdout);
    expect(detail.incident).toMatchObject({ id: 'inc-json', affectedHosts: 3 });
    expect(detail.timeline.items).toHaveLength(INCIDENT_PAGE_ROWS + 1);
    expect(detail.timeline.cursor).toBeNull();
    expect(detail.affectedHosts).toEqual({
      items: [0, 1, 2].map((index) => expect.objectContaining({ hostId: hostName(index) })),
      cursor: null,
    });
  });

  it('reads small pages to the end as well: each listing follows only its own cursor', async () => {
    await bigIncident('inc-small', 5, 12);
    const detail = await wholeIncident({ url, token: OPERATOR_SECRET }, 'inc-small', 2);
    expect(detail.timeline.items.map((entry) => entry.text)).toEqual(
      Array.from({ length: 12 }, (_, index) => `row ${index}`),
    );
    expect(detail.affectedHosts.items.map((host) => host.hostId)).toEqual(
      Array.from({ length: 5 }, (_, index) => hostName(index)),
    );
  });

  it('says so when the incident does not exist', async () => {
    const missing = await run('incident', ['inc-nope']);
    expect(missing).toEqual({
      code: 1,
      stdout: '',
      stderr: 'faultline incident: 404 not-found: no incident inc-nope\n',
    });
  });

  it('resolves an incident through POST /v1/incidents/:id/resolve and says what it queued', async () => {
    await putIncident(api.store, incidentRow('inc-open', { failureDomain: VIOS2 }), ['lnx0001']);
    const human = await run('resolve', ['inc-open']);
    expect(human.code).toBe(0);
    expect(human.stderr).toBe('');
    const [message] = await api.drain();
    expect(message?.body).toMatchObject({
      type: 'operator.resolve',
      incidentId: 'inc-open',
      failureDomain: VIOS2,
    });
    expect(human.stdout).toBe(
      `resolving inc-open: queued as ${String(message?.body.id)}; \`faultline incident inc-open\` shows it resolved once applied\n`,
    );
    expect(asked).toContain('POST /v1/incidents/inc-open/resolve');

    const json = await run('resolve', ['inc-open', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      commandId: expect.stringMatching(/^cmd-/),
      type: 'operator.resolve',
    });
  });

  it('reports what the API refuses as the other commands do, and a missing id as a usage error', async () => {
    await putIncident(api.store, incidentRow('inc-done', { status: 'resolved', resolvedAt: minute(9) }));
    expect(await run('resolve', ['inc-done'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'faultline resolve: 409 conflict: incident inc-done is already resolved\n',
    });
    expect((await run('resolve', ['inc-nope'])).stderr).toBe(
      'faultline resolve: 404 not-found: no incident inc-nope\n',
    );
    const usage = await run('resolve', []);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^usage:\n {2}faultline resolve <id>/);
    expect(await api.drain()).toEqual([]);
  });

  it('refuses pause --domain before asking: a domain is resumed, never paused alone', async () => {
    const refused = await run('pause', ['--domain', VIOS2]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^faultline pause: pause stops dispatch everywhere; --domain goes with resume/,
    );
    expect(asked).toEqual([]);
  });
});
