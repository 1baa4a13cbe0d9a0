import { sealEvent } from '../../agent/detect/envelope.ts';
import type { EventSink } from '../../agent/detect/event-sink.ts';
import type { OutboundEvent } from '../../agent/publish/outbound-event.ts';
import type { FaultlineEvent } from '../../events/index.ts';
import type { EventDraft } from '../../probes/event-draft.ts';

/**
 * The executor's fake host. The simulated host layer lives in sim/fake-host (the
 * demo runs it as product code); it is re-exported here for the tests, with their event helpers.
 */
export * from '../../sim/fake-host/sim-host.ts';

// ---------------------------------------------------------------------------------------------
// Events

/** A sink that seals every draft as the agent would (throwing on one that breaks the contract). */
export const recordingSink = (
  identity: { hostId: string; bootId: string },
  clock: () => number = () => Date.now(),
): EventSink & { events: FaultlineEvent[]; drafts: EventDraft[] } => {
  const events: FaultlineEvent[] = [];
  const drafts: EventDraft[] = [];
  let seq = 0;
  return {
    events,
    drafts,
    emit: (batch) => {
      const sealed: OutboundEvent[] = [];
      for (const draft of batch) {
        seq += 1;
        const result = sealEvent(draft, identity, seq, new Date(clock()));
        if (!result.ok)
          throw new Error(`${draft.type} breaks the contract: ${JSON.stringify(result.issues)}`);
        drafts.push(draft);
        events.push(result.event);
        sealed.push(result.outbound);
      }
      return sealed;
    },
  };
};

/** The `command.progress` events of a run, as `[step, branch, action, outcome, code]` rows. */
export const progressRows = (events: readonly FaultlineEvent[]): (string | number | undefined)[][] =>
  events.flatMap((event) =>
    event.type === 'command.progress'
      ? [[event.data.step, event.data.branch, event.data.action, event.data.outcome, event.data.code]]
      : [],
  );
