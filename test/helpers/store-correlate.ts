import { inputTime } from '../../cli/replay/memory-world.ts';
import type { FaultlineEvent, UnsignedPlan } from '../../events/index.ts';
import type { QueueRecord } from '../../functions/adapters/queue/batch.ts';
import type { OutgoingMessage, WorkQueue } from '../../functions/adapters/queue/port.ts';
import type { PlanSigner } from '../../functions/adapters/signer/port.ts';
import type { Store } from '../../functions/adapters/store/port.ts';
import type { CoreConfig, CoreInput } from '../../functions/core/index.ts';
import {
  type CorrelateSettings,
  createHandler as createCorrelate,
} from '../../functions/correlate/handler.ts';
import { SENDER_ATTRIBUTE, senderStamp } from '../../functions/correlate/messages.ts';
import { createHandler as createSweep } from '../../functions/sweep/handler.ts';
import { capturingQueue, type Fleet, type FleetOutput, storeFleet, testSigner } from './store-fleet.ts';

/**
 * The real correlate and sweep handlers on a store, driven on a virtual clock: each input is
 * delivered as the API would enqueue it (stamped by a trusted sender), `deliveries` times, with
 * sweep run before (the timers due by then) and after. Every step is recorded, so a test can play
 * the same steps again, one at a time, with a crash injected in between.
 */

export const API_SENDER = 'faultline-api';

/** An SQS record as Lambda hands it to correlate. */
export const queueRecord = (
  body: unknown,
  options: {
    readonly messageId: string;
    readonly sentAt: number;
    readonly receiveCount?: number;
    readonly senderId?: string;
    readonly stamp?: string;
  },
): QueueRecord => ({
  messageId: options.messageId,
  receiptHandle: `rh-${options.messageId}-${options.receiveCount ?? 1}`,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  attributes: {
    ApproximateReceiveCount: String(options.receiveCount ?? 1),
    SentTimestamp: String(options.sentAt),
    ...(options.senderId === undefined ? {} : { SenderId: options.senderId }),
  },
  messageAttributes:
    options.stamp === undefined
      ? {}
      : { [SENDER_ATTRIBUTE]: { dataType: 'String', stringValue: options.stamp } },
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:events',
});

/** An input as the API enqueues it: an agent's event stamped with its host, a command with an operator. */
export const stampedRecord = (input: CoreInput, messageId: string, sentAt: number): QueueRecord =>
  queueRecord(input, {
    messageId,
    sentAt,
    senderId: API_SENDER,
    stamp: input.type.startsWith('operator.')
      ? senderStamp({ kind: 'operator', label: 'test' })
      : senderStamp({ kind: 'agent', hostId: (input as FaultlineEvent).hostid }),
  });

export type Step =
  | { readonly kind: 'sweep'; readonly at: number }
  | { readonly kind: 'deliver'; readonly at: number; readonly record: QueueRecord };

export interface HandlerPorts {
  readonly store: Store;
  readonly signer: PlanSigner;
  readonly notifyQueue: Pick<WorkQueue, 'send'>;
  readonly deadLetterQueue?: Pick<WorkQueue, 'send'>;
}

export const correlateSettings = (core: CoreConfig): CorrelateSettings => ({
  core,
  trustedSenders: [API_SENDER],
  maxReceiveCount: 3,
  tickLimit: 1000,
});

/** Runs one step on the handlers: a delivery (one invocation) or sweep until it has nothing left to do. */
export const runStep = async (step: Step, ports: HandlerPorts, core: CoreConfig): Promise<string[]> => {
  const clock = () => step.at;
  const deadLetters: string[] = [];
  const deadLetterQueue = ports.deadLetterQueue ?? {
    send: async (message: OutgoingMessage) => {
      deadLetters.push(message.body);
      return { messageId: 'dlq' };
    },
  };
  if (step.kind === 'deliver') {
    const correlate = createCorrelate({
      settings: correlateSettings(core),
      store: ports.store,
      signer: ports.signer,
      notifyQueue: ports.notifyQueue,
      deadLetterQueue,
      clock,
      log: () => undefined,
    });
    const response = await correlate({ Records: [step.record] });
    return response.batchItemFailures.map((failure) => failure.itemIdentifier);
  }
  const sweep = createSweep({
    settings: { core, graceSeconds: 0, finishLimit: 1000, tickLimit: 1000 },
    store: ports.store,
    signer: ports.signer,
    notifyQueue: ports.notifyQueue,
    clock,
    log: () => undefined,
  });
  for (let round = 0; round < 50; round += 1) {
    const report = await sweep();
    if (report.finished + report.aborted + report.timersFired === 0) break;
  }
  return [];
};

export interface CorrelateFleet extends Fleet {
  readonly steps: Step[];
  readonly signer: ReturnType<typeof testSigner>;
  readonly notifyQueue: ReturnType<typeof capturingQueue>;
}

/** A fleet on the real handlers: sweep, then each input delivered `deliveries` times, then sweep. */
export const correlateFleet = (
  store: Store,
  core: CoreConfig,
  options: { readonly deliveries?: number } = {},
): CorrelateFleet => {
  const signer = testSigner();
  const notifyQueue = capturingQueue();
  const reader = storeFleet(store, core, { signer, notifyQueue });
  const steps: Step[] = [];
  let clock = 0;
  let messages = 0;
  const ports = { store, signer, notifyQueue };
  const run = async (step: Step): Promise<void> => {
    steps.push(step);
    const failures = await runStep(step, ports, core);
    if (failures.length > 0) throw new Error(`correlate failed on ${JSON.stringify(step)}`);
  };
  const fireDue = async (now: string): Promise<void> => {
    clock = Math.max(clock, Date.parse(now));
    await run({ kind: 'sweep', at: clock });
  };
  return {
    steps,
    signer,
    notifyQueue,
    async ingest(input) {
      await fireDue(inputTime(input));
      messages += 1;
      const record = stampedRecord(input, `msg-${messages}`, clock);
      for (let delivery = 1; delivery <= (options.deliveries ?? 1); delivery += 1) {
        await run({
          kind: 'deliver',
          at: clock,
          record: {
            ...record,
            attributes: { ...record.attributes, ApproximateReceiveCount: String(delivery) },
          },
        });
      }
      await run({ kind: 'sweep', at: clock });
    },
    fireDue,
    plans: (): Promise<UnsignedPlan[]> => reader.plans(),
    output: (): Promise<FleetOutput> => reader.output(),
  };
};
