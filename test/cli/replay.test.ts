import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { replayWorld } from '../../cli/replay/replay.ts';
import type { FaultlineEvent } from '../../events/index.ts';
import { at, random, VscsiClient, vscsi } from '../helpers/core-fleet.ts';
import { ServingPartition } from '../helpers/core-servers.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'faultline');
const STORMS = join(ROOT, 'events', 'examples', 'storms');

const replay = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await run(BIN, ['replay', ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
};

const scratch = mkdtempSync(join(tmpdir(), 'faultline-replay-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('faultline replay', () => {
  it('prints the VIOS IPL storm: one outage resolved, a canary then waves of four, one page and its resolve', async () => {
    const { code, stdout } = await replay(join(STORMS, 'vios2-ipl-40-clients.ndjson'), '--json');
    expect(code).toBe(0);
    const output = JSON.parse(stdout);
    expect(Object.keys(output)).toEqual(['incidents', 'notifications', 'plans']);
    expect(output.incidents).toHaveLength(1);
    expect(output.incidents[0]).toMatchObject({
      kind: 'outage',
      status: 'resolved',
      affectedHosts: 40,
      escalated: false,
    });
    expect(output.plans).toHaveLength(40);
    expect(output.plans[0].wave).toBe(0);
    expect(output.plans.filter((plan: { wave: number }) => plan.wave === 1)).toHaveLength(4);
    expect(output.plans.every((plan: object) => !('signature' in plan))).toBe(true);
    expect(output.notifications.map((n: { action: string }) => n.action)).toEqual(['trigger', 'resolve']);
    expect(output.notifications[0].dedupKey).toBe(output.incidents[0].id);
    expect(Object.keys(output.notifications[0])).toEqual([
      'action',
      'dedupKey',
      'incidentId',
      'severity',
      'summary',
      'time',
    ]);
  });

  it('prints the LDoms storm: metareplace on the alternate side only, and a critical page for the Last Erred guest', async () => {
    const output = JSON.parse((await replay(join(STORMS, 'ldoms-alternate-reboot.ndjson'), '--json')).stdout);
    expect(output.plans.map((plan: { hostId: string }) => plan.hostId).sort()).toEqual([
      'ldg-erp01',
      'ldg-erp02',
      'ldg-web02',
    ]);
    expect(output.incidents.map((incident: { kind: string }) => incident.kind).sort()).toEqual([
      'double-fault',
      'outage',
    ]);
    expect(output.notifications.filter((n: { severity: string }) => n.severity === 'critical')).toHaveLength(
      1,
    );
  });

  it('prints the SAN storm: one incident for twelve hosts and a single reinstate', async () => {
    const output = JSON.parse((await replay(join(STORMS, 'san-controller-port.ndjson'), '--json')).stdout);
    expect(output.incidents).toEqual([expect.objectContaining({ affectedHosts: 12, status: 'resolved' })]);
    expect(output.plans).toHaveLength(1);
    expect(output.plans[0].steps.map((step: { action: string }) => step.action)).toEqual([
      'disk.probe',
      'multipath.reinstate',
    ]);
  });

  it('counts every host once when heartbeats showing the degraded root come before the events, or alone', async () => {
    const output = JSON.parse(
      (await replay(join(STORMS, 'vios2-ipl-heartbeats-first.ndjson'), '--json')).stdout,
    );
    expect(output.incidents).toEqual([
      expect.objectContaining({ kind: 'outage', status: 'resolved', affectedHosts: 40 }),
    ]);
    expect(new Set(output.plans.map((plan: { hostId: string }) => plan.hostId)).size).toBe(40);
    expect(output.notifications.map((n: { action: string }) => n.action)).toEqual(['trigger', 'resolve']);
  });

  it('pages a double fault critical once for the pair of servers, and plans nothing for its hosts', async () => {
    const output = JSON.parse(
      (await replay(join(STORMS, 'vios1-crash-under-vios2-outage.ndjson'), '--json')).stdout,
    );
    const critical = output.notifications.filter(
      (n: { action: string; severity: string }) => n.action === 'trigger' && n.severity === 'critical',
    );
    expect(critical).toHaveLength(1);
    expect(output.incidents).toContainEqual(
      expect.objectContaining({ kind: 'double-fault', affectedHosts: 40, id: critical[0].incidentId }),
    );
    expect(output.plans).toEqual([]);
  });

  it('pages critical at the announcement of an IPL under a client whose other half is degraded, and info for the outage', async () => {
    const output = JSON.parse(
      (await replay(join(STORMS, 'vios2-announced-ipl-under-degraded-client.ndjson'), '--json')).stdout,
    );
    const announcedAt = '2026-11-22T03:10:20.000Z';
    const byKind = (kind: string) =>
      output.incidents.find((incident: { kind: string }) => incident.kind === kind);
    const pagesOf = (kind: string) =>
      output.notifications
        .filter((n: { incidentId: string }) => n.incidentId === byKind(kind)?.id)
        .map(
          (n: { action: string; severity: string; time: string }) => `${n.action} ${n.severity} ${n.time}`,
        );
    expect(pagesOf('double-fault')).toEqual([`trigger critical ${announcedAt}`]);
    expect(pagesOf('outage')[0]).toMatch(/^trigger info /);
    expect(byKind('outage')).toMatchObject({ status: 'resolved', affectedHosts: 8 });
    expect(output.plans.map((plan: { hostId: string }) => plan.hostId)).not.toContain('lnxmnt001');
    expect(output.plans).toHaveLength(7);
  });

  it('escalates once a reinstate whose steps succeeded while the path stays failed', async () => {
    const output = JSON.parse(
      (await replay(join(STORMS, 'san-reinstate-does-not-stick.ndjson'), '--json')).stdout,
    );
    expect(output.incidents).toEqual([expect.objectContaining({ status: 'remediating', escalated: true })]);
    expect(output.plans).toHaveLength(1);
    expect(
      output.notifications.map((n: { action: string; severity: string }) => `${n.action} ${n.severity}`),
    ).toEqual(['trigger error', 'trigger critical']);
  });

  it('halts the domain with a page when the agent fails a reinstate whose path did not come back (path-not-back)', async () => {
    const output = JSON.parse(
      (await replay(join(STORMS, 'san-reinstate-path-not-back.ndjson'), '--json')).stdout,
    );
    expect(output.incidents).toEqual([
      expect.objectContaining({ kind: 'outage', status: 'halted', escalated: true, affectedHosts: 12 }),
    ]);
    expect(output.plans.map((plan: { hostId: string }) => plan.hostId)).toEqual(['dbnbk05']);
    expect(
      output.notifications.map((n: { action: string; severity: string }) => `${n.action} ${n.severity}`),
    ).toEqual(['trigger error', 'trigger critical']);
    expect(output.notifications[1].summary).toMatch(
      /^Faultline halted fc:500507680c110a3f: plan pln-\w+ on dbnbk05 failed: multipath\.reinstate at step 1 \(path-not-back\)\. Faultline changed: nothing$/,
    );
  });

  it('pages an announced outage at info', async () => {
    const output = JSON.parse((await replay(join(STORMS, 'ldoms-alternate-reboot.ndjson'), '--json')).stdout);
    const outage = output.incidents.find((incident: { kind: string }) => incident.kind === 'outage');
    expect(
      output.notifications
        .filter((n: { incidentId: string }) => n.incidentId === outage.id)
        .map((n: { action: string; severity: string }) => `${n.action} ${n.severity}`),
    ).toEqual(['trigger info', 'resolve info']);
  });

  it('brings a canary after the stability period when a server is back in a new boot and its ipl.completed was lost', async () => {
    const file = join(STORMS, 'vios2-ipl-announcement-lost.ndjson');
    const output = JSON.parse((await replay(file, '--json')).stdout);
    expect(output.incidents).toEqual([
      expect.objectContaining({ kind: 'outage', status: 'resolved', affectedHosts: 12, escalated: false }),
    ]);
    expect(output.plans).toHaveLength(12);
    // Its first heartbeat from the new boot is at 03:12:00; the stability period is 60 s.
    expect(output.plans[0]).toMatchObject({ wave: 0, issuedAt: '2026-11-22T03:13:00.000Z' });
    const before = JSON.parse((await replay(file, '--json', '--until', '2026-11-22T03:12:59Z')).stdout);
    expect(before.incidents[0].status).toBe('remediating');
    expect(before.plans).toEqual([]);
  });

  it('changes nothing for a heartbeat from a boot that started before the outage, delivered late from its spool', async () => {
    const file = join(STORMS, 'vios2-ipl-announcement-lost.ndjson');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const stale = lines.filter((line) => {
      const event = JSON.parse(line);
      return event.hostid === 'vios2' && event.data.bootedAt === '2026-11-22T03:01:30.000Z';
    });
    expect(stale).toHaveLength(1);
    const without = join(scratch, 'without-stale.ndjson');
    writeFileSync(without, `${lines.filter((line) => !stale.includes(line)).join('\n')}\n`);
    const until = '2026-11-22T03:07:00Z';
    const withIt = JSON.parse((await replay(file, '--json', '--until', until)).stdout);
    expect(withIt.incidents[0].status).toBe('awaiting-recovery');
    expect(withIt.plans).toEqual([]);
    expect((await replay(file, '--json')).stdout).toBe((await replay(without, '--json')).stdout);
    expect((await replay(file, '--json', '--until', until)).stdout).toBe(
      (await replay(without, '--json', '--until', until)).stdout,
    );
  });

  it('makes a single client that cannot read its disk an outage of one host, planned only after two read-backs and the stability period', async () => {
    const file = join(STORMS, 'single-client-read-back.ndjson');
    const output = JSON.parse((await replay(file, '--json')).stdout);
    expect(output.incidents).toEqual([
      expect.objectContaining({ kind: 'outage', status: 'resolved', affectedHosts: 1 }),
    ]);
    expect(output.plans).toEqual([
      expect.objectContaining({ hostId: 'lnxsolo', wave: 0, issuedAt: '2026-11-22T03:16:10.000Z' }),
    ]);
    expect(
      output.notifications.map((n: { action: string; severity: string }) => `${n.action} ${n.severity}`),
    ).toEqual(['trigger error', 'resolve info']);
    // Paged as an outage once the hold-down has passed, not as a local fault.
    expect(output.notifications[0].time).toBe('2026-11-22T03:04:10.000Z');
    const afterOneRead = JSON.parse((await replay(file, '--json', '--until', '2026-11-22T03:15:00Z')).stdout);
    expect(afterOneRead.incidents[0].status).toBe('awaiting-recovery');
    const afterTwo = JSON.parse((await replay(file, '--json', '--until', '2026-11-22T03:16:09Z')).stdout);
    expect(afterTwo.incidents[0].status).toBe('remediating');
    expect(afterTwo.plans).toEqual([]);
  });

  it('keeps a single client whose disk still reads a local fault: paged, no plan', async () => {
    const output = JSON.parse(
      (await replay(join(STORMS, 'single-client-disk-still-reads.ndjson'), '--json')).stdout,
    );
    expect(output.incidents).toEqual([
      expect.objectContaining({ kind: 'local', status: 'open', affectedHosts: 1 }),
    ]);
    expect(output.plans).toEqual([]);
    expect(output.notifications).toEqual([
      expect.objectContaining({ action: 'trigger', severity: 'error', time: '2026-11-22T03:04:10.000Z' }),
    ]);
  });

  it('pages for AIX clients whose LVM copies went stale under a VIOS outage, and plans only the Linux clients', async () => {
    const output = JSON.parse((await replay(join(STORMS, 'aix-vios2-stale-copy.ndjson'), '--json')).stdout);
    expect(output.incidents).toEqual([
      expect.objectContaining({ kind: 'outage', affectedHosts: 7, escalated: true }),
    ]);
    const planned = output.plans.map((plan: { hostId: string }) => plan.hostId).sort();
    expect(planned).toEqual(['lnxaix01', 'lnxaix02', 'lnxaix03', 'lnxaix04']);
    expect(planned.filter((host: string) => host.startsWith('aix'))).toEqual([]);
    const escalations = output.notifications.filter(
      (n: { action: string; severity: string }) => n.action === 'trigger' && n.severity === 'critical',
    );
    expect(escalations).toHaveLength(1);
    expect(escalations[0].incidentId).toBe(output.incidents[0].id);
    expect(escalations[0].summary).toMatch(
      /^aixprd0[1-3] needs a person: no runbook for AIX LVM mirrors yet: hd2 has stale partitions on hdisk1 \(vscsi:Server-9080-M9S-SN78AB12C\/vios2\)/,
    );
  });

  it('names who sent each announcement: on the page, and on the timeline', async () => {
    const rng = random(13);
    const clients = ['lnxann01', 'lnxann02'].map((name) => new VscsiClient(name, rng));
    const vios2 = new ServingPartition('vios2', vscsi('vios2'), at(-86_400));
    const events: FaultlineEvent[] = [
      vios2.servingHeartbeat(at(0)),
      ...clients.map((client) => client.heartbeat(at(1))),
      { ...vios2.goingDown(at(100)), sentby: 'agent:vios2' },
      ...clients.map((client, index) => client.rootDegraded(at(110 + index))),
    ];
    vios2.reboot(at(500));
    events.push(vios2.announceIpl(at(520), 'operator:hmc script'));
    const file = join(scratch, 'announced.ndjson');
    writeFileSync(file, `${events.map((event) => JSON.stringify(event)).join('\n')}\n`);
    const output = JSON.parse((await replay(file, '--json')).stdout);
    expect(output.notifications[0]).toMatchObject({ severity: 'info' });
    expect(output.notifications[0].summary).toContain('announced by agent:vios2');
    const texts = replayWorld(events).timeline.map((entry) => entry.text);
    expect(texts).toContainEqual(expect.stringContaining('announced by agent:vios2'));
    expect(texts).toContainEqual(
      expect.stringMatching(/up since .*: ipl\.completed from operator:hmc script/),
    );
  });

  it('prints the same bytes on every run', async () => {
    const file = join(STORMS, 'vios2-ipl-40-clients.ndjson');
    const [first, second] = await Promise.all([replay(file, '--json'), replay(file, '--json')]);
    expect(second.stdout).toBe(first.stdout);
  });

  it('fires only the timers due by --until', async () => {
    const output = JSON.parse(
      (await replay(join(STORMS, 'vios2-ipl-40-clients.ndjson'), '--json', '--until', '2026-11-22T03:12:40Z'))
        .stdout,
    );
    expect(output.incidents[0].status).toBe('remediating');
    expect(output.plans).toHaveLength(1);
  });

  it('reports a bad line with its number and issues, replays the rest, and exits 1', async () => {
    const lines = readFileSync(join(STORMS, 'san-controller-port.ndjson'), 'utf8').trim().split('\n');
    const broken = [
      ...lines.slice(0, 2),
      '{"specversion":"1.0","type":"path.vanished"}',
      'not json',
      ...lines.slice(2),
    ];
    const file = join(scratch, 'broken.ndjson');
    writeFileSync(file, `${broken.join('\n')}\n`);
    const { code, stdout, stderr } = await replay(file);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}:3: type:`);
    expect(stderr).toContain(`${file}:4: (event): not JSON`);
    expect(stdout).toContain('1 incident(s)');
  });

  it('refuses a missing file argument and a bad --until', async () => {
    expect((await replay()).code).toBe(2);
    expect((await replay(join(STORMS, 'san-controller-port.ndjson'), '--until', 'tomorrow')).code).toBe(2);
  });
});
