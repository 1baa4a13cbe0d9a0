import type { WorkQueue } from '../../functions/adapters/queue/port.ts';
import type { PlanSigner } from '../../functions/adapters/signer/port.ts';
import type { Store } from '../../functions/adapters/store/port.ts';

/**
 * Crash injection for the outbox: a store, a notify queue and a signer that count every write
 * (every point where a process could die between two effects on the outside world) and, armed
 * with `crashAt = k`, throw at the k-th one *before* performing it — and then throw on every
 * call after it, reads included, as a dead process would, until `revive()` (the restart).
 */
export class Crash extends Error {
  readonly code = 'crash';
}

const WRITES = new Set<string>([
  'putSlice',
  'lockSlice',
  'applyLocked',
  'unlockSlice',
  'putDecision',
  'commitDecision',
  'setDecisionStatus',
  'markEffectDone',
  'putIncident',
  'putAffectedHost',
  'putTimeline',
  'putPlan',
  'revokePlan',
  'purgeExpired',
]);

export class FaultInjector {
  /** Points passed since the last `arm`. */
  points = 0;
  /** What was about to happen when it crashed (the last crash). */
  crashedAt: string | undefined;
  /** Crashes so far. */
  crashes = 0;
  #crashAt: number | undefined;
  #crashBefore: string | undefined;
  #every: number | undefined;
  #total = 0;
  #dead = false;

  arm(crashAt: number): void {
    this.points = 0;
    this.#crashAt = crashAt;
    this.#crashBefore = undefined;
    this.#dead = false;
    this.crashedAt = undefined;
  }

  /** Crashes just before the first point named `what` (`putDecision`, `notify send`, `sign`, ...). */
  armBefore(what: string): void {
    this.arm(Number.NaN);
    this.#crashBefore = what;
  }

  /** Crashes at every `period`-th point from now on, across restarts, until `disarm`. */
  armEvery(period: number): void {
    this.#every = period;
    this.#total = 0;
  }

  disarm(): void {
    this.#every = undefined;
    this.revive();
  }

  /** The restart: calls work again; a single armed crash is forgotten (a periodic one goes on). */
  revive(): void {
    this.#crashAt = undefined;
    this.#crashBefore = undefined;
    this.#dead = false;
  }

  get crashed(): boolean {
    return this.crashedAt !== undefined;
  }

  alive(): void {
    if (this.#dead) throw new Crash('the process is dead');
  }

  point(what: string): void {
    this.alive();
    this.points += 1;
    this.#total += 1;
    if (
      this.points === this.#crashAt ||
      what === this.#crashBefore ||
      (this.#every !== undefined && this.#total % this.#every === 0)
    ) {
      this.#dead = true;
      this.crashes += 1;
      this.crashedAt = what;
      throw new Crash(`crash before ${what} (point ${this.points})`);
    }
  }
}

/** The store, crashing at the armed write. */
export const faultyStore = (
  store: Store,
  faults: FaultInjector,
  options: { readonly lockProtocol?: boolean } = {},
): Store =>
  new Proxy(store, {
    get: (target, property, receiver) => {
      // Without its atomic commit, a SQLite store commits by the lock protocol, as DynamoDB does.
      if (property === 'commitDecision' && options.lockProtocol === true) return undefined;
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        if (WRITES.has(property)) faults.point(`${property}`);
        else faults.alive();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });

export const faultyQueue = (
  queue: Pick<WorkQueue, 'send'>,
  faults: FaultInjector,
): Pick<WorkQueue, 'send'> => ({
  send: async (message) => {
    faults.point('notify send');
    return queue.send(message);
  },
});

export const faultySigner = (signer: PlanSigner, faults: FaultInjector): PlanSigner => ({
  sign: async (plan) => {
    faults.point('sign');
    return signer.sign(plan);
  },
  signLines: (lines) => signer.signLines(lines),
  publicKeyPem: () => signer.publicKeyPem(),
});
