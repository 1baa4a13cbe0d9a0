import {
  type FaultlineEvent,
  type Issue,
  LIMITS,
  parseEvent,
  parseEventBatch,
  parseEventRead,
} from '../../events/index.ts';
import type { Metrics } from '../adapters/observability/metrics-port.ts';
import { type BatchMessage, QUEUE_LIMITS, type WorkQueue } from '../adapters/queue/port.ts';
import { messageRefusal } from '../adapters/queue/rules.ts';
import type { HostRecord, HostRegistry } from '../adapters/store/port.ts';
import { grantIssues, needsGrant } from '../correlate/grants.ts';
import { eventMessage, senderStamp } from '../correlate/messages.ts';
import type { Principal } from './auth.ts';
import type { ApiLog } from './error-response.ts';
import { EventsRejectedError, RateLimitedError, ServiceUnavailableError } from './errors.ts';
import { type PlanReader, plansFor } from './plans.ts';
import type { IngestRateLimit, RateLimitKey } from './rate-limit.ts';

/**
 * Ingest (`POST /v1/events`, docs/architecture.md §3 and §6): one CloudEvent or a batch, already read within
 * the request limit and parsed as JSON. Each event is
 *
 * 1. parsed with the contract's parsers (events/parse.ts: the 64 KiB, 1 MiB and 500 limits, the
 *    schemas), the invalid ones rejected by index with their zod issues;
 * 2. bound to its sender (§3 "Sender binding"): an agent token posts only events whose `hostid` is
 *    its own host; and what it says of the serving side is judged against its host's grant, read
 *    from the registry of servers once per request (only when an event needs it), never against
 *    the role its own heartbeats claimed (functions/correlate/grants.ts): a heartbeat claiming
 *    `hosting` or `control`, listing `serves` or naming `guests` beyond the grant, and an
 *    `ipl.completed`, `domain.rebooted` or `domain.going-down` from a host not registered as a
 *    server or for a domain outside its grant, are refused here with the reason
 *    (`role-not-granted`, `domain-not-granted`). This is definitive: what ingest accepts,
 *    correlate does not judge again, so a 202 never ends in the DLQ for its sender's grant. An
 *    operator token may send any event of any host;
 * 3. stamped with `receivedat` and `sentby` (the authenticated sender, `agent:<host>` or
 *    `operator:<label>`: any value an agent put in either is replaced) and queued for correlate
 *    on the events queue, one message per event, marked with the authenticated sender
 *    (`FaultlineSender`, functions/correlate/messages.ts), all of a request in one `sendMany`.
 *
 * The answer lists the accepted ids and the rejected indexes with their issues, and tells an
 * agent whether plans wait for it. When nothing is accepted the whole request is rejected (400)
 * with every issue. Queueing is at least once: when the queue fails part-way the request fails
 * (503) and the agent sends the batch again; correlate ignores an event id it already applied.
 *
 * Each request is counted once, at its end (`faultline_events_accepted_total` and
 * `faultline_events_rejected_total` by reason code, {@link rejectionReason}): a request of 500
 * events costs two or three counter increments, not 500. A request over its token's rate limit
 * (./rate-limit.ts, {@link chargeRateLimit}) is refused whole with 429 before any of this, its
 * events counted as rejected for `rate-limited` (one for a request refused before its body was
 * read).
 */

export interface IngestDeps {
  readonly store: PlanReader & Pick<HostRegistry, 'getHostRecord'>;
  readonly queue: Pick<WorkQueue, 'sendMany'>;
  readonly now: () => number;
  readonly log: ApiLog;
  /** Events accepted and rejected, counted once per request; none when absent. */
  readonly metrics?: Metrics | undefined;
  /**
   * The per-token rate limit (./rate-limit.ts), shared by the routes given the same one; each
   * route makes its own with the defaults when absent.
   */
  readonly rateLimit?: IngestRateLimit | undefined;
}

