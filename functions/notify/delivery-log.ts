import { randomUUID } from 'node:crypto';

/**
 * What notify has delivered, so that a notification delivered again by SQS (at least once), or
 * re-enqueued by the outbox after a crash, reaches each destination once (docs/architecture.md §2: "delivery
 * is keyed by them").
 *
 * Why a port: the log must outlive one process. Locally it is a table in the runtime's SQLite
 * file; in the cloud it is memory (delivered once within a warm Lambda only) until its DynamoDB
 * adapter is built (#18); tests may use memory. One contract suite
 * (test/functions/notify/delivery-log-contract.ts) holds every adapter to the same behaviour.
 *
 * A delivery is claimed before it is sent, for a lease: two consumers handed the same record at
 * once (SQS may) do not both send it; the one that finds it in progress retries later, and a claim
 * whose holder crashed expires with its lease. Exactly-once delivery to a third party is not
 * possible; what remains is a crash after the destination answered and before `markDelivered`,
 * after which the delivery is sent again when the lease runs out. Receivers deduplicate that rare
 * case with the PagerDuty `dedup_key` and the `X-Faultline-Delivery` header.
 */

/** One delivery: a notification to a destination (by its configured name). */
export interface DeliveryKey {
  readonly notificationId: string;
  readonly destination: string;
}

export type DeliveryClaim =
  /** Deliver it now; pass the token back to `release`. */
  | { readonly status: 'claimed'; readonly token: string }
  /** Already delivered: do nothing. */
  | { readonly status: 'delivered' }
  /** Someone else is delivering it right now: come back later. */
  | { readonly status: 'in-progress' };

export interface DeliveryLog {
  /** Claims the delivery for `leaseMs` from `now`, unless it was delivered or is claimed by someone else. */
  claim(
    key: DeliveryKey,
    options: { readonly now: number; readonly leaseMs: number },
  ): Promise<DeliveryClaim>;
  /** Records the delivery as done; it is never claimed again (until it ages out of the log). */
  markDelivered(key: DeliveryKey, options: { readonly now: number }): Promise<void>;
  /** Gives up a claim after a failed delivery, so the next try may claim it at once. Only the holder's token does. */
  release(key: DeliveryKey, token: string): Promise<void>;
}

/** How long a delivered notification is remembered: longer than SQS keeps a message (14 days). */
export const DELIVERY_RETENTION_MS = 30 * 86_400_000;
/** How often old entries are swept. */
export const DELIVERY_PRUNE_INTERVAL_MS = 3_600_000;

interface Entry {
  state: 'in-progress' | 'delivered';
  token: string | undefined;
  leaseUntil: number;
  at: number;
}

/** The delivery log in memory: for tests, and a single process that accepts losing it on restart. */
export class InMemoryDeliveryLog implements DeliveryLog {
  readonly #entries = new Map<string, Entry>();
  #lastPruneAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly retentionMs = DELIVERY_RETENTION_MS) {}

  async claim(key: DeliveryKey, options: { now: number; leaseMs: number }): Promise<DeliveryClaim> {
    this.#pruneIfDue(options.now);
    const id = keyOf(key);
    const entry = this.#entries.get(id);
    if (entry?.state === 'delivered') return { status: 'delivered' };
    if (entry?.state === 'in-progress' && entry.leaseUntil > options.now) return { status: 'in-progress' };
    const token = randomUUID();
    this.#entries.set(id, {
      state: 'in-progress',
      token,
      leaseUntil: options.now + options.leaseMs,
      at: options.now,
    });
    return { status: 'claimed', token };
  }

  async markDelivered(key: DeliveryKey, options: { now: number }): Promise<void> {
    this.#entries.set(keyOf(key), { state: 'delivered', token: undefined, leaseUntil: 0, at: options.now });
  }

  async release(key: DeliveryKey, token: string): Promise<void> {
    const id = keyOf(key);
    const entry = this.#entries.get(id);
    if (entry?.state === 'in-progress' && entry.token === token) this.#entries.delete(id);
  }

  #pruneIfDue(now: number): void {
    if (now - this.#lastPruneAt < DELIVERY_PRUNE_INTERVAL_MS) return;
    this.#lastPruneAt = now;
    for (const [id, entry] of this.#entries) {
      if (entry.at < now - this.retentionMs) this.#entries.delete(id);
    }
  }
}

const keyOf = (key: DeliveryKey): string => `${key.notificationId}\u0000${key.destination}`;
