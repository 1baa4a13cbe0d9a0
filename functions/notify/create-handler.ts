import { noMetrics } from '../adapters/observability/metrics-port.ts';
import { type BatchResponse, processBatch, type QueueEvent, rejectRecord } from '../adapters/queue/batch.ts';
import type { NotifyDeps } from './deps.ts';
import { deliverNotification, destinationsLoader, type NotifierDeps, parseNotification } from './notify.ts';

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
 */
const DEFAULT_SOURCE_QUEUE = 'notify';

const jsonLog = (entry: Readonly<Record<string, unknown>>): void => {
  console.log(JSON.stringify({ service: 'notify', ...entry }));
};

const queueNameOf = (arn: string | undefined): string | undefined => {
  const name = arn?.split(':').pop();
  return name === undefined || name.length === 0 ? undefined : name;
};

export const createHandler = (deps: NotifyDeps): ((event: QueueEvent) => Promise<BatchResponse>) => {
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

  return async (event) => {
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
          return deliverNotification(parsed.value, resolved, notifier);
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
