import { z } from 'zod';
import { Identifier, Rfc3339 } from './names.ts';

/**
 * A page or message the core decided to send (an effect), as correlate hands it to the notify
 * queue. Delivery is keyed by `id`, derived from the incident and the reason, so a notification
 * redelivered or re-enqueued after a crash is sent at most once per destination. `sequence` orders
 * one incident's notifications, so that each destination gets them in the order the core made
 * them (docs/architecture.md §6): notify drops an action older than one it already delivered there.
 */

export const NotificationAction = z.enum(['trigger', 'acknowledge', 'resolve']);
export type NotificationAction = z.infer<typeof NotificationAction>;

/** PagerDuty Events API v2 severities. */
export const Severity = z.enum(['critical', 'error', 'warning', 'info']);
export type Severity = z.infer<typeof Severity>;

const DetailValue = z.union([
  z.string().max(4096),
  z.number(),
  z.boolean(),
  z.array(z.string().max(1024)).max(1000),
]);

export const Notification = z.object({
  id: Identifier,
  incidentId: Identifier,
  time: Rfc3339,
  action: NotificationAction,
  /** The incident id: a trigger, its acknowledge and its resolve share it (PagerDuty `dedup_key`). */
  dedupKey: Identifier,
  severity: Severity,
  summary: z.string().min(1).max(1024),
  /**
   * Where it stands among its incident's notifications: 1 for the first, one more for each next
   * one. A trigger retried late is dropped once a notification with a higher sequence (its
   * resolve) reached the destination, rather than sent after it. Absent on a record enqueued
   * before notifications were ordered: such a record ranks before every sequenced one of its
   * incident (all were made after it), so it is delivered once unless one of those already was.
   */
  sequence: z.int().positive().optional(),
  /** What a person needs to act: the failure domain, the hosts affected, what Faultline changed. */
  details: z.record(z.string().max(64), DetailValue).optional(),
});
export type Notification = z.infer<typeof Notification>;
