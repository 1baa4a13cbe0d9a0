import { z } from 'zod';
import { decideInstance, type InstanceDecision } from '../identity.ts';
import type { AgentLog } from './agent-log.ts';
import { SEQ_RESERVATION_BLOCK, type SeqCounter, startCounter, takeSeq } from './seq-reservation.ts';
import { STATE_FILES, type StateDirectory, type StateStorage } from './state-directory.ts';

/** What `state.json` holds: the instance, the machine it ran on, and the `seq` reservation. */
export const AgentStateFile = z.object({
  version: z.literal(1),
  hostId: z.string().min(1),
  machineId: z.string().optional(),
  instanceId: z.string().min(1),
  /** Every `seq` below this may have been used; the next start begins here. */
  seqReservedThrough: z.int().min(0),
  /** The digest of the last heartbeat's arrays, paths and disks. */
  heartbeatDigest: z.string().optional(),
  updatedAt: z.string(),
});
export type AgentStateFile = z.infer<typeof AgentStateFile>;

/**
 * The agent's durable self: instance id and `seq`, in whichever state directory it got. Every
 * process that emits events for the host (the agent, or the hook when no agent runs) uses it
 * under the agent lock, so two never hand out the same number.
 */
export class AgentStateStore {
  private counter: SeqCounter;
  private record: AgentStateFile;
  private writeFailure: string | undefined;

  private constructor(
    private readonly directory: StateDirectory,
    record: AgentStateFile,
    counter: SeqCounter,
    readonly instance: InstanceDecision,
    private readonly log: AgentLog,
    private readonly clock: () => Date,
    private readonly block: number,
  ) {
    this.record = record;
    this.counter = counter;
  }

  /**
   * Loads the state, deciding the instance id (a new one when the host looks cloned). A state
   * file that does not parse is logged and replaced; numbering then starts from the clock.
   */
  static open(
    directory: StateDirectory,
    observed: { hostId: string; machineId: string | undefined },
    options: { log: AgentLog; clock?: () => Date; newInstanceId?: () => string; block?: number },
  ): AgentStateStore {
    const clock = options.clock ?? (() => new Date());
    const recorded = readStateFile(directory, options.log);
    const instance = decideInstance(
      recorded === undefined
        ? undefined
        : { instanceId: recorded.instanceId, hostId: recorded.hostId, machineId: recorded.machineId },
      observed,
      options.newInstanceId,
    );
    if (instance.regenerated && instance.reason !== 'first-start') {
      options.log.warn('this host looks cloned: new agent instance id', {
        reason: instance.reason,
        instanceId: instance.instanceId,
      });
    }
    const counter = startCounter(recorded?.seqReservedThrough, clock());
    const record: AgentStateFile = {
      version: 1,
      hostId: observed.hostId,
      ...(observed.machineId === undefined ? {} : { machineId: observed.machineId }),
      instanceId: instance.instanceId,
      seqReservedThrough: counter.reservedThrough,
      ...(recorded?.heartbeatDigest === undefined || instance.regenerated
        ? {}
        : { heartbeatDigest: recorded.heartbeatDigest }),
      updatedAt: clock().toISOString(),
    };
    const store = new AgentStateStore(
      directory,
      record,
      counter,
      instance,
      options.log,
      clock,
      options.block ?? SEQ_RESERVATION_BLOCK,
    );
    store.persist();
    return store;
  }

  get instanceId(): string {
    return this.record.instanceId;
  }

  get heartbeatDigest(): string | undefined {
    return this.record.heartbeatDigest;
  }

  /** Where state lives now: `memory` once a write has failed, whatever the directory was. */
  get storage(): StateStorage {
    return this.writeFailure === undefined ? this.directory.storage : 'memory';
  }

  /** Why state is not on the configured disk directory, if it is not. */
  get degradedReason(): string | undefined {
    return this.writeFailure ?? this.directory.degradedReason;
  }

  /** The next `seq`; when a new block is needed it is persisted first. */
  nextSeq(): number {
    const taken = takeSeq(this.counter, this.block);
    this.counter = taken.counter;
    if (taken.reserve !== undefined) {
      this.record = { ...this.record, seqReservedThrough: taken.reserve };
      this.persist();
    }
    return taken.seq;
  }

  /** Records the digest of the last heartbeat sent, written with the next reservation or at close. */
  noteHeartbeatDigest(digest: string): void {
    if (this.record.heartbeatDigest === digest) return;
    this.record = { ...this.record, heartbeatDigest: digest };
  }

  /** Writes the record now (at shutdown, so the digest survives). */
  flush(): void {
    this.persist();
  }

  private persist(): void {
    if (this.writeFailure !== undefined) return;
    this.record = { ...this.record, updatedAt: this.clock().toISOString() };
    try {
      this.directory.writeAtomic(STATE_FILES.state, `${JSON.stringify(this.record, null, 2)}\n`);
    } catch (error) {
      const failure = error as NodeJS.ErrnoException;
      this.writeFailure = `cannot write ${STATE_FILES.state}: ${failure.code ?? failure.message}`;
      this.log.error(`${this.writeFailure}; keeping state in memory until the agent restarts`, {
        storage: 'memory',
      });
    }
  }
}

const readStateFile = (directory: StateDirectory, log: AgentLog): AgentStateFile | undefined => {
  let text: string | undefined;
  try {
    text = directory.read(STATE_FILES.state);
  } catch (error) {
    log.error(`cannot read ${STATE_FILES.state}; starting afresh`, { error });
    return undefined;
  }
  if (text === undefined) return undefined;
  try {
    const parsed = AgentStateFile.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    log.error(`${STATE_FILES.state} is not a state file; starting afresh, seq from the clock`, {
      issues: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
    });
  } catch {
    log.error(`${STATE_FILES.state} is not JSON; starting afresh, seq from the clock`);
  }
  return undefined;
};
