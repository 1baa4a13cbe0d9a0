import { isFaultlineError } from '../../events/faultline-error.ts';
import type { FaultlineEvent } from '../../events/index.ts';
import { noMetrics } from '../adapters/observability/metrics-port.ts';
import { observedProjections } from '../adapters/observability/observed-projections.ts';
import {
  type BatchResponse,
  processBatch,
  type QueueEvent,
  type QueueRecord,
  type RecordOutcome,
  recordOk,
  rejectRecord,
  retryRecord,
} from '../adapters/queue/batch.ts';
import type { HostRecord } from '../adapters/store/port.ts';
import { engineOnFirstUse, type RunOutcome } from '../outbox/engine.ts';
import type { CorrelateDeps } from './deps.ts';
import { grantIssues } from './grants.ts';
import { type ParsedRecord, parseRecord } from './records.ts';

type ParsedInput = Extract<ParsedRecord, { ok: true }>['input'];

export type { CorrelateDeps, CorrelateSettings } from './deps.ts';

/**
 * correlate: the events queue's consumer (docs/architecture.md §2, §3, §5). Wiring only: records are parsed
 * and bound to their senders in records.ts, decided by the core, saved and performed by the
 * outbox (functions/outbox/), and answered with `ReportBatchItemFailures` by `processBatch`.
 *
 * Records are CloudEvents, or operator commands from the API; how a sender is known (SQS
 * `SenderId`, or the API's `FaultlineSender` stamp from a trusted sender) is in messages.ts.
 *
 * For each record, in order: parse it and check its sender; judge an agent's record sent straight
 * to SQS against its host's grant (grants.ts: a heartbeat claiming a server role, `serves` or
 * `guests` beyond the grant, an announcement of a domain not granted; the host's record is read
 * once per host per batch); skip it if its decision was already applied (a redelivery); load the
 * slices `keysFor` names; decide; save the changed slices with the effects (the roll-forward
 * protocol: made again on a lost race); perform the effects (plans signed and stored,
 * notifications enqueued) and the follow-ups. After the batch, the timers due now are fired, so
 * waves advance without waiting for sweep.
 *
 * A refused record (it does not parse, its sender may not send it, it claims beyond its grant) is
 * reported as a batch item failure until its last receive (`maxReceiveCount`, the queue's redrive
 * setting), then sent to the DLQ with its reason and deleted: it is in the DLQ after
 * `maxReceiveCount` receives, with its reason, exactly once — and a server whose agent started
 * just before an operator registered it gets those receives to be accepted. Any other failure is
 * a batch item failure too.
 *
 * Observability (docs/architecture.md §6): per batch, the records accepted and those dead-lettered
 * by reason code, the decisions by outcome (the timers fired after the batch too), and for each
 * event applied the time from its `receivedat` to the end of its batch (`ingest → visible`), all
 * counted once per batch and flushed at its end; each incident change is one `info` line and a
 * count (../adapters/observability/observed-projections.ts); each decision the engine finishes is one
 * `debug` line.
 */
const DEFAULT_SOURCE_QUEUE = 'events';

const jsonLog = (entry: Readonly<Record<string, unknown>>): void => {
  console.log(JSON.stringify({ service: 'correlate', ...entry }));
};

const queueNameOf = (arn: string | undefined): string | undefined => {
  const name = arn?.split(':').pop();
  return name === undefined || name.length === 0 ? undefined : name;
};

const receiveCountOf = (record: QueueRecord): number => {
  const count = Number(record.attributes.ApproximateReceiveCount);
  return Number.isInteger(count) && count > 0 ? count : 1;
};

const errorFields = (error: unknown): { code?: unknown; retryable?: boolean; message: string } => ({
  ...(typeof error === 'object' && error !== null && 'code' in error
    ? { code: (error as { code: unknown }).code }
    : {}),
  ...(isFaultlineError(error) ? { retryable: error.retryable } : {}),
  message: error instanceof Error ? error.message : String(error),
});

/** Why a record went to the DLQ, as the `reason` of `faultline_events_rejected_total{stage="correlate"}`. */
type DeadLetterCode = 'invalid' | 'sender' | 'not-granted' | 'refused' | 'unapplicable';

const MS_PER_SECOND = 1_000;

