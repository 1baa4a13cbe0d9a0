import { randomUUID } from 'node:crypto';

/**
 * What notify has delivered, so that a notification delivered again by SQS (at least once), or
 * re-enqueued by the outbox after a crash, reaches each destination once (docs/architecture.md §2:
 * "delivery is keyed by them"), and so that one incident's actions reach each destination in the
 * order the core made them (§6: "a trigger delivered late is dropped once its resolve went out").
 *
 * Why a port: the log must outlive one process. Locally it is a table in the runtime's SQLite
 * file; in the cloud a DynamoDB table (dynamodb-delivery-log.ts); tests may use memory. One
 * contract suite (test/functions/notify/delivery-log-contract.ts) holds every adapter to the same
 * behaviour.
 *
 * **A lane per incident and destination.** What the log keeps is one small record per (incident,
 * destination): the notifications delivered there, the highest `sequence` among them, and the one
 * delivery in flight, if any, with its lease. So:
 * - a notification delivered there is never handed out again (`delivered`);
 * - an action whose `sequence` is lower than one delivered there is never sent (`superseded`): the
 *   resolve went out, the trigger retried after a 429 is dropped instead of re-opening the alert;
 * - one delivery of an incident to a destination is in flight at a time (`in-progress`, `held`,
 *   for the others): two consumers handed the same record, or the trigger and the resolve of one incident,
 *   at once (SQS may) never race each other to the destination.
 * - a newer action that finds an older one in flight is noted as waiting: the holder stops retrying
 *   in place at its next wait (`isOvertaken`) and gives its claim back, and for one lease no older
 *   action may claim the lane before it (`in-progress`, `deferred`). So a trigger throttled for minutes cannot keep its resolve
 *   out (until the resolve's record runs out of receives): the resolve goes, the trigger is dropped.
 * A notification without a `sequence` (a record enqueued before notifications were ordered) ranks
 * below every sequenced one (sequence 0): each sequenced notification of an incident was made after
 * every unsequenced one, so an unsequenced trigger stuck on a 429 across the upgrade is dropped once
 * a sequenced action (its resolve) reached the destination. Unsequenced ones never supersede each
 * other. Two different notifications with the same sequence are both delivered (an older action is
 * one with a strictly lower sequence).
 *
 * **A holder whose lease ran out may have delivered.** A claim expires with its lease, which notify
 * keeps shorter than the queue's visibility timeout and the invocation (notify.ts), so the
 * record's next receive can take it over. But its holder may have been killed after the
 * destination took the request and before `markDelivered` (or the write failed, or the request
 * timed out while the destination still processed it): the log cannot tell. So a lapsed holder
 * counts as maybe delivered: an older action is `superseded` by it (with `unrecorded`), and that
 * holds after another claim took the lane over (`lapsedSequence`). A resolve that went out
 * unrecorded is never followed by its trigger; at worst the resolve goes out twice (the
 * acceptance allows the resolve alone). Exactly-once delivery to a third party is not possible:
 * the same crash lets the record's next receive send that very notification again. Receivers
 * deduplicate that rare case with the PagerDuty `dedup_key` and the `X-Faultline-Delivery` header.
 *
 * **One protocol, small adapters.** {@link LaneDeliveryLog} decides every answer from a lane and
 * the request; an adapter only reads a lane and writes its next value atomically (the one primitive
 * `changeLane`), as Powertools' idempotency persistence layers implement a few primitives under one
 * protocol. A lane unchanged for `retentionMs` counts as absent (then it is forgotten): longer than
 * SQS keeps a message, so a redelivered record always finds it.
 */

/** One delivery: a notification of an incident to a destination (by its configured name). */
export interface DeliveryKey {
  readonly notificationId: string;
  readonly incidentId: string;
  readonly destination: string;
  /** Its place among the incident's notifications (`Notification.sequence`); absent: before every sequenced one. */
  readonly sequence?: number | undefined;
}

export type DeliveryClaim =
  /** Deliver it now; pass the token back to `markDelivered` or `release`. */
  | { readonly status: 'claimed'; readonly token: string }
  /** Already delivered: do nothing. */
  | { readonly status: 'delivered' }
  /**
   * A newer action of its incident already reached this destination (`deliveredSequence`, the
   * newer one's), or may have (`unrecorded`: its holder's lease ran out with no record of the
   * outcome): drop it, never send it.
   */
  | { readonly status: 'superseded'; readonly deliveredSequence: number; readonly unrecorded?: true }
  /**
   * Come back later: a delivery of this incident to this destination is in flight (`held`: it ends
   * within its lease, often within a second), or a newer action of it waits to go first
   * (`deferred`: until that one's record comes back).
   */
  | { readonly status: 'in-progress'; readonly reason: 'held' | 'deferred' };

