import { afterEach, describe, expect, it } from 'vitest';
import { HostingRole } from '../../../agent/serve/hosting-role.ts';
import { ServeStateStore } from '../../../agent/serve/serve-state.ts';
import type { CommandResult } from '../../../agent/serve/server-commands.ts';
import type { ServerTools } from '../../../agent/serve/server-host.ts';
import { VIOS_SERVING } from '../../../agent/serve/serving-check.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { openStateDirectory } from '../../../agent/state/state-directory.ts';
import { configureVios, iplVios, viosLayout } from '../../../sim/fake-host/fake-vios.mjs';
import type { FakeVios } from '../../../sim/fake-host/server-model.d.mts';
import { createServerHost, inProcessTools, type ServerHost } from './server-fakes.ts';

/**
 * The VIOS serving check in the field (docs/architecture.md §5.2): a VIOS lists its domain and
 * announces its IPL once it serves its clients again. A stale mapping left `Defined` forever must
 * not keep it from ever serving; a VIOS still configuring the targets it served before must not
 * serve early; an `lsmap` that could not run says nothing; an NPIV mapping serves only once a
 * client logged in through it.
 */

const hosts: ServerHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});

const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';
const MINUTE = 60_000;
const GRACE_MS = VIOS_SERVING.configureGraceSeconds * 1000;

/** A stale mapping: vtscsi9 lost its backing disk hdisk9 and was never `rmvdev`'d. */
const withStaleVtd = (vios: FakeVios): FakeVios => ({
  ...vios,
  vhosts: [
    ...vios.vhosts,
    {
      name: 'vhost2',
      slot: 13,
      client: 11,
      targets: [
        {
          vtd: 'vtscsi9',
          lun: '0x8100000000000000',
          backing: 'hdisk9',
          physloc: 'U78D3.ND1.CSS1234-P1-C2-T1-W500507680B21AC1C-L3000000000000',
          stale: true,
        },
      ],
    },
  ],
});

/** A VIOS serving by NPIV only. */
const npivOnly = (vios: FakeVios): FakeVios => ({ ...vios, vhosts: [] });

type Harness = {
  host: ServerHost;
  /** The agent as it starts on the VIOS now: a fresh role over the state directory. */
  start: (bootId: string) => { role: HostingRole; log: ReturnType<typeof memoryLog> };
  /** One check at `now` as the loop runs it (the drafts spooled, then committed). */
  check: (
    role: HostingRole,
    now: number,
  ) => Promise<{ types: string[]; serves: string[]; bootedAt: string | undefined }>;
  /** `ioscli` answers as the fake does, or, while set, as given (a timeout, a failure). */
  ioscli: { answer: CommandResult | undefined };
};

const harness = (vios: FakeVios): Harness => {
  const host = createServerHost({ now: null, ldoms: null, vios });
  hosts.push(host);
  let clockNow = new Date();
  const ioscli: Harness['ioscli'] = { answer: undefined };
  const fakes = inProcessTools(host.root, { clock: () => clockNow });
  const tools: ServerTools = {
    ...fakes,
    run: async (argv, options) =>
      argv[0] === 'ioscli' && ioscli.answer !== undefined ? ioscli.answer : fakes.run(argv, options),
  };
  return {
    host,
    ioscli,
    start: (bootId) => {
      const log = memoryLog();
      const role = new HostingRole(
        { platform: 'aix', root: host.root, hostId: 'vios2.example.net', hosting: { servingCheck: 'vios' } },
        bootId,
        ServeStateStore.open(openStateDirectory(host, log), log),
        tools,
        log,
      );
      return { role, log };
    },
    check: async (role, now) => {
      clockNow = new Date(now);
      const result = await role.check(clockNow);
      result.commit();
      return {
        types: result.drafts.map((draft) => draft.type),
        serves: result.report.serves,
        bootedAt: result.report.bootedAt,
      };
    },
  };
};

const timedOut: CommandResult = { exitCode: null, stdout: '', stderr: '', timedOut: true, missing: false };

const warnings = (log: ReturnType<typeof memoryLog>) =>
  log.lines.filter((line) => line.level === 'warn').map((line) => line.message);

