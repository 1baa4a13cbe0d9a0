import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import packageJson from '../../../package.json' with { type: 'json' };
import { parseLdmList } from '../../../probes/ldm.ts';
import { parseMetadb } from '../../../probes/metadb.ts';
import { parseMetastat } from '../../../probes/metastat.ts';
import { runTool } from '../../../sim/fake-host/tools.mjs';
import {
  busyboxAwk,
  controlDomainModel,
  DASH,
  FAKE_BOOT_ID,
  FAKE_BOOTED_AT,
  hostFields,
  SHELLS,
  sectionsOf,
  sectionText,
  shAgentHost,
} from '../../helpers/sh-agent.ts';
import { GUEST, returnedGuest } from '../executor/svm-guest.ts';

/**
 * `faultline-agent.sh scan` (DESIGN §6 `POST /v1/agents/:hostId/collect`): the body it would
 * post, in sections, under each shell it supports, with the awk of the system and busybox's.
 */

const guest = returnedGuest();
const agent = shAgentHost(guest.model());
const control = shAgentHost(controlDomainModel('t5-control'), { role: 'control' });
afterAll(() => {
  for (const removed of [guest, agent.host, control.host]) removed.remove();
  rmSync(agent.base, { recursive: true, force: true });
});

const tool = (name: string, ...argv: string[]): string => runTool(name, argv, agent.host.root).stdout;

describe.each(SHELLS)('scan under $name', (shell) => {
  for (const awk of ['system awk', 'busybox awk'] as const) {
    it(`prints the host section and the raw tool output of a guest (${awk})`, async () => {
      agent.configure(awk === 'busybox awk' ? { awk: busyboxAwk(agent.base) } : {});
      const { code, stdout, stderr } = await agent.run(shell, ['scan']);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(sectionsOf(stdout).map((section) => section.name)).toEqual([
        'host',
        'metastat',
        'metastat-c',
        'metadb',
      ]);
      const host = hostFields(stdout);
      expect(host).toMatchObject({
        platform: 'solaris',
        role: 'client',
        agentVersion: packageJson.version,
        intervalSeconds: '60',
        bootid: FAKE_BOOT_ID,
        bootedAt: FAKE_BOOTED_AT,
      });
      expect(host.seq).toMatch(/^[1-9][0-9]{15}$/);
      expect(Math.abs(Date.parse(host.time ?? '') - Date.now())).toBeLessThan(120_000);
      expect(host.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(sectionText(stdout, 'metastat')).toBe(tool('metastat'));
      expect(sectionText(stdout, 'metadb')).toBe(tool('metadb', '-i'));
      // The fake `metastat` prints its long format whatever its options: `-c` is collected as printed.
      expect(sectionText(stdout, 'metastat-c')).toBe(tool('metastat', '-c'));
      // The control plane reads the sections with the parsers the Node agent uses.
      const mirrors = parseMetastat(sectionText(stdout, 'metastat') ?? '');
      expect(mirrors.warnings).toEqual([]);
      expect(mirrors.mirrors.map((mirror) => mirror.name)).toEqual(['d10']);
      expect(parseMetadb(sectionText(stdout, 'metadb') ?? '').replicas).toHaveLength(6);
    });
  }

  it('adds ldm list -p and ldm list -o disk -p on a control domain, and leaves out a tool that failed', async () => {
    const { code, stdout } = await control.run(shell, ['scan']);
    expect(code).toBe(0);
    // The control domain has no SVM: `metastat` fails ("there are no existing databases").
    expect(sectionsOf(stdout).map((section) => section.name)).toEqual(['host', 'ldm-list', 'ldm-disks']);
    expect(hostFields(stdout).role).toBe('control');
    const domains = parseLdmList(sectionText(stdout, 'ldm-list') ?? '');
    expect(domains.domains.map((domain) => domain.name)).toEqual(['primary', 'alternate', 'ldg1', 'ldg2']);
    expect(sectionText(stdout, 'ldm-disks')).toContain('VDISK|name=vdisk1|vol=ldg1-disk1@alternate-vds0|');
  });
});

describe('scan', () => {
  it('reads the boot from who -b (run in UTC) where kstat says nothing', async () => {
    const fromWho = shAgentHost(guest.model(), { bootFrom: 'who' });
    try {
      const { code, stdout } = await fromWho.run(DASH, ['scan']);
      expect(code).toBe(0);
      expect(hostFields(stdout)).toMatchObject({
        bootid: 'who-202611200800',
        bootedAt: '2026-11-20T08:00:00Z',
      });
    } finally {
      fromWho.host.remove();
    }
  });

  it('refuses a key set twice', async () => {
    writeFileSync(agent.configPath, `hostId=${GUEST}\nhostId=${GUEST}\n`);
    const { code, stderr } = await agent.run(DASH, ['scan']);
    agent.configure();
    expect(code).toBe(2);
    expect(stderr).toContain('line 2: hostId: set twice');
  });

  it('refuses a configuration with an unknown key or a bad value, naming each, and runs nothing of it', async () => {
    agent.configure({
      hostId: '$(touch /tmp/faultline-sh-pwned)',
      intervalSeconds: '`id`',
      colour: 'blue',
    });
    const { code, stderr } = await agent.run(DASH, ['scan']);
    agent.configure();
    expect(code).toBe(2);
    expect(stderr).toContain('hostId: not a host id');
    expect(stderr).toContain('intervalSeconds: whole seconds from 1 to 86400');
    expect(stderr).toContain('colour: unknown key');
    expect(agent.host.actions()).toEqual([]);
    expect(existsSync('/tmp/faultline-sh-pwned')).toBe(false);
  });
});
