import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DemoRun, startDemo, summaryLines } from '../../../cli/demo/run-demo.ts';
import { SINGLE_CLIENT_PARTITIONS, singleClientSystem } from '../../../cli/demo/single-client.ts';
import { SPOF_CLIENT } from '../../../cli/demo/spof-client.ts';
import { healText, incidentTimes } from '../../../cli/demo/time-to-heal.ts';
import { VARIANT_CLIENTS } from '../../../cli/demo/variant-clients.ts';
import { RuntimeConfig } from '../../../local/config.ts';
import { vscsiDomain } from '../../../sim/managed-system.ts';
import { SimVios } from '../../../sim/vios.ts';
import {
  FAULTLINE_BIN,
  type FaultlineUp,
  operatorCli,
  pagerDutyAt,
  QUICK_SWEEP_SECONDS,
  quickHealingConfig,
  startFaultlineUp,
  until,
  writeConfigFile,
} from '../../helpers/faultline-up.ts';

/**
 * `faultline demo` end to end: `faultline up` as a child process on a free port, the demo's 40
 * simulated clients (each the real agent and executor over its own simulated host) and its servers
 * (vios1, vios2 and an LDoms control domain, each the real agent in its server role) against it,
 * pages to the demo's sink on another free port. Two more of vios2's clients are laid out as some in
 * the field are: arrays without a write-intent bitmap on mdadm 3.2.3, and a root and a data disk
 * from each VIOS; the LDoms guest keeps three state database replicas per disk. In the middle of
 * the healing the control plane is killed with SIGKILL and restarted on the same data folder and
 * port. No operator in the loop: the operator token registers the servers and mints the agent
 * tokens before anything runs, then only reads (the demo's requests are watched to show it; the
 * test's own CLI commands only read). The operator's pause is test/e2e/operator-pause.test.ts. Once
 * the demo is done and every agent stopped, nothing is open and nothing escalates.
 */

const ROOT = join(import.meta.dirname, '..', '..', '..');
const CLIENTS = 40;
/** vios2's clients in the outage: the plain ones, and the two laid out otherwise. */
const VIOS2_CLIENTS = CLIENTS + Object.keys(VARIANT_CLIENTS).length;
/** The simulated agents' heartbeat interval (sim/simulated-agent-host.ts): silence is three of them. */
const HEARTBEAT_SECONDS = 5;
const run = promisify(execFile);

const freePort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const address = server.address();
  await new Promise((done) => server.close(done));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
};

const data = mkdtempSync(join(tmpdir(), 'faultline-demo-'));
const planeDir = join(data, 'plane');
const configFile = join(data, 'faultline.json');
let plane: FaultlineUp | undefined;
let url = '';
let sinkPort = 0;
let demo: DemoRun | undefined;
/** The control plane's core timings, as the demo reads them from the same file. */
let core: RuntimeConfig['core'] | undefined;

const start = async (port = 0): Promise<void> => {
  plane = await startFaultlineUp({ dataDir: planeDir, configFile, port });
  url = plane.url;
};

/** The operator CLI, as a person would run it, against the test's control plane: reads only. */
const cli = (...args: string[]): Promise<string> => operatorCli(url, planeDir)(...args);

/** A request the demo made in this process with the operator token. */
type OperatorRequest = { method: string; path: string };

/** Watches the process's `fetch` for requests carrying `token`, passing every request on unchanged. */
const watchOperatorRequests = (token: string): OperatorRequest[] => {
  const seen: OperatorRequest[] = [];
  const passOn = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
    const request = input instanceof Request ? input : undefined;
    const headers = new Headers(init?.headers ?? request?.headers);
    if (headers.get('authorization') === `Bearer ${token}`) {
      const target = new URL(request?.url ?? String(input));
      seen.push({ method: (init?.method ?? request?.method ?? 'GET').toUpperCase(), path: target.pathname });
    }
    return passOn(input, init);
  });
  return seen;
};

beforeAll(async () => {
  sinkPort = await freePort();
  const config = quickHealingConfig({
    maxPlansInFlight: 8,
    notify: pagerDutyAt('demo-sink', `http://127.0.0.1:${sinkPort}/v2/enqueue`),
  });
  writeConfigFile(configFile, config);
  core = RuntimeConfig.parse(config).core;
  await start();
});