/**
 * Takes a request's `events` from its token's bucket (./rate-limit.ts), or refuses it: 429, the
 * events counted as rejected for `rate-limited`.
 */
export const chargeRateLimit = (
  rateLimit: IngestRateLimit,
  who: RateLimitKey,
  events: number | 'admit',
  metrics: Metrics | undefined,
): void => {
  try {
    if (events === 'admit') rateLimit.admit(who);
    else rateLimit.take(who, events);
  } catch (error) {
    if (error instanceof RateLimitedError) {
      metrics?.count('eventsRejected', { stage: 'ingest', reason: 'rate-limited' }, error.events);
    }
    throw error;
  }
};

/** What a request body costs in events: a batch's length, one for a single event (or an empty batch). */
export const eventsIn = (body: unknown): number => (Array.isArray(body) ? Math.max(1, body.length) : 1);

export interface RejectedEvent {
  readonly index: number;
  readonly issues: Issue[];
}

export interface IngestAnswer {
  readonly accepted: string[];
  readonly rejected: RejectedEvent[];
  readonly plansPending: boolean;
}

export const INGEST_LIMITS = {
  /** Tries of an entry the queue failed for a reason of its own (throttling) before the request fails. */
  sendAttempts: 2,
  /** Issues listed per rejected event. */
  maxIssuesPerEvent: 50,
} as const;

/** An event that parsed, by its index in the request. */
export interface Candidate {
  readonly index: number;
  readonly event: FaultlineEvent;
}

interface Sorting {
  readonly candidates: Candidate[];
  readonly rejected: RejectedEvent[];
}

const capped = (issues: readonly Issue[]): Issue[] => issues.slice(0, INGEST_LIMITS.maxIssuesPerEvent);

const NOT_AN_OBJECT = 'a CloudEvent is a JSON object';

const isObject = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const notAnObject = (index: number): Issue[] => [
  { path: [index], message: NOT_AN_OBJECT, code: 'invalid_type' },
];

/** Summarises a whole-request rejection: its one general issue, or how many events failed. */
const rejectionMessage = (issues: readonly Issue[], count: number, batch: boolean): string => {
  const general = issues.filter((issue) => typeof issue.path[0] !== 'number');
  if (general.length === 1 && general[0] !== undefined && issues.length === 1) return general[0].message;
  if (!batch) return 'the event was not accepted; see issues';
  return count === 1
    ? 'the event of the batch was not accepted; see issues'
    : `none of the ${count} events was accepted; see issues (their paths start with the event's index)`;
};

/** Step 1: the events that parse, and the others by index; `text` is the body's JSON text, when read from one. */
const parseBody = (body: unknown, text: string | undefined): Sorting => {
  if (!Array.isArray(body)) {
    if (!isObject(body)) {
      throw new EventsRejectedError(NOT_AN_OBJECT, [
        { path: [], message: `${NOT_AN_OBJECT}; a batch is a JSON array of them`, code: 'invalid_type' },
      ]);
    }
    // Measured from the text it came as, when there is one: re-serialising a deeply nested value
    // can overflow the stack, whose message is no reason to give a caller.
    const parsed = text === undefined ? parseEvent(body) : parseEventRead(body, text);
    if (!parsed.ok)
      throw new EventsRejectedError(rejectionMessage(parsed.issues, 1, false), capped(parsed.issues));
    return { candidates: [{ index: 0, event: parsed.value }], rejected: [] };
  }
  // The contract's parser reads a JSON string as JSON text (a double-encoded event); in a request
  // body a string is simply not an event, so it is screened out as `null` and named as such.
  const screened: unknown[] = body.map((element: unknown) => (isObject(element) ? element : null));
  const named = (issues: readonly Issue[]): Issue[] =>
    issues.map((issue) => {
      const index = issue.path[0];
      return typeof index === 'number' && screened[index] === null ? (notAnObject(index)[0] as Issue) : issue;
    });
  const parsed = parseEventBatch(screened, text);
  if (!parsed.ok) {
    throw new EventsRejectedError(rejectionMessage(parsed.issues, body.length, true), named(parsed.issues));
  }
  const rejected = parsed.rejected.map((entry) => ({
    index: entry.index,
    issues: capped(named(entry.issues)),
  }));
  const rejectedIndexes = new Set(rejected.map((entry) => entry.index));
  const candidates: Candidate[] = [];
  let next = 0;
  body.forEach((_element: unknown, index) => {
    if (rejectedIndexes.has(index)) return;
    const event = parsed.value[next];
    next += 1;
    if (event !== undefined) candidates.push({ index, event });
  });
  return { candidates, rejected };
};

