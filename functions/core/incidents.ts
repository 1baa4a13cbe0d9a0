import type { Notification, Severity } from '../../events/index.ts';
import { deriveId, timelineId } from './ids.ts';
import type { HostSlice, Incident, TimelineEntry, TimelineKind } from './model.ts';
import type { Transaction } from './transaction.ts';

/**
 * Incidents and their pages (docs/architecture.md §5.3, 5.9, 5.10): the timeline, the first page,
 * the one escalation, the resolve, and the local fault's incident. Shared by the episode, double
 * fault and timer rules, which all page through here so that each incident pages once, and so
 * that its notifications are numbered in the order they are made (`sequence`, §6: notify never
 * sends a destination an action older than one it already delivered there).
 */

export const timeline = (
  txn: Transaction,
  incidentId: string,
  text: string,
  hostId?: string,
  kind?: TimelineKind,
): void => {
  const entry: TimelineEntry = {
    id: timelineId(incidentId, txn.now, hostId ?? '', text),
    incidentId,
    at: txn.now,
    text,
  };
  if (hostId !== undefined) entry.hostId = hostId;
  if (kind !== undefined) entry.kind = kind;
  txn.emit({ type: 'timeline', entry });
};

const notify = (
  txn: Transaction,
  incident: Incident,
  action: Notification['action'],
  reason: string,
  severity: Severity,
  summary: string,
  details: Notification['details'] = {},
): void => {
  // Counted on the incident, so a later decision (another batch, another slice) continues from it.
  const sequence = (incident.notificationSequence ?? 0) + 1;
  incident.notificationSequence = sequence;
  txn.touch(incident);
  txn.emit({
    type: 'notify',
    notification: {
      id: deriveId('ntf', incident.id, action, reason),
      incidentId: incident.id,
      time: txn.now,
      action,
      dedupKey: incident.id,
      severity,
      sequence,
      summary: summary.slice(0, 1024),
      details: { kind: incident.kind, failureDomain: incident.failureDomain, ...details },
    },
  });
};

/** Sends an incident's first page (a trigger), unless a brake keeps people out of it. */
export const page = (
  txn: Transaction,
  incident: Incident,
  severity: Severity,
  summary: string,
  details?: Notification['details'],
): void => {
  if (incident.paged) return;
  incident.paged = true;
  txn.touch(incident);
  notify(txn, incident, 'trigger', 'opened', severity, summary, details);
};

/** Escalation pages once per incident (§5.9): a critical trigger on the same dedup key. */
export const escalate = (
  txn: Transaction,
  incident: Incident,
  summary: string,
  details?: Notification['details'],
): void => {
  if (incident.escalated || incident.status === 'resolved') return;
  incident.escalated = true;
  incident.paged = true;
  txn.touch(incident);
  notify(txn, incident, 'trigger', 'escalated', 'critical', summary, details);
  timeline(txn, incident.id, `escalated: ${summary}`, undefined, 'escalated');
};

export const resolveIncident = (txn: Transaction, incident: Incident, why: string): void => {
  if (incident.status === 'resolved') return;
  incident.status = 'resolved';
  incident.resolvedAt = txn.now;
  txn.touch(incident);
  timeline(txn, incident.id, `resolved: ${why}`, undefined, 'resolved');
  if (incident.paged)
    notify(txn, incident, 'resolve', 'resolved', 'info', `Resolved: ${incident.summary} (${why})`);
};

export const newIncident = (
  kind: Incident['kind'],
  id: string,
  failureDomain: string,
  at: string,
  summary: string,
  extra: Partial<Incident> = {},
): Incident => ({
  id,
  kind,
  failureDomain,
  status: kind === 'outage' ? 'awaiting-recovery' : 'open',
  escalated: false,
  affectedHosts: 0,
  openedAt: at,
  resolvedAt: null,
  summary,
  paged: false,
  ...extra,
});

export const openLocalIncident = (
  txn: Transaction,
  host: HostSlice,
  resource: string,
  failureDomain: string,
  since: string,
) => {
  const lone = (txn.readDomain(failureDomain).clients?.count ?? 0) <= 1;
  const incident = newIncident(
    'local',
    deriveId('inc', 'local', host.hostId, resource, since),
    failureDomain,
    txn.now,
    lone
      ? `${resource} on ${host.hostId} lost its half on ${failureDomain}, whose only known client it is; nothing shows ${failureDomain} down (its disk there still reads or was never probed, or an agent of its server heartbeats)`
      : `${resource} on ${host.hostId} lost its half on ${failureDomain}; its other clients are fine`,
    { hostId: host.hostId, resource, affectedHosts: 1 },
  );
  txn.touch(incident);
  timeline(txn, incident.id, `local fault: ${resource} since ${since}`, host.hostId);
  if (!host.maintenance && !txn.readDomain(failureDomain).maintenance) {
    page(txn, incident, 'error', incident.summary, { host: host.hostId, resource });
  }
  return incident;
};
