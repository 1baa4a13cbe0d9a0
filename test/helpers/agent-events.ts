import { sealEvent } from '../../agent/detect/envelope.ts';
import { heartbeatDraft } from '../../agent/detect/heartbeat.ts';
import type { OutboundEvent } from '../../agent/publish/outbound-event.ts';
import type { EventDraft } from '../../probes/event-draft.ts';
import { BOOT_ID, HOST_ID, hostSnapshot, member } from './agent-snapshots.ts';

/** Builders of validated outbound events, as the agent spools them. */

const identity = { hostId: HOST_ID, bootId: BOOT_ID };
const time = new Date('2026-11-22T03:12:09.412Z');

/** A `mirror.recovering` draft whose progress tells events apart. */
export const recoveringDraft = (progress: number): EventDraft => ({
  type: 'mirror.recovering',
  subject: 'md0',
  data: {
    array: 'md0',
    kind: 'md',
    level: 'raid1',
    members: [member('sda1'), member('sdb1', 'rebuilding')],
    progress,
  },
});

export const heartbeat = (): EventDraft =>
  heartbeatDraft(hostSnapshot(), {
    platform: 'linux',
    role: 'client',
    intervalSeconds: 60,
    capabilities: [],
  });

/** Seals a draft with a given seq; throws if it does not validate. */
export const outbound = (draft: EventDraft, seq: number): OutboundEvent => {
  const sealed = sealEvent(draft, identity, seq, time);
  if (!sealed.ok) throw new Error(JSON.stringify(sealed.issues));
  return sealed.outbound;
};

/** `count` symptom events with consecutive seq from `firstSeq`. */
export const symptoms = (count: number, firstSeq = 1): OutboundEvent[] =>
  Array.from({ length: count }, (_, index) => outbound(recoveringDraft(index % 100), firstSeq + index));
