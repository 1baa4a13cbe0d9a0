import type { AffectedHost, Store } from '../../functions/adapters/store/port.ts';
import type { Incident } from '../../functions/core/index.ts';

/** Incident rows as the outbox projects them, for the API's read routes. */

export const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';
export const VIOS1 = 'vscsi:Server-9080-M9S-SN78AB12C/vios1';

/** `2026-11-22T03:MM:00Z`. */
export const minute = (value: number): string => new Date(Date.UTC(2026, 10, 22, 3, value, 0)).toISOString();

export const incidentRow = (id: string, overrides: Partial<Incident> = {}): Incident => ({
  id,
  kind: 'outage',
  failureDomain: VIOS2,
  status: 'remediating',
  escalated: false,
  affectedHosts: 1,
  openedAt: minute(0),
  resolvedAt: null,
  summary: `incident ${id}`,
  paged: true,
  downAt: minute(0),
  upAt: null,
  ...overrides,
});

export const affectedRow = (incidentId: string, hostId: string, failureDomain = VIOS2): AffectedHost => ({
  incidentId,
  hostId,
  failureDomain,
  status: 'waiting',
  joinedAt: minute(1),
  attempt: 0,
});

/** Stores an incident, detected a minute after it opened, with its affected hosts. */
export const putIncident = async (
  store: Pick<Store, 'putIncident' | 'putAffectedHost'>,
  incident: Incident,
  hosts: readonly string[] = [],
): Promise<void> => {
  await store.putIncident(incident, 1, new Date(Date.parse(incident.openedAt) + 60_000).toISOString());
  for (const host of hosts)
    await store.putAffectedHost(affectedRow(incident.id, host, incident.failureDomain), 1);
};
