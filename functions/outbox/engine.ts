import type { WorkQueue } from '../adapters/queue/port.ts';
import type { PlanSigner } from '../adapters/signer/port.ts';
import {
  APPLIED_MEMORY,
  type DecisionRecord,
  type OutboxStore,
  type ProjectionWriter,
  type SliceRef,
  type SliceStore,
  type SliceValue,
  type SliceWrite,
  type StoredSlice,
  sliceKey,
  type Wake,
} from '../adapters/store/port.ts';
import {
  type ControlSlice,
  type CoreConfig,
  type CoreInput,
  type Decision,
  type DomainSlice,
  decide,
  type HostSlice,
  type InternalInput,
  keysFor,
  keysForWake,
  referencedDomains,
  type SliceKeys,
  type Slices,
  tick,
  waitingBatch,
} from '../core/index.ts';
import {
  type Backoff,
  jitteredBackoff,
  lockAndCommit,
  rollForward,
  settleLock,
  settleRecord,
  tokenOf,
} from './commit.ts';
import { isMarkedEffect, outboxEffects, performEffect } from './effects.ts';
import { DecisionContendedError } from './errors.ts';
import { followUpDecisionId, inputDecisionId, tickDecisionId } from './ids.ts';

/**
 * The decision engine shared by correlate and sweep: load the slices an input names (by the
 * loader contract of `SliceKeys`, settling any decision that holds one of them), decide, save the
 * changed slices with their effects (commit.ts), perform the effects (effects.ts), and decide the
 * follow-ups. It behaves as `MemoryWorld` does (cli/replay/memory-world.ts), on a store.
 *
 * Idempotency: a decision's id is derived from its input (ids.ts). An id whose record is
 * committed was applied: its leftover effects are performed and nothing is decided again. A
 * decision that changes one slice and has no effect (a heartbeat that only moves a timestamp) is
 * written in one conditional write without a record; the slice remembers the last ids applied to
 * it (`applied`), and the core's per-resource watermarks make an older duplicate change nothing.
 * A backend with an atomic `commitDecision` (SQLite) writes a record and its slices in one step.
 */

export interface EngineDeps {
  readonly store: SliceStore & OutboxStore & ProjectionWriter;
  readonly signer: PlanSigner;
  /** Where `notify` effects go (the notify function's queue). */
  readonly notifyQueue: Pick<WorkQueue, 'send'>;
  readonly config: CoreConfig;
  /** The wall clock (ms since the epoch): a record's `createdAt`. */
  readonly clock: () => number;
  /** How many times a decision is made again after losing its slices (default 20). */
  readonly maxConflicts?: number;
  /** The wait after a lost race (default: jittered, up to 50 ms). */
  readonly backoff?: Backoff;
  readonly log?: (entry: Readonly<Record<string, unknown>>) => void;
}

export type RunOutcome =
  /** Decided and saved now (and its effects performed). */
  | { readonly kind: 'applied'; readonly decisionId: string }
  /** It had been applied before: only leftover effects were performed. */
  | { readonly kind: 'duplicate'; readonly decisionId: string }
  /** It changes nothing (nothing was written). */
  | { readonly kind: 'unchanged' }
  /** The guard refused it once its slices were loaded (nothing was written). */
  | { readonly kind: 'rejected'; readonly reason: string };

/** The slices loaded for a decision, with what the store said of each (its version). */
export interface Loaded {
  readonly slices: Slices;
  readonly stored: ReadonlyMap<string, StoredSlice>;
}

interface RunSpec {
  /** The decision's id, or (a timer) an id from the loaded slices, undefined when nothing is due. */
  readonly id: string | ((loaded: Loaded) => string | undefined);
  readonly about: string;
  readonly at: string;
  readonly keys: SliceKeys;
  readonly decide: (slices: Slices) => Decision;
  /** A reason to refuse the input, from its loaded slices (sender checks that need the host's role). */
  readonly guard?: (slices: Slices) => string | undefined;
}

const DEFAULT_MAX_CONFLICTS = 20;
/** How many times one settle pass re-reads slices that were locked. */
const MAX_SETTLE_ROUNDS = 6;
const CONTROL: SliceRef = { kind: 'control' };

const hostRef = (id: string): SliceRef => ({ kind: 'host', id });
const domainRef = (id: string): SliceRef => ({ kind: 'domain', id });

