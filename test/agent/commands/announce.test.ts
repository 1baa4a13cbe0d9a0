import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { announceGoingDown, parseAnnounceArguments } from '../../../agent/commands/announce.ts';
import { type AgentConfig, resolveAgentConfig } from '../../../agent/config.ts';
import { readBootId } from '../../../agent/identity.ts';
import { startAgent } from '../../../agent/loop/agent-loop.ts';
import { FileSpool } from '../../../agent/spool/file-spool.ts';
import { acquireAgentLock } from '../../../agent/state/agent-lock.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { AGENT_TOKEN } from '../../helpers/agent-config.ts';
import { hostSnapshot } from '../../helpers/agent-snapshots.ts';
import { waitUntil } from '../../helpers/agent-wait.ts';
import {
  acceptingApi,
  createServerHost,
  inProcessTools,
  type ServerHost,
  unreachableUrl,
  writeHostFile,
} from '../serve/server-fakes.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';
const BOOT_ID = '6a1f3c2e-5b4d-4e8f-9a0b-1c2d3e4f5a6b';
const WAIT_SECONDS = 1.5;

const hostingHost = (): ServerHost => {
  const host = createServerHost(
    { now: null, ldoms: null, vios: null },
    {
      'proc/sys/kernel/random/boot_id': `${BOOT_ID}\n`,
      'proc/stat': 'btime 1763800000\n',
    },
  );
  cleanups.push(() => host.remove());
  return host;
};

const configFor = (host: ServerHost, url: string, overrides: Record<string, unknown> = {}): AgentConfig =>
  resolveAgentConfig(
    {
      hostId: 'vios2.example.net',
      role: 'hosting',
      platform: 'linux',
      root: host.root,
      stateDir: host.stateDir,
      fallbackStateDir: host.fallbackStateDir,
      targets: { api: { url, agentToken: AGENT_TOKEN } },
      intervals: { scanSeconds: 3600, heartbeatSeconds: 3600 },
      retry: { initialSeconds: 0.02, maxSeconds: 0.2 },
      hosting: { failureDomain: VIOS2, servingCheck: { command: ['/opt/faultline/bin/check-serving'] } },
      announce: { waitSeconds: WAIT_SECONDS },
      ...overrides,
    },
    'agent.json',
  );

const goingDown = (api: Awaited<ReturnType<typeof acceptingApi>>) =>
  api.events().filter((event) => event.type === 'domain.going-down');

const timed = async <Value>(run: () => Promise<Value>): Promise<{ value: Value; ms: number }> => {
  const started = Date.now();
  const value = await run();
  return { value, ms: Date.now() - started };
};

describe('parseAnnounceArguments', () => {
  it('reads going-down with its options in any order, in both spellings', () => {
    expect(
      parseAnnounceArguments([
        'going-down',
        '--reason',
        'firmware update',
        '--config=/etc/f.json',
        '--wait',
        '3',
        '--only-at-shutdown',
      ]),
    ).toEqual({
      configPath: '/etc/f.json',
      reason: 'firmware update',
      waitSeconds: 3,
      onlyAtShutdown: true,
    });
    expect(parseAnnounceArguments(['going-down'])).toEqual({
      configPath: '/etc/faultline/agent.json',
      reason: undefined,
      waitSeconds: undefined,
      onlyAtShutdown: false,
    });
  });

  it('refuses anything else with a reason', () => {
    expect(parseAnnounceArguments([])).toBe('what to announce? going-down');
    expect(parseAnnounceArguments(['up'])).toBe("cannot announce 'up'");
    expect(parseAnnounceArguments(['going-down', '--reason'])).toBe('--reason needs a value');
    expect(parseAnnounceArguments(['going-down', '--wait', '600'])).toBe('--wait takes 0.5 to 120 seconds');
    expect(parseAnnounceArguments(['going-down', '--force'])).toBe("unexpected argument '--force'");
  });
});

