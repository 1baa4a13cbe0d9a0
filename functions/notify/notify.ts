import {
  type Notification,
  Notification as NotificationSchema,
  type Severity,
} from '../../events/notification.ts';
import type { Metrics } from '../adapters/observability/metrics-port.ts';
import { type RecordOutcome, recordOk, rejectRecord, retryRecord } from '../adapters/queue/batch.ts';
import type { ProjectionWriter } from '../adapters/store/port.ts';
import { timelineId } from '../core/ids.ts';
import {
  type Destination,
  type Destinations,
  type NotifyConfig,
  type RetryPolicy,
  resolveDestinations,
} from './config.ts';
import { type DeliveryResult, deliverWithRetry, type HttpDeps } from './deliver.ts';
import type { DeliveryClaim, DeliveryKey, DeliveryLog } from './delivery-log.ts';
import { deliveryRequest } from './requests.ts';

/**
 * Delivers one notification to every allowed destination that wants it, once each, and in its
 * incident's order (docs/architecture.md §6).
 *
 * Per destination: claim the delivery in the log (delivery-log.ts), send it with retries, then mark
 * it delivered (tried a few times: a delivery that went out unrecorded is sent again by a
 * redelivery, and is logged at `error`), or release the claim when the destination refused it.
 * After a try that got no answer the claim is kept to the end of its lease instead: the
 * destination may still act on that request, and a newer action claiming the lane at once could
 * reach it first. The claim answers, instead, `delivered` (skip it), `superseded` (a newer action
 * of its incident, by `sequence`, reached that destination or may have: the record is acknowledged
 * and nothing is sent, so a trigger retried after a 429 never lands after its resolve), or
 * `in-progress`: another delivery of that incident to that destination is in flight (`held`,
 * most often a request of a fraction of a second: the claim is asked again in place for a few
 * seconds, {@link IN_PROGRESS_POLL}, before the record is handed back, which would cost it a whole
 * visibility timeout and a receive), or a newer one waits to go first (`deferred`: try later). A
 * delivery retrying in place asks the log before each wait whether a newer action of its incident
 * waits for it, and if so hands back at once, so the newer one is not kept out.
 *
 * The notification's outcome for its SQS record: `ok` when every destination has it or dropped it
 * as superseded; `retry` when one failed in a way a later try may fix (429, 5xx, network, a delivery in flight, its lease running out): the record comes
 * back, and only the destinations still missing it are sent to; `reject` when one refused it for
 * good (another 4xx): the record goes to the DLQ with the reason, since trying again would fail
 * again. A record from before notifications carried a `sequence` is delivered unordered.
 *
 * **The lease never outlives the record's receive, nor the invocation.** A claim is held for as
 * long as the retry policy may take ({@link leaseMsFor}), but never past `takeoverAt`, the moment
 * the queue may hand the record to another consumer (its visibility timeout after the batch was
 * received, less a margin; create-handler.ts), nor past the invocation's end less
 * {@link INVOCATION_MARGIN_MS} (on Lambda, which kills the process at its timeout). The tries stop
 * at the lease's end (deliver.ts), so a consumer that crashed, stalled or was killed cannot leave
 * a claim that blocks, or races, the record's next receive; and a record is claimed only with at
 * least {@link MIN_LEASE_MS} left (a policy's timeout, when shorter): once a batch's time runs
 * short, its remaining records are handed back untouched.
 *
 * **No destination configured** (or none the allow-list lets notify call): the page is kept in its
 * incident's timeline instead, as an entry saying what would have been sent and why it was not,
 * and the record is acknowledged: nothing is retried, nothing goes to the DLQ. The entry's id is
 * derived from the notification's, so a redelivered record keeps it once.
 *
 * Each delivery is one log line (`info` when delivered, kept or superseded, with a `message` that
 * reads as a sentence; `warn` for a retry, `error` for a refusal, and for a delivery that went out
 * but could not be recorded) and one `faultline_deliveries_total` (outcomes `delivered`,
 * `already-delivered`, `superseded`, `retry`, `rejected`, `kept`, `filtered`, and `unrecorded`
 * besides `delivered`).
 */

export interface NotifierDeps extends HttpDeps {
  readonly deliveryLog: DeliveryLog;
  /** One structured line per delivery, for the logs. */
  readonly log: (entry: Readonly<Record<string, unknown>>) => void;
  /** Where a page no destination can take is kept; without it such a page is only logged. */
  readonly timeline: Pick<ProjectionWriter, 'putTimeline'> | undefined;
  readonly metrics: Metrics;
}