export interface ClaimOptions {
  readonly now: number;
  /** How long the claim holds, from `now`. */
  readonly leaseMs: number;
  /**
   * How long, from `now`, a newer action that finds an older one in flight keeps its precedence:
   * long enough for its record to come back and be received again. Default: `leaseMs`.
   */
  readonly precedenceMs?: number;
}

export interface DeliveryLog {
  /**
   * Claims the delivery for `leaseMs` from `now`, unless it was delivered, a newer action of its
   * incident was delivered to the destination (or may have been: a holder whose lease ran out),
   * another delivery of the incident to the
   * destination holds an unexpired claim, or a newer action of it waits to go first.
   */
  claim(key: DeliveryKey, options: ClaimOptions): Promise<DeliveryClaim>;
  /**
   * Records the delivery as done (it is never claimed again, and older actions of its incident to
   * the destination are superseded) and, when `token` still holds the claim, frees the lane.
   */
  markDelivered(key: DeliveryKey, options: { readonly now: number; readonly token: string }): Promise<void>;
  /**
   * Gives up a claim after a delivery the destination definitely did not take (it answered with an
   * error), so the next try may claim at once. Only the holder's token does. After a try with no
   * answer the claim is kept instead, until its lease ends: the request may still be processed.
   */
  release(key: DeliveryKey, token: string): Promise<void>;
  /**
   * Whether a newer action of the incident is waiting for the claim `token` holds: its holder then
   * stops retrying in place and gives the claim back (the newer one goes first, and this one is
   * superseded). Reads only.
   */
  isOvertaken(key: DeliveryKey, options: { readonly now: number; readonly token: string }): Promise<boolean>;
}

/** How long a lane is remembered after its last change: longer than SQS keeps a message (14 days). */
export const DELIVERY_RETENTION_MS = 30 * 86_400_000;
/** How often old lanes are swept (by the adapters that sweep: DynamoDB's TTL deletes on its own). */
export const DELIVERY_PRUNE_INTERVAL_MS = 3_600_000;
/**
 * The notifications a lane remembers by id, newest kept. The core makes at most three per incident
 * (its trigger, its escalation and its resolve); the cap only bounds an item against a runaway
 * producer (DynamoDB's 400 KB). One that falls off is still dropped (`superseded`) once a newer
 * action went out.
 */
export const MAX_REMEMBERED_PER_LANE = 64;

/** The delivery in flight on a lane, until `leaseUntil` (ms since the epoch). */
export interface LaneHolder {
  readonly notificationId: string;
  /** Its `sequence`; undefined for an unsequenced one. */
  readonly sequence: number | undefined;
  readonly token: string;
  readonly leaseUntil: number;
}

/** The newest action that found an older one in flight, and until when older ones defer to it. */
export interface LaneWaiter {
  readonly sequence: number;
  readonly until: number;
}

/** What the log keeps per incident and destination. */
export interface DeliveryLane {
  /** The highest `sequence` delivered on this lane; 0 when none (or only unordered ones). */
  readonly deliveredSequence: number;
  /**
   * The highest `sequence` of a holder whose lease ran out before another claim took the lane
   * over: it may have been delivered (see above), so older actions are dropped. 0 when none.
   */
  readonly lapsedSequence: number;
  /** The notifications delivered on this lane, oldest first, at most `MAX_REMEMBERED_PER_LANE`. */
  readonly delivered: readonly string[];
  readonly holder: LaneHolder | undefined;
  readonly waiting: LaneWaiter | undefined;
  /** When the lane last changed (ms since the epoch): it expires `retentionMs` later. */
  readonly at: number;
}

/** A lane's identity: its incident and destination. */
export interface LaneId {
  readonly incidentId: string;
  readonly destination: string;
}

/** What a change of a lane answers, and the lane to write (none: leave it as it is). */
export interface LaneChange<T> {
  readonly answer: T;
  readonly next?: DeliveryLane;
}

