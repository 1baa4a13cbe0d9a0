import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import {
  type PlanStep,
  planLines,
  signCanonical,
  signedPlanLines,
  type UnsignedPlan,
} from '../../events/index.ts';
import { ldomsLayout } from '../../sim/fake-host/fake-ldm.mjs';
import type { FakeModel } from '../../sim/fake-host/host-model.mjs';
import { saveServerModel } from '../../sim/fake-host/server-model.mjs';
import { installServerTools } from '../../sim/fake-host/server-tools.mjs';
import { createFakeHost, emptyModel, FAKE_BTIME, type FakeHost } from './fake-host.ts';

/**
 * The sh agent (agent/sh/faultline-agent.sh) run by the tests: under each shell it supports, on a
 * fake Solaris host whose `metastat`, `metadb`, `metareplace`, `kstat`, `dd` (and on a control
 * domain `ldm`) are the simulated tools of sim/fake-host on its PATH, talking to a small HTTP
 * server on loopback that records the collects it posts and serves the plans a test signs.
 *
 * Time on the fake host moves with the agent's own `sleep`: a fake `sleep` first on its PATH waits
 * a fiftieth of the time asked, then lets that much pass on the host (resyncs progress), so a
 * wait-sync of minutes takes a second. Killed before it ends (the agent's dd watchdog), it lets
 * no time pass.
 */

export const SH_AGENT = join(import.meta.dirname, '..', '..', 'agent', 'sh', 'faultline-agent.sh');

/** A shell the agent runs under: how to start it. */
export type Shell = { name: string; command: string; args: readonly string[] };

export const SHELLS: readonly Shell[] = [
  { name: 'dash', command: 'dash', args: [] },
  { name: 'busybox sh', command: 'busybox', args: ['sh'] },
  { name: 'ksh', command: 'ksh', args: [] },
];

export const DASH = SHELLS[0] as Shell;

/** The boot id and time the agent derives from the fake `kstat`. */
export const FAKE_BOOT_ID = `boot-${FAKE_BTIME}`;
export const FAKE_BOOTED_AT = new Date(FAKE_BTIME * 1000).toISOString().replace('.000Z', 'Z');

/** How much of the time the agent sleeps really passes (the rest passes on the fake host only). */
const SLEEP_SCALE = 0.02;

export type AgentRun = { code: number | null; stdout: string; stderr: string };

export type ShAgentHost = {
  host: FakeHost;
  base: string;
  stateDir: string;
  configPath: string;
  tokenPath: string;
  publicKeyPath: string;
  privateKey: KeyObject;
  stopFile: string;
  /** Writes the agent's configuration: the defaults of the test, with `settings` over them. */
  configure: (settings?: Record<string, string | undefined>) => void;
  /** Runs the agent with its configuration under `shell`. */
  run: (shell: Shell, args: readonly string[]) => Promise<AgentRun>;
  /**
   * Starts the agent's `run` loop under `shell` as a child process (its own process group), as SMF
   * would: it collects, posts, fetches and runs plans every `intervalSeconds` until stopped.
   */
  start: (shell: Shell) => RunningAgent;
  /** The files waiting in the agent's spool. */
  spooled: () => string[];
};

/** The agent's `run` loop in a child process. */
export type RunningAgent = {
  readonly child: ChildProcess;
  /** What it wrote to stderr so far (its log). */
  log: () => string;
  /**
   * SIGTERM to its process group (the agent, the tool it waits on, its watcher), SIGKILL to what is
   * left after 5 s; resolves once the group is gone.
   */
  stop: () => Promise<void>;
};

export const TOKEN = 'fl_agent_0123456789abcdef0123456789abcdef';

/**
 * `sh -c` of the watcher of a started agent: `$1` the test's pid, the rest the agent's command. It
 * waits on the real `/bin/sleep` (the agent's PATH starts with the fake host's).
 */
const WATCHER = [
  'parent=$1',
  'shift',
  '"$@" &',
  'agent=$!',
  'while kill -0 "$parent" 2>/dev/null && kill -0 "$agent" 2>/dev/null; do /bin/sleep 1; done',
  'kill -TERM 0 2>/dev/null',
  'wait',
].join('\n');

const writeExecutable = (path: string, text: string): void => {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
};

/** `awk` as busybox's (busybox picks the applet by the name it is started under). */
export const busyboxAwk = (base: string): string => {
  const folder = join(base, 'busybox-awk');
  const awk = join(folder, 'awk');
  if (!existsSync(awk)) {
    mkdirSync(folder, { recursive: true });
    symlinkSync('/usr/bin/busybox', awk);
  }
  return awk;
};

