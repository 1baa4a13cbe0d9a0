import type { Issue } from '../../events/index.ts';
import type { SpoolPeekLimits } from '../spool/event-spool.ts';
import type { OutboundEvent } from './outbound-event.ts';

/**
 * The port events leave the host through: SQS (`SendMessageBatch`) or the control plane's
 * `POST /v1/events`. A publisher never throws for a delivery problem: it reports, per event,
 * whether the target took it, refused it for good (logged and dropped, with the reasons), or could
 * not be reached (kept in the spool and tried again with backoff).
 */
export interface EventPublisher {
  /** For log lines: `sqs <queue URL>` or `api <URL>`. */
  readonly target: string;
  /** How many events, and bytes of event text, one `publish` call takes. */
  readonly limits: SpoolPeekLimits;
  publish(events: readonly OutboundEvent[]): Promise<PublishReport>;
  close(): void;
}

export type RejectedEvent = { id: string; reason: string; issues?: Issue[] };
export type FailedEvent = { id: string; reason: string };

export type PublishReport = {
  /** Ids the target accepted. */
  delivered: string[];
  /** Ids the target refused for good (4xx, an SQS sender fault): never sent again. */
  rejected: RejectedEvent[];
  /** Ids not delivered for a reason that may pass (network, 5xx, throttling): sent again later. */
  failed: FailedEvent[];
  /** The API said plans wait for this host: the plan runner should poll now. */
  plansPending?: boolean;
  /**
   * The target asked not to be sent anything for this long (a 429 or 503 with `Retry-After`: the
   * control plane's rate limit): the next attempt waits at least this, the events stay spooled.
   */
  retryAfterMs?: number;
};

/** Every event failed for the same reason (the target is unreachable). */
export const allFailed = (events: readonly OutboundEvent[], reason: string): PublishReport => ({
  delivered: [],
  rejected: [],
  failed: events.map((event) => ({ id: event.id, reason })),
});