/** Step 2: the sender binding of §3, and the grant of the sender's host (read once, when needed). */
const bindToSender = async (
  sorting: Sorting,
  principal: Principal,
  deps: IngestDeps,
  pathOf: (index: number) => (string | number)[],
): Promise<Sorting> => {
  if (principal.kind === 'operator') return sorting;
  const rejected = [...sorting.rejected];
  const own: Candidate[] = [];
  for (const candidate of sorting.candidates) {
    if (candidate.event.hostid === principal.hostId) {
      own.push(candidate);
      continue;
    }
    rejected.push({
      index: candidate.index,
      issues: [
        {
          path: [...pathOf(candidate.index), 'hostid'],
          message: `this agent token is bound to host ${principal.hostId}; it may not post events of host ${candidate.event.hostid}`,
          code: 'sender-mismatch',
        },
      ],
    });
  }
  if (!own.some((candidate) => needsGrant(candidate.event))) return { candidates: own, rejected };
  const record: HostRecord | undefined = await deps.store.getHostRecord(principal.hostId);
  const candidates: Candidate[] = [];
  const refusedCodes: string[] = [];
  for (const candidate of own) {
    const issues = grantIssues(candidate.event, record, pathOf(candidate.index));
    if (issues.length === 0) {
      candidates.push(candidate);
      continue;
    }
    rejected.push({ index: candidate.index, issues: capped(issues) });
    refusedCodes.push(...issues.map((issue) => issue.code ?? 'refused'));
  }
  if (refusedCodes.length > 0) {
    deps.log({
      level: 'warn',
      msg: 'events refused beyond the grant',
      hostId: principal.hostId,
      codes: [...new Set(refusedCodes)],
      refused: own.length - candidates.length,
    });
  }
  return { candidates, rejected };
};

/** An event judged acceptable, with the queue message that carries it. */
export interface Outgoing {
  readonly candidate: Candidate;
  readonly message: BatchMessage;
}

/**
 * Step 3: sends the messages (`sendMany`: one transaction on the local queue, batches of ten on
 * SQS). Answers the entries the queue refused for good (`senderFault`); entries it failed for its
 * own reasons are tried again, and if they still fail the request fails with
 * `ServiceUnavailableError`.
 */
const enqueue = async (
  queue: Pick<WorkQueue, 'sendMany'>,
  outgoing: readonly Outgoing[],
): Promise<Map<number, string>> => {
  const refused = new Map<number, string>();
  let pending = outgoing;
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    if (attempt > INGEST_LIMITS.sendAttempts) throw new ServiceUnavailableError('queue');
    const result = await queue.sendMany(pending.map((entry) => entry.message));
    if (result.failed.length === 0) break;
    const byId = new Map(pending.map((entry) => [entry.message.id, entry]));
    const failedAgain: Outgoing[] = [];
    for (const failure of result.failed) {
      const entry = byId.get(failure.id);
      if (entry === undefined) continue;
      if (failure.senderFault) refused.set(entry.candidate.index, `${failure.code}: ${failure.message}`);
      else failedAgain.push(entry);
    }
    pending = failedAgain;
  }
  return refused;
};

