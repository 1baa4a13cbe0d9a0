import { renameSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfig } from '../config.ts';
import { Detector } from '../detect/detector.ts';
import { type EventSink, SpoolingEventSink } from '../detect/event-sink.ts';
import type { ReturnedDiskProbe } from '../detect/returned-disk.ts';
import { type AgentIdentity, readBootId, readMachineId } from '../identity.ts';
import type { EventSpool } from '../spool/event-spool.ts';
import { FileSpool } from '../spool/file-spool.ts';
import { MemorySpool } from '../spool/memory-spool.ts';
import { acquireAgentLock, type LockHolder } from './agent-lock.ts';
import type { AgentLog } from './agent-log.ts';
import { AgentStateStore } from './agent-state.ts';
import { openStateDirectory, STATE_FILES, type StateDirectory } from './state-directory.ts';

/**
 * Everything a process needs to emit events for the host, opened under the agent lock: the state
 * directory, `seq`, the spool, the sink and detection. The agent holds a session for its whole
 * life; the hook opens one for a few hundred milliseconds when no agent runs.
 */
export type HostSession = {
  identity: AgentIdentity;
  directory: StateDirectory;
  state: AgentStateStore;
  spool: EventSpool;
  sink: EventSink;
  detector: Detector;
  /** Flushes the state, closes the spool and releases the lock. */
  close: () => void;
};

export type SessionConfig = Pick<AgentConfig, 'hostId' | 'root' | 'stateDir' | 'fallbackStateDir' | 'spool'>;

export type SessionOptions = {
  role: LockHolder['role'];
  log: AgentLog;
  probeReturnedDisk: ReturnedDiskProbe;
  clock?: () => Date;
  /** Called whenever events were spooled. */
  onSpooled?: () => void;
  /** How long to wait for another process's lock to go before giving up. */
  lockWaitMs?: number;
};

const LOCK_POLL_MS = 50;

/** A session could not be opened because this process is running too: `holder` has the lock. */
export type SessionBusy = { busy: LockHolder };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens the host session, or reports who holds the lock. An agent's lock is never waited for (one
 * agent per host); a hook's is, up to `lockWaitMs`, since a hook holds it only briefly.
 */
export const openHostSession = async (
  config: SessionConfig,
  options: SessionOptions,
): Promise<HostSession | SessionBusy> => {
  const { log } = options;
  const clock = options.clock ?? (() => new Date());
  const directory = openStateDirectory(config, log);
  const bootId = readBootId(config.root);
  let release = (): void => undefined;
  if (directory.path !== undefined) {
    const deadline = clock().getTime() + (options.lockWaitMs ?? 0);
    for (;;) {
      const attempt = acquireAgentLock(directory.path, { role: options.role, bootId });
      if (attempt.acquired) {
        release = attempt.release;
        break;
      }
      if (attempt.holder.role === 'agent' || clock().getTime() >= deadline) return { busy: attempt.holder };
      await sleep(LOCK_POLL_MS);
    }
  }
  try {
    const machineId = readMachineId(config.root);
    const state = AgentStateStore.open(directory, { hostId: config.hostId, machineId }, { log, clock });
    const inherited = state.instance.regenerated && state.instance.inheritedState;
    if (inherited && directory.path !== undefined) quarantineInherited(directory.path, clock(), log);
    const spool: EventSpool =
      directory.path === undefined
        ? new MemorySpool(config.spool.maxBytes, log)
        : FileSpool.open({
            directory: join(directory.path, STATE_FILES.spool),
            maxBytes: config.spool.maxBytes,
            log,
          });
    const identity: AgentIdentity = {
      hostId: config.hostId,
      bootId,
      instanceId: state.instanceId,
      machineId,
    };
    const sink = new SpoolingEventSink({
      identity,
      state,
      spool,
      log,
      clock,
      ...(options.onSpooled === undefined ? {} : { onSpooled: options.onSpooled }),
    });
    const detector = Detector.load({
      directory,
      bootId,
      log,
      probeReturnedDisk: options.probeReturnedDisk,
      discardRecorded: inherited,
    });
    return {
      identity,
      directory,
      state,
      spool,
      sink,
      detector,
      close: () => {
        try {
          state.flush();
          spool.close();
        } finally {
          release();
        }
      },
    };
  } catch (error) {
    release();
    throw error;
  }
};

/**
 * A cloned image carries its source's undelivered events and last snapshot: sending those as this
 * host would report another machine's storage. They are moved aside, kept for an operator.
 */
const quarantineInherited = (directory: string, now: Date, log: AgentLog): void => {
  const aside = `${STATE_FILES.spool}.inherited-${now.toISOString().replace(/[:.]/g, '-')}`;
  try {
    renameSync(join(directory, STATE_FILES.spool), join(directory, aside));
    log.warn('the spool belonged to the machine this one was cloned from; moved aside, not sent', {
      movedTo: join(directory, aside),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
};
