import type { HostGrant } from '../../events/index.ts';
import type { HostRecord, HostRegistry } from '../adapters/store/port.ts';
import { DEFAULT_OPERATOR_LABEL, type Principal } from './auth.ts';
import { ConflictError } from './errors.ts';

/**
 * Registering servers (docs/architecture.md §3 "Sender binding", §6 `PUT /v1/hosts/:id`,
 * `POST /v1/tokens` with `role` and `serves`): an operator grants a host its role and the failure
 * domains it serves, on its host record in the store's registry. The grant replaces the one
 * before it whole (a narrower grant takes domains away); it is what ingest and correlate judge an
 * agent's heartbeats and announcements against (functions/correlate/grants.ts). Only an operator
 * token reaches this (the routes are `operator` access); the record says which one.
 */

export interface RegisterDeps {
  readonly hosts: Pick<HostRegistry, 'putHostRecord'>;
  readonly now: () => number;
}

/** The label an operator is recorded by. */
const labelOf = (principal: Principal): string =>
  principal.kind === 'operator' ? principal.label || DEFAULT_OPERATOR_LABEL : DEFAULT_OPERATOR_LABEL;

/** Registers `hostId` with `grant`, by `principal`, now; answers the record stored. */
export const registerServer = async (
  deps: RegisterDeps,
  hostId: string,
  grant: HostGrant,
  principal: Principal,
): Promise<HostRecord> => {
  const record: HostRecord = {
    hostId,
    role: grant.role,
    serves: [...grant.serves],
    registeredAt: new Date(deps.now()).toISOString(),
    registeredBy: labelOf(principal),
  };
  if ((await deps.hosts.putHostRecord(record)) === 'conflict') {
    throw new ConflictError(
      `a later grant of ${hostId} is already registered; read it with GET /v1/hosts and register again`,
    );
  }
  return record;
};
