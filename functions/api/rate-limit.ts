import type { Principal } from './auth.ts';
import { errorAnswer } from './define-route.ts';
import { RateLimitedError } from './errors.ts';

/**
 * The per-token rate limit on ingest (`POST /v1/events` and the sh agent's
 * `POST /v1/agents/:hostId/collect`): a token bucket per token, counted in events, so one token
 * (a looping agent, a runaway script) cannot take the queue and correlate from the rest of the
 * fleet. A refused request is answered 429 with `Retry-After` in whole seconds; both agents keep
 * the events spooled and send them again after it (agent/publish/http-publisher.ts,
 * agent/sh/faultline-agent.sh), so a refusal delays events and never loses one.
 *
 * **Cost.** A request is first admitted on its token's bucket holding at least one event, before
 * its body is read (a flood is refused without parsing a byte of it); once read, it costs the
 * events it carries (a batch's length, one for a single event or an empty batch) or, for a
 * collect, the events it makes — taken whole or refused whole (429, nothing queued or
 * remembered). A request larger than the bucket costs the whole bucket, so any valid request
 * passes once the bucket is full.
 *
 * **Sizes** ({@link INGEST_RATE_LIMITS}), from what the fleet and the benches send:
 * - an agent token: a bucket of 10,000 events refilled at 200 a second. A host's own storm — a
 *   VIOS reboot failing every mirror half and path of a client with hundreds of LUNs, a few
 *   hundred to a few thousand events, at most 500 a request (§3) — passes at once, and so do the
 *   first 20 full batches of a spool drained after an outage; a longer backlog drains at 200
 *   events a second (a full batch every 2.5 s, 720,000 an hour), paced by `Retry-After`. An agent
 *   at rest sends a heartbeat a minute; the sh agent one collect a minute and one per plan step.
 * - an operator token (an HMC script, a fleet's collector, the benches): a bucket of 200,000
 *   events refilled at 20,000 a second. The ingest bench (bench/ingest.ts) posts its 20,000- and
 *   100,000-event storms with one operator token, 500 a request and 4 in flight, as fast as the
 *   control plane takes them (about 600 events a second on the 2-core machine, the target being
 *   Alertmanager's 66,000–86,000): the whole largest storm fits in the bucket at any speed, and the
 *   steady section's 1,000 events a second is a twentieth of the refill.
 *
 * **Keys.** An agent token is keyed by its host (an agent token is bound to one host: a host's
 * tokens share its bucket); an operator token by its token id (`tok-…`, derived from the stored
 * hash, never the secret), since many operator tokens may share a label.
 *
 * **Memory** is bounded: at most `maxTrackedTokens` buckets (10,000 by default: about 3 MB of heap,
 * measured with 60,000 distinct tokens), kept in least-recently-used order; a new token beyond that
 * evicts the least recently used one, which starts again with a full bucket when it comes back
 * (evicting errs on the side of admitting; an agent idle for 50 s is full again anyway). A bucket
 * is a few numbers, so the bound is what keeps a stream of distinct tokens from growing the map.
 *
 * The limit holds per process: the local runtime has one; on Lambda each warm container keeps its
 * own buckets, so a token may get up to the limit per concurrent container there.
 */

export interface RateLimitBucket {
  /** Events the bucket holds when full: the largest burst one token may send at once. */
  readonly capacity: number;
  /** Events added back per second. */
  readonly refillPerSecond: number;
}

export interface IngestRateLimitOptions {
  readonly agent: RateLimitBucket;
  readonly operator: RateLimitBucket;
  /** The most tokens tracked at once (least recently used evicted beyond it). */
  readonly maxTrackedTokens: number;
}

/** The defaults, sized in the module's comment. */
export const INGEST_RATE_LIMITS = {
  agent: { capacity: 10_000, refillPerSecond: 200 },
  operator: { capacity: 200_000, refillPerSecond: 20_000 },
  maxTrackedTokens: 10_000,
} as const satisfies IngestRateLimitOptions;

/** The 429 of the ingest routes, as `/openapi.json` describes it. */
export const RATE_LIMITED_ANSWER = {
  ...errorAnswer(
    'The token is over its ingest rate limit (counted in events); nothing was taken. Send the same request again after `Retry-After` seconds.',
  ),
  headers: {
    'Retry-After': {
      description: "Whole seconds until the request fits the token's limit.",
      schema: { type: 'integer', minimum: 1 },
    },
  },
} as const;

const MS_PER_SECOND = 1000;

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms since the epoch). */
  at: number;
  readonly shape: RateLimitBucket;
}

/** Who a request counts against: its bucket's key and shape. */
export interface RateLimitKey {
  readonly key: string;
  readonly shape: RateLimitBucket;
}

/** The rate limit of ingest, shared by the routes it is given to. */
export class IngestRateLimit {
  readonly #options: IngestRateLimitOptions;
  readonly #now: () => number;
  /** Insertion order is recency: a bucket touched is deleted and set again at the end. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: Partial<IngestRateLimitOptions> = {}, now: () => number = Date.now) {
    this.#options = { ...INGEST_RATE_LIMITS, ...options };
    this.#now = now;
  }

  /** How many tokens are tracked now (at most `maxTrackedTokens`). */
  get trackedTokens(): number {
    return this.#buckets.size;
  }

  /** The bucket a request counts against: its host for an agent token, its token id for an operator's. */
  keyOf(principal: Principal): RateLimitKey {
    if (principal.kind === 'agent') return { key: `agent:${principal.hostId}`, shape: this.#options.agent };
    return { key: `operator:${principal.tokenId}`, shape: this.#options.operator };
  }

  /** Admits a request before its body is read: refused (429) when its bucket holds less than one event. */
  admit(who: RateLimitKey): void {
    const bucket = this.#bucket(who);
    if (bucket.tokens < 1) throw this.#refusal(bucket, 1);
  }

  /** Takes `events` from the bucket (at least one, at most the whole bucket), or refuses (429) taking none. */
  take(who: RateLimitKey, events: number): void {
    const bucket = this.#bucket(who);
    const cost = Math.min(Math.max(1, events), bucket.shape.capacity);
    if (bucket.tokens < cost) throw this.#refusal(bucket, cost);
    bucket.tokens -= cost;
  }

  #refusal(bucket: Bucket, cost: number): RateLimitedError {
    const seconds = Math.max(1, Math.ceil((cost - bucket.tokens) / bucket.shape.refillPerSecond));
    return new RateLimitedError(seconds, cost);
  }

  /** The key's bucket, refilled up to now and moved to the most recently used end. */
  #bucket(who: RateLimitKey): Bucket {
    const now = this.#now();
    const known = this.#buckets.get(who.key);
    if (known !== undefined) {
      this.#buckets.delete(who.key);
      // A clock that steps back refills nothing, rather than draining the bucket.
      const elapsed = Math.max(0, now - known.at);
      known.tokens = Math.min(
        known.shape.capacity,
        known.tokens + (elapsed * known.shape.refillPerSecond) / MS_PER_SECOND,
      );
      known.at = Math.max(known.at, now);
      this.#buckets.set(who.key, known);
      return known;
    }
    while (this.#buckets.size >= this.#options.maxTrackedTokens) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done === true) break;
      this.#buckets.delete(oldest.value);
    }
    const fresh: Bucket = { tokens: who.shape.capacity, at: now, shape: who.shape };
    this.#buckets.set(who.key, fresh);
    return fresh;
  }
}