describe('announce going-down with no agent running', () => {
  it('spools and delivers domain.going-down to the API on 127.0.0.1 within the wait', async () => {
    const host = hostingHost();
    const api = await acceptingApi();
    cleanups.push(() => api.stop());
    const { value: summary, ms } = await timed(() =>
      announceGoingDown(
        configFor(host, api.url),
        { reason: 'IPL for firmware', waitSeconds: undefined, onlyAtShutdown: false },
        {
          log: memoryLog(),
          serverTools: inProcessTools(host.root),
        },
      ),
    );
    expect(summary).toMatchObject({ via: 'itself', exitCode: 0, result: { outcome: 'delivered' } });
    expect(summary.message).toBe(`domain.going-down ${VIOS2}: delivered to api ${api.url}/v1/events`);
    expect(ms).toBeLessThan(WAIT_SECONDS * 1000);
    expect(goingDown(api).map((event) => [event.subject, event.data])).toEqual([
      ['vios2.example.net', { failureDomain: VIOS2, reason: 'IPL for firmware' }],
    ]);
    const spool = FileSpool.open({
      directory: join(host.stateDir, 'spool'),
      maxBytes: 1 << 20,
      log: memoryLog(),
    });
    expect(spool.stats().pendingEvents).toBe(0);
    spool.close();
  });

  it('leaves it spooled when the API cannot be reached, returns within the wait with exit 0, and the agent delivers it later', async () => {
    const host = hostingHost();
    const { value: summary, ms } = await timed(async () =>
      announceGoingDown(
        configFor(host, await unreachableUrl()),
        { reason: undefined, waitSeconds: undefined, onlyAtShutdown: false },
        {
          log: memoryLog(),
          serverTools: inProcessTools(host.root),
        },
      ),
    );
    expect(summary).toMatchObject({ via: 'itself', exitCode: 0, result: { outcome: 'spooled' } });
    expect(summary.message).toContain('not delivered within 1.5 s; the agent sends it when it next runs');
    expect(ms).toBeLessThan(WAIT_SECONDS * 1000 + 1000);

    const api = await acceptingApi();
    cleanups.push(() => api.stop());
    const agent = await startAgent(configFor(host, api.url), {
      observe: async () => ({
        snapshot: hostSnapshot({ hostId: 'vios2.example.net', arrays: [], maps: [], disks: [] }),
        progress: new Map(),
      }),
      log: memoryLog(),
      serverTools: inProcessTools(host.root),
    });
    await waitUntil(() => goingDown(api).length === 1, 'the spooled announcement');
    await agent.stop();
    expect(goingDown(api)[0]?.data).toEqual({ failureDomain: VIOS2 });
  });

  it('fails with exit 1 when it can neither deliver nor spool (no writable state directory)', async () => {
    const host = hostingHost();
    writeHostFile(host.base, 'not-a-directory', 'x');
    const config = configFor(host, await unreachableUrl(), {
      stateDir: join(host.base, 'not-a-directory', 'state'),
      fallbackStateDir: join(host.base, 'not-a-directory', 'run'),
    });
    const summary = await announceGoingDown(
      config,
      { reason: undefined, waitSeconds: 0.5, onlyAtShutdown: false },
      {
        log: memoryLog(),
        serverTools: inProcessTools(host.root),
      },
    );
    expect(summary.exitCode).toBe(1);
    expect(summary.result.outcome).toBe('failed');
    expect(summary.message).toMatch(/^could not announce going-down: no writable state directory/);
  });
});