/** What a page says in a sentence: `trigger (critical): <summary>`. */
export const pageText = (notification: Notification): string =>
  `${notification.action}${notification.action === 'trigger' ? ` (${notification.severity})` : ''}: ${notification.summary}`;

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2, critical: 3 };
const LEASE_MARGIN_MS = 5_000;
/**
 * A lease ends this long before the invocation does: room to record the delivery (or give the
 * claim back), count it and answer the batch before Lambda kills the process at its timeout.
 */
export const INVOCATION_MARGIN_MS = 5_000;
/** Recording a delivery is tried again until this long before the invocation ends. */
const RECORD_MARGIN_MS = 1_000;
/** How often recording a delivery is tried (the first included), and the first wait between tries (doubling). */
const MARK_DELIVERED_RETRY = { tries: 3, firstWaitMs: 200 } as const;
/**
 * The shortest lease worth claiming (or the policy's timeout, when shorter): a try cut off sooner
 * could fail a delivery that was on its way, and a record with less time left is better handed
 * back untouched to a consumer with time.
 */
export const MIN_LEASE_MS = 2_000;
/**
 * How a record that finds its lane held waits in place before it is handed back: the first wait,
 * the longest (doubling up to it) and how long in all. A few seconds cover a request in flight;
 * handing the record back costs a visibility timeout (12 minutes on Lambda) and a receive.
 */
export const IN_PROGRESS_POLL = { firstWaitMs: 250, maxWaitMs: 1_000, totalMs: 5_000 } as const;

/** Whether `destination` is to get `notification` (its `actions` and, for triggers, `minSeverity`). */
export const wants = (destination: Destination, notification: Notification): boolean => {
  if (destination.actions !== undefined && !destination.actions.includes(notification.action)) return false;
  if (notification.action !== 'trigger' || destination.minSeverity === undefined) return true;
  return SEVERITY_RANK[notification.severity] >= SEVERITY_RANK[destination.minSeverity];
};

/** A claim outlives the longest delivery the policy allows: every try timing out, every wait at its longest. */
export const leaseMsFor = (policy: RetryPolicy): number =>
  policy.maxAttempts * policy.timeoutMs +
  (policy.maxAttempts - 1) * Math.max(policy.maxDelayMs, policy.maxRetryAfterMs) +
  LEASE_MARGIN_MS;

/** The latest a claim in `window` may hold: the queue's takeover, or the invocation's end less its margin. */
export const claimLimitOf = (window: ReceiveWindow): number =>
  Math.min(window.takeoverAt, (window.invocationEndsAt ?? Number.POSITIVE_INFINITY) - INVOCATION_MARGIN_MS);

/**
 * The lease of a claim made at `now`: what the policy may take, cut at {@link claimLimitOf}. Less
 * than {@link minLeaseMsFor}: not worth claiming in this receive.
 */
export const leaseMsWithin = (policy: RetryPolicy, now: number, window: ReceiveWindow): number =>
  Math.min(leaseMsFor(policy), claimLimitOf(window) - now);

/**
 * The shortest lease a delivery is claimed with: {@link MIN_LEASE_MS}, or one try when the policy's
 * is shorter, or a quarter of the queue's visibility timeout when that is shorter still (a queue
 * whose records come back every 2 s would otherwise never leave enough time to claim one).
 */
export const minLeaseMsFor = (policy: RetryPolicy, window: ReceiveWindow): number =>
  Math.min(
    MIN_LEASE_MS,
    policy.timeoutMs,
    Math.floor((window.nextTakeoverAt - window.takeoverAt) / MIN_LEASE_SHARE_OF_VISIBILITY),
  );
/** See {@link minLeaseMsFor}. */
const MIN_LEASE_SHARE_OF_VISIBILITY = 4;

/** Where a batch stands with its queue: set by the handler when the batch arrives. */
export interface ReceiveWindow {
  /** When the queue may hand this batch's records to another consumer (ms since the epoch, less a margin). */
  readonly takeoverAt: number;
  /**
   * When a record handed back now has been received again and its consumer's time is up (one more
   * visibility timeout after `takeoverAt`): how long a newer action that found its lane busy keeps
   * its place ahead of older ones (delivery-log.ts).
   */
  readonly nextTakeoverAt: number;
  /**
   * When the invocation ends (ms since the epoch; on Lambda, the batch's arrival plus the context's
   * `getRemainingTimeInMillis()`): absent where nothing kills the process at a deadline.
   */
  readonly invocationEndsAt?: number | undefined;
}

type DestinationOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'retry' | 'reject'; readonly destination: string; readonly detail: string };

type Claiming =
  | {
      readonly kind: 'claim';
      readonly claim: DeliveryClaim;
      readonly claimedAt: number;
      readonly leaseMs: number;
    }
  | { readonly kind: 'no-claim'; readonly detail: string };

/**
 * Claims `key`, asking again in place while the lane is held by a delivery in flight, for up to
 * {@link IN_PROGRESS_POLL} and never so late that too short a lease would be left: the answer
 * that came last (still `in-progress` when the holder did not finish in time).
 */
const claimPolling = async (
  key: DeliveryKey,
  policy: RetryPolicy,
  deps: NotifierDeps,
  window: ReceiveWindow,
): Promise<Claiming> => {
  const minLeaseMs = minLeaseMsFor(policy, window);
  const pollUntil = deps.now() + IN_PROGRESS_POLL.totalMs;
  for (let waitMs: number = IN_PROGRESS_POLL.firstWaitMs; ; ) {
    const claimedAt = deps.now();
    const leaseMs = leaseMsWithin(policy, claimedAt, window);
    if (leaseMs < minLeaseMs) {
      return {
        kind: 'no-claim',
        detail:
          'too little time left before the queue may hand the record to another consumer, or the invocation ends',
      };
    }
    let claim: DeliveryClaim;
    try {
      claim = await deps.deliveryLog.claim(key, {
        now: claimedAt,
        leaseMs,
        precedenceMs: window.nextTakeoverAt - claimedAt,
      });
    } catch (error) {
      return { kind: 'no-claim', detail: `delivery log: ${(error as Error).message}` };
    }
    const answered = { kind: 'claim', claim, claimedAt, leaseMs } as const;
    if (claim.status !== 'in-progress' || claim.reason !== 'held') return answered;
    const wakeAt = deps.now() + waitMs;
    if (wakeAt > pollUntil || wakeAt + minLeaseMs > claimLimitOf(window)) return answered;
    await deps.sleep(waitMs);
    waitMs = Math.min(2 * waitMs, IN_PROGRESS_POLL.maxWaitMs);
  }
};

/**
 * Records `key` as delivered, trying again a few times (a throttled or briefly unreachable log),
 * until {@link RECORD_MARGIN_MS} before the invocation ends. Past the lease is still worth it:
 * it only makes a redelivery answer `delivered`. Why it failed, or undefined once recorded.
 */
const recordDelivered = async (
  key: DeliveryKey,
  token: string,
  deps: NotifierDeps,
  window: ReceiveWindow,
): Promise<string | undefined> => {
  const recordBy = (window.invocationEndsAt ?? Number.POSITIVE_INFINITY) - RECORD_MARGIN_MS;
  for (let attempt = 1, waitMs: number = MARK_DELIVERED_RETRY.firstWaitMs; ; attempt += 1, waitMs *= 2) {
    try {
      await deps.deliveryLog.markDelivered(key, { now: deps.now(), token });
      return undefined;
    } catch (error) {
      const detail = `delivery log: ${(error as Error).message} (after ${attempt} tries)`;
      if (attempt >= MARK_DELIVERED_RETRY.tries || deps.now() + waitMs >= recordBy) return detail;
      await deps.sleep(waitMs);
    }
  }
};

