import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  AGENT_SOURCE_PREFIX,
  CloudEvent,
  type FaultlineEvent,
  Identifier,
  LIMITS,
  parseEvent,
  RejectedEvent,
} from '../../events/index.ts';
import { type CollectBody, type CollectHost, parseCollectBody } from '../../probes/collect-body.ts';
import { collectDrafts, HostMemory } from '../../probes/collect-events.ts';
import type { EventDraft } from '../../probes/event-draft.ts';
import type { CollectMark, CollectRecord, CollectStore } from '../adapters/store/port.ts';
import type { Principal } from './auth.ts';
import { InvalidRequestError, ServiceUnavailableError } from './errors.ts';
import { countIngested, type IngestDeps, judgeMadeEvents, queueJudged } from './ingest.ts';

/**
 * The sh agent's collect (`POST /v1/agents/:hostId/collect`, docs/architecture.md §2 "Platforms"
 * and §6): where Node does not run (LDoms guests and control domains on SPARC), the agent posts the
 * raw output of its tools and the control plane makes the events a Node agent on that host would
 * have sent.
 *
 * 1. The body is read into its sections (probes/collect-body.ts); a malformed one rejects the whole
 *    collect (400 with every issue) before anything is read from the store or applied.
 * 2. The host's record is read (`CollectStore`): the (`bootid`, `seq`) of its last collect, and
 *    what the control plane remembered of the host before and after it. A collect with a higher
 *    `seq` is new (`seq` is strictly increasing across the agent's restarts, as in §3); the same
 *    `bootid` and `seq` with the same bytes is the same collect sent again (its answer was lost),
 *    which makes the same events again from the memory before it; anything else is older (or a
 *    different body under a used `seq`) and makes none.
 * 3. The drafts come from probes/collect-events.ts (the Node agent's parsers, snapshot diff,
 *    control-domain look and heartbeat), each put in the envelope a Node agent gives it, with the
 *    id `<host>:<bootid>:<collect seq>:<index>`: a collect sent again makes the very same events,
 *    which correlate applies once. Their `seq`s count up from the collect's own (`seq + index`),
 *    or, when the previous collect's events already reach that far (an agent that counts its
 *    collects one by one within a second), from just above them: every event of a host still
 *    has a `seq` above all its earlier ones, as §3 asks, and the record keeps where a collect's
 *    events started, so a collect sent again numbers them the same way.
 * 4. They are judged exactly as `POST /v1/events` judges posted events (./ingest.ts: the contract's
 *    parser, the sender binding, the host's grant, the queue's limits), so a host is never a server
 *    because its collect says so: a heartbeat claiming `control` or an announcement beyond the grant
 *    is refused with its reason like a posted one.
 * 5. The new memory is written, conditionally on the record read in step 2 (two collects of one
 *    host racing: the loser reads again and is then older or the same), and only then are the
 *    accepted events queued: a crash in between leaves the memory ahead of the queue, and the
 *    agent's retry of the same collect (its spool keeps a post until it is answered) queues them.
 *
 * The answer (202) lists the events made, those ingest refused by index, and whether plans wait.
 * A well-formed collect is answered 202 even when ingest refused every event it made (a role
 * beyond the grant): the collect was read and remembered, and sending it again changes nothing.
 */

export interface CollectDeps extends IngestDeps {
  readonly store: IngestDeps['store'] & CollectStore;
}

/** What the store keeps for a host (`CollectRecord.body`). */
const RecordBody = z.object({
  version: z.literal(1),
  /** SHA-256 of the collect's bytes: tells the same collect sent again from another under its `seq`. */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  /** The `seq` of the collect's first event, and how many it made: the next collect's start above them. */
  firstSeq: z.int().min(0),
  events: z.int().min(0),
  /** The memory before this collect, to make its events again when it is sent again. */
  before: HostMemory.nullable(),
  after: HostMemory,
});
type RecordBody = z.infer<typeof RecordBody>;