describe('announce going-down while the agent runs', () => {
  it('hands the announcement to the agent, which spools and delivers it', async () => {
    const host = hostingHost();
    const api = await acceptingApi();
    cleanups.push(() => api.stop());
    const config = configFor(host, api.url);
    const agent = await startAgent(config, {
      observe: async () => ({
        snapshot: hostSnapshot({ hostId: 'vios2.example.net', arrays: [], maps: [], disks: [] }),
        progress: new Map(),
      }),
      log: memoryLog(),
      serverTools: inProcessTools(host.root),
    });
    cleanups.push(() => agent.stop());
    const signals: string[] = [];
    const summary = await announceGoingDown(
      config,
      { reason: 'shutdown', waitSeconds: undefined, onlyAtShutdown: false },
      {
        log: memoryLog(),
        // The agent runs in this process: SIGUSR2 is what its handler would do.
        signal: (pid, signal) => {
          signals.push(`${pid} ${signal}`);
          agent.requestsPending();
        },
      },
    );
    expect(signals).toEqual([`${process.pid} SIGUSR2`]);
    expect(summary).toMatchObject({ via: 'agent', exitCode: 0, result: { outcome: 'delivered' } });
    expect(goingDown(api).map((event) => event.data)).toEqual([{ failureDomain: VIOS2, reason: 'shutdown' }]);
  });

  it('returns spooled within the wait when the agent cannot reach the API', async () => {
    const host = hostingHost();
    const config = configFor(host, await unreachableUrl());
    const agent = await startAgent(config, {
      observe: async () => ({
        snapshot: hostSnapshot({ hostId: 'vios2.example.net', arrays: [], maps: [], disks: [] }),
        progress: new Map(),
      }),
      log: memoryLog(),
      serverTools: inProcessTools(host.root),
    });
    cleanups.push(() => agent.stop());
    const { value: summary, ms } = await timed(() =>
      announceGoingDown(
        config,
        { reason: undefined, waitSeconds: undefined, onlyAtShutdown: false },
        {
          log: memoryLog(),
          signal: () => agent.requestsPending(),
        },
      ),
    );
    expect(summary).toMatchObject({ via: 'agent', exitCode: 0, result: { outcome: 'spooled' } });
    expect(summary.message).toContain('the agent keeps sending it');
    expect(ms).toBeGreaterThanOrEqual(WAIT_SECONDS * 1000 - 50);
    expect(ms).toBeLessThan(WAIT_SECONDS * 1000 + 1000);
  });

  it('fails with exit 1 when the agent holding the lock never answers', async () => {
    const host = hostingHost();
    mkdirSync(host.stateDir, { recursive: true });
    const lock = acquireAgentLock(host.stateDir, { role: 'agent', bootId: readBootId(host.root) });
    expect(lock.acquired).toBe(true);
    if (lock.acquired) cleanups.push(() => lock.release());
    const summary = await announceGoingDown(
      configFor(host, await unreachableUrl()),
      { reason: undefined, waitSeconds: 0.5, onlyAtShutdown: false },
      {
        log: memoryLog(),
        signal: () => undefined,
      },
    );
    expect(summary.exitCode).toBe(1);
    expect(summary.message).toBe(
      `could not announce going-down: the running agent (pid ${process.pid}) did not take the announcement within the wait; nothing was spooled`,
    );
  });
});

describe('announce going-down with nothing to announce', () => {
  it('says so and exits 0 on a client', async () => {
    const host = hostingHost();
    const summary = await announceGoingDown(
      configFor(host, 'http://127.0.0.1:9', { role: 'client', hosting: undefined }),
      {
        reason: undefined,
        waitSeconds: undefined,
        onlyAtShutdown: false,
      },
      { log: memoryLog() },
    );
    expect(summary).toMatchObject({
      exitCode: 0,
      via: 'none',
      message: 'nothing to announce: this host (role client) serves no failure domain',
    });
  });

  it('announces nothing when systemd stops the agent but not the system (--only-at-shutdown)', async () => {
    const host = hostingHost();
    const api = await acceptingApi();
    cleanups.push(() => api.stop());
    const config = configFor(host, api.url);
    const restart = await announceGoingDown(
      config,
      { reason: undefined, waitSeconds: undefined, onlyAtShutdown: true },
      {
        log: memoryLog(),
        shuttingDown: async () => ({ stopping: false, state: 'running' }),
      },
    );
    expect(restart.message).toBe(
      'nothing to announce: the system is not shutting down (systemctl is-system-running: running): a restart of the agent is no outage',
    );
    const shutdown = await announceGoingDown(
      config,
      { reason: 'system shutdown', waitSeconds: undefined, onlyAtShutdown: true },
      {
        log: memoryLog(),
        serverTools: inProcessTools(host.root),
        shuttingDown: async () => ({ stopping: true, state: 'stopping' }),
      },
    );
    expect(shutdown.result.outcome).toBe('delivered');
    expect(goingDown(api)).toHaveLength(1);
  });
});

describe('the shipped systemd unit', () => {
  it('announces from ExecStop with arguments the command reads, only at shutdown', () => {
    const unit = readFileSync(
      join(import.meta.dirname, '../../../agent/dist-files/faultline-agent.service'),
      'utf8',
    );
    const execStop = /^ExecStop=-(.+)$/m.exec(unit)?.[1] ?? '';
    // systemd's quoting: words, with "..." kept together.
    const argv = [...execStop.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2] ?? '');
    const script = argv.indexOf('/opt/faultline/faultline-agent.mjs');
    expect(argv.slice(0, 2)).toEqual(['/usr/bin/node', '--lite-mode']);
    expect(argv[script + 1]).toBe('announce');
    expect(parseAnnounceArguments(argv.slice(script + 2))).toEqual({
      configPath: '/etc/faultline/agent.json',
      reason: 'system shutdown',
      waitSeconds: undefined,
      onlyAtShutdown: true,
    });
  });
});
