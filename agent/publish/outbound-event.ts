import type { EventType } from '../../events/index.ts';

/**
 * An event ready to leave the host: validated, with the exact JSON text that is sent (`body`) and
 * the few envelope fields the spool and the publishers route and order by. The body is kept as
 * text so that what was validated is byte for byte what is delivered, extension attributes
 * included.
 */
export type OutboundEvent = {
  readonly id: string;
  readonly type: EventType;
  readonly subject: string;
  readonly hostid: string;
  readonly seq: number;
  readonly body: string;
};
