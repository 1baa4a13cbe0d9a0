import type { DomainRole, LdomsDomain } from '../events/index.ts';

/**
 * How a control domain tells that a service domain stopped or came back (docs/architecture.md §3,
 * "Who says a server is down or back"), from two looks at `ldm list -p`. Pure: shared by the Node
 * agent's control role (agent/serve/control-role.ts) and the control plane, which reads the sh
 * agent's collect (./control-domain.ts).
 *
 * A service domain runs when it is `active` and its flags say neither starting or stopping
 * (column 1, `s`) nor transition (column 2, `t`: at OpenBoot, being reset, shutting down).
 * `ldm stop` leaves it `bound` (`inactive` once unbound); a reboot from inside the domain keeps it
 * `active` and resets it through `t`. Each change is said once:
 *
 * - it ran and does not: `down` (`domain.going-down`);
 * - it did not run and does: `up` (`domain.rebooted`), booted `uptime` seconds ago;
 * - it ran at both looks but its uptime is shorter than the time between them: it rebooted while
 *   nobody looked (the agent itself was down): `up` only. The comparison stands a step of the
 *   control domain's clock smaller than the domain's uptime at the first look.
 *
 * A domain seen for the first time is recorded, not announced; one no longer listed is forgotten.
 */

/**
 * What a control domain remembers of a service domain between two looks: whether it ran, and when
 * it was last seen so with its uptime then. Kept across the agent's restarts (the Node agent's
 * `serve.json`, the collect route's record of the sh agent's host).
 */
export type RecordedServiceDomain = { up: boolean; seenAt: string; uptimeSeconds: number | null };

/** A domain as one look at `ldm list -p` shows it. */
export type DomainSighting = LdomsDomain & { uptimeSeconds: number | null };

export type ServiceDomainChange =
  | { kind: 'down'; domain: string; role: DomainRole; reason: string }
  | { kind: 'up'; domain: string; role: DomainRole; bootedAt: string };

/** Whether a domain runs, from its state and flags. */
export const domainRuns = (domain: Pick<LdomsDomain, 'state' | 'flags'>): boolean =>
  domain.state === 'active' && domain.flags[0] !== 's' && domain.flags[1] !== 't';

const describe = (domain: DomainSighting): string => {
  if (domain.state !== 'active') return `${domain.name} is ${domain.state}`;
  if (domain.flags[0] === 's') return `${domain.name} is stopping (flags ${domain.flags})`;
  return `${domain.name} is in transition (flags ${domain.flags})`;
};

export const serviceDomainChanges = (
  recorded: Readonly<Record<string, RecordedServiceDomain>>,
  sightings: readonly DomainSighting[],
  serviceDomains: ReadonlyMap<string, DomainRole>,
  now: Date,
): { changes: ServiceDomainChange[]; next: Record<string, RecordedServiceDomain> } => {
  const changes: ServiceDomainChange[] = [];
  const next: Record<string, RecordedServiceDomain> = {};
  const nowMs = now.getTime();
  for (const sighting of sightings) {
    const role = serviceDomains.get(sighting.name);
    if (role === undefined) continue;
    const runs = domainRuns(sighting);
    const previous = Object.hasOwn(recorded, sighting.name) ? recorded[sighting.name] : undefined;
    const bootedAt = new Date(nowMs - (sighting.uptimeSeconds ?? 0) * 1000).toISOString();
    next[sighting.name] = { up: runs, seenAt: now.toISOString(), uptimeSeconds: sighting.uptimeSeconds };
    if (previous === undefined) continue;
    if (previous.up && !runs) {
      changes.push({
        kind: 'down',
        domain: sighting.name,
        role,
        reason: `service domain ${describe(sighting)}`,
      });
    } else if (!previous.up && runs) {
      changes.push({ kind: 'up', domain: sighting.name, role, bootedAt });
    } else if (previous.up && runs && sighting.uptimeSeconds !== null) {
      const secondsSinceLastLook = (nowMs - Date.parse(previous.seenAt)) / 1000;
      // It booted after the last look: its uptime is shorter than the time since (a second of slack
      // for uptimes that ldm rounds down).
      if (sighting.uptimeSeconds + 1 < secondsSinceLastLook) {
        changes.push({ kind: 'up', domain: sighting.name, role, bootedAt });
      }
    }
  }
  return { changes, next };
};

/**
 * The service domains and their roles: the configuration's, else each domain that runs a virtual
 * disk service, the control domain as `primary` and the others as `alternate`.
 */
export const serviceDomainRoles = (
  configured: Readonly<Record<string, DomainRole>> | undefined,
  exporting: readonly string[],
  controlDomain: string,
): Map<string, DomainRole> => {
  if (configured !== undefined) return new Map(Object.entries(configured));
  return new Map(exporting.map((name) => [name, name === controlDomain ? 'primary' : 'alternate'] as const));
};