const changedWrites = (decision: Decision, stored: ReadonlyMap<string, StoredSlice>, id: string) => {
  const refs: { ref: SliceRef; value: SliceValue }[] = [];
  if (decision.slices.control !== undefined) refs.push({ ref: CONTROL, value: decision.slices.control });
  for (const [name, value] of Object.entries(decision.slices.domains))
    refs.push({ ref: domainRef(name), value });
  for (const [name, value] of Object.entries(decision.slices.hosts)) refs.push({ ref: hostRef(name), value });
  const missing: SliceRef[] = [];
  const writes: SliceWrite[] = [];
  for (const { ref, value } of refs) {
    const before = stored.get(sliceKey(ref));
    if (before === undefined) {
      missing.push(ref);
      continue;
    }
    writes.push({
      ref,
      expected: before.version,
      value,
      applied: [id, ...before.applied.filter((applied) => applied !== id)].slice(0, APPLIED_MEMORY),
    });
  }
  return { writes, missing };
};

export class DecisionEngine {
  readonly #deps: EngineDeps;
  readonly #log: (entry: Readonly<Record<string, unknown>>) => void;
  readonly #backoff: Backoff;

  constructor(deps: EngineDeps) {
    this.#deps = deps;
    this.#log = deps.log ?? (() => undefined);
    this.#backoff = deps.backoff ?? jitteredBackoff;
  }

  get config(): CoreConfig {
    return this.#deps.config;
  }

