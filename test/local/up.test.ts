import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultlineEvent, Plan } from '../../events/index.ts';
import { HostingPartition, random, VscsiClient, vscsi } from '../helpers/core-fleet.ts';

/**
 * `faultline up` as a child process on a free port, driven over HTTP by 40 scripted clients and
 * their VIOS: the same handlers as Lambda over one SQLite file. The clients carry out every plan
 * they fetch, once; the control plane is killed with SIGKILL in the middle of the healing and
 * started again on the same data folder.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'faultline');
const CLIENTS = 40;

type Sink = { server: Server; url: string; pages: { event_action: string; dedup_key: string }[] };

const startSink = async (): Promise<Sink> => {
  const pages: Sink['pages'] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      pages.push(JSON.parse(body));
      response.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"success"}');
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/enqueue`, pages };
};

const data = mkdtempSync(join(tmpdir(), 'faultline-up-'));
let sink: Sink;
let plane: ChildProcess | undefined;
let url = '';

const start = async (port = 0): Promise<void> => {
  const child = spawn(
    BIN,
    ['up', '--port', String(port), '--data', join(data, 'plane'), '--config', join(data, 'faultline.json')],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  plane = child;
  url = await new Promise<string>((ready, fail) => {
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/\S+)/);
      if (match?.[1]) ready(match[1]);
    });
    child.once('exit', (code) => fail(new Error(`faultline up exited ${code}: ${out}`)));
  });
};

const call = async (token: string, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
};

const until = async <T>(what: string, probe: () => Promise<T | undefined>, seconds = 60): Promise<T> => {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
};

beforeAll(async () => {
  sink = await startSink();
  writeFileSync(
    join(data, 'faultline.json'),
    JSON.stringify({
      core: {
        groupingWindowSeconds: 10,
        holdDownSeconds: 10,
        stabilitySeconds: 1,
        escalateDownSeconds: 3600,
      },
      sweepIntervalSeconds: 0.2,
      queues: { waitTimeSeconds: 1, visibilityTimeoutSeconds: 5 },
      notify: {
        destinations: [
          { name: 'pager', kind: 'pagerduty', url: sink.url, routingKey: 'R0UT1NGKEY0123456789abcd' },
        ],
      },
    }),
  );
  await start();
});

afterAll(async () => {
  if (plane?.exitCode === null) {
    plane.kill('SIGTERM');
    await new Promise((done) => plane?.once('exit', done));
  }
  await new Promise((done) => sink.server.close(done));
  rmSync(data, { recursive: true, force: true });
});

describe('faultline up', () => {
  it('heals a VIOS IPL under 40 clients over HTTP, through a SIGKILL and a restart, each plan once, one page and its resolve', async () => {
    const operator = readFileSync(join(data, 'plane', 'operator-token'), 'utf8').trim();
    const rng = random(4242);
    const clients = Array.from(
      { length: CLIENTS },
      (_, index) => new VscsiClient(`lnx${String(index).padStart(3, '0')}`, rng),
    );
    const vios2 = new HostingPartition('vios2', vscsi('vios2'));
    const tokens = new Map<string, string>();
    for (const agent of [...clients, vios2]) {
      // vios2 is registered as a server with its grant (§3 "Sender binding"); the clients are not.
      const grant = agent === vios2 ? { role: 'hosting', serves: [vios2.failureDomain] } : {};
      const minted = await call(operator, 'POST', '/v1/tokens', {
        kind: 'agent',
        hostId: agent.hostId,
        ...grant,
      });
      expect(minted.status).toBe(201);
      tokens.set(agent.hostId, minted.body.token);
    }
    const post = async (event: FaultlineEvent) => {
      const answer = await call(tokens.get(event.hostid) as string, 'POST', '/v1/events', [event]);
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    };
    const now = () => new Date().toISOString();
    await post(vios2.heartbeat(now()));
    for (const client of clients) await post(client.heartbeat(now()));
    for (const client of clients) await post(client.rootDegraded(now()));

    const incident = await until('the outage', async () => {
      const listed = await call(operator, 'GET', '/v1/incidents');
      const open = listed.body.incidents.filter((item: { kind: string }) => item.kind === 'outage');
      return open.length === 1 && open[0].affectedHosts === CLIENTS ? open[0] : undefined;
    });
    expect(incident.status).toBe('awaiting-recovery');
    await post(vios2.iplCompleted(now(), now()));

    const executed = new Map<string, string[]>();
    const runPlans = async (): Promise<number> => {
      let ran = 0;
      for (const client of clients) {
        const answer = await call(
          tokens.get(client.hostId) as string,
          'GET',
          `/v1/agents/${client.hostId}/plans`,
        );
        if (answer.status !== 200) continue;
        for (const plan of answer.body.plans as Plan[]) {
          const done = executed.get(client.hostId) ?? [];
          if (done.includes(plan.id)) continue;
          executed.set(client.hostId, [...done, plan.id]);
          ran += 1;
          const progress = plan.steps.map((step, index) =>
            client.event(
              'command.progress',
              client.hostId,
              { planId: plan.id, step: index, action: step.action, outcome: 'succeeded', branch: 'steps' },
              now(),
              { planid: plan.id },
            ),
          );
          await call(tokens.get(client.hostId) as string, 'POST', '/v1/events', [
            ...progress,
            ...client.mirrors.map((mirror) => client.healthy(mirror, now(), plan.id)),
          ]);
        }
      }
      return ran;
    };

    // Heal until a dozen hosts are done, then kill the control plane without warning.
    await until('a dozen healed hosts', async () =>
      (await runPlans()) >= 0 && executed.size >= 12 ? true : undefined,
    );
    const port = Number(new URL(url).port);
    plane?.kill('SIGKILL');
    await new Promise((done) => plane?.once('exit', done));
    await start(port);

    const resolved = await until(
      'the resolution',
      async () => {
        await runPlans();
        const detail = await call(operator, 'GET', `/v1/incidents/${incident.id}`);
        return detail.body?.incident?.status === 'resolved' ? detail.body : undefined;
      },
      120,
    );
    expect(resolved.incident.affectedHosts).toBe(CLIENTS);
    expect(executed.size).toBe(CLIENTS);
    for (const [hostId, plans] of executed) expect(plans, hostId).toHaveLength(1);
    await until('the resolve page', async () =>
      sink.pages.some((page) => page.event_action === 'resolve') ? true : undefined,
    );
    expect(sink.pages.map((page) => page.event_action)).toEqual(['trigger', 'resolve']);
    expect(new Set(sink.pages.map((page) => page.dedup_key))).toEqual(new Set([incident.id]));
  });
});
