import { randomUUID } from 'node:crypto';
import { parseWith, TokenLabel } from '../../events/index.ts';
import type { WorkQueue } from '../adapters/queue/port.ts';
import type { IncidentRecord, ProjectionReader } from '../adapters/store/port.ts';
import { OperatorCommand } from '../core/index.ts';
import { operatorCommandMessage } from '../correlate/messages.ts';
import { DEFAULT_OPERATOR_LABEL, type Principal } from './auth.ts';
import { ConflictError, InternalError, NotFoundError } from './errors.ts';

/**
 * Operator actions (approve, resolve, pause, resume, maintenance; docs/architecture.md §5.7 and §6). The API
 * decides nothing: each action becomes an `OperatorCommand` queued on the events queue, which
 * correlate applies through the core like any event, so a replay of the queue's history sees it
 * too. The API answers 202 with the command's id as soon as it is queued.
 *
 * Each command names the operator token that sent it (`by`: its id and its label), which the core
 * writes into the timeline (`resumed by ops-oncall (tok-…, cmd-…)`); the queue's sender stamp
 * carries the same label.
 *
 * What the core needs that the request does not say is read here: approving names the incident's
 * failure domain; resolving names the failure domain of an outage, or the host of a local or
 * double-fault incident. An incident that does not exist is 404; one already resolved is 409, and
 * so is approving anything but an outage (only an outage's waves wait for approval).
 */

export type CommandInput = OperatorCommand extends infer Command
  ? Command extends OperatorCommand
    ? Omit<Command, 'id' | 'at' | 'by'>
    : never
  : never;

export interface CommandDeps {
  readonly queue: Pick<WorkQueue, 'send'>;
  readonly now: () => number;
  readonly newId: () => string;
}

/** A new command id: unique per request (correlate applies a command id once). */
export const newCommandId = (): string => `cmd-${randomUUID()}`;

const operatorLabelOf = (principal: Principal): string =>
  principal.kind === 'operator' ? principal.label : DEFAULT_OPERATOR_LABEL;

/**
 * The command's `by`: the sending token's id, which only that token has, with its label, which any
 * operator may give a token they mint (so a label alone would let anyone sign as "alice"). A label
 * minted before labels were checked (`TokenLabel`) is left out rather than failing the command,
 * and the timeline then says "an operator (tok-…, cmd-…)".
 */
const senderOf = (principal: Principal): { label: string; by: OperatorCommand['by'] } => {
  const label = operatorLabelOf(principal);
  const checked = TokenLabel.safeParse(label);
  return {
    label,
    by: { tokenId: principal.tokenId, ...(checked.success ? { label: checked.data } : {}) },
  };
};

/**
 * Queues one operator command and answers its id. The command says who sent it (`by`, the operator
 * token's id and label; see `senderOf`) so that the timeline can name them.
 */
export const queueCommand = async (
  deps: CommandDeps,
  input: CommandInput,
  principal: Principal,
): Promise<OperatorCommand> => {
  const { label, by } = senderOf(principal);
  const parsed = parseWith(OperatorCommand, {
    ...input,
    id: deps.newId(),
    at: new Date(deps.now()).toISOString(),
    by,
  });
  // The routes build commands from parsed input and the token store's ids only, so this is a
  // programming error if it fails.
  if (!parsed.ok) throw new InternalError({ cause: new Error(JSON.stringify(parsed.issues)) });
  await deps.queue.send(operatorCommandMessage(parsed.value, label));
  return parsed.value;
};

/** The incident a command is about, or 404; 409 when it is already resolved. */
export const openIncident = async (
  store: Pick<ProjectionReader, 'getIncident'>,
  incidentId: string,
): Promise<IncidentRecord> => {
  const detail = await store.getIncident(incidentId, { limit: 1 });
  if (detail === undefined) throw new NotFoundError(`no incident ${incidentId}`);
  if (detail.incident.status === 'resolved') {
    throw new ConflictError(`incident ${incidentId} is already resolved`);
  }
  return detail.incident;
};

export const approveCommand = (incident: IncidentRecord, canaryHost: string | undefined): CommandInput => {
  if (incident.kind !== 'outage') {
    throw new ConflictError(
      `incident ${incident.id} is a ${incident.kind} incident: only an outage's waves wait for approval`,
    );
  }
  return {
    type: 'operator.approve',
    incidentId: incident.id,
    failureDomain: incident.failureDomain,
    ...(canaryHost === undefined ? {} : { canaryHost }),
  };
};

export const resolveCommand = (incident: IncidentRecord): CommandInput =>
  incident.kind === 'outage' || incident.hostId === undefined
    ? { type: 'operator.resolve', incidentId: incident.id, failureDomain: incident.failureDomain }
    : { type: 'operator.resolve', incidentId: incident.id, hostId: incident.hostId };
