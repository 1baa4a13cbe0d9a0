import { createHash } from 'node:crypto';
import { incidentDurations as durationsOf, type Plan } from '../../../events/index.ts';
import type { Incident } from '../../core/index.ts';
import { StoreRejectedError } from '../errors.ts';
import type { DurationStats, IncidentQuery, IncidentRecord, IncidentStats } from './port.ts';

/**
 * What both store adapters share about the projections: sortable times, cursors, limits, stats,
 * and how long old rows are kept. Pure functions, no I/O.
 */

/** How long rows are kept once they are history (DynamoDB's TTL attribute; SQLite's purge). */
export const RETENTION = {
  /** A finished decision record: longer than SQS keeps a message (14 days at most), so a redelivery still finds it. */
  decisionSeconds: 15 * 86_400,
  /** A resolved incident, its affected hosts and its timeline. */
  incidentSeconds: 400 * 86_400,
  /** A plan, after its TTL ran out. */
  planSeconds: 30 * 86_400,
  /** What the collect route remembers of a host, after its last collect: a host gone that long is forgotten. */
  collectSeconds: 400 * 86_400,
} as const;

export const LIMITS = {
  defaultIncidents: 50,
  maxIncidents: 500,
  defaultPage: 100,
  maxPage: 1000,
} as const;

/** An RFC 3339 time in the one form that sorts as text (`toISOString`); other forms are normalised. */
export const sortableTime = (time: string): string => {
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) throw new StoreRejectedError(`not a time: ${JSON.stringify(time)}`);
  return new Date(ms).toISOString();
};

export const clampLimit = (limit: number | undefined, fallback: number, max: number): number => {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1)
    throw new StoreRejectedError(`limit must be a positive integer (got ${limit})`);
  return Math.min(limit, max);
};

/** What a cursor is bound to: the filters of the query it came from (other filters: refused). */
export const queryFingerprint = (query: Omit<IncidentQuery, 'cursor' | 'limit'> | string): string =>
  createHash('sha256')
    .update(
      typeof query === 'string'
        ? query
        : JSON.stringify([
            query.status ?? null,
            query.domain ?? null,
            query.host ?? null,
            query.since ?? null,
            query.until ?? null,
          ]),
    )
    .digest('base64url')
    .slice(0, 12);

/** An opaque cursor: the position (adapter-specific) and the fingerprint of its query. */
export const encodeCursor = (position: unknown, fingerprint: string): string =>
  Buffer.from(JSON.stringify({ p: position, f: fingerprint }), 'utf8').toString('base64url');

export const decodeCursor = (cursor: string, fingerprint: string): unknown => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    throw new StoreRejectedError('the cursor is not one this store issued', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || !('p' in parsed) || !('f' in parsed)) {
    throw new StoreRejectedError('the cursor is not one this store issued');
  }
  if ((parsed as { f: unknown }).f !== fingerprint) {
    throw new StoreRejectedError('the cursor belongs to a query with other filters');
  }
  return (parsed as { p: unknown }).p;
};

/** Whether an incident row passes a query's filters (those the index used did not already apply). */
export const matchesQuery = (incident: Incident, query: IncidentQuery): boolean => {
  if (query.status !== undefined && incident.status !== query.status) return false;
  if (query.domain !== undefined && incident.failureDomain !== query.domain) return false;
  const opened = Date.parse(incident.openedAt);
  if (query.since !== undefined && opened < Date.parse(query.since)) return false;
  if (query.until !== undefined && opened > Date.parse(query.until)) return false;
  return true;
};

const durations = (values: readonly number[]): DurationStats => ({
  count: values.length,
  meanSeconds: values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length,
  maxSeconds: values.length === 0 ? null : Math.max(...values),
});

/** Time to detect and time to heal of one incident (see `DomainStats`): the contract's own rule. */
export const incidentDurations = (incident: IncidentRecord): { detect?: number; heal?: number } =>
  durationsOf(incident);

/** Aggregates incidents opened in a window into `IncidentStats`. */
export const computeStats = (
  incidents: readonly IncidentRecord[],
  window: { readonly since?: string; readonly until?: string },
): IncidentStats => {
  const byStatus: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  const detectAll: number[] = [];
  const healAll: number[] = [];
  const domains = new Map<
    string,
    {
      incidents: number;
      open: number;
      resolved: number;
      affectedHosts: number;
      detect: number[];
      heal: number[];
    }
  >();
  for (const incident of incidents) {
    byStatus[incident.status] = (byStatus[incident.status] ?? 0) + 1;
    byKind[incident.kind] = (byKind[incident.kind] ?? 0) + 1;
    let domain = domains.get(incident.failureDomain);
    if (domain === undefined) {
      domain = { incidents: 0, open: 0, resolved: 0, affectedHosts: 0, detect: [], heal: [] };
      domains.set(incident.failureDomain, domain);
    }
    domain.incidents += 1;
    if (incident.status === 'resolved') domain.resolved += 1;
    else domain.open += 1;
    domain.affectedHosts += incident.affectedHosts;
    const { detect, heal } = incidentDurations(incident);
    if (detect !== undefined) {
      domain.detect.push(detect);
      detectAll.push(detect);
    }
    if (heal !== undefined) {
      domain.heal.push(heal);
      healAll.push(heal);
    }
  }
  return {
    since: window.since ?? null,
    until: window.until ?? null,
    incidents: incidents.length,
    byStatus,
    byKind,
    timeToDetect: durations(detectAll),
    timeToHeal: durations(healAll),
    byDomain: [...domains.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([failureDomain, domain]) => ({
        failureDomain,
        incidents: domain.incidents,
        open: domain.open,
        resolved: domain.resolved,
        affectedHosts: domain.affectedHosts,
        timeToDetect: durations(domain.detect),
        timeToHeal: durations(domain.heal),
      })),
  };
};

/** The epoch second a row may be deleted at (DynamoDB TTL), or undefined while it is live. */
export const expiryOf = (from: string | null | undefined, retentionSeconds: number): number | undefined =>
  from === undefined || from === null ? undefined : Math.floor(Date.parse(from) / 1000) + retentionSeconds;

/** When a plan stops being offered to its agent: `issuedAt + ttlSeconds` (an ISO time). */
export const planValidUntil = (plan: Plan): string =>
  new Date(Date.parse(plan.issuedAt) + plan.ttlSeconds * 1000).toISOString();