  /** Applies an input (an event or an operator command) at `now`, then its follow-ups. */
  applyInput(
    input: CoreInput,
    now: string,
    options: {
      readonly guard?: ((slices: Slices) => string | undefined) | undefined;
      readonly about?: string;
    } = {},
  ): Promise<RunOutcome> {
    return this.#run({
      id: inputDecisionId(input),
      about: options.about ?? input.type,
      at: now,
      keys: keysFor(input),
      decide: (slices) => decide(slices, input, now, this.#deps.config),
      ...(options.guard === undefined ? {} : { guard: options.guard }),
    });
  }

  /**
   * Fires the timers due at `now` (`keysForWake` + `tick`), at most `limit` of them, each at most
   * a few times: a wake that keeps asking to run again now is left to the next call.
   */
  async tickDue(now: string, limit = 100): Promise<number> {
    const fired = new Map<string, number>();
    let count = 0;
    for (let round = 0; round < 3 && count < limit; round += 1) {
      const wakes = await this.#deps.store.dueWakes(now, limit - count);
      let progressed = false;
      for (const wake of wakes) {
        const key = `${wake.kind}:${wake.id}`;
        if ((fired.get(key) ?? 0) >= 2) continue;
        fired.set(key, (fired.get(key) ?? 0) + 1);
        const outcome = await this.tickWake(wake, now);
        if (outcome.kind === 'applied') {
          count += 1;
          progressed = true;
        }
      }
      if (!progressed || wakes.length === 0) break;
    }
    return count;
  }

  /** Fires one slice's timer, if it is still due when loaded. */
  tickWake(wake: Pick<Wake, 'kind' | 'id'>, now: string): Promise<RunOutcome> {
    const ref = wake.kind === 'domain' ? domainRef(wake.id) : hostRef(wake.id);
    return this.#run({
      id: (loaded) => {
        const slice = loaded.stored.get(sliceKey(ref));
        const wakeAt = (slice?.value as DomainSlice | HostSlice | undefined)?.wakeAt;
        if (slice === undefined || wakeAt === undefined || Date.parse(wakeAt) > Date.parse(now))
          return undefined;
        return tickDecisionId(wake.kind, wake.id, slice.version);
      },
      about: `timer of ${wake.kind} ${wake.id}`,
      at: now,
      keys: keysForWake(wake),
      decide: (slices) => tick(slices, now, this.#deps.config),
    });
  }

  /**
   * Finishes what a crash left (sweep): records created at or before `createdBefore` that are not
   * done, settled (committed or aborted) and, when committed, rolled forward and drained.
   */
  async finishUnfinished(createdBefore: number, limit = 100): Promise<{ finished: number; aborted: number }> {
    const records = await this.#deps.store.unfinishedDecisions(createdBefore, limit);
    let finished = 0;
    let aborted = 0;
    for (const record of records) {
      const settled = await settleRecord(this.#deps.store, record);
      if (settled.status === 'aborted') {
        aborted += 1;
        continue;
      }
      if (settled.status === 'committed') {
        await this.#drain(settled);
        finished += 1;
      }
    }
    return { finished, aborted };
  }

  /** The loader contract of `SliceKeys`, settling locked slices before they are read. */
  async load(keys: SliceKeys, extra: readonly SliceRef[] = []): Promise<Loaded> {
    const stored = new Map<string, StoredSlice>();
    const fetch = async (refs: readonly SliceRef[]): Promise<void> => {
      const wanted = [...new Map(refs.map((ref) => [sliceKey(ref), ref])).values()].filter(
        (ref) => !stored.has(sliceKey(ref)),
      );
      let pending = wanted;
      for (let round = 0; pending.length > 0; round += 1) {
        if (round >= MAX_SETTLE_ROUNDS)
          throw new DecisionContendedError(`load of ${sliceKey(pending[0] as SliceRef)}`, round);
        const slices = await this.#deps.store.getSlices(pending);
        const locked: SliceRef[] = [];
        for (const slice of slices) {
          if (slice.lock === undefined) stored.set(sliceKey(slice.ref), slice);
          else {
            await settleLock(this.#deps.store, slice.ref, slice.lock, 0, this.#backoff);
            locked.push(slice.ref);
          }
        }
        pending = locked;
      }
    };
    const openDomains = keys.openDomains ? await this.#deps.store.openDomains() : [];
    await fetch([
      CONTROL,
      ...keys.hosts.map(hostRef),
      ...keys.domains.map(domainRef),
      ...keys.waitingOf.map(domainRef),
      ...openDomains.map(domainRef),
      ...extra,
    ]);
    const hostIds = new Set([
      ...keys.hosts,
      ...extra.flatMap((ref) => (ref.kind === 'host' ? [ref.id] : [])),
    ]);
    for (const failureDomain of keys.waitingOf) {
      const episode = (stored.get(`domain:${failureDomain}`)?.value as DomainSlice | undefined)?.episode;
      if (episode === undefined || episode.incident.status === 'resolved') continue;
      const waiting = await this.#deps.store.waitingHosts(
        episode.incident.id,
        waitingBatch(this.#deps.config.maxPlansInFlight),
      );
      for (const hostId of waiting) hostIds.add(hostId);
      await fetch(waiting.map(hostRef));
    }
    const referenced = new Set<string>();
    for (const hostId of hostIds) {
      const host = stored.get(`host:${hostId}`)?.value as HostSlice | undefined;
      if (host !== undefined)
        for (const failureDomain of referencedDomains(host)) referenced.add(failureDomain);
    }
    await fetch([...referenced].map(domainRef));
    const domains: Record<string, DomainSlice> = {};
    const hosts: Record<string, HostSlice> = {};
    for (const slice of stored.values()) {
      if (slice.value === undefined) continue;
      if (slice.ref.kind === 'domain') domains[slice.ref.id] = slice.value as DomainSlice;
      else if (slice.ref.kind === 'host' && hostIds.has(slice.ref.id))
        hosts[slice.ref.id] = slice.value as HostSlice;
    }
    const control = (stored.get('control')?.value as ControlSlice | undefined) ?? { paused: false };
    return { slices: { control, domains, hosts }, stored };
  }

  /** Whether a decision id was applied already: its record committed (drained now), or a slice remembers it. */
  async #precheck(
    id: string,
  ): Promise<{ duplicate: true } | { duplicate: false; replacing: number | undefined }> {
    const existing = await this.#deps.store.getDecision(id);
    if (existing === undefined) return { duplicate: false, replacing: undefined };
    const settled = existing.status === 'pending' ? await settleRecord(this.#deps.store, existing) : existing;
    if (settled.status === 'aborted') return { duplicate: false, replacing: settled.attempt };
    if (settled.status === 'committed') await this.#drain(settled);
    return { duplicate: true };
  }

  async #run(spec: RunSpec): Promise<RunOutcome> {
    const store = this.#deps.store;
    const maxConflicts = this.#deps.maxConflicts ?? DEFAULT_MAX_CONFLICTS;
    let replacing: number | undefined;
    if (typeof spec.id === 'string') {
      const pre = await this.#precheck(spec.id);
      if (pre.duplicate) return { kind: 'duplicate', decisionId: spec.id };
      replacing = pre.replacing;
    }
    let extra: SliceRef[] = [];
    for (let conflicts = 0; conflicts <= maxConflicts; conflicts += 1) {
      if (conflicts > 0) await this.#backoff(conflicts);
      const loaded = await this.load(spec.keys, extra);
      const id = typeof spec.id === 'string' ? spec.id : spec.id(loaded);
      if (id === undefined) return { kind: 'unchanged' };
      if (typeof spec.id !== 'string') {
        const pre = await this.#precheck(id);
        if (pre.duplicate) return { kind: 'duplicate', decisionId: id };
        replacing = pre.replacing;
      }
      if ([...loaded.stored.values()].some((slice) => slice.applied.includes(id))) {
        return { kind: 'duplicate', decisionId: id };
      }
      const refused = spec.guard?.(loaded.slices);
      if (refused !== undefined) return { kind: 'rejected', reason: refused };
      const decision = spec.decide(loaded.slices);
      const { writes, missing } = changedWrites(decision, loaded.stored, id);
      if (missing.length > 0) {
        // The core wrote a slice the keys did not name: load it too and decide again.
        extra = [...extra, ...missing];
        continue;
      }
      const effects = outboxEffects(decision, writes, loaded.stored);
      if (writes.length === 0 && effects.length === 0) return { kind: 'unchanged' };
      const [only] = writes;
      if (writes.length === 1 && effects.length === 0 && only !== undefined) {
        if ((await store.putSlice(only)) === 'ok') return { kind: 'applied', decisionId: id };
        continue;
      }
      const record: DecisionRecord = {
        id,
        attempt: (replacing ?? 0) + 1,
        status: writes.length === 0 ? 'committed' : 'pending',
        at: spec.at,
        createdAt: this.#deps.clock(),
        about: spec.about,
        writes,
        effects,
        done: [],
      };
      if (record.status === 'pending' && store.commitDecision !== undefined) {
        // The backend commits the record and its slices at once: no locks to take or roll forward.
        if ((await store.commitDecision(record, replacing)) === 'conflict') {
          // Another delivery of the same input got there first, or a slice moved on: decide again.
          const pre = await this.#precheck(id);
          if (pre.duplicate) return { kind: 'duplicate', decisionId: id };
          replacing = pre.replacing;
          continue;
        }
        await this.#drain({ ...record, status: 'committed' }, true);
        return { kind: 'applied', decisionId: id };
      }
      if ((await store.putDecision(record, replacing)) === 'conflict') {
        // Another delivery of the same input got there first.
        const pre = await this.#precheck(id);
        if (pre.duplicate) return { kind: 'duplicate', decisionId: id };
        replacing = pre.replacing;
        continue;
      }
      const outcome =
        record.status === 'committed' ? 'committed' : await lockAndCommit(store, record, 0, this.#backoff);
      if (outcome === 'aborted') {
        replacing = record.attempt;
        continue;
      }
      await this.#drain({ ...record, status: 'committed' }, true);
      return { kind: 'applied', decisionId: id };
    }
    throw new DecisionContendedError(typeof spec.id === 'string' ? spec.id : spec.about, maxConflicts + 1);
  }

  /**
   * Performs a committed record's effects not yet done, in order, then marks it done. `applied`:
   * the caller has just written its slices (the owner after its commit), else they are rolled forward first.
   */
  async #drain(record: DecisionRecord, applied = false): Promise<void> {
    const store = this.#deps.store;
    if (!applied) await rollForward(store, record);
    const done = new Set(record.done);
    const ports = {
      store,
      signer: this.#deps.signer,
      notifyQueue: this.#deps.notifyQueue,
      followUp: (input: InternalInput, parent: DecisionRecord, index: number) =>
        this.#followUp(input, parent, index),
    };
    for (const [index, effect] of record.effects.entries()) {
      if (done.has(index)) continue;
      await performEffect(ports, record, index, effect);
      if (isMarkedEffect(effect)) await store.markEffectDone(record.id, record.attempt, index);
    }
    await store.setDecisionStatus(record.id, record.attempt, 'committed', 'done');
    this.#log({
      level: 'debug',
      decision: record.id,
      token: tokenOf(record),
      about: record.about,
      effects: record.effects.length,
    });
  }

  async #followUp(input: InternalInput, parent: DecisionRecord, index: number): Promise<void> {
    await this.#run({
      id: followUpDecisionId(parent.id, index),
      about: `${input.type} of ${input.hostId} (after ${parent.about})`,
      at: parent.at,
      keys: keysFor(input),
      decide: (slices) => decide(slices, input, parent.at, this.#deps.config),
    });
  }
}

/**
 * The engine of a handler that decides (correlate, sweep), made on its first invocation: the
 * handler's settings are read then (on Lambda, that is when the environment is validated), never
 * when the handler is created.
 */
export const engineOnFirstUse = <Settings extends { readonly core: CoreConfig }>(
  deps: Pick<EngineDeps, 'store' | 'signer' | 'notifyQueue'> & { readonly settings: Settings },
  clock: () => number,
  log: (entry: Readonly<Record<string, unknown>>) => void,
  /** What the engine writes through instead of the store itself (one that counts and tells what it writes). */
  observe: (store: EngineDeps['store']) => EngineDeps['store'] = (store) => store,
): (() => { engine: DecisionEngine; settings: Settings }) => {
  let made: { engine: DecisionEngine; settings: Settings } | undefined;
  return () => {
    if (made === undefined) {
      const { settings, store, signer, notifyQueue } = deps;
      made = {
        settings,
        engine: new DecisionEngine({
          store: observe(store),
          signer,
          notifyQueue,
          config: settings.core,
          clock,
          log,
        }),
      };
    }
    return made;
  };
};
