import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostingRole } from '../../../agent/serve/hosting-role.ts';
import { ServeStateStore } from '../../../agent/serve/serve-state.ts';
import { createServerCommandRunner } from '../../../agent/serve/server-commands.ts';
import { readBoot, type ServerTools } from '../../../agent/serve/server-host.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { openStateDirectory } from '../../../agent/state/state-directory.ts';
import { parseWhoBoot } from '../../../probes/who-boot.ts';
import { iplVios, viosLayout } from '../../../sim/fake-host/fake-vios.mjs';
import { installServerTools } from '../../../sim/fake-host/server-tools.mjs';
import { createServerHost, type ServerHost } from './server-fakes.ts';

/**
 * The boot time a server's agent reports (`bootedAt`, §3) is the instant the partition booted,
 * whatever its time zone. AIX takes the zone from `TZ` (set in `/etc/environment`) and nowhere
 * else, and so does the agent's Node: `who -b` prints the boot in local time, so the agent must run
 * it with its own `TZ`, and should not need it where a zone-free boot time exists. The fake `who`
 * here is an executable on the runner's search path that prints, like AIX's, in the zone its `TZ`
 * names and in UTC without one; the agent's process runs in a zone far from UTC.
 */

const hosts: ServerHost[] = [];
let savedTz: string | undefined;
beforeEach(() => {
  savedTz = process.env.TZ;
});
afterEach(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
  for (const host of hosts.splice(0)) host.remove();
});

/** The VIOS booted at `bootedAt` (a true instant), its `who`, `uname` and `ioscli` as executables. */
const viosBootedAt = (bootedAt: number) => {
  const host = createServerHost({ now: null, ldoms: null, vios: viosLayout() });
  hosts.push(host);
  host.update((model) => {
    iplVios(model, bootedAt);
    if (model.vios !== null) model.vios.configured = true;
  });
  const binDir = join(host.base, 'bin');
  installServerTools(binDir, host.root);
  return { host, binDir };
};

/** IBM i PASE's Node: `os.uptime()` throws (libuv has no uptime there, src/unix/ibmi.c). */
const noUptime = (): number => {
  throw new Error('uv_uptime returned ENOSYS (function not implemented)');
};

/** AIX's Node: `os.uptime()` is `time(NULL)` minus the utmp boot record, whole seconds (libuv src/unix/aix.c). */
const aixUptime = (bootedAt: number, now: Date) => (): number =>
  Math.floor(now.getTime() / 1000) - Math.floor(bootedAt / 1000);

const ZONES = ['America/Chicago', 'Asia/Kolkata', 'Pacific/Auckland'] as const;

