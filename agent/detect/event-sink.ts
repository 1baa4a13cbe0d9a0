import type { EventDraft } from '../../probes/event-draft.ts';
import type { OutboundEvent } from '../publish/outbound-event.ts';
import type { EventSpool } from '../spool/event-spool.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { AgentStateStore } from '../state/agent-state.ts';
import { type EnvelopeIdentity, type HeartbeatExtensions, sealEvent } from './envelope.ts';

/**
 * Where every event of the agent goes: detection's, the heartbeat, and the executor's
 * `command.progress` and `disk.probed`. The sink numbers each draft (`seq` from the state
 * store), wraps and validates it, and spools it durably before returning, so an event handed to
 * the sink survives a crash. An invalid draft is logged with its issues and goes nowhere.
 */
export interface EventSink {
  /** Spools the drafts in order; returns the events spooled. */
  emit(drafts: readonly EventDraft[]): OutboundEvent[];
}

export type SpoolingEventSinkOptions = {
  identity: EnvelopeIdentity;
  state: AgentStateStore;
  spool: EventSpool;
  log: AgentLog;
  clock?: () => Date;
  /** Called after events were spooled (the delivery wakes up). */
  onSpooled?: () => void;
};

export class SpoolingEventSink implements EventSink {
  private readonly clock: () => Date;

  constructor(private readonly options: SpoolingEventSinkOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  emit(drafts: readonly EventDraft[]): OutboundEvent[] {
    const { identity, state, spool, log } = this.options;
    const sealed: OutboundEvent[] = [];
    for (const draft of drafts) {
      const extensions: Partial<HeartbeatExtensions> =
        draft.type === 'host.heartbeat' ? { statestore: state.storage, instanceid: state.instanceId } : {};
      const result = sealEvent(draft, identity, state.nextSeq(), this.clock(), extensions);
      if (!result.ok) {
        log.error('event not sent: it does not satisfy the event contract', {
          type: result.type,
          subject: result.subject,
          issues: result.issues,
        });
        continue;
      }
      sealed.push(result.outbound);
    }
    if (sealed.length === 0) return sealed;
    spool.append(sealed);
    for (const event of sealed) {
      if (event.type !== 'host.heartbeat') {
        log.info(`${event.type} ${event.subject}`, { seq: event.seq, id: event.id });
      }
    }
    this.options.onSpooled?.();
    return sealed;
  }
}