/** How a collect stands to the host's last one. */
export const CollectOutcome = z
  .enum(['new', 'again', 'older'])
  .describe(
    '`new`: a collect newer than the last, its events made and queued; `again`: the last collect sent again, its events made again (correlate applies them once); `older`: not newer than the last, no event made.',
  );
export type CollectOutcome = z.infer<typeof CollectOutcome>;

export const CollectAnswer = z
  .object({
    outcome: CollectOutcome,
    events: z
      .array(CloudEvent)
      .describe(
        'The events the collect made, in order, as queued before ingest stamped them; an event refused by the contract itself is only in `rejected`.',
      ),
    accepted: z.array(Identifier).describe('The ids of the events queued for correlate.'),
    rejected: z
      .array(RejectedEvent)
      .describe(
        "The events ingest refused, by their index among those the collect made (the last part of the event's id), with the issues.",
      ),
    plansPending: z.boolean().describe('Whether plans wait for this host (fetch them now).'),
    notes: z
      .array(z.string())
      .describe(
        'What could not be read or said: tool lines the parsers could not read, guest disks left out.',
      ),
    ignored: z.array(z.string()).describe('Sections this control plane does not read, ignored by name.'),
  })
  .meta({ id: 'CollectAnswer' });
export type CollectAnswer = z.infer<typeof CollectAnswer>;

const digestOf = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * The id of the `index`-th event of a collect: `<host>:<bootid>:<collect seq>:<index>`, the Node
 * agent's form with the index added; the host hashed when it would make the id too long.
 */
export const collectEventId = (hostId: string, bootId: string, seq: number, index: number): string => {
  const readable = `${hostId}:${bootId}:${seq}:${index}`;
  if (Identifier.safeParse(readable).success) return readable;
  const hostHash = createHash('sha256').update(hostId).digest('hex').slice(0, 32);
  return `${hostHash}:${bootId}:${seq}:${index}`;
};

/** A draft in the envelope a Node agent would give it (agent/detect/envelope.ts). */
const sealed = (
  hostId: string,
  host: CollectHost,
  draft: EventDraft,
  index: number,
  firstSeq: number,
): Record<string, unknown> => {
  const seq = firstSeq + index;
  return {
    specversion: '1.0',
    id: collectEventId(hostId, host.bootid, host.seq, index),
    source: `${AGENT_SOURCE_PREFIX}${hostId}`,
    type: draft.type,
    time: new Date(host.time).toISOString(),
    subject: draft.subject,
    datacontenttype: 'application/json',
    hostid: hostId,
    bootid: host.bootid,
    seq,
    ...(draft.planid === undefined ? {} : { planid: draft.planid }),
    data: draft.data,
  };
};

type Standing =
  | { outcome: 'older' }
  | {
      outcome: 'new' | 'again';
      memory: RecordBody['after'] | undefined;
      expected: CollectMark | undefined;
      /** The `seq` of its first event. */
      firstSeq: number;
    };

/** Where a collect stands to the stored record, the memory its events are made from, their first `seq`. */
const standing = (
  stored: CollectRecord | undefined,
  kept: RecordBody | undefined,
  host: CollectHost,
  digest: string,
): Standing => {
  if (stored === undefined) {
    return { outcome: 'new', memory: undefined, expected: undefined, firstSeq: host.seq };
  }
  const expected = { bootId: stored.bootId, seq: stored.seq };
  if (host.seq > stored.seq) {
    const above = kept === undefined ? stored.seq + 1 : kept.firstSeq + kept.events;
    return { outcome: 'new', memory: kept?.after, expected, firstSeq: Math.max(host.seq, above) };
  }
  if (host.seq === stored.seq && host.bootid === stored.bootId && kept?.digest === digest) {
    return { outcome: 'again', memory: kept.before ?? undefined, expected, firstSeq: kept.firstSeq };
  }
  return { outcome: 'older' };
};