/** A fake Solaris host for the sh agent: `model` on its tools, a key pair, a token, a state folder. */
export const shAgentHost = (
  model: FakeModel,
  options: {
    role?: 'client' | 'control';
    apiUrl?: string;
    /**
     * `who`: kstat finds no boot time (as in a zone without /dev/kstat), and `who -b` prints the
     * boot record as Solaris prints it (`system boot  Nov 20 08:00`, here in UTC as TZ=UTC0 asks).
     */
    bootFrom?: 'kstat' | 'who';
    /** The agent token in its token file (default {@link TOKEN}, the stub's). */
    token?: string;
    /** The plans' public key (PEM) the agent verifies with (default: a key pair made here). */
    planPublicKeyPem?: string;
    /** A control domain's guests, by domain name (default `ldg1`, `ldg2`). */
    guests?: string[];
    /** How long a control domain's alternate service domain boots after `ldm start` (default 60 s). */
    serviceDomainBootSeconds?: number;
  } = {},
): ShAgentHost => {
  const host = createFakeHost({ ...model, platform: 'solaris' });
  const base = dirname(host.root);
  const shellBin = join(base, 'sh-bin');
  const serverBin = join(base, 'server-bin');
  mkdirSync(shellBin, { recursive: true });
  mkdirSync(join(base, 'tmp'), { recursive: true });
  const hostModel = pathToFileURL(
    join(import.meta.dirname, '..', '..', 'sim', 'fake-host', 'host-model.mjs'),
  ).href;
  writeExecutable(
    join(shellBin, 'sleep'),
    `#!/usr/bin/env node
// The agent's sleep on a simulated host: a fraction really, then the whole on the host's clock.
import(${JSON.stringify(hostModel)}).then(({ advance, loadModel, saveModel, saveModelOnly }) => {
  const seconds = Number(process.argv[2] ?? '0');
  setTimeout(() => {
    const model = loadModel(${JSON.stringify(host.root)});
    if (advance(${JSON.stringify(host.root)}, model, seconds * 1000)) saveModel(${JSON.stringify(host.root)}, model);
    else saveModelOnly(${JSON.stringify(host.root)}, model);
  }, Number.isFinite(seconds) ? seconds * ${SLEEP_SCALE} * 1000 : 0);
});
`,
  );
  if (options.bootFrom === 'who') {
    const booted = new Date(model.btime * 1000);
    const month = booted.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
    const time = booted.toISOString().slice(11, 16);
    writeExecutable(join(shellBin, 'kstat'), '#!/bin/sh\nexit 1\n');
    writeExecutable(
      join(shellBin, 'who'),
      `#!/bin/sh\n[ "$1" = -b ] || exit 2\nprintf '   .       system boot  %s %2d %s\\n' '${month}' ${booted.getUTCDate()} '${time}'\n`,
    );
  }
  if (options.role === 'control') {
    installServerTools(serverBin, host.root);
    saveServerModel(host.root, {
      now: null,
      ldoms: ldomsLayout({
        guests: options.guests ?? ['ldg1', 'ldg2'],
        ...(options.serviceDomainBootSeconds === undefined
          ? {}
          : { bootSeconds: options.serviceDomainBootSeconds }),
      }),
      vios: null,
    });
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicKeyPath = join(base, 'plan-key.pub.pem');
  writeFileSync(publicKeyPath, options.planPublicKeyPem ?? publicKey.export({ type: 'spki', format: 'pem' }));
  const tokenPath = join(base, 'agent.token');
  writeFileSync(tokenPath, `${options.token ?? TOKEN}\n`, { mode: 0o600 });
  const stateDir = join(base, 'sh-state');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const configPath = join(base, 'agent.conf');
  const stopFile = join(stateDir, 'stop');
  const configure: ShAgentHost['configure'] = (settings = {}) => {
    const values: Record<string, string | undefined> = {
      hostId: model.hostId,
      apiUrl: options.apiUrl ?? 'http://127.0.0.1:9',
      tokenFile: tokenPath,
      planPublicKey: publicKeyPath,
      intervalSeconds: '60',
      role: options.role ?? 'client',
      stateDir,
      root: host.root,
      readTimeoutSeconds: '60',
      syncPollSeconds: '5',
      ...settings,
    };
    const lines = Object.entries(values).flatMap(([key, value]) =>
      value === undefined ? [] : [`${key}=${value}`],
    );
    writeFileSync(configPath, `# written by test/helpers/sh-agent.ts\n${lines.join('\n')}\n`);
  };
  configure();
  const path = [
    shellBin,
    host.binDir,
    ...(options.role === 'control' ? [serverBin] : []),
    '/usr/bin',
    '/bin',
  ];
  const env = { PATH: path.join(':'), TMPDIR: join(base, 'tmp'), HOME: base, LANG: 'C' };
  const run: ShAgentHost['run'] = (shell, args) =>
    new Promise((resolve) => {
      execFile(
        shell.command,
        [...shell.args, SH_AGENT, ...args, '--config', configPath],
        {
          env,
          timeout: 90_000,
          maxBuffer: 16 * 1024 * 1024,
        },
        (error, stdout, stderr) =>
          resolve({
            code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
            stdout,
            stderr,
          }),
      );
    });
  const start: ShAgentHost['start'] = (shell) => {
    // The agent runs under a watcher, leader of their process group, that ends the group when this
    // test process goes away without stopping it (a worker killed), or when the agent exits: a
    // `run` loop never outlives its test.
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        WATCHER,
        'faultline-agent-watcher',
        String(process.pid),
        shell.command,
        ...shell.args,
        SH_AGENT,
        'run',
        '--config',
        configPath,
      ],
      { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr?.on('data', (chunk) => {
      log += chunk;
    });
    const group = child.pid;
    const signal = (name: NodeJS.Signals | 0): boolean => {
      if (group === undefined) return false;
      try {
        process.kill(-group, name);
        return true;
      } catch {
        return false;
      }
    };
    return {
      child,
      log: () => log,
      stop: async () => {
        signal('SIGTERM');
        const deadline = Date.now() + 5_000;
        while (signal(0) && Date.now() < deadline) await delay(50);
        signal('SIGKILL');
      },
    };
  };
  const spooled = () => {
    const spool = join(stateDir, 'spool');
    return existsSync(spool) ? readdirSync(spool).filter((name) => name.endsWith('.collect')) : [];
  };
  return {
    host,
    base,
    stateDir,
    configPath,
    tokenPath,
    publicKeyPath,
    privateKey,
    stopFile,
    configure,
    run,
    start,
    spooled,
  };
};

/** A control domain: no SVM of its own, `ldm` over the fakes' primary/alternate layout. */
export const controlDomainModel = (hostId: string): FakeModel => ({
  ...emptyModel(hostId),
  platform: 'solaris',
});

// ---------------------------------------------------------------------------------------------
// Plans

let planNumber = 0;

/** A plan for the agent's host, issued a few seconds ago, valid 15 minutes, for its boot. */
export const shPlan = (
  hostId: string,
  steps: [PlanStep, ...PlanStep[]],
  overrides: Partial<UnsignedPlan> = {},
): UnsignedPlan => {
  planNumber += 1;
  return {
    id: `pln-sh-${process.pid}-${planNumber}`,
    incidentId: 'inc-sh-test',
    hostId,
    bootId: FAKE_BOOT_ID,
    attempt: 1,
    wave: 0,
    issuedAt: new Date(Date.now() - 5_000).toISOString(),
    ttlSeconds: 900,
    mode: 'execute',
    steps,
    ...overrides,
  };
};

/** A signature as the control plane makes it: base64 DER ECDSA P-256 over exactly `text`, low S. */
export const signText = (text: string, privateKey: KeyObject): string =>
  signCanonical(Buffer.from(text, 'utf8'), privateKey).toString('base64');

/** One plan in lines with its signature line, as the route serves it. */
export const signedLines = (plan: UnsignedPlan, privateKey: KeyObject): string =>
  signedPlanLines(plan, signText(planLines(plan), privateKey));

/** Any text signed as a plan's lines (the fuzz tests sign what the encoder would refuse to write). */
export const signedRaw = (text: string, privateKey: KeyObject): string =>
  `${text}sig\t${signText(text, privateKey)}\n`;

// ---------------------------------------------------------------------------------------------
// The control plane's side: a loopback server

export type CollectPost = {
  body: string;
  authorization: string | undefined;
  contentType: string | undefined;
};

export type ControlPlaneStub = {
  url: string;
  collects: CollectPost[];
  plansServed: number;
  /** The plans body served (plans in lines, separated by an empty line). */
  setPlans: (text: string) => void;
  /** While down, every request gets 503. */
  setDown: (down: boolean) => void;
  /**
   * While set, every collect gets the control plane's rate-limit answer: 429 with `Retry-After` of
   * this many seconds (functions/api/rate-limit.ts), and is counted in `refusedCollects`.
   */
  setRateLimited: (retryAfterSeconds: number | undefined) => void;
  refusedCollects: number;
  close: () => Promise<void>;
};

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

/**
 * `POST /v1/agents/:hostId/collect` and `GET /v1/agents/:hostId/plans?format=lines` for one host
 * and its token (401 for another token, 404 for another host), as DESIGN §6 has them.
 */
export const startControlPlaneStub = async (hostId: string): Promise<ControlPlaneStub> => {
  let plans = '';
  let down = false;
  let rateLimited: number | undefined;
  const stub: Omit<ControlPlaneStub, 'url' | 'close'> = {
    collects: [],
    plansServed: 0,
    refusedCollects: 0,
    setRateLimited: (seconds) => {
      rateLimited = seconds;
    },
    setPlans: (text) => {
      plans = text;
    },
    setDown: (value) => {
      down = value;
    },
  };
  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      if (down) {
        response.writeHead(503, { 'content-type': 'application/json' });
        response.end('{"error":{"code":"unavailable","message":"down for the test"}}');
        return;
      }
      if (request.headers.authorization !== `Bearer ${TOKEN}`) {
        response.writeHead(401, { 'content-type': 'application/json' });
        response.end('{"error":{"code":"unauthorized","message":"bad token"}}');
        return;
      }
      const url = new URL(request.url ?? '/', 'http://stub');
      if (request.method === 'POST' && url.pathname === `/v1/agents/${hostId}/collect`) {
        if (rateLimited !== undefined) {
          stub.refusedCollects += 1;
          response.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(rateLimited) });
          response.end(
            '{"error":{"code":"rate-limited","message":"this token is over its ingest rate limit"}}',
          );
          return;
        }
        stub.collects.push({
          body,
          authorization: request.headers.authorization,
          contentType: request.headers['content-type'],
        });
        response.writeHead(202, { 'content-type': 'application/json' });
        response.end('{"events":[]}');
        return;
      }
      if (
        request.method === 'GET' &&
        url.pathname === `/v1/agents/${hostId}/plans` &&
        url.searchParams.get('format') === 'lines'
      ) {
        stub.plansServed += 1;
        response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        response.end(plans);
        return;
      }
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"error":{"code":"not-found","message":"no such route"}}');
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(stub, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
};

