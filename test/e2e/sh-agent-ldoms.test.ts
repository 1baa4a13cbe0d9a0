import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane, type IncidentDetail, type IncidentSummary } from '../../sim/control-plane-client.ts';
import type { FakeModel } from '../../sim/fake-host/host-model.mjs';
import { loadModel, REPLICA_ERROR_FLAGS, saveModel } from '../../sim/fake-host/host-model.mjs';
import { runServerTool } from '../../sim/fake-host/server-tools.mjs';
import { svmGuestModel } from '../../sim/fake-host/sim-host.ts';
import {
  type FaultlineUp,
  pagerDutyAt,
  quickHealingConfig,
  startFaultlineUp,
  until,
  writeConfigFile,
} from '../helpers/faultline-up.ts';
import {
  busyboxAwk,
  controlDomainModel,
  progressLines,
  type RunningAgent,
  SHELLS,
  type ShAgentHost,
  type Shell,
  sectionsOf,
  shAgentHost,
} from '../helpers/sh-agent.ts';

/**
 * #15's first acceptance point, end to end: an LDoms control domain and its guests running ONLY
 * the POSIX sh agent (agent/sh/faultline-agent.sh), each its `run` loop in a child process under
 * its own shell (the control domain under ksh, the guests under dash and busybox sh with busybox's
 * awk), with the real `openssl` and `curl`, on loopback to a real `faultline up`
 * (test/helpers/faultline-up.ts, shortened timings). Their Solaris tools are the fakes of
 * sim/fake-host on their PATH: `metastat`, `metadb`, `metareplace`, `kstat`, `dd` on the guests,
 * `ldm` on the control domain.
 *
 * Each guest mirrors `d10` over `c0d0s0` (`d11`, a virtual disk from the primary service domain)
 * and `c0d1s0` (`d12`, from the alternate), three state database replicas on each disk. The
 * control domain's `ldm list -o disk -p` says which service domain serves each guest's disks; its
 * `ldm list -p` shows the alternate stop (`ldm stop`), then active again with a new uptime
 * (`ldm start`, two seconds in transition). While the alternate is away the guests' `c0d1` does
 * not answer: `c0d1s0` goes to Maintenance and SVM's next commit flags the replicas on `c0d1s7` in
 * error (`W`), which they keep once the disk is back. A third guest's `c0d1s0` goes Last Erred.
 *
 * The operator token registers the control domain with its grant (`role: control`, its two
 * service domains) and mints every agent token, before any agent runs; then it only reads
 * (incidents). Pages go to a PagerDuty sink in the test. Between each agent and the control plane
 * sits a pass-through proxy in the test, which records what the agent posted and fetched (and the
 * control plane's answers) and, in the last case only, serves plans the test chose.
 *
 * Plan admission against a stub control plane, plan by plan and code by code under every shell, is
 * test/agent/sh/admission.test.ts (a changed byte, another host, an expired plan by its issue time
 * and by its first arrival, another boot, an unsupported action, a replay, the stop file, dry-run).
 * Here the same refusals are made of the real control plane's signed plans, and read back by its
 * collect route as `command.progress` events with their codes.
 */

const CONTROL = 'sh-ctl1';
const GUESTS = ['sh-ldg1', 'sh-ldg2', 'sh-ldg3'] as const;
const [LDG1, LDG2, LDG3] = GUESTS;
/** The guest whose alternate component goes Last Erred: paged, never touched. */
const LAST_ERRED = LDG3;
const HEALED = [LDG1, LDG2] as const;
const ALTERNATE = `vdisk:${CONTROL}/alternate`;
const PRIMARY = `vdisk:${CONTROL}/primary`;

/**
 * The agents' interval: their `sleep` (the fake host's, test/helpers/sh-agent.ts) waits a fiftieth
 * of it, so a cycle starts every 1.2 s and a bit (each cycle runs its fake tools, small Node
 * programs: four agents cost about a core); the control plane hears `intervalSeconds=60` and
 * counts a host silent past three of them (180 s): never during this test.
 */