/**
 * The events a collect makes, judged, remembered and queued (see the module's comment). `charge`
 * is given the number of events the collect makes (one when it makes none) before anything is
 * remembered or queued, once: the rate limit (./rate-limit.ts) refuses it there by throwing.
 */
export const collectFromHost = async (
  hostId: string,
  text: string,
  principal: Principal,
  deps: CollectDeps,
  charge: (events: number) => void = () => undefined,
): Promise<CollectAnswer> => {
  const parsed = parseCollectBody(text);
  if (!parsed.ok) throw new InvalidRequestError('the collect does not parse; see issues', parsed.issues);
  const body: CollectBody = parsed.value;
  const digest = digestOf(text);
  const ignored = body.ignored;

  // A conflict means another collect of this host was written meanwhile: read it again, and this
  // one is then older or the same. A few tries, so a host posting in a tight loop cannot starve it.
  let charged = false;
  const chargeOnce = (events: number): void => {
    if (charged) return;
    charge(events);
    charged = true;
  };
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const stored = await deps.store.getCollect(hostId);
    const kept = readKept(stored, hostId, deps);
    const where = standing(stored, kept, body.host, digest);
    if (where.outcome === 'older') {
      chargeOnce(1);
      return {
        outcome: 'older',
        events: [],
        accepted: [],
        rejected: [],
        plansPending: false,
        notes: [],
        ignored,
      };
    }
    const made = collectDrafts(hostId, body, where.memory);
    if (made.drafts.length > LIMITS.maxBatchEvents) {
      throw new InvalidRequestError(
        `the collect makes ${made.drafts.length} events; at most ${LIMITS.maxBatchEvents}`,
        [{ path: ['progress'], message: 'send fewer plan step results in one collect', code: 'too_big' }],
      );
    }
    if (where.firstSeq + made.drafts.length > Number.MAX_SAFE_INTEGER) {
      throw new InvalidRequestError('the collect seq leaves no room for its events', [
        {
          path: ['host', 'seq'],
          message: 'its events would count past the largest safe integer',
          code: 'too_big',
        },
      ]);
    }
    chargeOnce(made.drafts.length);
    const events = made.drafts.map((draft, index) => sealed(hostId, body.host, draft, index, where.firstSeq));
    const judged = await judgeMadeEvents(events, principal, deps);
    if (where.outcome === 'new') {
      const record: RecordBody = {
        version: 1,
        digest,
        firstSeq: where.firstSeq,
        events: made.drafts.length,
        before: where.memory ?? null,
        after: made.memory,
      };
      const written = await deps.store.putCollect(
        {
          hostId,
          bootId: body.host.bootid,
          seq: body.host.seq,
          storedAt: new Date(deps.now()).toISOString(),
          body: record,
        },
        where.expected,
      );
      if (written === 'conflict') continue;
    }
    const answer = await queueJudged(judged, principal, deps);
    countIngested(deps.metrics, answer.accepted.length, answer.rejected);
    return {
      outcome: where.outcome,
      events: events.flatMap((event) => {
        const valid = parseEvent(event);
        return valid.ok ? [valid.value as FaultlineEvent] : [];
      }),
      accepted: answer.accepted,
      rejected: answer.rejected,
      plansPending: answer.plansPending,
      notes: made.notes,
      ignored,
    };
  }
  throw new ServiceUnavailableError('store');
};

/** The stored memory, or undefined when there is none or it is not one this version reads (then logged). */
const readKept = (
  stored: CollectRecord | undefined,
  hostId: string,
  deps: CollectDeps,
): RecordBody | undefined => {
  if (stored === undefined) return undefined;
  const kept = RecordBody.safeParse(stored.body);
  if (kept.success) return kept.data;
  deps.log({
    level: 'warn',
    msg: 'the collect record of a host is not readable; its next collect starts afresh',
    hostId,
  });
  return undefined;
};