describe('a VIOS with a stale mapping left Defined', () => {
  it('serves and announces its IPL once the targets that served before are back, whatever the stale one', async () => {
    const { host, start, check } = harness(withStaleVtd(viosLayout()));
    const installed = Date.parse('2026-11-10T09:00:00Z');
    const first = start('boot-1762761600');
    // The agent's first look, at a VIOS up for a day: the stale target is left over.
    expect(await check(first.role, installed + 24 * 60 * MINUTE)).toMatchObject({
      types: ['ipl.completed'],
      serves: [VIOS2],
    });
    expect(warnings(first.log)).toContainEqual(expect.stringContaining('vtscsi9 (hdisk9) is Defined'));

    // It IPLs: its targets Defined while it configures them, the stale one for good.
    const ipl = Date.parse('2026-11-22T10:42:00Z');
    host.update((model) => iplVios(model, ipl));
    const rebooted = start('boot-1763808120');
    expect(await check(rebooted.role, ipl + MINUTE)).toMatchObject({ types: [], serves: [] });
    host.update((model) => configureVios(model));
    // Well within the configuring time: it waits for no stale target.
    const served = await check(rebooted.role, ipl + 2 * MINUTE);
    expect(served).toEqual({
      types: ['ipl.completed'],
      serves: [VIOS2],
      bootedAt: new Date(ipl).toISOString(),
    });
    expect(warnings(rebooted.log)).toContainEqual(
      `serving ${VIOS2} without 1 device(s): vhost2 vtscsi9 (hdisk9) is Defined: it did not serve when this VIOS last served (left over)`,
    );
  });
});

describe('a VIOS still configuring its devices after its IPL', () => {
  it('does not serve while a target that served before is still Defined, though others are Available', async () => {
    const { host, start, check } = harness(viosLayout());
    const first = start('boot-1762761600');
    expect((await check(first.role, Date.parse('2026-11-21T09:00:00Z'))).serves).toEqual([VIOS2]);

    const ipl = Date.parse('2026-11-22T10:42:00Z');
    host.update((model) => iplVios(model, ipl));
    host.update((model) => configureVios(model, ['vtscsi0']));
    const rebooted = start('boot-1763808120');
    expect(await check(rebooted.role, ipl + MINUTE)).toMatchObject({ types: [], serves: [] });
    expect(warnings(rebooted.log)).toContainEqual(
      expect.stringContaining(
        'vhost0 vtscsi1 (lnxclient07_data) is Defined: it served when this VIOS last served, not back yet',
      ),
    );
    host.update((model) => configureVios(model));
    expect(await check(rebooted.role, ipl + 2 * MINUTE)).toMatchObject({
      types: ['ipl.completed'],
      serves: [VIOS2],
    });
  });

  it('serves without a target that served before once the boot is past the configuring time, and warns', async () => {
    const { host, start, check } = harness(viosLayout());
    const first = start('boot-1762761600');
    expect((await check(first.role, Date.parse('2026-11-21T09:00:00Z'))).serves).toEqual([VIOS2]);

    // The IPL: vtscsi1's backing device went away meanwhile; it stays Defined.
    const ipl = Date.parse('2026-11-22T10:42:00Z');
    host.update((model) => {
      iplVios(model, ipl);
      const vtscsi1 = model.vios?.vhosts[0]?.targets[1];
      if (vtscsi1 !== undefined) vtscsi1.stale = true;
      configureVios(model);
    });
    const rebooted = start('boot-1763808120');
    expect(await check(rebooted.role, ipl + GRACE_MS - MINUTE)).toMatchObject({ types: [], serves: [] });
    expect(await check(rebooted.role, ipl + GRACE_MS)).toMatchObject({
      types: ['ipl.completed'],
      serves: [VIOS2],
    });
    expect(warnings(rebooted.log)).toContainEqual(
      expect.stringContaining(
        'vtscsi1 (lnxclient07_data) is Defined: still, past the time a VIOS takes to configure after boot (left over)',
      ),
    );
    // Recorded without it: after the next IPL it is waited for no more.
    const next = Date.parse('2026-11-23T08:00:00Z');
    host.update((model) => iplVios(model, next));
    host.update((model) => configureVios(model));
    const again = start('boot-1763884800');
    expect(await check(again.role, next + MINUTE)).toMatchObject({
      types: ['ipl.completed'],
      serves: [VIOS2],
    });
  });
});