const INTERVAL_SECONDS = 60;
/**
 * The plans' TTL, shortened so an expired real plan is seen within the test (the agent counts it
 * from the plan's first arrival). The guests admit their plans within a cycle of their issue.
 */
const PLAN_TTL_SECONDS = 20;
const TEST_SECONDS = 240;

const ksh = SHELLS.find((shell) => shell.name === 'ksh') as Shell;
const dash = SHELLS.find((shell) => shell.name === 'dash') as Shell;
const busybox = SHELLS.find((shell) => shell.name === 'busybox sh') as Shell;
const SHELL_OF: Record<string, Shell> = { [CONTROL]: ksh, [LDG1]: dash, [LDG2]: busybox, [LDG3]: dash };

// ---------------------------------------------------------------------------------------------
// The PagerDuty sink and the proxies

type Page = { event_action: string; dedup_key?: string; payload?: { summary?: string; severity?: string } };

const readBody = (request: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

const startPagerDutySink = async (): Promise<{ url: string; pages: Page[]; close: () => Promise<void> }> => {
  const pages: Page[] = [];
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      try {
        pages.push(JSON.parse(body.toString('utf8')) as Page);
      } catch {
        // Not a page: answered all the same.
      }
      response.writeHead(202, { 'content-type': 'application/json' });
      response.end('{"status":"success","message":"Event processed"}');
    });
  });
  const url = await listen(server);
  return { url, pages, close: () => new Promise((done) => server.close(() => done())) };
};

/** An event the control plane made of a collect (functions/api/collect.ts `CollectAnswer`). */
type MadeEvent = { type: string; planid?: string; data: Record<string, unknown> };

/** A collect the agent posted, with the control plane's answer. */
type Collect = { body: string; status: number; answer: CollectAnswerSeen | undefined };
type CollectAnswerSeen = {
  outcome?: string;
  events?: MadeEvent[];
  rejected?: unknown[];
};

type Proxy = {
  url: string;
  collects: Collect[];
  /** The plans answers (in lines) the control plane gave this host, in order; empty ones left out. */
  plans: string[];
  /** While set, `GET .../plans` is answered with this instead of the control plane's answer. */
  serve: (text: string | undefined) => void;
  close: () => Promise<void>;
};

/** A pass-through proxy between one agent and the control plane (see the module's comment). */
const startProxy = async (target: string): Promise<Proxy> => {
  let served: string | undefined;
  const collects: Collect[] = [];
  const plans: string[] = [];
  const server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const path = request.url ?? '/';
      if (served !== undefined && request.method === 'GET' && /\/plans\?/.test(path)) {
        response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        response.end(served);
        return;
      }
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type', 'accept', 'user-agent']) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      let answer: Response;
      try {
        answer = await fetch(`${target}${path}`, {
          method: request.method ?? 'GET',
          headers,
          ...(request.method === 'POST' ? { body } : {}),
        });
      } catch {
        response.writeHead(502);
        response.end();
        return;
      }
      const text = await answer.text();
      if (request.method === 'POST' && path.endsWith('/collect')) {
        let parsed: CollectAnswerSeen | undefined;
        try {
          parsed = JSON.parse(text) as CollectAnswerSeen;
        } catch {
          parsed = undefined;
        }
        collects.push({ body: body.toString('utf8'), status: answer.status, answer: parsed });
      } else if (request.method === 'GET' && /\/plans\?/.test(path) && answer.status === 200 && text !== '') {
        plans.push(text);
      }
      response.writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'application/octet-stream',
      });
      response.end(text);
    })();
  });
  const url = await listen(server);
  return {
    url,
    collects,
    plans,
    serve: (text) => {
      served = text;
    },
    close: () => new Promise((done) => server.close(() => done())),
  };
};

// ---------------------------------------------------------------------------------------------
// The hosts

