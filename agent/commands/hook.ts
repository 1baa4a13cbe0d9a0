import { join } from 'node:path';
import { DeviceName } from '../../events/index.ts';
import { type AgentConfig, ConfigError, DEFAULT_CONFIG_PATH, loadAgentConfig } from '../config.ts';
import type { HostObservation } from '../detect/detector.ts';
import { type ExaminePartition, returnedDiskProbe } from '../detect/returned-disk.ts';
import { readBootId } from '../identity.ts';
import { type LockHolder, liveLockHolder } from '../state/agent-lock.ts';
import { type AgentLog, streamLog } from '../state/agent-log.ts';
import { writeFileAtomic } from '../state/atomic-file.ts';
import { openHostSession } from '../state/host-session.ts';
import { STATE_FILES, stateDirectoryCandidates } from '../state/state-directory.ts';
import { EXIT } from './exit.ts';

/**
 * `faultline-agent hook <event> <md-device> [component]`: the program `mdadm --monitor` runs on
 * an array event (`PROGRAM /usr/local/bin/faultline-agent` in mdadm.conf). mdadm passes the event
 * (`Fail`, `DegradedArray`, `RebuildStarted`, `Rebuild20`, `RebuildFinished`, ...), the array
 * (`/dev/md0`, or `/dev/md/name`) and, for some events, the member (`/dev/sdb1`) or extra text
 * beginning with a space. The hook must be quick and must never fail mdadm: it always exits 0.
 *
 * When the agent runs, the hook leaves a scan request in the state directory and sends the agent
 * SIGUSR2, so the change is diffed and reported at once instead of at the next interval. When no
 * agent runs, the hook scans, diffs against what the agent last saw and spools the events itself
 * (under the agent lock); the agent delivers them when it starts.
 */

export type HookRequest = {
  /** mdadm's event name. */
  event: string;
  /** The array as mdadm named it, without `/dev/`: `md0`, `md/root`. */
  array: string;
  /** The member device, when mdadm named one: `sdb1`. */
  component?: string;
  /** Extra text mdadm passed instead of a device. */
  note?: string;
};

export type HookArguments =
  | { ok: true; configPath: string; request: HookRequest }
  | { ok: false; reason: string };

const EVENT_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
const MD_DEVICE = /^(?:\/dev\/)?(md\d{1,5}|md_d\d{1,5}|md\/[A-Za-z0-9_.:-]{1,64})$/;
/** Longest note kept from extra text: it only goes to a log line. */
const MAX_NOTE_LENGTH = 256;

/**
 * Reads the hook's arguments, pure: an optional `--config FILE`, then the event, the array (with
 * or without `/dev/`) and the optional component, which may be a device or free text.
 */
export const parseHookArguments = (args: readonly string[]): HookArguments => {
  let configPath = DEFAULT_CONFIG_PATH;
  let rest = [...args];
  if (rest[0] === '--config' && rest[1] !== undefined) {
    configPath = rest[1];
    rest = rest.slice(2);
  } else if (rest[0]?.startsWith('--config=')) {
    configPath = rest[0].slice('--config='.length);
    rest = rest.slice(1);
  }
  const [event, mdDevice, ...extra] = rest;
  if (event === undefined || mdDevice === undefined) {
    return { ok: false, reason: 'usage: faultline-agent hook <event> <md-device> [component]' };
  }
  if (!EVENT_NAME.test(event)) return { ok: false, reason: `'${event}' is not an mdadm event name` };
  const array = MD_DEVICE.exec(mdDevice)?.[1];
  if (array === undefined) return { ok: false, reason: `'${mdDevice}' is not an md device such as /dev/md0` };
  const request: HookRequest = { event, array };
  const [component, ...more] = extra;
  if (component !== undefined) {
    const device = component.startsWith('/dev/') ? component.slice('/dev/'.length) : component;
    if (more.length === 0 && DeviceName.safeParse(device).success) {
      request.component = device;
    } else {
      const note = extra.join(' ').trim().slice(0, MAX_NOTE_LENGTH);
      if (note !== '') request.note = note;
    }
  }
  return { ok: true, configPath, request };
};

/** What the hook did. */
export type HookOutcome =
  | { action: 'signalled-agent'; pid: number }
  | { action: 'spooled'; events: number }
  | { action: 'left-request'; reason: string }
  | { action: 'skipped'; reason: string };

export type HookDependencies = {
  observe: (now: Date) => Promise<HostObservation>;
  examine?: ExaminePartition;
  log: AgentLog;
  /** Sends a signal (process.kill); injected by tests. */
  signal?: (pid: number, signal: NodeJS.Signals) => void;
  clock?: () => Date;
};