describe('a VIOS whose lsmap could not run', () => {
  it('keeps listing its domain through an lsmap that timed out, and announces nothing on it', async () => {
    const { start, check, ioscli } = harness(viosLayout());
    const { role, log } = start('boot-1762761600');
    const at = Date.parse('2026-11-21T09:00:00Z');
    expect(await check(role, at)).toMatchObject({ types: ['ipl.completed'], serves: [VIOS2] });
    ioscli.answer = timedOut;
    expect(await check(role, at + MINUTE)).toMatchObject({ types: [], serves: [VIOS2] });
    expect(await check(role, at + 2 * MINUTE)).toMatchObject({ types: [], serves: [VIOS2] });
    expect(warnings(log)[0]).toBe(
      `cannot tell whether it serves ${VIOS2}; still listing it: lsmap: ioscli lsmap -all: no answer within its timeout; ioscli lsmap -all -npiv: no answer within its timeout; lsmap -all could not be read`,
    );
    ioscli.answer = undefined;
    expect(await check(role, at + 3 * MINUTE)).toMatchObject({ types: [], serves: [VIOS2] });
  });

  it('does not serve in a new boot before lsmap has answered, and announces once it does', async () => {
    const { host, start, check, ioscli } = harness(viosLayout());
    expect((await check(start('boot-1762761600').role, Date.parse('2026-11-21T09:00:00Z'))).serves).toEqual([
      VIOS2,
    ]);
    const ipl = Date.parse('2026-11-22T10:42:00Z');
    host.update((model) => {
      iplVios(model, ipl);
      configureVios(model);
    });
    ioscli.answer = {
      exitCode: 1,
      stdout: '',
      stderr: 'ioscli: 0514-516 Device configuration database lock service timed out.\n',
      timedOut: false,
      missing: false,
    };
    const rebooted = start('boot-1763808120');
    expect(await check(rebooted.role, ipl + MINUTE)).toMatchObject({ types: [], serves: [] });
    ioscli.answer = undefined;
    expect(await check(rebooted.role, ipl + 2 * MINUTE)).toMatchObject({
      types: ['ipl.completed'],
      serves: [VIOS2],
    });
  });
});

describe('a VIOS serving by NPIV only', () => {
  it('does not serve on its mapping alone: not while its physical port is off the fabric and no client logs in', async () => {
    const { host, start, check } = harness(npivOnly(viosLayout()));
    host.update((model) => {
      const vfchost0 = model.vios?.vfchosts[0];
      if (vfchost0 !== undefined) vfchost0.portOnFabric = false;
    });
    const { role, log } = start('boot-1762761600');
    const at = Date.parse('2026-11-21T09:00:00Z');
    expect(await check(role, at)).toMatchObject({ types: [], serves: [] });
    expect(warnings(log)[0]).toBe(
      `not serving ${VIOS2} yet: lsmap: nothing serves: no virtual target device Available and no virtual FC client logged in`,
    );
    host.update((model) => {
      const vfchost0 = model.vios?.vfchosts[0];
      if (vfchost0 !== undefined) vfchost0.portOnFabric = true;
    });
    expect(await check(role, at + MINUTE)).toMatchObject({ types: ['ipl.completed'], serves: [VIOS2] });
  });

  it('after its IPL, waits for the clients that logged in through it before', async () => {
    const { host, start, check } = harness(viosLayout());
    expect((await check(start('boot-1762761600').role, Date.parse('2026-11-21T09:00:00Z'))).serves).toEqual([
      VIOS2,
    ]);
    const ipl = Date.parse('2026-11-22T10:42:00Z');
    // Its vSCSI targets are configured; its FC port has not logged into the fabric yet.
    host.update((model) => {
      iplVios(model, ipl);
      configureVios(model, ['vtscsi0', 'vtscsi1']);
    });
    const rebooted = start('boot-1763808120');
    expect(await check(rebooted.role, ipl + MINUTE)).toMatchObject({ types: [], serves: [] });
    host.update((model) => configureVios(model));
    expect(await check(rebooted.role, ipl + 2 * MINUTE)).toMatchObject({
      types: ['ipl.completed'],
      serves: [VIOS2],
    });
  });
});
