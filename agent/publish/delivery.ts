import type { EventSpool } from '../spool/event-spool.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { EventPublisher } from './event-publisher.ts';
import { nextAttemptDelayMs, type RetrySchedule } from './retry-schedule.ts';

/**
 * Drains the spool into the publisher, in order: take the oldest pending events, publish them,
 * acknowledge the delivered (or rejected) prefix, repeat. When the target cannot be reached the
 * events stay spooled and the next attempt waits on the retry schedule (exponential, jittered);
 * new events do not cut the wait short, so a fleet does not hammer a queue that is down; a target
 * that says how long to wait (429 or 503 with `Retry-After`: the control plane's rate limit) is
 * not tried again sooner, and its events stay spooled meanwhile. Events
 * settled out of order (a later one taken while an earlier one failed) are remembered, and not
 * sent again, until everything before them is settled and the acknowledgement covers them; after
 * a restart the cloud's dedup by id absorbs any that are sent twice.
 */

export type DeliveryOptions = {
  spool: EventSpool;
  publisher: EventPublisher;
  schedule: RetrySchedule;
  log: AgentLog;
  /** Called when the API says plans wait for this host. */
  onPlansPending?: () => void;
  random?: () => number;
};

export type DeliveryStatus = {
  consecutiveFailures: number;
  lastFailure: string | undefined;
  deliveredEvents: number;
  rejectedEvents: number;
};

/**
 * The result of one pass over the spool: `drained`, or `failed` with the reason (and how long the
 * target asked to be left alone, when it said).
 */
export type DeliveryPass =
  | { outcome: 'drained' }
  | { outcome: 'failed'; reason: string; retryAfterMs?: number };

export class EventDelivery {
  /** Settled (delivered or rejected) but not yet acknowledged, by id: their seq. */
  private readonly deliveredAhead = new Map<string, number>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private pendingWake = false;
  private readonly random: () => number;
  private readonly state: DeliveryStatus = {
    consecutiveFailures: 0,
    lastFailure: undefined,
    deliveredEvents: 0,
    rejectedEvents: 0,
  };

  constructor(private readonly options: DeliveryOptions) {
    this.random = options.random ?? Math.random;
  }

  status(): DeliveryStatus {
    return { ...this.state };
  }

  /** Starts draining in the background until `stop`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New events were spooled: deliver them now, unless a retry wait is running. */
  wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  /** Stops after the publish in progress; the undelivered events stay in the spool. */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
  }

  /** Publishes until the spool is empty or the target fails. */
  async deliverPending(): Promise<DeliveryPass> {
    const { spool, publisher, log } = this.options;
    for (;;) {
      const batch = spool.peek(publisher.limits, (event) => this.deliveredAhead.has(event.id));
      if (batch.length === 0) return { outcome: 'drained' };
      const report = await publisher.publish(batch);
      if (report.plansPending === true) this.options.onPlansPending?.();
      for (const rejection of report.rejected) {
        const event = batch.find((candidate) => candidate.id === rejection.id);
        log.error('event rejected by the target and dropped', {
          id: rejection.id,
          type: event?.type,
          subject: event?.subject,
          reason: rejection.reason,
          ...(rejection.issues === undefined ? {} : { issues: rejection.issues }),
        });
      }
      const done = new Set([...report.delivered, ...report.rejected.map((rejection) => rejection.id)]);
      this.state.deliveredEvents += report.delivered.length;
      this.state.rejectedEvents += report.rejected.length;

      for (const event of batch) if (done.has(event.id)) this.deliveredAhead.set(event.id, event.seq);
      // Everything before the oldest event still pending and undelivered is done: acknowledge it.
      const [oldestUndelivered] = spool.peek({ maxEvents: 1, maxBytes: Number.MAX_SAFE_INTEGER }, (event) =>
        this.deliveredAhead.has(event.id),
      );
      let acknowledged: number | undefined;
      for (const seq of this.deliveredAhead.values()) {
        if (oldestUndelivered !== undefined && seq >= oldestUndelivered.seq) continue;
        acknowledged = Math.max(acknowledged ?? seq, seq);
      }
      if (acknowledged !== undefined) {
        spool.acknowledge(acknowledged);
        for (const [id, seq] of this.deliveredAhead) if (seq <= acknowledged) this.deliveredAhead.delete(id);
      }

      const firstFailure = report.failed[0];
      if (firstFailure !== undefined || done.size === 0) {
        const reason = firstFailure?.reason ?? 'the target answered for none of the events';
        return report.retryAfterMs === undefined
          ? { outcome: 'failed', reason }
          : { outcome: 'failed', reason, retryAfterMs: report.retryAfterMs };
      }
    }
  }

  private async run(): Promise<void> {
    const { log, schedule, publisher } = this.options;
    while (this.running) {
      this.pendingWake = false;
      let pass: DeliveryPass;
      try {
        pass = await this.deliverPending();
      } catch (error) {
        pass = { outcome: 'failed', reason: (error as Error).message };
      }
      if (!this.running) break;
      if (pass.outcome === 'failed') {
        this.state.consecutiveFailures += 1;
        this.state.lastFailure = pass.reason;
        const delayMs = nextAttemptDelayMs(
          schedule,
          this.state.consecutiveFailures,
          this.random(),
          pass.retryAfterMs,
        );
        const stats = this.options.spool.stats();
        const fields = {
          target: publisher.target,
          reason: pass.reason,
          retryInMs: delayMs,
          pendingEvents: stats.pendingEvents,
        };
        if (this.state.consecutiveFailures === 1) log.warn('cannot deliver events; spooling', fields);
        else if (isPowerOfTwo(this.state.consecutiveFailures))
          log.warn('still cannot deliver events', fields);
        await this.pause(delayMs, false);
        continue;
      }
      if (this.state.consecutiveFailures > 0) {
        log.info('target reachable again; spool delivered', {
          target: publisher.target,
          failedAttempts: this.state.consecutiveFailures,
        });
        this.state.consecutiveFailures = 0;
        this.state.lastFailure = undefined;
      }
      if (!this.pendingWake) await this.pause(undefined, true);
    }
  }

  /** Waits for a delay (retry) or for a wake (idle); `stop` ends either. */
  private pause(delayMs: number | undefined, wakeable: boolean): Promise<void> {
    return new Promise((resolve) => {
      const timer = delayMs === undefined ? undefined : setTimeout(finish, delayMs);
      function finish(): void {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        if (wakeable || !this.running) {
          this.wakeUp = undefined;
          finish();
        }
      };
    });
  }
}

/** Logs a long outage at 1, 2, 4, 8... failures rather than at every attempt. */
const isPowerOfTwo = (value: number): boolean => value > 0 && (value & (value - 1)) === 0;
