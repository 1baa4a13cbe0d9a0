import { type FaultlineEvent, parseEventRead } from '../../events/index.ts';
import type { QueueRecord } from '../adapters/queue/batch.ts';
import { recordMessageAttributes } from '../adapters/queue/batch.ts';
import { OperatorCommand } from '../core/index.ts';
import { needsGrant } from './grants.ts';
import { type AuthenticatedSender, parseSenderStamp, SENDER_ATTRIBUTE, senderStamp } from './messages.ts';

/**
 * The edge of correlate: one SQS record to a core input and the sender it is bound to
 * (docs/architecture.md §3, sender binding; messages.ts says how senders are known). Pure: no I/O.
 *
 * - The body is a CloudEvent (`parseEvent`) or, from an operator, an `OperatorCommand`.
 * - A record is bound to a host: the host id in its `SenderId` (`<role id>:<host id>`, or the
 *   whole id when it has no `:`) or the `agent:` stamp of a trusted sender; an event naming
 *   another host is refused. An operator (`operator:` stamp of a trusted sender) may send any
 *   host's events, and only an operator may send commands.
 * - An agent's record sent straight to SQS that says something of the serving side (a heartbeat
 *   claiming a server role, `serves` or `guests`; `ipl.completed`, `domain.rebooted`,
 *   `domain.going-down`) is marked {@link ParsedRecord.checkGrant}: the handler judges it against
 *   its host's record in the registry (grants.ts) before deciding. A record the API stamped was
 *   judged at ingest against the same registry, and is not judged again: what the API answered
 *   202 for is never dead-lettered for its sender's grant.
 * - Ingest stamps `receivedat`: for a record sent straight to SQS it is the message's
 *   `SentTimestamp` (whatever the agent put there); the API stamps its own.
 * - `sentby` is stamped from the authenticated sender (`agent:<host>`, `operator:<label>`),
 *   whatever the body says: agents never set it.
 */

export interface SenderPolicy {
  /** SenderIds whose stamp is believed: exact ids, or prefixes ending in `:` (a role, any session). */
  readonly trustedSenders: readonly string[];
}

export type ParsedRecord =
  | {
      readonly ok: true;
      readonly input: FaultlineEvent | OperatorCommand;
      readonly sender: AuthenticatedSender;
      /** An agent's event sent straight to SQS that must be judged against its host's grant first. */
      readonly checkGrant: boolean;
    }
  | { readonly ok: false; readonly reason: string; readonly code: RefusalCode };

/**
 * Why a record was refused, as a code a metric may carry: it is not an event or a command
 * (`invalid`), or its sender may not send it (`sender`).
 */
export type RefusalCode = 'invalid' | 'sender';

const MAX_REASON_ISSUES = 8;

const refuse = (reason: string, code: RefusalCode = 'invalid'): ParsedRecord => ({ ok: false, reason, code });

const isTrusted = (senderId: string | undefined, policy: SenderPolicy): boolean =>
  senderId !== undefined &&
  policy.trustedSenders.some((trusted) =>
    trusted.endsWith(':') ? senderId.startsWith(trusted) : senderId === trusted,
  );

/** The host a direct sender is: the session name of an assumed role, or the whole id. */
export const hostOfSenderId = (senderId: string): string => senderId.slice(senderId.lastIndexOf(':') + 1);

const senderOf = (record: QueueRecord, policy: SenderPolicy): AuthenticatedSender | string => {
  const senderId = record.attributes.SenderId;
  const stamp = recordMessageAttributes(record)[SENDER_ATTRIBUTE];
  if (isTrusted(senderId, policy)) {
    const parsed = parseSenderStamp(stamp?.type === 'String' ? stamp.value : undefined);
    return parsed ?? `a trusted sender (${senderId}) sent it without a valid ${SENDER_ATTRIBUTE} stamp`;
  }
  if (senderId === undefined || senderId.length === 0)
    return 'the message has no SenderId to bind it to a host';
  const hostId = hostOfSenderId(senderId);
  return hostId.length === 0 ? `SenderId ${senderId} names no host` : { kind: 'agent', hostId };
};

const issuesText = (issues: readonly { path: readonly (string | number)[]; message: string }[]): string => {
  const shown = issues
    .slice(0, MAX_REASON_ISSUES)
    .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`));
  const more = issues.length > MAX_REASON_ISSUES ? `; and ${issues.length - MAX_REASON_ISSUES} more` : '';
  return `${shown.join('; ')}${more}`;
};

const sentAt = (record: QueueRecord): string | undefined => {
  const ms = Number(record.attributes.SentTimestamp);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
};

/** Parses one record and binds it to its sender; a refusal carries the reason for the DLQ. */
export const parseRecord = (record: QueueRecord, policy: SenderPolicy): ParsedRecord => {
  const sender = senderOf(record, policy);
  if (typeof sender === 'string') return refuse(sender, 'sender');
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    return refuse(`not JSON: ${(error as Error).message}`);
  }
  const type = typeof body === 'object' && body !== null ? (body as { type?: unknown }).type : undefined;
  if (typeof type === 'string' && type.startsWith('operator.')) {
    if (sender.kind !== 'operator') return refuse(`${type} is accepted only from an operator`, 'sender');
    const command = OperatorCommand.safeParse(body);
    if (!command.success) {
      return refuse(
        `not an operator command: ${issuesText(
          command.error.issues.map((issue) => ({ path: issue.path.map(String), message: issue.message })),
        )}`,
      );
    }
    return { ok: true, input: command.data, sender, checkGrant: false };
  }
  const parsed = parseEventRead(body, record.body);
  if (!parsed.ok) return refuse(`not a Faultline event: ${issuesText(parsed.issues)}`);
  let event = parsed.value;
  if (sender.kind === 'agent' && event.hostid !== sender.hostId) {
    return refuse(`hostid ${event.hostid} is not its sender ${sender.hostId}`, 'sender');
  }
  const stampedByApi = isTrusted(record.attributes.SenderId, policy);
  const received = sentAt(record);
  if (received !== undefined && (!stampedByApi || event.receivedat === undefined)) {
    event = { ...event, receivedat: received };
  }
  event = { ...event, sentby: senderStamp(sender) };
  const checkGrant = sender.kind === 'agent' && !stampedByApi && needsGrant(event);
  return { ok: true, input: event, sender, checkGrant };
};
