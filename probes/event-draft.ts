import type { z } from 'zod';
import type { EVENT_SCHEMAS, EventType } from '../events/index.ts';

/**
 * An event before it has an envelope: what changed (`type`, `subject`, `data`), and the plan that
 * caused it when a plan's step did. Detection and the executor produce drafts; the emitter gives
 * each one its `id`, `seq`, `time` and host identity, validates it and spools it, in that order,
 * so `seq` follows the spool's order.
 */
export type EventDraft = {
  [Type in EventType]: {
    type: Type;
    subject: string;
    data: z.input<(typeof EVENT_SCHEMAS)[Type]>['data'];
    planid?: string;
  };
}[EventType];

/** The draft of one event type. */
export type DraftOf<Type extends EventType> = Extract<EventDraft, { type: Type }>;

/** Events that report a fault or its healing, as opposed to the heartbeat that says the agent lives. */
export const isSymptom = (type: EventType): boolean => type !== 'host.heartbeat';