const deliverTo = async (
  notification: Notification,
  destination: Destination,
  destinations: Destinations,
  deps: NotifierDeps,
  window: ReceiveWindow,
): Promise<DestinationOutcome> => {
  const key: DeliveryKey = {
    notificationId: notification.id,
    incidentId: notification.incidentId,
    destination: destination.name,
    sequence: notification.sequence,
  };
  const base = {
    notificationId: notification.id,
    incidentId: notification.incidentId,
    destination: destination.name,
    ...(notification.sequence === undefined ? {} : { sequence: notification.sequence }),
  };
  const retry = (detail: string): DestinationOutcome => {
    deps.log({ level: 'warn', ...base, outcome: 'retry', detail });
    deps.metrics.count('deliveries', { destination: destination.name, outcome: 'retry' });
    return { kind: 'retry', destination: destination.name, detail };
  };
  const claiming = await claimPolling(key, destinations.retry, deps, window);
  if (claiming.kind === 'no-claim') return retry(claiming.detail);
  const { claim, claimedAt, leaseMs } = claiming;
  if (claim.status === 'delivered') {
    deps.log({ level: 'debug', ...base, outcome: 'already-delivered' });
    deps.metrics.count('deliveries', { destination: destination.name, outcome: 'already-delivered' });
    return { kind: 'done' };
  }
  if (claim.status === 'superseded') {
    deps.log({
      level: 'info',
      message:
        claim.unrecorded === true
          ? `dropped ${notification.action} for ${destination.name}: a newer action of incident ${notification.incidentId} may have reached it (its delivery ended unrecorded)`
          : `dropped ${notification.action} for ${destination.name}: a newer action of incident ${notification.incidentId} already reached it`,
      incident: notification.incidentId,
      ...base,
      outcome: 'superseded',
      deliveredSequence: claim.deliveredSequence,
      ...(claim.unrecorded === true ? { unrecorded: true } : {}),
    });
    deps.metrics.count('deliveries', { destination: destination.name, outcome: 'superseded' });
    return { kind: 'done' };
  }
  if (claim.status === 'in-progress') {
    return retry(
      claim.reason === 'held'
        ? 'another delivery of its incident to this destination is in flight'
        : 'a newer action of its incident waits to go first',
    );
  }
  const { token } = claim;
  const result: DeliveryResult = await deliverWithRetry(
    (now) => deliveryRequest(destination, notification, now),
    destinations.allowList,
    destinations.retry,
    deps,
    {
      deadline: claimedAt + leaseMs,
      // A newer action of the incident waits for this lane: it goes first, this one is then dropped.
      handOver: async () => {
        try {
          return (await deps.deliveryLog.isOvertaken(key, { now: deps.now(), token }))
            ? 'a newer action of its incident waits to go first: handed back'
            : undefined;
        } catch {
          return undefined;
        }
      },
    },
  );
  if (result.kind === 'delivered') {
    deps.log({
      level: 'info',
      message: `paged ${destination.name} (${destination.kind}): ${pageText(notification)}`,
      incident: notification.incidentId,
      change: 'paged',
      ...base,
      outcome: 'delivered',
      status: result.status,
      attempts: result.attempts,
    });
    deps.metrics.count('deliveries', { destination: destination.name, outcome: 'delivered' });
    const unrecorded = await recordDelivered(key, token, deps, window);
    if (unrecorded !== undefined) {
      // The claim lapses with its lease and counts then as maybe delivered: older actions of the
      // incident are still dropped (delivery-log.ts), but a redelivery of this record sends it again.
      deps.log({
        level: 'error',
        message: `paged ${destination.name} but could not record it: a redelivery of this notification would page again`,
        incident: notification.incidentId,
        ...base,
        outcome: 'unrecorded',
        detail: unrecorded,
      });
      deps.metrics.count('deliveries', { destination: destination.name, outcome: 'unrecorded' });
    }
    return { kind: 'done' };
  }
  deps.log({
    level: result.retryable ? 'warn' : 'error',
    ...base,
    outcome: result.retryable ? 'retry' : 'reject',
    status: result.status,
    attempts: result.attempts,
    detail: result.detail,
    ...(result.unanswered ? { claimKeptUntil: new Date(claimedAt + leaseMs).toISOString() } : {}),
  });
  deps.metrics.count('deliveries', {
    destination: destination.name,
    outcome: result.retryable ? 'retry' : 'rejected',
  });
  // Only a definite answer gives the lane back. After a try with no answer the destination may
  // still act on that request: the claim is kept to its lease's end, so a newer action waiting for
  // the lane (the resolve) cannot reach the destination first, in either order.
  if (!result.unanswered) {
    try {
      await deps.deliveryLog.release(key, token);
    } catch {
      // The claim then expires with its lease.
    }
  }
  return {
    kind: result.retryable ? 'retry' : 'reject',
    destination: destination.name,
    detail: result.detail,
  };
};

const describe = (outcomes: readonly DestinationOutcome[]): string =>
  outcomes
    .map((outcome) => (outcome.kind === 'done' ? '' : `${outcome.destination}: ${outcome.detail}`))
    .filter((text) => text.length > 0)
    .join('; ');