/** How long a hook waits for another hook's lock before leaving its request for the agent. */
const HOOK_LOCK_WAIT_MS = 3000;
/** A hung tool must not hold mdadm's event handling: past this the hook gives up its scan. */
const HOOK_SCAN_TIMEOUT_MS = 20_000;

const leaveScanRequest = (directory: string, request: HookRequest, now: Date): void => {
  writeFileAtomic(
    join(directory, STATE_FILES.scanRequest),
    `${JSON.stringify({ ...request, at: now.toISOString() })}\n`,
  );
};

const signalAgent = (
  directory: string,
  holder: LockHolder,
  request: HookRequest,
  dependencies: HookDependencies,
  now: Date,
): HookOutcome => {
  try {
    leaveScanRequest(directory, request, now);
  } catch (error) {
    dependencies.log.warn('cannot leave the scan request; signalling the agent anyway', { error });
  }
  (dependencies.signal ?? ((pid, signal) => process.kill(pid, signal)))(holder.pid, 'SIGUSR2');
  return { action: 'signalled-agent', pid: holder.pid };
};

const withTimeout = <Value>(promise: Promise<Value>, ms: number, what: string): Promise<Value> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
};

/** Hands an mdadm event to the running agent, or handles it itself when none runs. */
export const handleHook = async (
  request: HookRequest,
  config: AgentConfig,
  dependencies: HookDependencies,
): Promise<HookOutcome> => {
  const clock = dependencies.clock ?? (() => new Date());
  const bootId = readBootId(config.root);
  for (const directory of stateDirectoryCandidates(config)) {
    const holder = liveLockHolder(directory, bootId);
    if (holder?.role === 'agent') return signalAgent(directory, holder, request, dependencies, clock());
  }
  const session = await openHostSession(config, {
    role: 'hook',
    log: dependencies.log,
    clock,
    lockWaitMs: HOOK_LOCK_WAIT_MS,
    probeReturnedDisk: returnedDiskProbe(config.root, dependencies.examine),
  });
  if ('busy' in session) {
    const directory = stateDirectoryCandidates(config).find(
      (candidate) => liveLockHolder(candidate, bootId)?.pid === session.busy.pid,
    );
    if (directory !== undefined && session.busy.role === 'agent') {
      return signalAgent(directory, session.busy, request, dependencies, clock());
    }
    if (directory !== undefined) leaveScanRequest(directory, request, clock());
    return {
      action: 'left-request',
      reason: `another ${session.busy.role} (pid ${session.busy.pid}) holds the lock`,
    };
  }
  try {
    if (session.directory.storage === 'memory') {
      // Events spooled in memory would die with this process: the agent, if it runs, sees the
      // change at its next scan.
      return { action: 'skipped', reason: 'no writable state directory to spool to' };
    }
    const observation = await withTimeout(dependencies.observe(clock()), HOOK_SCAN_TIMEOUT_MS, 'the scan');
    const events = await session.detector.observe(observation, session.sink);
    return { action: 'spooled', events: events.length };
  } finally {
    session.close();
  }
};

export const run = async (args: readonly string[]): Promise<number> => {
  const log = streamLog((line) => process.stderr.write(`faultline-agent hook: ${line}`));
  try {
    const parsed = parseHookArguments(args);
    if (!parsed.ok) {
      log.warn(parsed.reason);
      return EXIT.ok;
    }
    const config = loadAgentConfig(parsed.configPath);
    const { hostObserver } = await import('../detect/host-observer.ts');
    const observer = hostObserver(config, log);
    const outcome = await handleHook(parsed.request, config, { ...observer, log });
    if (outcome.action === 'spooled') {
      log.info(
        `${parsed.request.event} ${parsed.request.array}: no agent runs; ${outcome.events} event(s) spooled for it`,
      );
    } else if (outcome.action === 'left-request') {
      log.info(
        `${parsed.request.event} ${parsed.request.array}: ${outcome.reason}; request left for the agent`,
      );
    } else if (outcome.action === 'skipped') {
      log.warn(`${parsed.request.event} ${parsed.request.array}: ${outcome.reason}; nothing spooled`);
    }
  } catch (error) {
    // Never fail mdadm: whatever went wrong is said on stderr (mdadm's journal) and the exit is 0.
    log.error(
      error instanceof ConfigError ? error.message : `cannot handle the event: ${(error as Error).message}`,
    );
  }
  return EXIT.ok;
};
