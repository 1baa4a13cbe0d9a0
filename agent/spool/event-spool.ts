import { FaultlineError } from '../../events/faultline-error.ts';
import type { OutboundEvent } from '../publish/outbound-event.ts';

/**
 * The spool: every event goes through it, so nothing the agent emitted is lost when its target
 * is unreachable, the agent is killed or the host crashes. Events are delivered in the order they
 * were appended (which is `seq` order); an acknowledgement says every event up to a `seq` is done.
 */
export interface EventSpool {
  /** Where the spool lives: its directory, or `memory`. */
  readonly location: string;
  /** Appends events, durable (fsync'd) when it returns. Their `seq` must exceed every earlier one. */
  append(events: readonly OutboundEvent[]): void;
  /** The oldest pending events, in order, within the limits, leaving out those `skip` names. */
  peek(limits: SpoolPeekLimits, skip?: (event: SpooledEventHeader) => boolean): OutboundEvent[];
  /** Every event up to and including `seq` is delivered or dropped; durable when it returns. */
  acknowledge(seq: number): void;
  stats(): SpoolStats;
  close(): void;
}

/** An event's envelope fields without its text: what `skip` decides on, before any read. */
export type SpooledEventHeader = Omit<OutboundEvent, 'body'>;

export type SpoolPeekLimits = { readonly maxEvents: number; readonly maxBytes: number };

export type SpoolStats = {
  pendingEvents: number;
  pendingBytes: number;
  pendingHeartbeats: number;
  /** Heartbeats dropped by the size bound since the spool was opened. */
  droppedHeartbeats: number;
  /** Damaged or torn records found (and cut or skipped) when the spool was opened. */
  damagedRecords: number;
};

/** Thrown when an append would break the spool's order. */
export class SpoolOrderError extends FaultlineError<'spool-order'> {
  readonly code = 'spool-order' as const;
  readonly retryable = false;
  constructor(
    readonly seq: number,
    readonly lastSeq: number,
  ) {
    super(`seq ${seq} appended after seq ${lastSeq}: the spool is kept in seq order`);
  }
}
