import { afterEach, describe, expect, it } from 'vitest';
import { HostingRole } from '../../../agent/serve/hosting-role.ts';
import { ServeStateStore } from '../../../agent/serve/serve-state.ts';
import type { ServerTools } from '../../../agent/serve/server-host.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { openStateDirectory } from '../../../agent/state/state-directory.ts';
import { parseEvent } from '../../../events/index.ts';
import type { EventDraft } from '../../../probes/event-draft.ts';
import { configureVios, iplVios, viosLayout } from '../../../sim/fake-host/fake-vios.mjs';
import {
  createServerHost,
  flippableCheck,
  inProcessTools,
  type ServerHost,
  toolsWithCheck,
  writeHostFile,
} from './server-fakes.ts';

const hosts: ServerHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.remove();
});

const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';
const LINUX_BOOT_A = '6a1f3c2e-5b4d-4e8f-9a0b-1c2d3e4f5a6b';
const LINUX_BOOT_B = '7b2e4d3f-6c5e-4f90-8b1c-2d3e4f5a6b7c';

/** The agent as it would start on the host now: a fresh role over the state directory. */
const start = (
  host: ServerHost,
  bootId: string,
  tools: ServerTools,
  hosting: ConstructorParameters<typeof HostingRole>[0]['hosting'],
  platform: 'aix' | 'linux',
) => {
  const log = memoryLog();
  const directory = openStateDirectory(host, log);
  const role = new HostingRole(
    { platform, root: host.root, hostId: 'vios2.example.net', hosting },
    bootId,
    ServeStateStore.open(directory, log),
    tools,
    log,
  );
  return { role, log };
};

/** The tests' clock: each check moves it to its `now`, and the fake VIOS's uptime counts by it. */
let clockNow = new Date();
const clock = () => clockNow;

/** One check as the loop runs it: the drafts are spooled (checked against the contract here), then committed. */
const check = async (
  role: HostingRole,
  now: Date,
): Promise<{ drafts: EventDraft[]; serves: string[]; bootedAt?: string }> => {
  clockNow = now;
  const result = await role.check(now);
  for (const draft of result.drafts) {
    const event = {
      specversion: '1.0',
      id: `vios2:b:${Math.random().toString(16).slice(2)}`,
      source: 'faultline-agent://vios2.example.net',
      type: draft.type,
      time: now.toISOString(),
      subject: draft.subject,
      datacontenttype: 'application/json',
      hostid: 'vios2.example.net',
      bootid: 'b',
      seq: 1,
      data: draft.data,
    };
    expect(parseEvent(JSON.stringify(event)).ok).toBe(true);
  }
  result.commit();
  return {
    drafts: result.drafts,
    serves: result.report.serves,
    ...(result.report.bootedAt === undefined ? {} : { bootedAt: result.report.bootedAt }),
  };
};