const pendingPlans = async (principal: Principal, deps: IngestDeps, now: string): Promise<boolean> => {
  if (principal.kind !== 'agent') return false;
  try {
    return (await plansFor(deps.store, principal.hostId, now)).plans.length > 0;
  } catch (error) {
    // The events are queued; the agent's next poll finds its plans anyway.
    deps.log({
      level: 'warn',
      msg: 'could not tell whether plans are pending',
      hostId: principal.hostId,
      detail: error instanceof Error ? error.message : String(error),
    });
    return false;
  }
};

const byIndex = (a: RejectedEvent, b: RejectedEvent): number => a.index - b.index;

/** The reason codes of `faultline_events_rejected_total{stage="ingest"}`, from an issue's code. */
const REASON_OF_CODE: Readonly<Record<string, string>> = {
  'sender-mismatch': 'sender',
  'role-not-granted': 'not-granted',
  'domain-not-granted': 'not-granted',
  'queue-refused': 'queue-refused',
  too_big: 'too-big',
};

/** Why an event was rejected, as a small set of codes: its first issue's, else `invalid` (the contract). */
export const rejectionReason = (issues: readonly Issue[]): string =>
  REASON_OF_CODE[issues[0]?.code ?? ''] ?? 'invalid';

/** Counts one request's events: `accepted` of them, and the rejected by reason. */
export const countIngested = (
  metrics: Metrics | undefined,
  accepted: number,
  rejected: readonly RejectedEvent[],
): void => {
  if (metrics === undefined) return;
  metrics.count('eventsAccepted', { stage: 'ingest' }, accepted);
  if (rejected.length === 0) return;
  const byReason = new Map<string, number>();
  for (const entry of rejected) {
    const reason = rejectionReason(entry.issues);
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }
  for (const [reason, count] of byReason) metrics.count('eventsRejected', { stage: 'ingest', reason }, count);
};

/** Counts a request refused whole (400): `count` events, for the reason of its first issue. */
const countRefused = (metrics: Metrics | undefined, error: EventsRejectedError, count: number): void => {
  metrics?.count('eventsRejected', { stage: 'ingest', reason: rejectionReason(error.issues ?? []) }, count);
};

/**
 * Events judged for one request: those to queue, stamped (`receivedat`, `sentby`) and addressed,
 * and the others by index with their issues.
 */
export interface JudgedEvents {
  readonly outgoing: readonly Outgoing[];
  readonly rejected: readonly RejectedEvent[];
  /** The ingest time stamped on them. */
  readonly now: string;
}

/** Steps 2 and 3 up to the queue: the sender binding, the grant, the stamps, the queue's own limits. */
const judge = async (
  sorting: Sorting,
  principal: Principal,
  deps: IngestDeps,
  pathOf: (index: number) => (string | number)[],
): Promise<JudgedEvents> => {
  const bound = await bindToSender(sorting, principal, deps, pathOf);
  const rejected = [...bound.rejected];
  const now = new Date(deps.now()).toISOString();
  const outgoing: Outgoing[] = [];
  for (const candidate of bound.candidates) {
    const message = eventMessage(
      { ...candidate.event, receivedat: now, sentby: senderStamp(principal) },
      principal,
    );
    // correlate measures the event as queued (stamped, and serialised as JSON writes it, numbers in
    // full): one that fits as sent but not as queued is refused here, not dead-lettered after a 202.
    const queuedBytes = Buffer.byteLength(message.body, 'utf8');
    if (queuedBytes > LIMITS.maxEventBytes) {
      rejected.push({
        index: candidate.index,
        issues: [
          {
            path: pathOf(candidate.index),
            message: `an event may not exceed ${LIMITS.maxEventBytes} bytes as queued, with receivedat and sentby (this one is ${queuedBytes})`,
            code: 'too_big',
          },
        ],
      });
      continue;
    }
    const refusal = messageRefusal(message, QUEUE_LIMITS.maxMessageBytes);
    if (refusal === undefined) {
      outgoing.push({ candidate, message: { ...message, id: `e${candidate.index}` } });
      continue;
    }
    rejected.push({
      index: candidate.index,
      issues: [
        {
          path: pathOf(candidate.index),
          message: `the queue would refuse this event: ${refusal.message}`,
          code: 'queue-refused',
        },
      ],
    });
  }
  return { outgoing, rejected, now };
};

