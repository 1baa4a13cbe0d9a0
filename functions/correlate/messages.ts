import type { FaultlineEvent } from '../../events/index.ts';
import type { MessageAttributes, OutgoingMessage } from '../adapters/queue/port.ts';
import type { OperatorCommand } from '../core/index.ts';

/**
 * What travels on the events queue to correlate, and how a sender is known (docs/architecture.md §3, sender
 * binding). This is the contract between the API (and the local runtime) and correlate.
 *
 * - **An agent sending straight to SQS** sends a CloudEvent as the body and nothing else. Its IAM
 *   role session is named after its host id (IAM Roles Anywhere), so SQS's `SenderId` reads
 *   `<role id>:<host id>`; correlate accepts the event only if that host id is the event's
 *   `hostid`, and stamps `receivedat` from the message's `SentTimestamp` (agents never stamp it).
 * - **The API** sends after authenticating a bearer token, with the message attribute
 *   {@link SENDER_ATTRIBUTE}: `agent:<host id>` for an agent token (the API already checked the
 *   event's `hostid` against it; correlate checks again) or `operator:<label>` for an operator
 *   token. The body is a CloudEvent with `receivedat` stamped by the API, or an
 *   {@link OperatorCommand} (`operator.pause`, `.resume`, `.approve`, `.resolve`, `.maintenance`),
 *   which correlate accepts only with an `operator:` stamp. Use {@link eventMessage} and
 *   {@link operatorCommandMessage}.
 * - **The stamp is trusted only from a trusted sender**: correlate's configuration lists the
 *   `SenderId`s of the API (its Lambda role, `<role id>:` as a prefix; the local runtime's API
 *   queue identity), because anyone who may send to the queue could set an attribute. A stamp from
 *   anyone else is ignored and the message is treated as sent directly.
 *
 * Operator commands carry what the core needs: `approve` names the incident's `failureDomain`
 * (from the incident row); `resolve` names the `failureDomain` of an outage or the `hostId` of a
 * local or double-fault incident; `id` is unique per command (a request id) — a command with an id
 * already applied is not applied again.
 */

/** The message attribute carrying the API's authenticated sender. */
export const SENDER_ATTRIBUTE = 'FaultlineSender';

export type AuthenticatedSender =
  | { readonly kind: 'agent'; readonly hostId: string }
  | { readonly kind: 'operator'; readonly label: string };

/** The attribute value of a sender: `agent:<host id>` or `operator:<label>`. */
export const senderStamp = (sender: AuthenticatedSender): string =>
  sender.kind === 'agent' ? `agent:${sender.hostId}` : `operator:${sender.label || 'operator'}`;

/** Reads a stamp back; undefined when it is not one. */
export const parseSenderStamp = (value: string | undefined): AuthenticatedSender | undefined => {
  if (value === undefined) return undefined;
  if (value.startsWith('agent:') && value.length > 'agent:'.length) {
    return { kind: 'agent', hostId: value.slice('agent:'.length) };
  }
  if (value.startsWith('operator:')) return { kind: 'operator', label: value.slice('operator:'.length) };
  return undefined;
};

const stamped = (body: unknown, sender: AuthenticatedSender): OutgoingMessage => {
  const attributes: MessageAttributes = {
    [SENDER_ATTRIBUTE]: { type: 'String', value: senderStamp(sender) },
  };
  return { body: JSON.stringify(body), attributes };
};

/** An event as the API enqueues it, `receivedat` already stamped, for the sender its token names. */
export const eventMessage = (event: FaultlineEvent, sender: AuthenticatedSender): OutgoingMessage =>
  stamped(event, sender);

/** An operator command as the API enqueues it. */
export const operatorCommandMessage = (command: OperatorCommand, operatorLabel: string): OutgoingMessage =>
  stamped(command, { kind: 'operator', label: operatorLabel });