afterAll(async () => {
  vi.restoreAllMocks();
  await demo?.cleanup();
  await plane?.stop();
  rmSync(data, { recursive: true, force: true });
});

describe('faultline demo', () => {
  it('says clearly when the control plane is not running, the token is wrong, or an option is out of range', async () => {
    const closed = await freePort();
    const down = await run(FAULTLINE_BIN, ['demo', '--url', `http://127.0.0.1:${closed}`, '--token', 'x'], {
      cwd: ROOT,
    }).catch((error: { code: number; stderr: string }) => error);
    expect(down).toMatchObject({ code: 3 });
    expect((down as { stderr: string }).stderr).toContain('the control plane is not answering');
    const refused = await run(
      FAULTLINE_BIN,
      ['demo', '--url', url, '--token', 'flt_not-a-token', '--data', planeDir],
      {
        cwd: ROOT,
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(refused).toMatchObject({ code: 4 });
    expect((refused as { stderr: string }).stderr).toContain('refused the operator token');
    const badOption = await run(FAULTLINE_BIN, ['demo', '--single-clients', '11', '--url', url], {
      cwd: ROOT,
    }).catch((error: { code: number; stderr: string }) => error);
    expect(badOption).toMatchObject({ code: 2 });
    expect((badOption as { stderr: string }).stderr).toContain('singleClients');
  });

  it('heals 40 simulated clients, one more without a bitmap and one with two disks, after vios2 goes down and comes back, through a SIGKILL of the control plane, with no operator in the loop', async () => {
    const lines: string[] = [];
    const operatorToken = readFileSync(join(planeDir, 'operator-token'), 'utf8').trim();
    const operatorRequests = watchOperatorRequests(operatorToken);
    demo = await startDemo({
      clients: CLIENTS,
      url,
      operatorToken,
      dataDir: planeDir,
      sinkPort,
      outageSeconds: 1,
      timeoutSeconds: 600,
      tty: false,
      write: (text) => lines.push(text),
      ...(core === undefined ? {} : { timings: core }),
    });
    // startDemo returns once every host is registered and its agent started: registration is over.
    const registration = operatorRequests.length;
    const { clients } = demo;
    const done = demo.done.catch((error: Error) => error);
    const healed = () => clients.filter((client) => client.phase === 'healed').length;
    const busy = () => clients.some((client) => client.phase === 'healing' || client.phase === 'resyncing');

    // SIGKILL in the middle of the healing, plans in flight, then a restart on the same data folder
    // and port.
    await until('a first wave healed and more hosts healing', () =>
      healed() >= 4 && busy() ? true : undefined,
    );
    const port = Number(new URL(url).port);
    const killed = plane?.child;
    killed?.kill('SIGKILL');
    await new Promise((exited) => killed?.once('exit', exited));
    const healedAtKill = healed();
    expect(healedAtKill).toBeLessThan(CLIENTS);
    await start(port);

    const result = await done;
    if (result instanceof Error) throw new Error(`${result.message}\n${lines.join('')}`);
    expect(result.incident).toMatchObject({
      kind: 'outage',
      status: 'resolved',
      affectedHosts: VIOS2_CLIENTS,
    });

    // Every client healthy, its tools asked for the field order once: no plan ran twice.
    for (const client of [...clients, ...demo.variantClients]) {
      expect(client.isHealthy(), client.hostId).toBe(true);
      expect(client.actions(), client.hostId).toEqual(client.expectedActions());
      expect(client.plansAdmitted, client.hostId).toHaveLength(1);
      const reads = client.reads().map((argv) => argv.join(' '));
      expect(reads.some((read) => read.startsWith('mdadm --detail /dev/md0'))).toBe(true);
    }
    expect(result.pages.map((page) => page.event_action)).toEqual(['trigger', 'resolve']);

    // The client without a bitmap, on an mdadm that refuses the stale --add: each member's
    // superblock zeroed right before its add, both arrays rebuilt in full. The client with two
    // disks from vios2: one plan, the field order for sdb, then for sdc.
    const variant = (hostId: string) => {
      const found = demo?.variantClients.find((client) => client.hostId === hostId);
      if (found === undefined) throw new Error(`no ${hostId} in the demo`);
      return found;
    };
    const noBitmap = variant(VARIANT_CLIENTS.noBitmap);
    expect(noBitmap.planned('md.zero-superblock')).toBe(true);
    expect(noBitmap.actions()).toEqual([
      ['mdadm', '/dev/md1', '--fail', '/dev/sdb2'],
      ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
      ['mdadm', '/dev/md1', '--remove', '/dev/sdb2'],
      ['write', '/sys/class/scsi_device/1:0:1:0/device/delete', '1'],
      ['write', '/sys/class/scsi_host/host1/scan', '0 1 0'],
      ['mdadm', '--zero-superblock', '/dev/sdb1'],
      ['mdadm', '/dev/md0', '--add', '/dev/sdb1'],
      ['mdadm', '--zero-superblock', '/dev/sdb2'],
      ['mdadm', '/dev/md1', '--add', '/dev/sdb2'],
    ]);
    const twoDisks = variant(VARIANT_CLIENTS.twoDisks);
    expect(
      twoDisks.plansFetched.map((plan) => plan.actions.filter((action) => action === 'disk.probe')),
    ).toEqual([['disk.probe', 'disk.probe']]);
    expect(twoDisks.actions()).toEqual([
      ['mdadm', '/dev/md1', '--fail', '/dev/sdb2'],
      ['mdadm', '/dev/md0', '--remove', '/dev/sdb1'],
      ['mdadm', '/dev/md1', '--remove', '/dev/sdb2'],
      ['write', '/sys/class/scsi_device/1:0:1:0/device/delete', '1'],
      ['write', '/sys/class/scsi_host/host1/scan', '0 1 0'],
      ['mdadm', '/dev/md0', '--re-add', '/dev/sdb1'],
      ['mdadm', '/dev/md1', '--re-add', '/dev/sdb2'],
      ['mdadm', '/dev/md2', '--remove', '/dev/sdc1'],
      ['write', '/sys/class/scsi_device/1:0:2:0/device/delete', '1'],
      ['write', '/sys/class/scsi_host/host1/scan', '0 2 0'],
      ['mdadm', '/dev/md2', '--re-add', '/dev/sdc1'],
    ]);

    // The client whose two halves both come from vios1: vios2's outage left it alone.
    expect(demo.spofClients.map((client) => client.hostId)).toEqual([SPOF_CLIENT]);
    for (const client of demo.spofClients) {
      expect(client.isHealthy(), client.hostId).toBe(true);
      expect(client.actions(), client.hostId).toEqual([]);
      expect(client.plansFetched, client.hostId).toEqual([]);
    }

    // The LDoms guest and the multipath hosts healed in their own incidents: metareplace once,
    // for the guest's component on the alternate service domain only; one reinstate, of the path
    // multipathd left failed.
    const { storageHosts } = demo;
    expect(result.sideIncidents.map((side) => [side.scenario, side.incident.status])).toEqual([
      ['ldoms-guest', 'resolved'],
      ['multipath', 'resolved'],
      ['single-client', 'resolved'],
    ]);
    expect(result.sideIncidents.map((side) => side.incident.failureDomain)).toEqual([
      'vdisk:ctl1/alternate',
      'fc:500507680b22ac1c',
      vscsiDomain(SINGLE_CLIENT_PARTITIONS.remote, singleClientSystem(0)),
    ]);
    // The guest joined its service domain's incident from its control domain's guests report alone.
    expect(result.sideIncidents[0]?.incident.affectedHosts).toBe(1);
    // The client alone on hosting partitions that run no agent: an outage of one host, healed
    // from its own read-backs, only its faulty member removed and re-added.
    const single = result.sideIncidents[2];
    expect(single?.incident).toMatchObject({ kind: 'outage', affectedHosts: 1 });
    expect(demo.singleClients).toHaveLength(1);
    for (const client of demo.singleClients) {
      expect(client.isHealthy(), client.hostId).toBe(true);
      expect(client.actions(), client.hostId).toEqual(client.expectedActions());
      expect(client.plansAdmitted, client.hostId).toHaveLength(1);
    }
    for (const host of storageHosts) {
      expect(host.isHealthy(), host.hostId).toBe(true);
      expect(host.actions(), host.hostId).toEqual(host.expectedActions());
    }
    const guest = storageHosts.filter((host) => host.kind === 'ldoms-guest');
    expect(guest).toHaveLength(1);
    const [ldg] = guest;
    expect(ldg?.plansAdmitted).toHaveLength(1);
    // Its three replicas on c0d1s7 took a write error while the alternate rebooted and keep it once
    // the disk is back: its plan (made from the replicas in its heartbeat) re-creates them after the
    // resync, and the metadb then shows none in error.
    expect(ldg?.restorePlanned).toBe(true);
    expect(ldg?.replicasInError()).toEqual([]);
    expect(ldg?.actions()).toEqual([
      ['metareplace', '-e', 'd10', 'c0d1s0'],
      ['metadb', '-d', 'c0d1s7'],
      ['metadb', '-a', '-c', '3', 'c0d1s7'],
    ]);
    const multipath = storageHosts.filter((host) => host.kind === 'multipath');
    expect(multipath).toHaveLength(3);
    expect(multipath.flatMap((host) => host.actions())).toEqual([['multipathd', 'reinstate', 'path', 'sdd']]);
    for (const side of result.sideIncidents) {
      const pages = result.sinkPages.filter((page) => page.dedup_key === side.incident.id);
      expect(pages.map((page) => page.event_action)).toEqual(['trigger', 'resolve']);
    }
    expect(new Set(result.pages.map((page) => page.dedup_key))).toEqual(new Set([result.incident.id]));
    expect(result.timeToDetectSeconds).toBeGreaterThanOrEqual(0);
    expect(result.timeToHealSeconds).toBeGreaterThan(0);
    console.log(
      `demo: wall ${result.wallSeconds} s, time to detect ${result.timeToDetectSeconds} s, time to heal ${result.timeToHealSeconds} s, healed at SIGKILL ${healedAtKill}`,
    );

    // The summary `faultline demo` prints names them and what was special about each.
    const summary = summaryLines(result, demo).join('\n');
    console.log(summary);
    expect(summary).toContain(`${VIOS2_CLIENTS} hosts healed`);
    expect(summary).toContain(
      `${VARIANT_CLIENTS.noBitmap} no bitmap (mdadm 3.2.3): 2 superblocks zeroed, rebuilt in full`,
    );
    expect(summary).toContain(
      `${VARIANT_CLIENTS.twoDisks} two disks (sdb, sdc): 2 disks rescanned by 1 plan`,
    );
    expect(summary).toContain('ldg01: replicas re-created (3 on c0d1s7)');

    // One time to heal per incident, the control plane's own: the live view's RESOLVED line says
    // the figure the summary says, and each incident counts its own hosts and plans.
    const story = lines.join('');
    expect(story).not.toContain('\x1b');
    const incidentsOfDemo = [result.incident, ...result.sideIncidents.map((side) => side.incident)];
    for (const incident of incidentsOfDemo) {
      const heal = healText(incident);
      expect(heal, incident.id).toMatch(/^time to heal \d+(\.\d)? s \(up /);
      expect(story, incident.id).toMatch(
        new RegExp(`incident ${incident.id} RESOLVED: .*; ${heal.replace(/[()]/g, '\\$&')}\n`),
      );
      expect(summary, incident.id).toContain(heal);
    }
    expect(result.timeToHealSeconds).toBe(incidentTimes(result.incident).healSeconds);
    expect(summary).toContain(`${VIOS2_CLIENTS} hosts healed by ${VIOS2_CLIENTS} plans (each run once)`);
    expect(summary).toContain('3 multipath hosts healed by 1 plan;');
    expect(summary).toContain('1 LDoms guest(s) healed by 1 plan;');
    expect(summary).not.toContain('control plane stats');

    // The operator commands show it.
    const incidents = JSON.parse(await cli('incidents', '--json')) as { incidents: { id: string }[] };
    const outages = incidents.incidents.filter((incident) => incident.id === result.incident.id);
    expect(outages).toHaveLength(1);
    const detail = JSON.parse(await cli('incident', result.incident.id, '--json')) as {
      incident: { status: string };
      timeline: { items?: unknown[] } | unknown[];
    };
    expect(detail.incident.status).toBe('resolved');
    const timeline = Array.isArray(detail.timeline) ? detail.timeline : (detail.timeline.items ?? []);
    expect(timeline.length).toBeGreaterThan(0);
    const stats = JSON.parse(await cli('stats', '--json')) as {
      timeToDetect: { count: number; meanSeconds: number | null };
      timeToHeal: { count: number; meanSeconds: number | null };
    };
    expect(stats.timeToDetect.count).toBeGreaterThanOrEqual(1);
    expect(stats.timeToHeal.count).toBeGreaterThanOrEqual(1);
    expect(stats.timeToHeal.meanSeconds).not.toBeNull();
    // The demo's incidents are the only ones of this control plane: the summary's mean is the stats'.
    const heals = incidentsOfDemo.map((incident) => incidentTimes(incident).healSeconds ?? Number.NaN);
    expect(stats.timeToHeal.count).toBe(heals.length);
    const summaryMean = Number(/time to heal, .*: mean ([\d.]+) s/.exec(summary)?.[1]);
    expect(Math.abs(summaryMean - (stats.timeToHeal.meanSeconds ?? Number.NaN))).toBeLessThanOrEqual(0.1);

    // The topology lists the vios1-only client's arrays, and only them, as single points of failure;
    // vios2 going down now would cost its 42 clients a half each, and that client nothing.
    const spofs = JSON.parse(await cli('topology', '--spof', '--json')) as {
      singlePointsOfFailure: { hostId: string; kind: string; name: string; failureDomain: string }[];
    };
    expect(spofs.singlePointsOfFailure).toEqual([
      { hostId: SPOF_CLIENT, kind: 'array', name: 'md0', failureDomain: vscsiDomain('vios1') },
      { hostId: SPOF_CLIENT, kind: 'array', name: 'md1', failureDomain: vscsiDomain('vios1') },
    ]);
    expect(result.singlePointsOfFailure).toEqual(spofs.singlePointsOfFailure);
    expect(await cli('topology', '--spof')).toContain(`${SPOF_CLIENT}  array  md0`);
    const impact = JSON.parse(await cli('impact', vscsiDomain('vios2'), '--json')) as {
      hosts: { hostId: string }[];
      losingHalf: number;
      losingLast: number;
    };
    expect([impact.losingHalf, impact.losingLast]).toEqual([VIOS2_CLIENTS, 0]);
    expect(impact.hosts.map((host) => host.hostId)).not.toContain(SPOF_CLIENT);

    // No operator in the loop: vios2's own agent announced its shutdown and its IPL.
    const vios2 = demo.servers.find((server) => server.hostId === 'vios2');
    expect(vios2).toBeInstanceOf(SimVios);
    expect((vios2 as SimVios).boots).toBe(2);
    const said = timeline.map((entry) => JSON.stringify(entry)).join('\n');
    expect(said).toContain('announced by agent:vios2');
    expect(said).toContain('ipl.completed from agent:vios2');
    expect(said).not.toContain('operator:');
    // The operator token posted only to register the servers and mint the agent tokens, before any
    // agent ran; from then on the demo only read with it.
    const hosts = [
      ...demo.servers,
      ...clients,
      ...demo.variantClients,
      ...demo.spofClients,
      ...storageHosts,
      ...demo.singleClients,
    ];
    expect(operatorRequests.slice(0, registration).filter((request) => request.method !== 'GET')).toEqual(
      hosts.map(() => ({ method: 'POST', path: '/v1/tokens' })),
    );
    expect(operatorRequests.slice(registration).filter((request) => request.method !== 'GET')).toEqual([]);
    expect(operatorRequests.length).toBeGreaterThan(registration);

    // The demo ends cleanly: its agents, servers and clients alike, stopped together. Past the
    // silence deadline (three heartbeats) and a few sweeps, no incident is open and none escalated.
    await demo.cleanup();
    await new Promise((done) =>
      setTimeout(done, (3 * HEARTBEAT_SECONDS + 3) * 1000 + 10 * QUICK_SWEEP_SECONDS * 1000),
    );
    const after = JSON.parse(await cli('incidents', '--json')) as {
      incidents: { id: string; status: string; escalated: boolean; failureDomain: string }[];
    };
    expect(after.incidents.filter((incident) => incident.status !== 'resolved')).toEqual([]);
    expect(after.incidents.filter((incident) => incident.escalated)).toEqual([]);
  }, 600_000);
});
