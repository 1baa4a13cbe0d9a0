import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { FailureDomain, Rfc3339 } from '../../events/index.ts';
import type { EventPublisher, PublishReport } from '../publish/event-publisher.ts';
import type { OutboundEvent } from '../publish/outbound-event.ts';
import type { AgentLog } from '../state/agent-log.ts';
import { writeFileAtomic } from '../state/atomic-file.ts';
import { ANNOUNCE_FILES } from '../state/state-directory.ts';

/**
 * How `faultline-agent announce going-down` speaks through the running agent. Only one process
 * emits events for a host (the agent lock), so while the agent runs, `announce` leaves a request
 * file in the state directory and sends the agent SIGUSR2; the agent spools the announcement,
 * answers in a result file (`spooled`), and rewrites it when the target took or refused the
 * events (`delivered`, `rejected`). `announce` waits for that, bounded, and reports it.
 *
 * A request is valid only in the boot it was made in and for {@link ANNOUNCE_REQUEST_TTL_MS}: a
 * going-down found after the host came back would announce an outage that is over.
 */

export const ANNOUNCE_REQUEST_TTL_MS = 120_000;

const RequestId = z.string().regex(/^[A-Za-z0-9-]{1,64}$/);

export const AnnounceRequest = z.object({
  id: RequestId,
  kind: z.literal('going-down'),
  reason: z.string().max(1024).optional(),
  bootId: z.string().min(1).max(128),
  requestedAt: Rfc3339,
  pid: z.int().min(1),
});
export type AnnounceRequest = z.infer<typeof AnnounceRequest>;

/** `spooled`, then `delivered` or `rejected`; `nothing` when the host serves nothing to announce; `failed` when not even spooled. */
export const AnnounceOutcome = z.enum(['spooled', 'delivered', 'rejected', 'nothing', 'failed']);
export type AnnounceOutcome = z.infer<typeof AnnounceOutcome>;

export const AnnounceResult = z.object({
  id: RequestId,
  outcome: AnnounceOutcome,
  events: z.array(z.object({ id: z.string(), failureDomain: FailureDomain })).max(64),
  detail: z.string().max(2048).optional(),
  /** Where the events wait, when spooled: the spool's location, or `memory`. */
  spool: z.string().max(4096).optional(),
  target: z.string().max(4096).optional(),
  updatedAt: Rfc3339,
});
export type AnnounceResult = z.infer<typeof AnnounceResult>;

export const isFinalOutcome = (outcome: AnnounceOutcome): boolean => outcome !== 'spooled';

const requestPath = (directory: string, id: string) =>
  join(directory, `${ANNOUNCE_FILES.prefix}${id}${ANNOUNCE_FILES.request}`);
const resultPath = (directory: string, id: string) =>
  join(directory, `${ANNOUNCE_FILES.prefix}${id}${ANNOUNCE_FILES.result}`);

export const writeAnnounceRequest = (directory: string, request: AnnounceRequest): void =>
  writeFileAtomic(requestPath(directory, request.id), `${JSON.stringify(request)}\n`);

export const writeAnnounceResult = (directory: string, result: AnnounceResult): void =>
  writeFileAtomic(resultPath(directory, result.id), `${JSON.stringify(result)}\n`);