/** A guest booted with its mirror in sync and three replicas per disk, the first the master. */
const guestModel = (hostId: string): FakeModel => {
  const model = svmGuestModel(hostId);
  model.platform = 'solaris';
  if (model.svm === null) throw new Error('the guest has SVM');
  for (const submirror of model.svm.mirrors.flatMap((mirror) => mirror.submirrors)) {
    submirror.state = 'Okay';
    for (const component of submirror.components) component.state = 'Okay';
  }
  model.svm.metadb = ['c0d0s7', 'c0d1s7'].flatMap((device) =>
    Array.from({ length: 3 }, (_, index) => ({
      device,
      flags: device === 'c0d0s7' && index === 0 ? 'a m  p  luo' : 'a    p  luo',
    })),
  );
  return model;
};

/**
 * Changes a host's model, again until the change is seen to hold: the agent's own processes (its
 * fake `sleep` moves the host's clock) load and save the same file, and may write back the model
 * they read just before this change.
 */
const changeHost = async (
  agent: ShAgentHost,
  change: (model: FakeModel) => void,
  holds: (model: FakeModel) => boolean,
): Promise<void> => {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const model = loadModel(agent.host.root) as FakeModel;
    change(model);
    saveModel(agent.host.root, model);
    await delay(300);
    if (holds(loadModel(agent.host.root) as FakeModel)) return;
  }
  throw new Error(`the change to ${agent.host.model().hostId} does not hold`);
};

const alternateSubmirror = (model: FakeModel) => {
  const submirror = model.svm?.mirrors[0]?.submirrors.find((candidate) => candidate.name === 'd12');
  if (submirror === undefined) throw new Error('the guest has d12');
  return submirror;
};

/** The alternate went away under the guest: `c0d1` does not answer, `c0d1s0` is in Maintenance (or Last Erred). */
const alternateGone = (agent: ShAgentHost, componentState: 'Maintenance' | 'Last Erred'): Promise<void> =>
  changeHost(
    agent,
    (model) => {
      const disk = model.solarisDisks?.c0d1;
      if (disk !== undefined) disk.readable = false;
      const submirror = alternateSubmirror(model);
      submirror.state = 'Needs maintenance';
      for (const component of submirror.components) component.state = componentState;
    },
    (model) =>
      model.solarisDisks?.c0d1?.readable === false &&
      alternateSubmirror(model).components.every((component) => component.state === componentState),
  );

/** The alternate is back: `c0d1` answers again (its component stays as it is until `metareplace -e`). */
const alternateBack = (agent: ShAgentHost): Promise<void> =>
  changeHost(
    agent,
    (model) => {
      const disk = model.solarisDisks?.c0d1;
      if (disk !== undefined) disk.readable = true;
    },
    (model) => model.solarisDisks?.c0d1?.readable === true,
  );

/** Every component Okay, no resync, its six replicas back and none in error. */
const isHealthy = (agent: ShAgentHost): boolean => {
  const model = agent.host.model();
  return (
    (model.svm?.mirrors ?? []).every(
      (mirror) =>
        mirror.resync === null &&
        mirror.submirrors.every(
          (submirror) =>
            submirror.state === 'Okay' &&
            submirror.components.every((component) => component.state === 'Okay'),
        ),
    ) &&
    (model.svm?.metadb ?? []).length === 6 &&
    (model.svm?.metadb ?? []).every((replica) => !REPLICA_ERROR_FLAGS.test(replica.flags))
  );
};

/** `ldm` on the control domain, as its operator types it at the console. */
const ldm = (agent: ShAgentHost, ...argv: string[]): string => {
  const result = runServerTool('ldm', argv, agent.host.root);
  if (result.code !== 0) throw new Error(`ldm ${argv.join(' ')}: ${result.stderr.trim()}`);
  return result.stdout;
};

// ---------------------------------------------------------------------------------------------
// The run

const data = mkdtempSync(join(tmpdir(), 'faultline-sh-ldoms-'));
const planeDir = join(data, 'plane');
let plane: FaultlineUp | undefined;
let controlPlane: ControlPlane;

/**
 * The operator's side of the API, as the test uses it: once the registration is done, every call
 * it makes is recorded, and must be a read.
 */
