import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostingRole } from '../../../agent/serve/hosting-role.ts';
import { ServeStateStore } from '../../../agent/serve/serve-state.ts';
import { createServerCommandRunner } from '../../../agent/serve/server-commands.ts';
import { readBoot, type ServerTools } from '../../../agent/serve/server-host.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { openStateDirectory } from '../../../agent/state/state-directory.ts';
import { parseWhoBoot } from '../../../probes/who-boot.ts';
import { iplVios, viosLayout, who } from '../../../sim/fake-host/fake-vios.mjs';
import { installServerTools } from '../../../sim/fake-host/server-tools.mjs';
import { createServerHost, type ServerHost } from './server-fakes.ts';

/**
 * The boot time a server's agent reports (`bootedAt`, §3) is the instant the partition booted,
 * whatever its time zone. `who -b` prints the boot in local time, in the zone `TZ` names as the C
 * library reads it: an Olson name, or a POSIX rule string (`CST6CDT,M3.2.0,M11.1.0`, as AIX and
 * IBM i PASE set it), which Node does not understand and reads as UTC. So the agent runs `who -b`
 * with `TZ=UTC0` and reads it as UTC, whatever its own `TZ`. The fake `who` here is an executable
 * on the runner's search path that reads `TZ` as libc does; the agent's process runs in a zone
 * far from UTC.
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

/** The agent's own `TZ`: Olson names, and the POSIX rule strings AIX and IBM i PASE are set up with. */
const ZONES = [
  'America/Chicago',
  'Asia/Kolkata',
  'Pacific/Auckland',
  'CST6CDT,M3.2.0,M11.1.0',
  '<CST>6<CDT>,M3.2.0,M11.1.0',
  'IST-5:30',
] as const;

// 22 November 2026 09:10:37 UTC: 03:10 in Chicago (CST), 14:40 in Kolkata, 22:10 in Auckland (NZDT).
const TRUE_BOOT = Date.UTC(2026, 10, 22, 9, 10, 37);
const TRUE_BOOT_MINUTE = Date.UTC(2026, 10, 22, 9, 10);
const NOW = new Date(Date.UTC(2026, 10, 22, 11, 0, 0));

describe('the fake who -b, read as the C library reads TZ', () => {
  it.each([
    [undefined, 'Nov 22 09:10'],
    ['UTC0', 'Nov 22 09:10'],
    ['America/Chicago', 'Nov 22 03:10'],
    ['CST6CDT,M3.2.0,M11.1.0', 'Nov 22 03:10'],
    ['<CST>6<CDT>,M3.2.0,M11.1.0', 'Nov 22 03:10'],
    ['IST-5:30', 'Nov 22 14:40'],
    ['NZST-12NZDT,M9.5.0,M4.1.0/3', 'Nov 22 22:10'],
    ['not a zone', 'Nov 22 09:10'],
  ])('prints the boot record in the zone TZ=%s names', (tz, printed) => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
    const { host } = viosBootedAt(TRUE_BOOT);
    expect(who(host.root, ['-b']).stdout).toBe(`   .        system boot  ${printed}\n`);
  });

  it('follows the daylight-saving rules of a POSIX TZ (CDT in July, CST from the first Sunday of November)', () => {
    process.env.TZ = 'CST6CDT,M3.2.0,M11.1.0';
    const { host } = viosBootedAt(Date.UTC(2026, 6, 1, 9, 10));
    expect(who(host.root, ['-b']).stdout).toBe('   .        system boot  Jul  1 04:10\n');
    host.update((model) => iplVios(model, Date.UTC(2026, 10, 1, 7, 0)));
    expect(who(host.root, ['-b']).stdout).toBe('   .        system boot  Nov  1 01:00\n');
  });
});

describe('the boot time of an AIX or IBM i server in a zone far from UTC', () => {
  it.each(ZONES)('runs who -b in UTC (TZ=UTC0) whatever the agent’s own TZ (%s)', async (zone) => {
    process.env.TZ = zone;
    const { binDir } = viosBootedAt(TRUE_BOOT);
    const printed = await createServerCommandRunner([binDir])(['who', '-b']);
    expect(printed).toMatchObject({ exitCode: 0, stdout: '   .        system boot  Nov 22 09:10\n' });
    expect(parseWhoBoot(printed.stdout, NOW)?.bootedAt.toISOString()).toBe(
      new Date(TRUE_BOOT_MINUTE).toISOString(),
    );
  });

  it.each(ZONES)(
    'reports the true boot minute where the only boot time is who -b (IBM i PASE, TZ=%s)',
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

  it('reports the true boot minute of a boot in daylight time (IBM i PASE, TZ=CST6CDT,M3.2.0,M11.1.0)', async () => {
    process.env.TZ = 'CST6CDT,M3.2.0,M11.1.0';
    const summerBoot = Date.UTC(2026, 6, 1, 9, 10, 37);
    const { host, binDir } = viosBootedAt(summerBoot);
    const boot = await readBoot(
      { platform: 'aix', root: host.root, bootId: 'boot-1782897060', now: new Date(summerBoot + 3_600_000) },
      { run: createServerCommandRunner([binDir]), uptimeSeconds: noUptime },
    );
    expect(boot).toEqual({
      bootKey: 'who-202607010910',
      bootedAt: new Date(Date.UTC(2026, 6, 1, 9, 10)).toISOString(),
    });
  });

  it.each(ZONES)(
    'takes the boot time from the zone-free uptime on AIX, to the second, and names the boot by who -b in UTC (%s)',
    async (zone) => {
      process.env.TZ = zone;
      const { host, binDir } = viosBootedAt(TRUE_BOOT);
      const boot = await readBoot(
        { platform: 'aix', root: host.root, bootId: 'boot-1763802600', now: NOW },
        { run: createServerCommandRunner([binDir]), uptimeSeconds: aixUptime(TRUE_BOOT, NOW) },
      );
      expect(boot).toEqual({ bootKey: 'who-202611220910', bootedAt: new Date(TRUE_BOOT).toISOString() });
    },
  );

  it.each(['America/Chicago', 'CST6CDT,M3.2.0,M11.1.0'])(
    'does not announce again a boot an older agent announced: it ran who -b with no TZ, which AIX prints in UTC (%s)',
    async (zone) => {
      process.env.TZ = zone;
      const { host, binDir } = viosBootedAt(TRUE_BOOT);
      const log = memoryLog();
      const directory = openStateDirectory(host, log);
      ServeStateStore.open(directory, log).update((state) => ({
        ...state,
        announcedBoot: {
          bootKey: 'who-202611220910',
          bootedAt: '2026-11-22T09:10:00.000Z',
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
      expect(state.state.announcedBoot?.bootKey).toBe('who-202611220910');
    },
  );

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
    expect(before.bootKey).toBe('who-202611220910');
    expect(after.bootKey).toBe(before.bootKey);
    expect(after.bootedAt).toBe(new Date(TRUE_BOOT + 420_000).toISOString());
  });
});
