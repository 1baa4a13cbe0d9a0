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
import type { DeliveryLog } from './delivery-log.ts';
import { deliveryRequest } from './requests.ts';

/**
 * Delivers one notification to every allowed destination that wants it, once each.
 *
 * Per destination: claim the delivery in the log (skip it when already delivered), send it with
 * retries, then mark it delivered, or release the claim when it failed. The notification's
 * outcome for its SQS record: `ok` when every destination has it; `retry` when one failed in a
 * way a later try may fix (429, 5xx, network, a concurrent delivery): the record comes back, and
 * only the destinations still missing it are sent to; `reject` when one refused it for good
 * (another 4xx): the record goes to the DLQ with the reason, since trying again would fail again.
 *
 * **No destination configured** (or none the allow-list lets notify call): the page is kept in its
 * incident's timeline instead, as an entry saying what would have been sent and why it was not,
 * and the record is acknowledged: nothing is retried, nothing goes to the DLQ. The entry's id is
 * derived from the notification's, so a redelivered record keeps it once.
 *
 * Each delivery is one log line (`info` when delivered or kept, with a `message` that reads as a
 * sentence; `warn` for a retry, `error` for a refusal) and one `faultline_deliveries_total`.
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

type DestinationOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'retry' | 'reject'; readonly destination: string; readonly detail: string };

const deliverTo = async (
  notification: Notification,
  destination: Destination,
  destinations: Destinations,
  deps: NotifierDeps,
): Promise<DestinationOutcome> => {
  const key = { notificationId: notification.id, destination: destination.name };
  const base = {
    notificationId: notification.id,
    incidentId: notification.incidentId,
    destination: destination.name,
  };
  let claim: Awaited<ReturnType<DeliveryLog['claim']>>;
  try {
    claim = await deps.deliveryLog.claim(key, { now: deps.now(), leaseMs: leaseMsFor(destinations.retry) });
  } catch (error) {
    const detail = `delivery log: ${(error as Error).message}`;
    deps.log({ level: 'warn', ...base, outcome: 'retry', detail });
    deps.metrics.count('deliveries', { destination: destination.name, outcome: 'retry' });
    return { kind: 'retry', destination: destination.name, detail };
  }
  if (claim.status === 'delivered') {
    deps.log({ level: 'debug', ...base, outcome: 'already-delivered' });
    deps.metrics.count('deliveries', { destination: destination.name, outcome: 'already-delivered' });
    return { kind: 'done' };
  }
  if (claim.status === 'in-progress') {
    deps.log({ level: 'warn', ...base, outcome: 'retry', detail: 'another consumer is delivering it' });
    deps.metrics.count('deliveries', { destination: destination.name, outcome: 'retry' });
    return { kind: 'retry', destination: destination.name, detail: 'another consumer is delivering it' };
  }
  const result: DeliveryResult = await deliverWithRetry(
    (now) => deliveryRequest(destination, notification, now),
    destinations.allowList,
    destinations.retry,
    deps,
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
    try {
      await deps.deliveryLog.markDelivered(key, { now: deps.now() });
    } catch (error) {
      // Delivered, but not recorded: the claim expires and it may be sent once more (see DeliveryLog).
      deps.log({ ...base, outcome: 'unrecorded', detail: (error as Error).message });
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
  });
  deps.metrics.count('deliveries', {
    destination: destination.name,
    outcome: result.retryable ? 'retry' : 'rejected',
  });
  try {
    await deps.deliveryLog.release(key, claim.token);
  } catch {
    // The claim then expires with its lease.
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
    targets.map((destination) => deliverTo(notification, destination, destinations, deps)),
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
 * Loads the configuration once and resolves its destinations, logging those not on the
 * allow-list. A failed load is not remembered: the next batch tries again (a fixed secret).
 */
export const destinationsLoader = (
  loadConfig: () => Promise<NotifyConfig>,
  log: NotifierDeps['log'],
): (() => Promise<Destinations>) => {
  let destinations: Promise<Destinations> | undefined;
  return () => {
    if (destinations === undefined) {
      const loading = loadConfig().then((config) => {
        const resolved = resolveDestinations(config);
        for (const blocked of resolved.blocked) {
          log({
            level: 'warn',
            outcome: 'blocked',
            destination: blocked.name,
            detail: 'not on the allow-list: never called',
          });
        }
        return resolved;
      });
      destinations = loading;
      loading.catch(() => {
        if (destinations === loading) destinations = undefined;
      });
    }
    return destinations;
  };
};