class OperatorApi extends ControlPlane {
  registered = false;
  readonly afterRegistration: string[] = [];
  override call(method: string, path: string, body?: unknown, token?: string): Promise<unknown> {
    if (this.registered) this.afterRegistration.push(`${method} ${path}`);
    return super.call(method, path, body, token);
  }
}
let operator: OperatorApi;
let sink: Awaited<ReturnType<typeof startPagerDutySink>> | undefined;
const agents = new Map<string, ShAgentHost>();
const proxies = new Map<string, Proxy>();
const running = new Map<string, RunningAgent>();

const agentOf = (hostId: string): ShAgentHost => {
  const agent = agents.get(hostId);
  if (agent === undefined) throw new Error(`no agent ${hostId}`);
  return agent;
};
const proxyOf = (hostId: string): Proxy => {
  const proxy = proxies.get(hostId);
  if (proxy === undefined) throw new Error(`no proxy ${hostId}`);
  return proxy;
};

/** Every event the control plane made of a host's collects, in order. */
const eventsOf = (hostId: string): MadeEvent[] =>
  proxyOf(hostId).collects.flatMap((collect) => collect.answer?.events ?? []);

const start = (hostId: string): void => {
  const shell = SHELL_OF[hostId] ?? dash;
  running.set(hostId, agentOf(hostId).start(shell));
};

/** Waits until the host's collects were taken twice (its first snapshot and a heartbeat after). */
const collected = (hostId: string): Promise<true> =>
  until(
    `two collects of ${hostId} taken`,
    () =>
      proxyOf(hostId).collects.filter((collect) => collect.status === 202).length >= 2 ? true : undefined,
    60,
  );

const incidentsOn = async (failureDomain: string): Promise<IncidentSummary[]> =>
  (await controlPlane.incidents()).filter((incident) => incident.failureDomain === failureDomain);

/**
 * What to show when a wait times out: each agent's log, the events the control plane made of its
 * collects other than heartbeats, the incidents with their timelines, and faultline up's warnings.
 */
const diagnose = async (): Promise<string> => {
  const hosts = [...running.entries()].map(([hostId, agent]) => {
    const collects = proxies.get(hostId)?.collects ?? [];
    const made = collects
      .flatMap((collect, index) =>
        collect.status !== 202 || (collect.answer?.rejected ?? []).length > 0
          ? [`#${index} ${collect.status} ${JSON.stringify(collect.answer)}`]
          : (collect.answer?.events ?? [])
              .filter((event) => event.type !== 'host.heartbeat')
              .map((event) => `#${index} ${event.type} ${JSON.stringify(event.data).slice(0, 300)}`),
      )
      .slice(-30)
      .join('\n');
    return `--- ${hostId} (${collects.length} collects)\n${agent.log().slice(-3000)}\n${made}`;
  });
  let incidents = '';
  try {
    for (const incident of await controlPlane.incidents()) {
      const detail = await controlPlane.incident(incident.id);
      incidents += `${JSON.stringify(incident)}\n${detail.timeline.map((entry) => `  ${JSON.stringify(entry)}`).join('\n')}\n`;
    }
  } catch (error) {
    incidents = String(error);
  }
  return `${hosts.join('\n')}\n--- incidents\n${incidents}--- pages\n${JSON.stringify(sink?.pages ?? [])}\n--- faultline up\n${plane?.stderr().slice(-4000) ?? ''}`;
};