/** The last step: queues what was judged acceptable, and answers. Accepts none when none was. */
export const queueJudged = async (
  judged: JudgedEvents,
  principal: Principal,
  deps: IngestDeps,
  pathOf: (index: number) => (string | number)[] = (index) => [index],
): Promise<IngestAnswer> => {
  const rejected = [...judged.rejected];
  if (judged.outgoing.length === 0) {
    return {
      accepted: [],
      rejected: rejected.sort(byIndex),
      plansPending: await pendingPlans(principal, deps, judged.now),
    };
  }
  const [refused, plansPending] = await Promise.all([
    enqueue(deps.queue, judged.outgoing),
    pendingPlans(principal, deps, judged.now),
  ]);
  for (const [index, reason] of refused) {
    rejected.push({
      index,
      issues: [
        { path: pathOf(index), message: `the queue refused this event: ${reason}`, code: 'queue-refused' },
      ],
    });
  }
  const accepted = judged.outgoing
    .filter((entry) => !refused.has(entry.candidate.index))
    .map((entry) => entry.candidate.event.id);
  return { accepted, rejected: rejected.sort(byIndex), plansPending };
};

/**
 * Events the control plane made itself for a sender (the sh agent's collect, ./collect.ts), judged
 * exactly as posted ones are: each parsed with the contract's parser (the same limits and schemas),
 * then steps 2 and 3 up to the queue. Queueing is {@link queueJudged}'s, once the caller has
 * recorded what it must first.
 */
export const judgeMadeEvents = async (
  events: readonly unknown[],
  principal: Principal,
  deps: IngestDeps,
): Promise<JudgedEvents> => {
  const candidates: Candidate[] = [];
  const rejected: RejectedEvent[] = [];
  events.forEach((made, index) => {
    const parsed = parseEvent(made);
    if (parsed.ok) candidates.push({ index, event: parsed.value });
    else
      rejected.push({
        index,
        issues: capped(parsed.issues.map((issue) => ({ ...issue, path: [index, ...issue.path] }))),
      });
  });
  return judge({ candidates, rejected }, principal, deps, (index) => [index]);
};

/**
 * Parses, binds, judges against the grant, stamps and queues the events of one request. `text` is
 * the JSON text `body` was parsed from, when it was: each event is then measured as it came.
 */
export const ingestEvents = async (
  body: unknown,
  principal: Principal,
  deps: IngestDeps,
  text?: string,
): Promise<IngestAnswer> => {
  const batch = Array.isArray(body);
  const pathOf = (index: number): (string | number)[] => (batch ? [index] : []);
  let sorting: Sorting;
  try {
    sorting = parseBody(body, text);
  } catch (error) {
    if (error instanceof EventsRejectedError)
      countRefused(deps.metrics, error, batch ? Math.max(1, (body as unknown[]).length) : 1);
    throw error;
  }
  const judged = await judge(sorting, principal, deps, pathOf);

  const noneAccepted = (rejected: readonly RejectedEvent[]): EventsRejectedError => {
    countIngested(deps.metrics, 0, rejected);
    const issues = [...rejected].sort(byIndex).flatMap((entry) => entry.issues);
    return new EventsRejectedError(
      rejectionMessage(issues, batch ? (body as unknown[]).length : 1, batch),
      issues,
    );
  };
  if (judged.outgoing.length === 0) throw noneAccepted(judged.rejected);
  const answer = await queueJudged(judged, principal, deps, pathOf);
  if (answer.accepted.length === 0) throw noneAccepted(answer.rejected);
  countIngested(deps.metrics, answer.accepted.length, answer.rejected);
  return answer;
};