describe('the boot time of an AIX or IBM i server in a zone far from UTC', () => {
  // 22 November 2026 09:10:37 UTC: 03:10 in Chicago, 14:40 in Kolkata, 22:10 in Auckland.
  const TRUE_BOOT = Date.UTC(2026, 10, 22, 9, 10, 37);
  const TRUE_BOOT_MINUTE = Date.UTC(2026, 10, 22, 9, 10);
  const NOW = new Date(Date.UTC(2026, 10, 22, 11, 0, 0));

  it.each(ZONES)(
    'runs who -b in the agent’s own zone (%s), so the boot record reads as the true instant',
    async (zone) => {
      process.env.TZ = zone;
      const { binDir } = viosBootedAt(TRUE_BOOT);
      const run = createServerCommandRunner([binDir]);
      const who = await run(['who', '-b']);
      expect(who.exitCode).toBe(0);
      expect(parseWhoBoot(who.stdout, NOW)?.bootedAt.toISOString()).toBe(
        new Date(TRUE_BOOT_MINUTE).toISOString(),
      );
    },
  );

  it.each(ZONES)(
    'reports the true boot minute where the only boot time is who -b (IBM i PASE, %s)',
    async (zone) => {
      process.env.TZ = zone;
      const { host, binDir } = viosBootedAt(TRUE_BOOT);
      const tools: ServerTools = { run: createServerCommandRunner([binDir]), uptimeSeconds: noUptime };
      const log = memoryLog();
      const role = new HostingRole(
        { platform: 'aix', root: host.root, hostId: 'vios2.example.net', hosting: { servingCheck: 'vios' } },
        'boot-1763802600',
        ServeStateStore.open(openStateDirectory(host, log), log),
        tools,
        log,
      );
      const check = await role.check(NOW);
      expect(check.report.bootedAt).toBe(new Date(TRUE_BOOT_MINUTE).toISOString());
      expect(
        check.drafts.map((draft) => [draft.type, (draft.data as { bootedAt: string }).bootedAt]),
      ).toEqual([['ipl.completed', new Date(TRUE_BOOT_MINUTE).toISOString()]]);
    },
  );

  it.each(ZONES)(
    'takes the boot time from the zone-free uptime on AIX, to the second, whatever zone who prints in (%s)',
    async (zone) => {
      process.env.TZ = zone;
      const { host, binDir } = viosBootedAt(TRUE_BOOT);
      // A `TZ` the C library reads otherwise than Node: `who` prints in a zone the agent does not read.
      const run = createServerCommandRunner([binDir], { TZ: 'Etc/GMT-3' });
      const boot = await readBoot(
        { platform: 'aix', root: host.root, bootId: 'boot-1763802600', now: NOW },
        { run, uptimeSeconds: aixUptime(TRUE_BOOT, NOW) },
      );
      expect(boot.bootedAt).toBe(new Date(TRUE_BOOT).toISOString());
      // The boot is still named by its boot record, which no clock step moves.
      expect(boot.bootKey).toBe('who-202611221210');
    },
  );

  it('does not announce again a boot an older agent announced under the boot record it read in UTC', async () => {
    process.env.TZ = 'America/Chicago';
    const { host, binDir } = viosBootedAt(TRUE_BOOT);
    const log = memoryLog();
    const directory = openStateDirectory(host, log);
    // What an agent that ran `who -b` without its TZ recorded: the record as AIX prints it in UTC.
    ServeStateStore.open(directory, log).update((state) => ({
      ...state,
      announcedBoot: {
        bootKey: 'who-202611220910',
        bootedAt: '2026-11-22T15:10:00.000Z',
        announcedAt: '2026-11-22T09:20:00.000Z',
        failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios2',
      },
    }));
    const state = ServeStateStore.open(directory, log);
    const role = new HostingRole(
      { platform: 'aix', root: host.root, hostId: 'vios2.example.net', hosting: { servingCheck: 'vios' } },
      'boot-1763802600',
      state,
      { run: createServerCommandRunner([binDir]), uptimeSeconds: aixUptime(TRUE_BOOT, NOW) },
      log,
    );
    const check = await role.check(NOW);
    expect(check.drafts).toEqual([]);
    expect(check.report).toEqual({
      bootedAt: new Date(TRUE_BOOT).toISOString(),
      serves: ['vscsi:Server-9080-M9S-SN78AB12C/vios2'],
    });
    // Known from now on by the record as it prints in the agent's zone.
    expect(state.state.announcedBoot?.bootKey).toBe('who-202611220310');
    expect((await role.check(new Date(NOW.getTime() + 60_000))).drafts).toEqual([]);
  });

  it('keeps naming the boot by who -b: an NTP step moves the uptime-derived time, not the key', async () => {
    process.env.TZ = 'America/Chicago';
    const { host, binDir } = viosBootedAt(TRUE_BOOT);
    const run = createServerCommandRunner([binDir]);
    const before = await readBoot(
      { platform: 'aix', root: host.root, bootId: 'boot-1763802600', now: NOW },
      { run, uptimeSeconds: aixUptime(TRUE_BOOT, NOW) },
    );
    // The clock steps 7 minutes forward; Linux-like uptime (a monotonic count) does not step.
    const stepped = new Date(NOW.getTime() + 420_000);
    const after = await readBoot(
      { platform: 'aix', root: host.root, bootId: 'boot-1763803020', now: stepped },
      { run, uptimeSeconds: () => (NOW.getTime() - TRUE_BOOT) / 1000 },
    );
    expect(before.bootKey).toBe('who-202611220310');
    expect(after.bootKey).toBe(before.bootKey);
    expect(after.bootedAt).toBe(new Date(TRUE_BOOT + 420_000).toISOString());
  });
});
