import type { FaultlineEvent, Issue } from '../../events/index.ts';
import type { HostRecord } from '../adapters/store/port.ts';

/**
 * Grants, not claims (docs/architecture.md §3 "Sender binding"): what an agent may say about the
 * serving side is judged against its host record (the registry of servers,
 * functions/adapters/store/port.ts `HostRegistry`), never against what the host said of itself in
 * earlier heartbeats. Pure: the caller reads the record (ingest once per request, correlate once
 * per host per batch) and refuses what this answers.
 *
 * An agent's event is refused when it
 * - is a heartbeat whose `role` is `hosting` or `control` while the host is not registered with
 *   that role (`role-not-granted`; a registered server may still say `client`, which claims less);
 * - is a heartbeat whose `serves` lists a failure domain outside the grant, or whose `guests` name
 *   one (`domain-not-granted`; a host with no record, a client, may list none);
 * - is an `ipl.completed`, `domain.rebooted` or `domain.going-down` from a host not registered as a
 *   server (`role-not-granted`) or for a `failureDomain` outside its grant (`domain-not-granted`).
 *
 * Operator tokens are not judged here: an operator (or an HMC script with an operator token) may
 * announce any domain. Every other event needs no grant.
 *
 * A grant names the failure domains a control domain serves, not the LDoms guests it runs: within
 * its grant, any control domain may name any guest in `guests`. Which control domain places a guest
 * is the core's to judge, from every control domain's word on that guest (functions/core/guests.ts:
 * one at a time, the first to list it active, until it lets it go or falls silent), since a record
 * read here says nothing of another host's guests.
 */

/** The issue codes of a refusal, as `POST /v1/events` reports them and the DLQ reason starts. */
export const GRANT_CODES = {
  role: 'role-not-granted',
  domain: 'domain-not-granted',
} as const;

const SERVER_ROLES: ReadonlySet<string> = new Set(['hosting', 'control']);
const ANNOUNCEMENTS: ReadonlySet<FaultlineEvent['type']> = new Set([
  'ipl.completed',
  'domain.rebooted',
  'domain.going-down',
]);

/** Whether judging `event` needs its host's record: announcements, and heartbeats that claim anything. */
export const needsGrant = (event: FaultlineEvent): boolean => {
  if (ANNOUNCEMENTS.has(event.type)) return true;
  if (event.type !== 'host.heartbeat') return false;
  const { role, serves, guests } = event.data;
  return SERVER_ROLES.has(role) || (serves?.length ?? 0) > 0 || (guests?.length ?? 0) > 0;
};

/** The grant in words, for messages: what an operator would have to change. */
export const grantText = (record: HostRecord | undefined): string =>
  record === undefined
    ? 'it is not registered as a server (every host not registered is a client)'
    : `it is registered as ${record.role} serving ${record.serves.join(', ')}`;

const registerHint = (hostId: string, role: string, domain: string): string =>
  `an operator grants it with \`faultline hosts register ${hostId} --role ${role} --serves ${domain}\``;

/**
 * The reasons to refuse `event` given its host's record (none: accept it), each with the path
 * inside the event it is about. `at` is prefixed to every path (a batch's index).
 */
export const grantIssues = (
  event: FaultlineEvent,
  record: HostRecord | undefined,
  at: readonly (string | number)[] = [],
): Issue[] => {
  const host = event.hostid;
  const granted = new Set(record?.serves ?? []);
  const issues: Issue[] = [];
  const refuse = (code: string, path: readonly (string | number)[], message: string): void => {
    issues.push({ path: [...at, ...path], message, code });
  };
  if (event.type === 'host.heartbeat') {
    const { role, serves = [], guests = [] } = event.data;
    if (SERVER_ROLES.has(role) && record?.role !== role) {
      refuse(
        GRANT_CODES.role,
        ['data', 'role'],
        `host ${host} claims role ${role} in its heartbeat, but ${grantText(record)}; ${registerHint(host, role, '<domain>')}`,
      );
    }
    serves.forEach((domain, index) => {
      if (granted.has(domain)) return;
      refuse(
        GRANT_CODES.domain,
        ['data', 'serves', index],
        `host ${host} lists ${domain} in its heartbeat's serves, but ${grantText(record)}`,
      );
    });
    guests.forEach((guest, index) => {
      if (granted.has(guest.failureDomain)) return;
      refuse(
        GRANT_CODES.domain,
        ['data', 'guests', index, 'failureDomain'],
        `host ${host} names ${guest.failureDomain} for guest ${guest.guest}'s disk ${guest.disk}, but ${grantText(record)}`,
      );
    });
    return issues;
  }
  if (
    event.type !== 'ipl.completed' &&
    event.type !== 'domain.rebooted' &&
    event.type !== 'domain.going-down'
  ) {
    return issues;
  }
  const domain = event.data.failureDomain;
  if (record === undefined) {
    refuse(
      GRANT_CODES.role,
      ['type'],
      `${event.type} for ${domain} is accepted only from a server granted that domain, or an operator token; host ${host} is not registered as a server (every host not registered is a client); ${registerHint(host, event.type === 'domain.rebooted' ? 'control' : 'hosting', domain)}`,
    );
  } else if (!granted.has(domain)) {
    refuse(
      GRANT_CODES.domain,
      ['data', 'failureDomain'],
      `${event.type} for ${domain} is accepted only from a server granted that domain, or an operator token; host ${host} is registered as ${record.role} serving ${record.serves.join(', ')}`,
    );
  }
  return issues;
};