export const readAnnounceResult = (directory: string, id: string): AnnounceResult | undefined => {
  try {
    const parsed = AnnounceResult.safeParse(JSON.parse(readFileSync(resultPath(directory, id), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

export const removeAnnounceFiles = (directory: string, id: string): void => {
  rmSync(requestPath(directory, id), { force: true });
  rmSync(resultPath(directory, id), { force: true });
};

const announceFiles = (directory: string): string[] => {
  try {
    return readdirSync(directory).filter((name) => name.startsWith(ANNOUNCE_FILES.prefix));
  } catch {
    return [];
  }
};

/**
 * The valid requests waiting in the directory, oldest first, each removed as it is taken; a
 * request of another boot, too old, or unreadable is removed with a warning. Result files older
 * than the validity are swept too (their `announce` is long gone).
 */
export const takeAnnounceRequests = (
  directory: string,
  bootId: string,
  now: Date,
  log: AgentLog,
): AnnounceRequest[] => {
  const requests: AnnounceRequest[] = [];
  for (const name of announceFiles(directory)) {
    const path = join(directory, name);
    if (name.endsWith(ANNOUNCE_FILES.result)) {
      try {
        if (now.getTime() - statSync(path).mtimeMs > ANNOUNCE_REQUEST_TTL_MS) rmSync(path, { force: true });
      } catch {
        // gone already
      }
      continue;
    }
    if (!name.endsWith(ANNOUNCE_FILES.request)) continue;
    let request: AnnounceRequest | undefined;
    try {
      const parsed = AnnounceRequest.safeParse(JSON.parse(readFileSync(path, 'utf8')));
      if (parsed.success) request = parsed.data;
    } catch {
      request = undefined;
    }
    rmSync(path, { force: true });
    if (request === undefined) {
      log.warn('an announce request that is not one was removed', { file: name });
    } else if (request.bootId !== bootId) {
      log.warn('an announce request of an earlier boot was dropped: that shutdown is over', { ...request });
    } else if (now.getTime() - Date.parse(request.requestedAt) > ANNOUNCE_REQUEST_TTL_MS) {
      log.warn('an announce request too old to be true was dropped', { ...request });
    } else {
      requests.push(request);
    }
  }
  return requests.sort((left, right) => left.requestedAt.localeCompare(right.requestedAt));
};

const KEPT_RESULTS = 64;

type Watch = {
  result: AnnounceResult;
  pending: Set<string>;
  rejected: string[];
  directory: string | undefined;
  startedAt: number;
};

/**
 * Follows announcements until the target settles them: the publisher the agent delivers through is
 * wrapped so that every report is seen here. With a directory, each change rewrites the result
 * file (unless `announce` already left and removed it); without, `settled` is how a caller learns.
 */
export class AnnouncementTracker {
  private readonly watches = new Map<string, Watch>();
  /** The latest result of each announcement, the newest {@link KEPT_RESULTS}. */
  private readonly results = new Map<string, AnnounceResult>();

  constructor(
    private readonly log: AgentLog,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Starts following events just spooled; writes the `spooled` result. */
  watch(
    id: string,
    events: readonly OutboundEvent[],
    domains: readonly string[],
    where: { directory: string | undefined; spool: string; target: string },
  ): AnnounceResult {
    const result: AnnounceResult = {
      id,
      outcome: 'spooled',
      events: events.map((event, index) => ({ id: event.id, failureDomain: domains[index] ?? '' })),
      spool: where.spool,
      target: where.target,
      updatedAt: this.clock().toISOString(),
    };
    this.keep(result);
    this.watches.set(id, {
      result,
      pending: new Set(events.map((event) => event.id)),
      rejected: [],
      directory: where.directory,
      startedAt: this.clock().getTime(),
    });
    if (where.directory !== undefined) writeAnnounceResult(where.directory, result);
    return result;
  }

  /** The latest result of an announcement. */
  result(id: string): AnnounceResult | undefined {
    return this.results.get(id);
  }

  private keep(result: AnnounceResult): void {
    this.results.delete(result.id);
    this.results.set(result.id, result);
    for (const id of this.results.keys()) {
      if (this.results.size <= KEPT_RESULTS) break;
      this.results.delete(id);
    }
  }

  /** Takes one publish report into account. */
  observe(report: PublishReport): void {
    const now = this.clock();
    for (const [id, watch] of this.watches) {
      let touched = false;
      for (const delivered of report.delivered) touched = watch.pending.delete(delivered) || touched;
      for (const rejection of report.rejected) {
        if (watch.pending.delete(rejection.id)) {
          watch.rejected.push(rejection.reason);
          touched = true;
        }
      }
      if (!touched) {
        if (now.getTime() - watch.startedAt > ANNOUNCE_REQUEST_TTL_MS) this.watches.delete(id);
        continue;
      }
      if (watch.pending.size > 0) continue;
      watch.result = {
        ...watch.result,
        outcome: watch.rejected.length > 0 ? 'rejected' : 'delivered',
        ...(watch.rejected.length > 0 ? { detail: watch.rejected.join('; ').slice(0, 2048) } : {}),
        updatedAt: now.toISOString(),
      };
      this.watches.delete(id);
      this.keep(watch.result);
      this.log.info(`announcement ${watch.result.outcome}`, { id, events: watch.result.events.length });
      if (watch.directory !== undefined) {
        try {
          // `announce` removes its result file when it stops waiting: then nobody reads it.
          statSync(resultPath(watch.directory, id));
          writeAnnounceResult(watch.directory, watch.result);
        } catch {
          // announce gave up waiting and left; the outcome is in the log line above
        }
      }
    }
  }
}

/** The publisher with every report shown to the tracker. */
export const trackedPublisher = (inner: EventPublisher, tracker: AnnouncementTracker): EventPublisher => ({
  get target() {
    return inner.target;
  },
  get limits() {
    return inner.limits;
  },
  publish: async (events) => {
    const report = await inner.publish(events);
    tracker.observe(report);
    return report;
  },
  close: () => inner.close(),
});