/** Fails with {@link diagnose}'s account when `waiting` does. */
const explained = async <T>(waiting: Promise<T>): Promise<T> => {
  try {
    return await waiting;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${await diagnose()}`);
  }
};

beforeAll(async () => {
  sink = await startPagerDutySink();
  const config = quickHealingConfig({
    maxPlansInFlight: 4,
    notify: pagerDutyAt('sink', `${sink.url}/v2/enqueue`),
  });
  const configFile = writeConfigFile(join(data, 'faultline.json'), {
    ...config,
    core: { ...config.core, planTtlSeconds: PLAN_TTL_SECONDS },
  });
  plane = await startFaultlineUp({ dataDir: planeDir, configFile });
  operator = new OperatorApi(plane.url, readFileSync(join(planeDir, 'operator-token'), 'utf8').trim());
  controlPlane = operator;
  const planPublicKeyPem = readFileSync(join(planeDir, 'plan-public-key.pem'), 'utf8');

  // Registration: the control domain with its grant, every agent token; nothing runs yet. From here
  // on the operator token only reads.
  const tokens = new Map<string, string>();
  tokens.set(
    CONTROL,
    await controlPlane.mintAgentToken(CONTROL, { role: 'control', serves: [PRIMARY, ALTERNATE] }),
  );
  for (const guest of GUESTS) tokens.set(guest, await controlPlane.mintAgentToken(guest));
  operator.registered = true;

  for (const hostId of [CONTROL, ...GUESTS]) {
    const token = tokens.get(hostId);
    if (token === undefined) throw new Error(`no token for ${hostId}`);
    const proxy = await startProxy(plane.url);
    proxies.set(hostId, proxy);
    const agent = shAgentHost(hostId === CONTROL ? controlDomainModel(CONTROL) : guestModel(hostId), {
      role: hostId === CONTROL ? 'control' : 'client',
      apiUrl: proxy.url,
      token,
      planPublicKeyPem,
      guests: [...GUESTS],
      serviceDomainBootSeconds: 2,
    });
    agent.configure({
      intervalSeconds: String(INTERVAL_SECONDS),
      ...(hostId === LDG2 ? { awk: busyboxAwk(agent.base) } : {}),
    });
    agents.set(hostId, agent);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([...running.values()].map((agent) => agent.stop()));
  for (const agent of agents.values()) {
    agent.host.remove();
    rmSync(agent.base, { recursive: true, force: true });
  }
  await Promise.all([...proxies.values()].map((proxy) => proxy.close()));
  await sink?.close();
  await plane?.stop();
  rmSync(data, { recursive: true, force: true });
});

describe('an LDoms control domain and its guests running only the sh agent', () => {
  let outage: IncidentDetail | undefined;

  it(
    'heal an alternate service domain reboot with no operator: one incident, metareplace -e of the alternate only, replicas restored; the Last Erred guest is paged and untouched',
    async () => {
      // The control domain first, so its guests' disks are placed before they report.
      start(CONTROL);
      await collected(CONTROL);
      for (const guest of GUESTS) start(guest);
      await Promise.all(GUESTS.map(collected));
      await delay(2_000);
      expect(await controlPlane.incidents()).toEqual([]);

      // The alternate service domain stops; the guests' c0d1 stops answering.
      ldm(agentOf(CONTROL), 'stop', 'alternate');
      await Promise.all([
        ...HEALED.map((guest) => alternateGone(agentOf(guest), 'Maintenance')),
        alternateGone(agentOf(LAST_ERRED), 'Last Erred'),
      ]);
      const opened = await explained(
        until(
          `the outage of ${ALTERNATE} holding ${HEALED.join(' and ')}`,
          async () => {
            const incident = (await incidentsOn(ALTERNATE)).find((candidate) => candidate.kind === 'outage');
            if (incident === undefined) return undefined;
            const detail = await controlPlane.incident(incident.id);
            const hosts = detail.affectedHosts.map((host) => host.hostId);
            return HEALED.every((guest) => hosts.includes(guest)) ? detail : undefined;
          },
          90,
        ),
      );
      expect(opened.incident.kind).toBe('outage');
      // A service domain takes more than a second to reboot: the control plane takes its boot time
      // from ldm's uptime, to the second, and must find it after the time it heard it stop.
      const downAt = Date.parse(opened.incident.openedAt);
      await delay(Math.max(0, downAt + 3_000 - Date.now()));

      // It boots again (in transition two seconds, then running with a new uptime); the disks answer.
      await Promise.all(GUESTS.map((guest) => alternateBack(agentOf(guest))));
      ldm(agentOf(CONTROL), 'start', 'alternate');

      outage = await explained(
        until(
          `the outage resolved with ${HEALED.join(' and ')} healthy`,
          async () => {
            const detail = await controlPlane.incident(opened.incident.id);
            if (detail.incident.status === 'halted')
              throw new Error(`halted: ${JSON.stringify(detail.timeline, null, 1)}`);
            return detail.incident.status === 'resolved' && HEALED.every((guest) => isHealthy(agentOf(guest)))
              ? detail
              : undefined;
          },
          150,
        ),
      );

      // One incident, an outage of the alternate: nothing on the primary, no local fault.
      const incidents = await controlPlane.incidents();
      expect(incidents.filter((incident) => incident.kind === 'outage')).toHaveLength(1);
      expect(incidents.filter((incident) => incident.kind === 'local')).toEqual([]);
      expect(await incidentsOn(PRIMARY)).toEqual([]);
      const said = outage.timeline.map((entry) => JSON.stringify(entry)).join('\n');
      expect(said).toContain(`domain.rebooted from agent:${CONTROL}`);
      expect(said).not.toContain('operator:');
      // After the registration the operator token only read.
      expect(operator.afterRegistration.filter((call) => !call.startsWith('GET '))).toEqual([]);
      // Each guest told the actions it runs (its collect's `capabilities`), the state database
      // restore among them.
      for (const guest of GUESTS) {
        const heartbeat = eventsOf(guest).find((event) => event.type === 'host.heartbeat');
        expect(heartbeat?.data.capabilities, guest).toEqual([
          'disk.probe',
          'svm.metareplace',
          'svm.wait-sync',
          'svm.metadb-restore',
        ]);
      }

      // Each healed guest: the alternate's component re-enabled, its replicas re-created, never -f.
      for (const guest of HEALED) {
        const actions = agentOf(guest).host.actions();
        expect(actions, guest).toEqual([
          ['metareplace', '-e', 'd10', 'c0d1s0'],
          ['metadb', '-d', 'c0d1s7'],
          ['metadb', '-a', '-c', '3', 'c0d1s7'],
        ]);
        expect(actions.flat()).not.toContain('c0d0s0');
        expect(actions.flat()).not.toContain('-f');
        // Its plan came from the real control plane, signed in lines, and ran once.
        const planIds = new Set(
          progressLines(proxyOf(guest).collects).flatMap(([planId, , , outcome]) =>
            outcome === 'succeeded' ? [planId] : [],
          ),
        );
        expect(planIds.size, guest).toBe(1);
        // The resync its plan started was read from collects made while the plan ran: the
        // control plane marks those storage changes as the plan's own work (`planid`).
        const [planId] = [...planIds];
        const own = eventsOf(guest).filter(
          (event) => event.type === 'mirror.recovering' || event.type === 'mirror.healthy',
        );
        expect(new Set(own.map((event) => event.type)), guest).toEqual(
          new Set(['mirror.recovering', 'mirror.healthy']),
        );
        expect(
          own.filter((event) => event.planid !== planId),
          guest,
        ).toEqual([]);
      }

      // The Last Erred guest: paged, never sent a plan, never touched.
      expect(agentOf(LAST_ERRED).host.actions()).toEqual([]);
      expect(proxyOf(LAST_ERRED).plans).toEqual([]);
      expect(said).toContain(`no plan for ${LAST_ERRED}`);
      const pages = sink?.pages ?? [];
      expect(
        pages.filter(
          (page) =>
            page.event_action === 'trigger' &&
            page.payload?.severity === 'critical' &&
            (page.payload?.summary ?? '').includes(`Last Erred on ${LAST_ERRED}`),
        ),
        JSON.stringify(pages, null, 1),
      ).toHaveLength(1);
    },
    TEST_SECONDS * 1000,
  );

  it(
    "refuses the real control plane's plans changed by one byte, for another host, expired or replayed, and the control plane reads each refusal with its code",
    async () => {
      if (outage === undefined) throw new Error('the healing case did not run');
      // Only the healed guests take part: the others stop (nothing more to see of them).
      await Promise.all([CONTROL, LAST_ERRED].map((hostId) => running.get(hostId)?.stop()));
      const [plan1] = proxyOf(LDG1).plans;
      const [plan2] = proxyOf(LDG2).plans;
      if (plan1 === undefined || plan2 === undefined) throw new Error('each healed guest fetched its plan');
      const idOf = (lines: string): string => lines.split('\t')[1] ?? '';
      const [id1, id2] = [idOf(plan1), idOf(plan2)];

      // One byte of sh-ldg1's plan changed (its metareplace aimed at the primary's component),
      // sh-ldg2's plan, and sh-ldg1's own plan again, which it ran.
      const changed = plan1.replace('component=c0d1s0', 'component=c0d0s0');
      expect(changed).not.toBe(plan1);
      const logged1 = running.get(LDG1)?.log().length ?? 0;
      proxyOf(LDG1).serve([changed, plan2, plan1].join('\n'));

      // sh-ldg2's own plan again on a host that lost its run ledger (restored from a backup): the
      // plan arrived there more than its TTL ago, so it is refused as expired all the same.
      const agent2 = agentOf(LDG2);
      const receipt = join(agent2.stateDir, 'plans', 'received', id2);
      const firstArrival = Number(readFileSync(receipt, 'utf8').split(' ')[0]) * 1000;
      await delay(Math.max(0, firstArrival + (PLAN_TTL_SECONDS + 1) * 1000 - Date.now()));
      rmSync(join(agent2.stateDir, 'plans', 'runs', `${id2}.execute`), { recursive: true, force: true });
      proxyOf(LDG2).serve(plan2);

      const refused = (hostId: string, planId: string, code: string) =>
        eventsOf(hostId).some(
          (event) =>
            event.type === 'command.progress' &&
            event.data.planId === planId &&
            event.data.outcome === 'refused' &&
            event.data.code === code,
        );
      // The agent reports a refusal once per plan and code: sh-ldg1 may have reported `already-run`
      // before (its cycle after the plan can fetch it again before the control plane has read the
      // plan's end), so the replay is also looked for in its log.
      const replayLogged = () =>
        (running.get(LDG1)?.log() ?? '').slice(logged1).includes(`plan ${id1} refused: already-run`);
      await explained(
        until(
          'every refusal read by the control plane',
          () =>
            refused(LDG1, id1, 'bad-signature') &&
            refused(LDG1, id2, 'wrong-host') &&
            refused(LDG1, id1, 'already-run') &&
            replayLogged() &&
            refused(LDG2, id2, 'expired')
              ? true
              : undefined,
          60,
        ),
      );
      // What the agents posted: refusals at step 0, once per plan and code, and no other.
      const posted = (hostId: string) =>
        progressLines(proxyOf(hostId).collects)
          .filter(([, , , outcome]) => outcome === 'refused')
          .map(([planId, step, action, outcome, code]) => [planId, step, action, outcome, code].join(' '))
          .sort();
      expect(posted(LDG1)).toEqual(
        [
          `${id1} 0 disk.probe refused already-run`,
          `${id1} 0 disk.probe refused bad-signature`,
          `${id2} 0 disk.probe refused wrong-host`,
        ].sort(),
      );
      expect(posted(LDG2).filter((line) => line !== `${id2} 0 disk.probe refused already-run`)).toEqual([
        `${id2} 0 disk.probe refused expired`,
      ]);
      // Nothing ran again: each guest's log is its one repair.
      for (const guest of HEALED) expect(agentOf(guest).host.actions(), guest).toHaveLength(3);
      // The collect bodies carried only sections the control plane reads.
      for (const hostId of [CONTROL, ...GUESTS]) {
        for (const collect of proxyOf(hostId).collects) {
          expect(collect.status, `${hostId}: ${JSON.stringify(collect.answer)}`).toBe(202);
          expect(collect.answer?.rejected ?? [], hostId).toEqual([]);
          expect(sectionsOf(collect.body)[0]?.name).toBe('host');
        }
      }
      expect(existsSync(receipt)).toBe(true);
    },
    TEST_SECONDS * 1000,
  );
});
