import { IncidentDetailBody } from '../events/index.ts';
import { answer, type Connection, call } from './operator-client.ts';

/**
 * `faultline incident <id>`: the whole incident. `GET /v1/incidents/:id` answers one page of its
 * timeline and one of its affected hosts (100 rows each unless `limit` says otherwise, at most
 * 1,000), each with the cursor of its next page; an outage of a few hundred clients has thousands
 * of timeline rows. Both listings are read here to their ends, the largest pages the API gives,
 * and answered as one `IncidentDetail` with both cursors null: what `--json` prints and the table
 * shows.
 */

/** Rows per page asked of the API: the most `GET /v1/incidents/:id` gives (events/api.ts `IncidentDetailQuery`). */
export const INCIDENT_PAGE_ROWS = 1000;

export const wholeIncident = async (
  connection: Connection,
  incidentId: string,
  pageRows: number = INCIDENT_PAGE_ROWS,
): Promise<IncidentDetailBody> => {
  const path = `/v1/incidents/${encodeURIComponent(incidentId)}`;
  const page = async (cursors: { timelineCursor?: string; hostsCursor?: string }) => {
    const query = new URLSearchParams({ limit: String(pageRows), ...cursors });
    return answer(IncidentDetailBody, await call(connection, 'GET', `${path}?${query}`), `GET ${path}`);
  };
  let current = await page({});
  const timeline = [...current.timeline.items];
  const affectedHosts = [...current.affectedHosts.items];
  let timelineCursor = current.timeline.cursor;
  let hostsCursor = current.affectedHosts.cursor;
  while (timelineCursor !== null || hostsCursor !== null) {
    current = await page({
      ...(timelineCursor === null ? {} : { timelineCursor }),
      ...(hostsCursor === null ? {} : { hostsCursor }),
    });
    // A listing asked without its cursor answers its first page again: only the ones asked count.
    if (timelineCursor !== null) {
      timeline.push(...current.timeline.items);
      timelineCursor = current.timeline.cursor;
    }
    if (hostsCursor !== null) {
      affectedHosts.push(...current.affectedHosts.items);
      hostsCursor = current.affectedHosts.cursor;
    }
  }
  // The incident as of the last page read: as late as the last rows.
  return {
    incident: current.incident,
    timeline: { items: timeline, cursor: null },
    affectedHosts: { items: affectedHosts, cursor: null },
  };
};