describe('a VIOS hosting partition', () => {
  it('announces its IPL once, only after lsmap shows its target devices Available, and never again in that boot', async () => {
    const host = createServerHost({ now: null, ldoms: null, vios: viosLayout() });
    hosts.push(host);
    const tools = inProcessTools(host.root, { clock });
    const first = start(host, 'boot-1762761600', tools, { servingCheck: 'vios' }, 'aix');
    const installed = await check(first.role, new Date('2026-11-22T09:00:00Z'));
    // Installed on a running VIOS: the boot it runs in was never reported.
    expect(installed.drafts.map((draft) => draft.type)).toEqual(['ipl.completed']);
    expect((await check(first.role, new Date('2026-11-22T09:00:05Z'))).drafts).toEqual([]);

    const ipl = new Date(2026, 10, 22, 10, 42);
    host.update((model) => iplVios(model, ipl.getTime()));
    const rebooted = start(host, 'boot-1763808120', tools, { servingCheck: 'vios' }, 'aix');
    const defined = await check(rebooted.role, new Date(ipl.getTime() + 90_000));
    expect(defined).toEqual({ drafts: [], serves: [], bootedAt: ipl.toISOString() });
    expect(
      rebooted.log.lines.some(
        (line) => line.level === 'warn' && line.message.includes('vtscsi0 (hdisk4) is Defined'),
      ),
    ).toBe(true);
    expect((await check(rebooted.role, new Date(ipl.getTime() + 95_000))).drafts).toEqual([]);

    host.update((model) => configureVios(model));
    const serving = await check(rebooted.role, new Date(ipl.getTime() + 120_000));
    expect(serving.serves).toEqual([VIOS2]);
    expect(serving.drafts).toEqual([
      {
        type: 'ipl.completed',
        subject: 'vios2.example.net',
        data: {
          partition: 'vios2',
          system: 'Server-9080-M9S-SN78AB12C',
          failureDomain: VIOS2,
          bootedAt: ipl.toISOString(),
        },
      },
    ]);
    expect((await check(rebooted.role, new Date(ipl.getTime() + 125_000))).drafts).toEqual([]);

    // The agent restarts in the same boot: nothing. Its derived boot id moved (an NTP step), the
    // boot record did not: nothing either.
    const restarted = start(host, 'boot-1763808120', tools, { servingCheck: 'vios' }, 'aix');
    expect(await check(restarted.role, new Date(ipl.getTime() + 300_000))).toEqual({
      drafts: [],
      serves: [VIOS2],
      bootedAt: ipl.toISOString(),
    });
    const stepped = start(host, 'boot-1763808480', tools, { servingCheck: 'vios' }, 'aix');
    expect((await check(stepped.role, new Date(ipl.getTime() + 660_000))).drafts).toEqual([]);
  });

  it('names itself from uname as its clients do, and says why when it cannot', async () => {
    const host = createServerHost({
      now: null,
      ldoms: null,
      vios: { ...viosLayout(), lpar: { id: -1, name: 'NULL' } },
    });
    hosts.push(host);
    const { role, log } = start(host, 'boot-1', inProcessTools(host.root), { servingCheck: 'vios' }, 'aix');
    expect(await check(role, new Date())).toMatchObject({ drafts: [], serves: [] });
    expect(log.lines.find((line) => line.level === 'error')?.message).toBe(
      "cannot name this partition's failure domain: uname -L says '-1 NULL': not a partition name Faultline can use; set hosting.failureDomain",
    );
    expect(await role.ownDomains()).toEqual({
      domains: [],
      reason: "uname -L says '-1 NULL': not a partition name Faultline can use; set hosting.failureDomain",
    });
  });
});

