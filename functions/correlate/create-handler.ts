import { isFaultlineError } from '../../events/faultline-error.ts';
import type { FaultlineEvent } from '../../events/index.ts';
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
import { engineOnFirstUse } from '../outbox/engine.ts';
import type { CorrelateDeps, CorrelateSettings } from './deps.ts';
import { grantIssues } from './grants.ts';
import { type ParsedRecord, parseRecord } from './records.ts';

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

export const createHandler = (deps: CorrelateDeps): ((event: QueueEvent) => Promise<BatchResponse>) => {
  const log = deps.log ?? jsonLog;
  const clock = deps.clock ?? Date.now;
  // `deps.settings` is read on the first invocation, not now: on Lambda that validates the environment.
  const runtime = engineOnFirstUse(deps, clock, log);

  const refused = (record: QueueRecord, reason: string, settings: CorrelateSettings): RecordOutcome =>
    receiveCountOf(record) >= settings.maxReceiveCount
      ? rejectRecord(reason)
      : retryRecord(`refused, to the DLQ on receive ${settings.maxReceiveCount}: ${reason}`);

  return async (event) => {
    const { engine, settings } = runtime();
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
      if (!parsed.ok) return refused(record, parsed.reason, settings);
      try {
        const refusal = await beyondGrant(parsed);
        if (refusal !== undefined) return refused(record, refusal, settings);
        const outcome = await engine.applyInput(parsed.input, new Date(clock()).toISOString(), {
          about: `${parsed.input.type} from ${parsed.sender.kind === 'agent' ? parsed.sender.hostId : 'an operator'}`,
        });
        return outcome.kind === 'rejected' ? refused(record, outcome.reason, settings) : recordOk;
      } catch (error) {
        const fields = errorFields(error);
        if (fields.retryable === false && receiveCountOf(record) >= settings.maxReceiveCount) {
          return rejectRecord(`could not be applied: ${fields.message}`);
        }
        throw error;
      }
    };
    const response = await processBatch(event.Records, handle, {
      deadLetterQueue: deps.deadLetterQueue,
      sourceQueue: deps.sourceQueue ?? queueNameOf(event.Records[0]?.eventSourceARN) ?? DEFAULT_SOURCE_QUEUE,
      onResult: (record, result) => {
        if (result.kind === 'ok') return;
        log({
          level: result.kind === 'failed' ? 'error' : 'warn',
          messageId: record.messageId,
          outcome: result.kind,
          detail: result.reason,
          ...(result.kind === 'failed' ? { error: errorFields(result.error) } : {}),
        });
      },
    });
    try {
      const fired = await engine.tickDue(new Date(clock()).toISOString(), settings.tickLimit);
      if (fired > 0) log({ level: 'info', timersFired: fired });
    } catch (error) {
      // The timers stay due: the next batch or sweep fires them.
      log({ level: 'error', detail: 'firing due timers failed', error: errorFields(error) });
    }
    return response;
  };
};
