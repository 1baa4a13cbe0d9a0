import type { OutboundEvent } from '../publish/outbound-event.ts';
import type { AgentLog } from '../state/agent-log.ts';
import {
  type EventSpool,
  type SpooledEventHeader,
  SpoolOrderError,
  type SpoolPeekLimits,
  type SpoolStats,
} from './event-spool.ts';
import { planSpoolTrim } from './spool-trim.ts';

/**
 * The spool when no directory is writable (a read-only root with no usable fallback): the same
 * order, acknowledgement and size bound as the file spool, lost with the process. The agent says
 * so in its log and its heartbeats (`statestore: memory`).
 */
export class MemorySpool implements EventSpool {
  readonly location = 'memory';
  private pending: OutboundEvent[] = [];
  private lastSeq = -1;
  private droppedHeartbeats = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly log: AgentLog,
  ) {}

  append(events: readonly OutboundEvent[]): void {
    let lastSeq = this.lastSeq;
    for (const event of events) {
      if (event.seq <= lastSeq) throw new SpoolOrderError(event.seq, lastSeq);
      lastSeq = event.seq;
    }
    this.pending.push(...events);
    this.lastSeq = lastSeq;
    const plan = planSpoolTrim(
      this.pending.map((event) => ({
        seq: event.seq,
        type: event.type,
        bytes: Buffer.byteLength(event.body),
      })),
      this.maxBytes,
    );
    if (plan.drop.length === 0) return;
    const drop = new Set(plan.drop);
    this.pending = this.pending.filter((event) => !drop.has(event.seq));
    this.droppedHeartbeats += drop.size;
    this.log.warn('spool: over its size bound; dropped the oldest heartbeats', {
      dropped: drop.size,
      maxBytes: this.maxBytes,
    });
  }

  peek(limits: SpoolPeekLimits, skip?: (event: SpooledEventHeader) => boolean): OutboundEvent[] {
    const taken: OutboundEvent[] = [];
    let bytes = 0;
    for (const event of this.pending) {
      if (taken.length >= limits.maxEvents) break;
      if (skip?.(event)) continue;
      const size = Buffer.byteLength(event.body);
      if (taken.length > 0 && bytes + size > limits.maxBytes) break;
      taken.push(event);
      bytes += size;
    }
    return taken;
  }

  acknowledge(seq: number): void {
    this.pending = this.pending.filter((event) => event.seq > seq);
  }

  stats(): SpoolStats {
    return {
      pendingEvents: this.pending.length,
      pendingBytes: this.pending.reduce((sum, event) => sum + Buffer.byteLength(event.body), 0),
      pendingHeartbeats: this.pending.filter((event) => event.type === 'host.heartbeat').length,
      droppedHeartbeats: this.droppedHeartbeats,
      damagedRecords: 0,
    };
  }

  close(): void {
    // nothing to release
  }
}