describe('a Linux hosting partition', () => {
  const linuxHost = (btime: number, bootId: string) => {
    const host = createServerHost(
      { now: null, ldoms: null, vios: null },
      {
        'proc/stat': `cpu  1 2 3 4\nbtime ${btime}\nprocesses 4242\n`,
        'proc/sys/kernel/random/boot_id': `${bootId}\n`,
        'proc/device-tree/ibm,partition-name': 'lnxvios1\0',
        'proc/device-tree/model': 'IBM,9080-M9S\0',
        'proc/device-tree/system-id': 'IBM,0278AB12C\0',
      },
    );
    hosts.push(host);
    return host;
  };

  it('lists its domain and announces its IPL only while its serving command exits 0, once per boot id', async () => {
    const host = linuxHost(1763800000, LINUX_BOOT_A);
    const serving = flippableCheck();
    const tools = toolsWithCheck(host.root, serving);
    const hosting = { servingCheck: { command: [serving.path] as [string], timeoutSeconds: 5 } };
    const domain = 'vscsi:Server-9080-M9S-SN78AB12C/lnxvios1';
    const bootedAt = new Date(1763800000 * 1000).toISOString();
    const { role } = start(host, LINUX_BOOT_A, tools, hosting, 'linux');

    expect(await check(role, new Date())).toEqual({ drafts: [], serves: [], bootedAt });
    expect(await check(role, new Date())).toEqual({ drafts: [], serves: [], bootedAt });
    expect(serving.runs()).toBe(2);
    serving.set(true);
    const passed = await check(role, new Date());
    expect(passed.serves).toEqual([domain]);
    expect(passed.drafts).toEqual([
      {
        type: 'ipl.completed',
        subject: 'vios2.example.net',
        data: { partition: 'lnxvios1', system: 'Server-9080-M9S-SN78AB12C', failureDomain: domain, bootedAt },
      },
    ]);
    // It stops serving: off the list, and no announcement when it is back in the same boot.
    serving.set(false);
    expect((await check(role, new Date())).serves).toEqual([]);
    serving.set(true);
    expect(await check(role, new Date())).toEqual({ drafts: [], serves: [domain], bootedAt });

    // NTP steps the clock: the kernel's btime moves, the boot id does not. Nothing.
    writeHostFile(host.root, 'proc/stat', 'cpu  1 2 3 4\nbtime 1763800437\n');
    const afterStep = start(host, LINUX_BOOT_A, tools, hosting, 'linux');
    expect(await check(afterStep.role, new Date())).toEqual({
      drafts: [],
      serves: [domain],
      bootedAt: new Date(1763800437 * 1000).toISOString(),
    });

    // A new boot: announced once it serves.
    writeHostFile(host.root, 'proc/stat', 'cpu  1 2 3 4\nbtime 1763900000\n');
    const next = start(host, LINUX_BOOT_B, tools, hosting, 'linux');
    const nextBoot = await check(next.role, new Date());
    expect(
      nextBoot.drafts.map((draft) => [draft.type, (draft.data as { bootedAt: string }).bootedAt]),
    ).toEqual([['ipl.completed', new Date(1763900000 * 1000).toISOString()]]);
    expect((await check(next.role, new Date())).drafts).toEqual([]);
  });

  it('takes a serving command that timed out for no answer: the last answer of the boot stands', async () => {
    const host = linuxHost(1763800000, LINUX_BOOT_A);
    const path = '/opt/faultline/bin/check-serving';
    let answer: 'serving' | 'not serving' | 'hangs' = 'hangs';
    const tools = inProcessTools(host.root, {
      programs: {
        [path]: () =>
          answer === 'hangs'
            ? { exitCode: null, stdout: '', stderr: '', timedOut: true, missing: false }
            : {
                exitCode: answer === 'serving' ? 0 : 1,
                stdout: '',
                stderr: '',
                timedOut: false,
                missing: false,
              },
      },
    });
    const hosting = { servingCheck: { command: [path] as [string], timeoutSeconds: 5 } };
    const domain = 'vscsi:Server-9080-M9S-SN78AB12C/lnxvios1';
    const { role, log } = start(host, LINUX_BOOT_A, tools, hosting, 'linux');
    // Not served yet in this boot: a hang does not make it serve.
    expect((await check(role, new Date())).serves).toEqual([]);
    expect(log.lines.at(-1)?.message).toBe(
      `cannot tell whether it serves ${domain}; not listing it yet: ${path}: no answer within its timeout`,
    );
    answer = 'serving';
    expect((await check(role, new Date())).drafts.map((draft) => draft.type)).toEqual(['ipl.completed']);
    // Serving: a hang keeps it listed, announcing nothing; an exit 1 takes it off.
    answer = 'hangs';
    expect(await check(role, new Date())).toMatchObject({ drafts: [], serves: [domain] });
    answer = 'not serving';
    expect((await check(role, new Date())).serves).toEqual([]);
    answer = 'hangs';
    expect((await check(role, new Date())).serves).toEqual([]);
  });

  it('takes its failure domain from the configuration over the device tree', async () => {
    const host = linuxHost(1763800000, LINUX_BOOT_A);
    const serving = flippableCheck();
    serving.set(true);
    const configured = 'vscsi:Server-9080-M9S-SN78AB12C/ibmi-host1';
    const { role } = start(
      host,
      LINUX_BOOT_A,
      toolsWithCheck(host.root, serving),
      { failureDomain: configured, servingCheck: { command: [serving.path], timeoutSeconds: 5 } },
      'linux',
    );
    const result = await check(role, new Date());
    expect(result.drafts[0]?.data).toMatchObject({ partition: 'ibmi-host1', failureDomain: configured });
    expect(await role.ownDomains()).toEqual({ domains: [configured] });
  });
});
