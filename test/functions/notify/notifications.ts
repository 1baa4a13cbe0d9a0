import type { Notification } from '../../../events/notification.ts';
import type { QueueEvent, QueueRecord } from '../../../functions/adapters/queue/batch.ts';

/** Builders for notify's tests: notifications as correlate enqueues them, and the SQS events carrying them. */

export const INCIDENT_ID = 'inc-vscsi-p10-vios2-20250301T1200';

export const notification = (overrides: Partial<Notification> = {}): Notification => ({
  id: `ntf-${INCIDENT_ID}-trigger`,
  incidentId: INCIDENT_ID,
  time: '2025-03-01T12:03:00.000Z',
  action: 'trigger',
  dedupKey: INCIDENT_ID,
  severity: 'critical',
  sequence: 1,
  summary: 'vios2 on p10-a is down: 40 clients run on one mirror half',
  details: {
    failureDomain: 'vscsi:p10-a/vios2',
    affectedHosts: ['lpar-0001', 'lpar-0002'],
    affectedCount: 40,
  },
  ...overrides,
});

export const acknowledged = (): Notification =>
  notification({
    id: `ntf-${INCIDENT_ID}-acknowledge`,
    action: 'acknowledge',
    sequence: 2,
    summary: 'remediation started',
  });

export const resolved = (): Notification =>
  notification({
    id: `ntf-${INCIDENT_ID}-resolve`,
    action: 'resolve',
    sequence: 3,
    summary: 'every mirror is in sync again',
  });

let messages = 0;

/** An SQS record carrying `body` (a notification, or any text for malformed records). */
export const record = (body: Notification | string, messageId?: string): QueueRecord => {
  messages += 1;
  return {
    messageId: messageId ?? `msg-${messages}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1740830580000',
      SenderId: 'AROAEXAMPLE:correlate',
    },
    messageAttributes: {},
    eventSourceARN: 'arn:aws:sqs:eu-west-1:111122223333:faultline-notify',
  };
};

export const event = (...records: QueueRecord[]): QueueEvent => ({ Records: records });
