import { z } from 'zod';
import { Identifier, Rfc3339 } from './names.ts';

/**
 * A page or message the core decided to send (an effect), as correlate hands it to the notify
 * queue. Delivery is keyed by `id`, derived from the incident and the reason, so a notification
 * redelivered or re-enqueued after a crash is sent at most once per destination.
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
  /** What a person needs to act: the failure domain, the hosts affected, what Faultline changed. */
  details: z.record(z.string().max(64), DetailValue).optional(),
});
export type Notification = z.infer<typeof Notification>;