// ---------------------------------------------------------------------------------------------
// Reading what the agent posted

/** A collect body's sections, in order: `#faultline <name>` and the lines under it. */
export const sectionsOf = (body: string): { name: string; lines: string[] }[] => {
  const sections: { name: string; lines: string[] }[] = [];
  for (const line of body.split('\n')) {
    const opened = /^#faultline (\S+)$/.exec(line);
    if (opened?.[1] !== undefined) sections.push({ name: opened[1], lines: [] });
    else if (line !== '' || sections.length > 0) sections.at(-1)?.lines.push(line);
  }
  for (const section of sections) {
    while (section.lines.at(-1) === '') section.lines.pop();
  }
  return sections;
};

/** The text of one section exactly as posted (what follows its `#faultline` line), or undefined. */
export const sectionText = (body: string, name: string): string | undefined => {
  const marker = `#faultline ${name}\n`;
  const at = body.startsWith(marker) ? 0 : body.indexOf(`\n${marker}`) + 1;
  if (at === 0 && !body.startsWith(marker)) return undefined;
  const start = at + marker.length;
  const next = body.indexOf('\n#faultline ', start - 1);
  return body.slice(start, next < 0 ? body.length : next + 1);
};

/** The `host` section as key/value pairs. */
export const hostFields = (body: string): Record<string, string> =>
  Object.fromEntries(
    (sectionsOf(body).find((section) => section.name === 'host')?.lines ?? []).map((line) => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1)];
    }),
  );

