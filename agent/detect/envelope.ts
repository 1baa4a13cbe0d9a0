import { createHash } from 'node:crypto';
import {
  AGENT_SOURCE_PREFIX,
  type FaultlineEvent,
  Identifier,
  type Issue,
  parseEvent,
} from '../../events/index.ts';
import type { EventDraft } from '../../probes/event-draft.ts';
import type { OutboundEvent } from '../publish/outbound-event.ts';

/**
 * The CloudEvents envelope the agent puts around a draft (§3): `id`, `source`
 * `faultline-agent://<hostId>`, `time` by the agent's clock, `subject`, `hostid`, `bootid`, `seq`,
 * never `receivedat` (ingest stamps it). Every event is validated with `parseEvent` before it is
 * spooled: an event the cloud would reject is logged here, on the host, with its issues.
 */

/** Who stamps the envelope. */
export type EnvelopeIdentity = { hostId: string; bootId: string };

/**
 * Extension attributes the agent adds to heartbeats; unknown extensions are ignored by ingest
 * (§3), so they inform operators and newer control planes without breaking older ones.
 */
export type HeartbeatExtensions = {
  /** Where the agent keeps its state: `disk`, `fallback` or `memory` (read-only root). */
  statestore: string;
  /** The agent instance, new when the host looked cloned. */
  instanceid: string;
};

/**
 * Event ids are `<hostId>:<bootId>:<seq>`: unique because `seq` never repeats for a host, and
 * readable in a timeline. A host id too long for the 128-character id gets a hash of it instead.
 */
export const eventId = (identity: EnvelopeIdentity, seq: number): string => {
  const readable = `${identity.hostId}:${identity.bootId}:${seq}`;
  if (Identifier.safeParse(readable).success) return readable;
  const hostHash = createHash('sha256').update(identity.hostId).digest('hex').slice(0, 32);
  return `${hostHash}:${identity.bootId}:${seq}`;
};

export type SealResult =
  | { ok: true; event: FaultlineEvent; outbound: OutboundEvent }
  | { ok: false; issues: Issue[]; type: string; subject: string };

/** Wraps a draft in its envelope and validates it; the body sent is the text validated. */
export const sealEvent = (
  draft: EventDraft,
  identity: EnvelopeIdentity,
  seq: number,
  time: Date,
  extensions: Partial<HeartbeatExtensions> = {},
): SealResult => {
  const envelope = {
    specversion: '1.0',
    id: eventId(identity, seq),
    source: `${AGENT_SOURCE_PREFIX}${identity.hostId}`,
    type: draft.type,
    time: time.toISOString(),
    subject: draft.subject,
    datacontenttype: 'application/json',
    hostid: identity.hostId,
    bootid: identity.bootId,
    seq,
    ...(draft.planid === undefined ? {} : { planid: draft.planid }),
    ...extensions,
    data: draft.data,
  };
  const body = JSON.stringify(envelope);
  const parsed = parseEvent(body);
  if (!parsed.ok) return { ok: false, issues: parsed.issues, type: draft.type, subject: draft.subject };
  return {
    ok: true,
    event: parsed.value,
    outbound: {
      id: envelope.id,
      type: draft.type,
      subject: draft.subject,
      hostid: identity.hostId,
      seq,
      body,
    },
  };
};