/** In whole seconds, the way DynamoDB's TTL counts: a lane is expired once the clock is in a later second. */
export const laneExpiresAt = (at: number, retentionMs: number): number =>
  Math.ceil((at + retentionMs) / 1_000);
/** `now` (ms) as the second `expiresAt` is compared with: an entry expires once this is past it. */
export const nowInSeconds = (now: number): number => Math.ceil(now / 1_000);
export const isLaneExpired = (lane: DeliveryLane, now: number, retentionMs: number): boolean =>
  laneExpiresAt(lane.at, retentionMs) < nowInSeconds(now);

const EMPTY_LANE: DeliveryLane = {
  deliveredSequence: 0,
  lapsedSequence: 0,
  delivered: [],
  holder: undefined,
  waiting: undefined,
  at: 0,
};

/**
 * Where a delivery stands in its incident's order: its `sequence`, or 0 for an unsequenced one
 * (made before notifications were ordered, so before every sequenced one; sequences start at 1).
 */
const rankOf = (sequence: number | undefined): number => sequence ?? 0;

/** A lane as an adapter stored it in JSON (`JSON.stringify(lane)`: undefined fields are left out). */
export const laneOfJson = (text: string): DeliveryLane => {
  const stored = JSON.parse(text) as Partial<DeliveryLane>;
  return {
    deliveredSequence: stored.deliveredSequence ?? 0,
    lapsedSequence: stored.lapsedSequence ?? 0,
    delivered: stored.delivered ?? [],
    holder: stored.holder === undefined ? undefined : { ...stored.holder, sequence: stored.holder.sequence },
    waiting: stored.waiting,
    at: stored.at ?? 0,
  };
};

/** The answer to a claim on `lane` (absent: nothing delivered, nothing in flight), and the lane after it. */
export const claimOn = (
  lane: DeliveryLane | undefined,
  key: DeliveryKey,
  options: ClaimOptions,
  token: string,
): LaneChange<DeliveryClaim> => {
  const current = lane ?? EMPTY_LANE;
  if (current.delivered.includes(key.notificationId)) return { answer: { status: 'delivered' } };
  const rank = rankOf(key.sequence);
  if (rank < current.deliveredSequence) {
    return { answer: { status: 'superseded', deliveredSequence: current.deliveredSequence } };
  }
  const { holder } = current;
  const live = holder !== undefined && holder.leaseUntil > options.now ? holder : undefined;
  // A holder whose lease ran out may have reached the destination unrecorded: never send an older
  // action after it (a resolve that went out, then the trigger a 429 held back).
  const lapsedSequence = Math.max(
    current.lapsedSequence,
    holder !== undefined && live === undefined ? rankOf(holder.sequence) : 0,
  );
  if (rank < lapsedSequence) {
    return { answer: { status: 'superseded', deliveredSequence: lapsedSequence, unrecorded: true } };
  }
  if (live !== undefined) {
    const held = { status: 'in-progress', reason: 'held' } as const;
    if (rank <= rankOf(live.sequence)) return { answer: held };
    // A newer action waits: the holder hands over at its next wait, and older ones let it go first.
    const until = options.now + (options.precedenceMs ?? options.leaseMs);
    return {
      answer: held,
      next: {
        ...current,
        waiting:
          current.waiting !== undefined && current.waiting.sequence > rank
            ? { sequence: current.waiting.sequence, until: Math.max(current.waiting.until, until) }
            : { sequence: rank, until },
        at: options.now,
      },
    };
  }
  const waiting =
    current.waiting !== undefined && current.waiting.until > options.now ? current.waiting : undefined;
  if (waiting !== undefined && rank < waiting.sequence) {
    return { answer: { status: 'in-progress', reason: 'deferred' } };
  }
  return {
    answer: { status: 'claimed', token },
    next: {
      ...current,
      lapsedSequence,
      holder: {
        notificationId: key.notificationId,
        sequence: key.sequence,
        token,
        leaseUntil: options.now + options.leaseMs,
      },
      // The newest waiter is served (or out of time): older ones no longer defer to it.
      waiting: undefined,
      at: options.now,
    },
  };
};

/** Whether a newer action waits for the claim `token` holds on `lane`. */
export const isOvertakenOn = (
  lane: DeliveryLane | undefined,
  key: DeliveryKey,
  options: { readonly now: number; readonly token: string },
): boolean =>
  lane?.holder?.token === options.token &&
  lane.waiting !== undefined &&
  lane.waiting.until > options.now &&
  lane.waiting.sequence > rankOf(key.sequence);

