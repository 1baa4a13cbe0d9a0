import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveAgentConfig } from '../../../agent/config.ts';
import { startAgent } from '../../../agent/loop/agent-loop.ts';
import { createServerCommandRunner, describeResult } from '../../../agent/serve/server-commands.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { configureVios, iplVios, viosLayout } from '../../../sim/fake-host/fake-vios.mjs';
import { serverCommands } from '../../../sim/fake-host/server-model.mjs';
import { installServerTools } from '../../../sim/fake-host/server-tools.mjs';
import { AGENT_TOKEN } from '../../helpers/agent-config.ts';
import { hostSnapshot } from '../../helpers/agent-snapshots.ts';
import { waitUntil } from '../../helpers/agent-wait.ts';
import { acceptingApi, createServerHost, type ServerHost } from './server-fakes.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const viosHost = (): { host: ServerHost; binDir: string } => {
  const host = createServerHost({ now: null, ldoms: null, vios: viosLayout() });
  cleanups.push(() => host.remove());
  const binDir = join(host.base, 'bin');
  installServerTools(binDir, host.root);
  return { host, binDir };
};

describe('the server command runner', () => {
  it('runs the allowed programs found on its search path with an argument vector and the C locale', async () => {
    const { host, binDir } = viosHost();
    const run = createServerCommandRunner([binDir]);
    expect(await run(['uname', '-L'])).toEqual({
      exitCode: 0,
      stdout: '2 vios2\n',
      stderr: '',
      timedOut: false,
      missing: false,
    });
    const refused = await run(['uname', '-Z']);
    expect(refused.exitCode).toBe(1);
    expect(describeResult(['uname', '-Z'], refused)).toBe(
      'uname -Z: exit 1: uname: Not a recognized flag: Z; Usage: uname [-snlrvmapuMLFf]',
    );
    expect(serverCommands(host.root)).toEqual([
      ['uname', '-L'],
      ['uname', '-Z'],
    ]);
  });

  it('runs no bare name outside its list, and says a program is missing', async () => {
    const { binDir } = viosHost();
    const run = createServerCommandRunner([binDir]);
    expect(await run(['node', '-e', '1'])).toMatchObject({ missing: true, exitCode: null });
    expect(describeResult(['/nonexistent/check'], await run(['/nonexistent/check']))).toBe(
      '/nonexistent/check: not installed',
    );
  });

  it('kills a serving check that does not answer within its timeout', async () => {
    const { host } = viosHost();
    const script = join(host.base, 'hang.sh');
    writeFileSync(script, '#!/bin/sh\nexec sleep 30\n');
    chmodSync(script, 0o755);
    const started = Date.now();
    const result = await createServerCommandRunner([])([script], { timeoutMs: 300 });
    expect(result.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('a VIOS agent over the fake tools as executables', () => {
  it('runs ioscli, uname and who itself and announces the IPL once lsmap passes', async () => {
    const { host, binDir } = viosHost();
    const ipl = new Date(2026, 10, 22, 10, 42);
    host.update((model) => iplVios(model, ipl.getTime()));
    const api = await acceptingApi();
    cleanups.push(() => api.stop());
    mkdirSync(host.stateDir, { recursive: true });
    const config = resolveAgentConfig(
      {
        hostId: 'vios2.example.net',
        role: 'hosting',
        platform: 'aix',
        root: host.root,
        stateDir: host.stateDir,
        fallbackStateDir: host.fallbackStateDir,
        targets: { api: { url: api.url, agentToken: AGENT_TOKEN } },
        intervals: { scanSeconds: 3600, heartbeatSeconds: 3600, serverCheckSeconds: 0.2 },
        retry: { initialSeconds: 0.02, maxSeconds: 0.2 },
      },
      'agent.json',
    );
    const agent = await startAgent(config, {
      observe: async () => ({
        snapshot: hostSnapshot({ hostId: 'vios2.example.net', arrays: [], maps: [], disks: [] }),
        progress: new Map(),
      }),
      log: memoryLog(),
      serverTools: { run: createServerCommandRunner([binDir]) },
    });
    cleanups.push(() => agent.stop());
    // Its own loop keeps checking every serverCheckSeconds while lsmap shows Defined targets.
    await waitUntil(
      () => serverCommands(host.root).filter((argv) => argv.join(' ') === 'ioscli lsmap -all').length >= 3,
      'three serving checks',
    );
    expect(api.events().some((event) => event.type === 'ipl.completed')).toBe(false);
    host.update((model) => configureVios(model));
    await waitUntil(
      () => api.events().some((event) => event.type === 'ipl.completed'),
      'the IPL announcement',
    );
    await agent.stop();
    expect(api.events().filter((event) => event.type === 'ipl.completed')).toHaveLength(1);
  });
});