/** Every progress line posted, in order, as `[planId, step, action, outcome, code, branch]`. */
export const progressLines = (collects: readonly Pick<CollectPost, 'body'>[]): string[][] =>
  collects.flatMap((collect) =>
    (sectionsOf(collect.body).find((section) => section.name === 'progress')?.lines ?? []).map((line) =>
      line.split('\t'),
    ),
  );

/** The progress of one plan as `step action outcome [code]` strings (the branch is `steps` unless said). */
export const progressOf = (collects: readonly Pick<CollectPost, 'body'>[], planId: string): string[] =>
  progressLines(collects)
    .filter(([id]) => id === planId)
    .map(([, step, action, outcome, code, branch]) =>
      [step, action, outcome, code ?? '', branch === 'steps' ? '' : (branch ?? '')]
        .filter((part) => part !== '')
        .join(' '),
    );

/** Reads a file of the agent's state folder. */
export const stateFile = (agent: ShAgentHost, ...parts: string[]): string =>
  readFileSync(join(agent.stateDir, ...parts), 'utf8');

// ---------------------------------------------------------------------------------------------
// The agent's awk programs, run on their own

/**
 * The awk programs the agent writes into its work folder (its `cat >"$WORK/<name>.awk" <<'EOF'`
 * blocks), written into `folder`: for tests that feed one of them many inputs.
 */
export const writeAwkPrograms = (folder: string): void => {
  const script = readFileSync(SH_AGENT, 'utf8');
  const block = /^ {2}cat >"\$WORK\/([a-z]+)\.awk" <<'EOF'\n([\s\S]*?)^EOF$/gm;
  mkdirSync(folder, { recursive: true });
  for (const match of script.matchAll(block)) {
    const [, name, text] = match;
    if (name !== undefined && text !== undefined) writeFileSync(join(folder, `${name}.awk`), text);
  }
};