/** The lane once `key` was delivered: remembered, its sequence raised, and freed if `token` holds it. */
export const deliveredOn = (
  lane: DeliveryLane | undefined,
  key: DeliveryKey,
  options: { readonly now: number; readonly token: string },
): LaneChange<void> => {
  const current = lane ?? EMPTY_LANE;
  return {
    answer: undefined,
    next: {
      deliveredSequence: Math.max(current.deliveredSequence, rankOf(key.sequence)),
      lapsedSequence: current.lapsedSequence,
      delivered: [...current.delivered.filter((id) => id !== key.notificationId), key.notificationId].slice(
        -MAX_REMEMBERED_PER_LANE,
      ),
      // A holder that took over after this claim's lease ran out keeps its claim.
      holder: current.holder?.token === options.token ? undefined : current.holder,
      waiting:
        current.waiting !== undefined && current.waiting.sequence > rankOf(key.sequence)
          ? current.waiting
          : undefined,
      at: options.now,
    },
  };
};

/** The lane once the claim of `token` is given up; unchanged when someone else holds it. */
export const releasedOn = (lane: DeliveryLane | undefined, token: string): LaneChange<void> =>
  lane?.holder?.token === token
    ? { answer: undefined, next: { ...lane, holder: undefined } }
    : { answer: undefined };

/**
 * The protocol every adapter shares: claims, deliveries and releases as changes of one lane. An
 * adapter implements `changeLane`: read the lane (an expired one as absent), apply `change`, and
 * write its `next` so that no other change of the same lane happened in between.
 */
export abstract class LaneDeliveryLog implements DeliveryLog {
  protected readonly retentionMs: number;

  constructor(retentionMs = DELIVERY_RETENTION_MS) {
    this.retentionMs = retentionMs;
  }

  /** `now` undefined (a release): read the lane whatever its age, an expired claim has nothing to give up. */
  protected abstract changeLane<T>(
    lane: LaneId,
    now: number | undefined,
    change: (current: DeliveryLane | undefined) => LaneChange<T>,
  ): Promise<T>;

  async claim(key: DeliveryKey, options: ClaimOptions): Promise<DeliveryClaim> {
    const token = randomUUID();
    return this.changeLane(laneOf(key), options.now, (lane) => claimOn(lane, key, options, token));
  }

  async markDelivered(key: DeliveryKey, options: { now: number; token: string }): Promise<void> {
    await this.changeLane(laneOf(key), options.now, (lane) => deliveredOn(lane, key, options));
  }

  async release(key: DeliveryKey, token: string): Promise<void> {
    await this.changeLane(laneOf(key), undefined, (lane) => releasedOn(lane, token));
  }

  async isOvertaken(key: DeliveryKey, options: { now: number; token: string }): Promise<boolean> {
    return this.changeLane(laneOf(key), options.now, (lane) => ({
      answer: isOvertakenOn(lane, key, options),
    }));
  }
}

const laneOf = (key: DeliveryKey): LaneId => ({ incidentId: key.incidentId, destination: key.destination });

/** The delivery log in memory: for tests, and a single process that accepts losing it on restart. */
export class InMemoryDeliveryLog extends LaneDeliveryLog {
  readonly #lanes = new Map<string, DeliveryLane>();
  #lastPruneAt = Number.NEGATIVE_INFINITY;

  protected async changeLane<T>(
    lane: LaneId,
    now: number | undefined,
    change: (current: DeliveryLane | undefined) => LaneChange<T>,
  ): Promise<T> {
    if (now !== undefined) this.#pruneIfDue(now);
    const id = `${lane.incidentId}\u0000${lane.destination}`;
    const stored = this.#lanes.get(id);
    const current =
      stored === undefined || (now !== undefined && isLaneExpired(stored, now, this.retentionMs))
        ? undefined
        : stored;
    const { answer, next } = change(current);
    if (next !== undefined) this.#lanes.set(id, next);
    return answer;
  }

  #pruneIfDue(now: number): void {
    if (now - this.#lastPruneAt < DELIVERY_PRUNE_INTERVAL_MS) return;
    this.#lastPruneAt = now;
    for (const [id, lane] of this.#lanes) {
      if (isLaneExpired(lane, now, this.retentionMs)) this.#lanes.delete(id);
    }
  }
}
