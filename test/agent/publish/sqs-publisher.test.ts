import type { SendMessageBatchCommandInput, SendMessageBatchCommandOutput } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport } from '../../../agent/publish/proxy-tunnel.ts';
import { createSqsClient, SqsEventPublisher } from '../../../agent/publish/sqs-publisher.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { parseEvent } from '../../../events/index.ts';
import { symptoms } from '../../helpers/agent-events.ts';
import { AGENT_QUEUE_REGION, type AgentQueue, startAgentQueue } from '../../helpers/agent-sqs.ts';

let queue: AgentQueue;
const transport = createTransport({ connectTimeoutMs: 2000 });
beforeAll(async () => {
  queue = await startAgentQueue();
});
afterAll(async () => {
  await queue.stop();
  transport.close();
});

type BatchCall = { input: SendMessageBatchCommandInput; output: SendMessageBatchCommandOutput | undefined };
type Interceptor = (
  input: SendMessageBatchCommandInput,
  call: number,
) => {
  input: SendMessageBatchCommandInput;
  addFailed?: NonNullable<SendMessageBatchCommandOutput['Failed']>;
};

/**
 * A publisher on the emulator whose client records each SendMessageBatch call and may change it
 * on its way (an SDK middleware): the way to make a real queue report a partial failure.
 */
const publisherOnEmulator = (options: { intercept?: Interceptor; endpoint?: string } = {}) => {
  const log = memoryLog();
  const settings = {
    target: {
      queueUrl: queue.queueUrl,
      region: AGENT_QUEUE_REGION,
      endpoint: options.endpoint ?? queue.endpoint,
    },
    credentials: { source: 'static', accessKeyId: 'test', secretAccessKey: 'test' } as const,
    transport,
    requestTimeoutMs: 5000,
    log,
  };
  const client = createSqsClient(settings);
  const calls: BatchCall[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const original = args.input as SendMessageBatchCommandInput;
      const changed = options.intercept?.(original, calls.length) ?? { input: original };
      const call: BatchCall = { input: changed.input, output: undefined };
      calls.push(call);
      // A call left with no entry is answered here: SQS refuses an empty batch.
      const result =
        changed.input.Entries?.length === 0
          ? {
              output: { Successful: [], Failed: [], $metadata: {} } as SendMessageBatchCommandOutput,
              response: {},
            }
          : await next({ ...args, input: changed.input });
      const output = result.output as SendMessageBatchCommandOutput;
      if (changed.addFailed !== undefined) output.Failed = [...(output.Failed ?? []), ...changed.addFailed];
      call.output = output;
      return result;
    },
    { step: 'initialize', name: 'recordSendMessageBatch' },
  );
  const publisher = new SqsEventPublisher({
    ...settings,
    client,
    partialRetry: { attempts: 3, schedule: { initialMs: 1, maxMs: 5 } },
  });
  return { publisher, calls, log };
};

describe('SqsEventPublisher', () => {
  it('sends 25 events in three SendMessageBatch calls of at most ten, in order, with attributes', async () => {
    const before = (await queue.bodies()).length;
    const { publisher, calls } = publisherOnEmulator();
    const events = symptoms(25, 100);
    const report = await publisher.publish(events);
    publisher.close();
    expect(report).toEqual({ delivered: events.map((event) => event.id), rejected: [], failed: [] });
    expect(calls.map((call) => call.input.Entries?.length)).toEqual([10, 10, 5]);
    const messages = (await queue.messages()).slice(before);
    expect(messages.map((message) => JSON.parse(message.body).seq)).toEqual(events.map((event) => event.seq));
    expect(messages.every((message) => parseEvent(message.body).ok)).toBe(true);
    expect(messages[0]?.messageAttributes).toMatchObject({
      eventType: { StringValue: 'mirror.recovering' },
      hostId: { StringValue: 'lnxclient07.example.net' },
      subject: { StringValue: 'md0' },
      seq: { StringValue: '100' },
    });
  });

  it('retries the entries a batch reports failed, and only those', async () => {
    const before = (await queue.bodies()).length;
    const { publisher, calls } = publisherOnEmulator({
      intercept: (input, call) => {
        if (call !== 0) return { input };
        const entries = input.Entries ?? [];
        const [held, ...rest] = [entries[3], ...entries.filter((_, index) => index !== 3)];
        return {
          input: { ...input, Entries: rest.filter((entry) => entry !== undefined) },
          addFailed: [{ Id: held?.Id, SenderFault: false, Code: 'InternalError', Message: 'injected' }],
        };
      },
    });
    const events = symptoms(10, 200);
    const report = await publisher.publish(events);
    publisher.close();
    expect(report.failed).toEqual([]);
    expect([...report.delivered].sort()).toEqual(events.map((event) => event.id).sort());
    expect(
      calls.map((call) =>
        call.input.Entries?.map((entry) => entry.MessageBody && JSON.parse(entry.MessageBody).seq),
      ),
    ).toEqual([[200, 201, 202, 204, 205, 206, 207, 208, 209], [203]]);
    const seqs = (await queue.bodies()).slice(before).map((body) => JSON.parse(body).seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(events.map((event) => event.seq));
  });

  it('rejects for good an entry SQS blames on the sender', async () => {
    const { publisher, calls } = publisherOnEmulator({
      intercept: (input) => {
        const [first, ...rest] = input.Entries ?? [];
        return {
          input: { ...input, Entries: rest },
          addFailed: [
            { Id: first?.Id, SenderFault: true, Code: 'InvalidMessageContents', Message: 'injected' },
          ],
        };
      },
    });
    const events = symptoms(3, 300);
    const report = await publisher.publish(events);
    publisher.close();
    expect(report.rejected).toEqual([{ id: events[0]?.id, reason: 'InvalidMessageContents: injected' }]);
    expect(report.delivered).toEqual(events.slice(1).map((event) => event.id));
    expect(calls).toHaveLength(1);
  });

  it('gives up on an entry that keeps failing, and sends no later batch, to keep the order', async () => {
    const { publisher, calls } = publisherOnEmulator({
      intercept: (input) => {
        const entries = input.Entries ?? [];
        const held = entries.find((entry) => entry.MessageBody?.includes('"seq":405,'));
        return held === undefined
          ? { input }
          : {
              input: { ...input, Entries: entries.filter((entry) => entry !== held) },
              addFailed: [
                { Id: held.Id, SenderFault: false, Code: 'ServiceUnavailable', Message: 'injected' },
              ],
            };
      },
    });
    const events = symptoms(15, 400);
    const report = await publisher.publish(events);
    publisher.close();
    expect(calls).toHaveLength(3);
    expect(calls.map((call) => call.input.Entries?.length)).toEqual([9, 0, 0]);
    expect(report.delivered).toHaveLength(9);
    expect(report.failed.map((failure) => failure.id)).toEqual(
      [events[5], ...events.slice(10)].map((event) => event?.id),
    );
    expect(report.failed[0]?.reason).toBe('ServiceUnavailable: injected');
    expect(report.failed[1]?.reason).toBe('not sent: ServiceUnavailable: injected');
  });

  it('reports every event failed when the queue cannot be reached', async () => {
    const down = await startAgentQueue();
    const endpoint = down.endpoint;
    await down.stop();
    const { publisher } = publisherOnEmulator({ endpoint });
    const events = symptoms(12, 500);
    const report = await publisher.publish(events);
    publisher.close();
    expect(report.delivered).toEqual([]);
    expect(report.failed.map((failure) => failure.id)).toEqual(events.map((event) => event.id));
    expect(report.failed[0]?.reason).toMatch(/ECONNREFUSED/);
  });
});