export const createHandler = (deps: CorrelateDeps): ((event: QueueEvent) => Promise<BatchResponse>) => {
  const log = deps.log ?? jsonLog;
  const metrics = deps.metrics ?? noMetrics;
  const clock = deps.clock ?? Date.now;
  // `deps.settings` and `deps.store` are read on the first invocation, not now: on Lambda that
  // validates the environment. The engine writes through a store told of each incident change.
  const runtime = engineOnFirstUse(deps, clock, log, (store) => observedProjections(store, { metrics, log }));

  return async (event) => {
    const { engine, settings } = runtime();
    // What this batch counts, added up here and recorded once at its end.
    const deadLetterCodes = new Map<string, DeadLetterCode>();
    const decided = { applied: 0, duplicate: 0, unchanged: 0, rejected: 0 };
    const commands = { applied: 0, duplicate: 0, unchanged: 0, rejected: 0 };
    let accepted = 0;
    /** The `receivedat` (ms) of each event applied, for ingest → visible. */
    const receivedAt: number[] = [];
    const refused = (record: QueueRecord, reason: string, code: DeadLetterCode): RecordOutcome => {
      if (receiveCountOf(record) < settings.maxReceiveCount)
        return retryRecord(`refused, to the DLQ on receive ${settings.maxReceiveCount}: ${reason}`);
      deadLetterCodes.set(record.messageId, code);
      return rejectRecord(reason);
    };
    const tally = (input: ParsedInput, outcome: RunOutcome): void => {
      const counts = input.type.startsWith('operator.') ? commands : decided;
      counts[outcome.kind] += 1;
      if (outcome.kind === 'rejected') return;
      accepted += 1;
      if (outcome.kind === 'duplicate' || !('receivedat' in input) || input.receivedat === undefined) return;
      const at = Date.parse(input.receivedat);
      if (Number.isFinite(at)) receivedAt.push(at);
    };
    // The host records read in this batch: one read per host, however many of its records it holds.
    const records = new Map<string, Promise<HostRecord | undefined>>();
    const recordOf = (hostId: string): Promise<HostRecord | undefined> => {
      let read = records.get(hostId);
      if (read === undefined) {
        read = deps.store.getHostRecord(hostId);
        records.set(hostId, read);
        // A failed read is not kept: the next record of that host tries again.
        read.catch(() => records.delete(hostId));
      }
      return read;
    };
    const beyondGrant = async (parsed: Extract<ParsedRecord, { ok: true }>): Promise<string | undefined> => {
      if (!parsed.checkGrant || parsed.sender.kind !== 'agent') return undefined;
      const event = parsed.input as FaultlineEvent;
      const issues = grantIssues(event, await recordOf(parsed.sender.hostId));
      return issues.length === 0
        ? undefined
        : issues.map((issue) => `${issue.code}: ${issue.message}`).join('; ');
    };
    const handle = async (record: QueueRecord): Promise<RecordOutcome> => {
      const parsed = parseRecord(record, settings);
      if (!parsed.ok) return refused(record, parsed.reason, parsed.code);
      try {
        const refusal = await beyondGrant(parsed);
        if (refusal !== undefined) return refused(record, refusal, 'not-granted');
        const outcome = await engine.applyInput(parsed.input, new Date(clock()).toISOString(), {
          about: `${parsed.input.type} from ${parsed.sender.kind === 'agent' ? parsed.sender.hostId : 'an operator'}`,
        });
        tally(parsed.input, outcome);
        return outcome.kind === 'rejected' ? refused(record, outcome.reason, 'refused') : recordOk;
      } catch (error) {
        const fields = errorFields(error);
        if (fields.retryable === false && receiveCountOf(record) >= settings.maxReceiveCount) {
          deadLetterCodes.set(record.messageId, 'unapplicable');
          return rejectRecord(`could not be applied: ${fields.message}`);
        }
        throw error;
      }
    };
    const sourceQueue =
      deps.sourceQueue ?? queueNameOf(event.Records[0]?.eventSourceARN) ?? DEFAULT_SOURCE_QUEUE;
    const rejectedBy = new Map<DeadLetterCode, number>();
    const response = await processBatch(event.Records, handle, {
      deadLetterQueue: deps.deadLetterQueue,
      sourceQueue,
      onResult: (record, result) => {
        if (result.kind === 'ok') return;
        if (result.kind === 'rejected') {
          const code = deadLetterCodes.get(record.messageId) ?? 'unapplicable';
          rejectedBy.set(code, (rejectedBy.get(code) ?? 0) + 1);
        }
        log({
          level: result.kind === 'failed' ? 'error' : 'warn',
          messageId: record.messageId,
          outcome: result.kind,
          detail: result.reason,
          ...(result.kind === 'failed' ? { error: errorFields(result.error) } : {}),
        });
      },
    });
    const visibleAt = clock();
    for (const at of receivedAt)
      metrics.observe('ingestToVisible', Math.max(0, visibleAt - at) / MS_PER_SECOND);
    metrics.count('eventsAccepted', { stage: 'correlate' }, accepted);
    let deadLettered = 0;
    for (const [reason, count] of rejectedBy) {
      metrics.count('eventsRejected', { stage: 'correlate', reason }, count);
      deadLettered += count;
    }
    metrics.count('deadLettered', { queue: sourceQueue }, deadLettered);
    for (const [outcome, count] of Object.entries(decided))
      metrics.count('decisions', { trigger: 'event', outcome }, count);
    for (const [outcome, count] of Object.entries(commands))
      metrics.count('decisions', { trigger: 'operator', outcome }, count);
    try {
      const fired = await engine.tickDue(new Date(clock()).toISOString(), settings.tickLimit);
      metrics.count('decisions', { trigger: 'timer', outcome: 'applied' }, fired);
      if (fired > 0) log({ level: 'debug', timersFired: fired });
    } catch (error) {
      // The timers stay due: the next batch or sweep fires them.
      log({ level: 'error', detail: 'firing due timers failed', error: errorFields(error) });
    }
    metrics.flush();
    return response;
  };
};