/** Delivers `notification` to the destinations that want it and says what becomes of its record. */
export const deliverNotification = async (
  notification: Notification,
  destinations: Destinations,
  deps: NotifierDeps,
  window: ReceiveWindow,
): Promise<RecordOutcome> => {
  if (destinations.allowed.length === 0) return keepInTimeline(notification, destinations, deps);
  const targets = destinations.allowed.filter((destination) => wants(destination, notification));
  if (targets.length === 0) {
    deps.log({
      level: 'debug',
      notificationId: notification.id,
      incidentId: notification.incidentId,
      outcome: 'no-destination',
      detail: "no destination wants it (each one's actions or minSeverity)",
    });
    deps.metrics.count('deliveries', { destination: 'none', outcome: 'filtered' });
  }
  const outcomes = await Promise.all(
    targets.map((destination) => deliverTo(notification, destination, destinations, deps, window)),
  );
  const retries = outcomes.filter((outcome) => outcome.kind === 'retry');
  if (retries.length > 0) return retryRecord(describe(retries));
  const rejects = outcomes.filter((outcome) => outcome.kind === 'reject');
  if (rejects.length > 0) return rejectRecord(`refused by ${describe(rejects)}`);
  return recordOk;
};

/** Why no destination took a page, in words, for its timeline entry and the log. */
const whyNotSent = (destinations: Destinations): string =>
  destinations.blocked.length === 0
    ? 'no destination is configured'
    : `no destination may be called (${destinations.blocked.map((destination) => destination.name).join(', ')} not on the allow-list)`;

/** The timeline entry that keeps a page no destination took. */
export const keptPageEntry = (notification: Notification, destinations: Destinations) => ({
  id: timelineId(notification.incidentId, notification.id, 'kept'),
  incidentId: notification.incidentId,
  at: notification.time,
  text: `page not sent, ${whyNotSent(destinations)}: it would have sent ${pageText(notification)}`,
});

/** A page with nowhere to go: kept in its incident's timeline, and acknowledged. */
const keepInTimeline = async (
  notification: Notification,
  destinations: Destinations,
  deps: NotifierDeps,
): Promise<RecordOutcome> => {
  const base = { notificationId: notification.id, incident: notification.incidentId };
  if (deps.timeline !== undefined) {
    try {
      await deps.timeline.putTimeline(keptPageEntry(notification, destinations));
    } catch (error) {
      const detail = `keeping the page in the timeline: ${(error as Error).message}`;
      deps.log({ level: 'warn', ...base, outcome: 'retry', detail });
      deps.metrics.count('deliveries', { destination: 'none', outcome: 'retry' });
      return retryRecord(detail);
    }
  }
  deps.log({
    level: 'info',
    message: `page kept in the timeline (${whyNotSent(destinations)}): ${pageText(notification)}`,
    change: 'paged',
    ...base,
    outcome: 'kept',
  });
  deps.metrics.count('deliveries', { destination: 'none', outcome: 'kept' });
  return recordOk;
};

/** A record body parsed as a Notification, or why it is not one (for the DLQ). */
export const parseNotification = (
  body: string,
): { readonly ok: true; readonly value: Notification } | { readonly ok: false; readonly reason: string } => {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  const parsed = NotificationSchema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    reason: `not a notification: ${parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ')}`,
  };
};

/**
 * Resolves the destinations before every batch from `loadConfig`, which keeps its own cache (on
 * Lambda the secret, read again after its cache time so that a rotation takes effect: see
 * functions/lambda/notify-config-secret.ts; locally a constant). The same configuration object is
 * resolved once, and the destinations the allow-list keeps out are logged once per configuration.
 * A failed load fails that batch only: the next one tries again.
 */
export const destinationsLoader = (
  loadConfig: () => Promise<NotifyConfig>,
  log: NotifierDeps['log'],
): (() => Promise<Destinations>) => {
  let last: { readonly config: NotifyConfig; readonly resolved: Destinations } | undefined;
  return async () => {
    const config = await loadConfig();
    if (last?.config === config) return last.resolved;
    const resolved = resolveDestinations(config);
    for (const blocked of resolved.blocked) {
      log({
        level: 'warn',
        outcome: 'blocked',
        destination: blocked.name,
        detail: 'not on the allow-list: never called',
      });
    }
    last = { config, resolved };
    return resolved;
  };
};
