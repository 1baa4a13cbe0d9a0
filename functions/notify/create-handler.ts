import { noMetrics } from '../adapters/observability/metrics-port.ts';
import { type BatchResponse, processBatch, type QueueEvent, rejectRecord } from '../adapters/queue/batch.ts';
import type { NotifyDeps } from './deps.ts';
import {
  deliverNotification,
  destinationsLoader,
  type NotifierDeps,
  parseNotification,
  type ReceiveWindow,
} from './notify.ts';

export type { NotifyDeps } from './deps.ts';

/**
 * notify: consumes the notify queue (records whose body is a `Notification`, events/notification.ts)
 * and delivers each to PagerDuty, Slack and signed webhooks (docs/architecture.md §6). Wiring only: parsing
 * and delivery live in notify.ts, the batch answer in adapters/queue/batch.ts.
 *
 * A record that is not a notification goes to the DLQ with its reason and the rest of the batch
 * is delivered; a delivery that failed in a way a later try may fix is reported as a batch item
 * failure, so SQS delivers it again and, after `maxReceiveCount`, dead-letters it. Records are
 * handled in order, one at a time, so a trigger and its resolve in one batch reach PagerDuty in
 * that order. With no destination configured, a page is kept in its incident's timeline and
 * acknowledged (notify.ts). Deliveries and dead-lettered records are counted, flushed per batch.
 * Every delivery of a batch ends before the queue may hand its records to another consumer (the
 * batch's arrival plus the queue's visibility timeout, less a margin: `takeoverAtFor`), and before
 * the invocation ends, when the caller says when (Lambda's context, the handler's second
 * argument): a Lambda killed at its timeout in the middle of a request would leave a claim the
 * batch's next receive sends again. Records the batch has no time left for are handed back
 * without being claimed (notify.ts).
 */
const DEFAULT_SOURCE_QUEUE = 'notify';
/** SQS's default visibility timeout: assumed when the deps do not say (see `NotifyDeps.visibilityTimeoutMs`). */
export const DEFAULT_VISIBILITY_TIMEOUT_MS = 30_000;
/** A lease ends this long before the queue may hand its record on: the batch arrived a little after it was received. */
const MAX_TAKEOVER_MARGIN_MS = 5_000;
/** ...and never less than this share of the visibility timeout, for queues with a short one. */
const TAKEOVER_MARGIN_SHARE = 0.1;

/** When a batch that arrived at `receivedAt` may reach another consumer, less the margin (notify.ts `ReceiveWindow`). */
export const takeoverAtFor = (receivedAt: number, visibilityTimeoutMs: number): number =>
  receivedAt +
  visibilityTimeoutMs -
  Math.min(MAX_TAKEOVER_MARGIN_MS, Math.ceil(visibilityTimeoutMs * TAKEOVER_MARGIN_SHARE));

const jsonLog = (entry: Readonly<Record<string, unknown>>): void => {
  console.log(JSON.stringify({ service: 'notify', ...entry }));
};

const queueNameOf = (arn: string | undefined): string | undefined => {
  const name = arn?.split(':').pop();
  return name === undefined || name.length === 0 ? undefined : name;
};

/**
 * What notify reads of the invocation it runs in: Lambda's `Context` has it (the Node.js runtime
 * passes the context as the handler's second argument, so handler.ts needs no wiring for it).
 */
export interface NotifyInvocation {
  /** How long until the runtime ends the invocation, in ms. */
  getRemainingTimeInMillis(): number;
}

export const createHandler = (
  deps: NotifyDeps,
): ((event: QueueEvent, invocation?: NotifyInvocation) => Promise<BatchResponse>) => {
  const log = deps.log ?? jsonLog;
  const metrics = deps.metrics ?? noMetrics;
  const notifier: NotifierDeps = {
    deliveryLog: deps.deliveryLog,
    log,
    get timeline() {
      return deps.timeline;
    },
    metrics,
    fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
    now: deps.now ?? Date.now,
    sleep: deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    random: deps.random ?? Math.random,
  };
  const loadDestinations = destinationsLoader(deps.loadConfig, log);
  const visibilityTimeoutMs = deps.visibilityTimeoutMs ?? DEFAULT_VISIBILITY_TIMEOUT_MS;

  return async (event, invocation) => {
    // Taken before anything else: the batch was received a moment ago, and its clock is running.
    const arrivedAt = notifier.now();
    const takeoverAt = takeoverAtFor(arrivedAt, visibilityTimeoutMs);
    const window: ReceiveWindow = {
      takeoverAt,
      nextTakeoverAt: takeoverAt + visibilityTimeoutMs,
      invocationEndsAt:
        invocation === undefined ? undefined : arrivedAt + invocation.getRemainingTimeInMillis(),
    };
    const resolved = await loadDestinations();
    const sourceQueue =
      deps.sourceQueue ?? queueNameOf(event.Records[0]?.eventSourceARN) ?? DEFAULT_SOURCE_QUEUE;
    let deadLettered = 0;
    try {
      return await processBatch(
        event.Records,
        async (record) => {
          const parsed = parseNotification(record.body);
          if (!parsed.ok) return rejectRecord(parsed.reason);
          return deliverNotification(parsed.value, resolved, notifier, window);
        },
        {
          deadLetterQueue: deps.deadLetterQueue,
          sourceQueue,
          onResult: (record, result) => {
            if (result.kind === 'rejected') deadLettered += 1;
            if (result.kind !== 'ok') {
              log({
                level: result.kind === 'failed' ? 'error' : 'warn',
                messageId: record.messageId,
                outcome: result.kind,
                detail: result.reason,
              });
            }
          },
        },
      );
    } finally {
      metrics.count('deadLettered', { queue: sourceQueue }, deadLettered);
      metrics.flush();
    }
  };
};
