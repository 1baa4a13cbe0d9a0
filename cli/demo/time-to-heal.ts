import type { IncidentRecord } from '../../functions/adapters/store/port.ts';
import { incidentDurations } from '../../functions/adapters/store/projection.ts';
import type { IncidentSummary } from '../../sim/control-plane-client.ts';

/**
 * The demo's time to detect and time to heal of an incident: the control plane's own, read from
 * the incident as the API answers it, computed as `GET /v1/stats` and `faultline stats` compute
 * them (`incidentDurations`): detect is `detectedAt − (downAt ?? openedAt)`, heal is
 * `resolvedAt − (upAt ?? openedAt)`, from the control plane seeing the server back to the incident
 * resolved. The live view's RESOLVED lines and the closing summary both print these, so each
 * incident shows one figure wherever it is shown, the same the stats count.
 */

export type IncidentTimes = {
  /** Seconds, to the tenth; null when the incident lacks the times (not resolved yet). */
  readonly detectSeconds: number | null;
  readonly healSeconds: number | null;
};

const tenths = (value: number | undefined): number | null =>
  value === undefined ? null : Math.round(value * 10) / 10;

const clock = (at: string): string => new Date(at).toISOString().slice(11, 19);

/** The API's answer as the store's record it was read from (the answer's optional keys may hold undefined). */
const recordOf = (incident: IncidentSummary): IncidentRecord => {
  const { hostId, resource, downAt, upAt, notificationSequence, ...always } = incident;
  return {
    ...always,
    ...(hostId === undefined ? {} : { hostId }),
    ...(resource === undefined ? {} : { resource }),
    ...(downAt === undefined ? {} : { downAt }),
    ...(upAt === undefined ? {} : { upAt }),
    ...(notificationSequence === undefined ? {} : { notificationSequence }),
  };
};

export const incidentTimes = (incident: IncidentSummary): IncidentTimes => {
  const { detect, heal } = incidentDurations(recordOf(incident));
  return { detectSeconds: tenths(detect), healSeconds: tenths(heal) };
};

/** `time to heal 66.3 s (up 21:35:10 → resolved 21:36:16)`. */
export const healText = (incident: IncidentSummary): string => {
  const { healSeconds } = incidentTimes(incident);
  if (healSeconds === null || incident.resolvedAt === null) return 'not healed yet';
  const from = incident.upAt ?? null;
  return `time to heal ${healSeconds} s (${from === null ? `opened ${clock(incident.openedAt)}` : `up ${clock(from)}`} → resolved ${clock(incident.resolvedAt)})`;
};

/** `time to detect 0.4 s`. */
export const detectText = (incident: IncidentSummary): string => {
  const { detectSeconds } = incidentTimes(incident);
  return detectSeconds === null ? 'time to detect -' : `time to detect ${detectSeconds} s`;
};
