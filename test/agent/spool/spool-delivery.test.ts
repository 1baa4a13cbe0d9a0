import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventDelivery } from '../../../agent/publish/delivery.ts';
import { createTransport } from '../../../agent/publish/proxy-tunnel.ts';
import { SqsEventPublisher } from '../../../agent/publish/sqs-publisher.ts';
import { FileSpool } from '../../../agent/spool/file-spool.ts';
import { memoryLog } from '../../../agent/state/agent-log.ts';
import { parseEvent } from '../../../events/index.ts';
import { symptoms } from '../../helpers/agent-events.ts';
import { AGENT_QUEUE_REGION, type AgentQueue, startAgentQueue } from '../../helpers/agent-sqs.ts';
import { waitUntil } from '../../helpers/agent-wait.ts';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-spool-delivery-'));
const stops: (() => unknown)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('the spool while the queue is down', () => {
  it('holds 1,000 events and delivers them in order once the queue is back', async () => {
    const first = await startAgentQueue();
    const { port, queueUrl } = first;
    await first.stop();

    const log = memoryLog();
    const spool = FileSpool.open({ directory: join(scratch, 'spool'), maxBytes: 16 * 1024 * 1024, log });
    const transport = createTransport({ connectTimeoutMs: 2000 });
    const publisher = new SqsEventPublisher({
      target: { queueUrl, region: AGENT_QUEUE_REGION, endpoint: `http://127.0.0.1:${port}` },
      credentials: { source: 'static', accessKeyId: 'test', secretAccessKey: 'test' },
      transport,
      requestTimeoutMs: 5000,
      log,
    });
    const delivery = new EventDelivery({ spool, publisher, schedule: { initialMs: 20, maxMs: 250 }, log });
    stops.push(
      () => spool.close(),
      () => transport.close(),
      () => publisher.close(),
      () => delivery.stop(),
    );
    delivery.start();

    const events = symptoms(1000);
    for (let index = 0; index < events.length; index += 10) {
      spool.append(events.slice(index, index + 10));
      delivery.wake();
    }
    await waitUntil(() => delivery.status().consecutiveFailures >= 2, 'failed deliveries');
    expect(spool.stats().pendingEvents).toBe(1000);
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'cannot deliver events; spooling' }),
    );

    let queue: AgentQueue | undefined;
    queue = await startAgentQueue(port);
    stops.push(() => queue?.stop());
    await waitUntil(() => spool.stats().pendingEvents === 0, 'the spool to drain');

    const bodies = await queue.bodies();
    expect(bodies.map((body) => JSON.parse(body).seq)).toEqual(events.map((event) => event.seq));
    expect(bodies.every((body) => parseEvent(body).ok)).toBe(true);
    expect(delivery.status()).toMatchObject({
      consecutiveFailures: 0,
      deliveredEvents: 1000,
      rejectedEvents: 0,
    });
    expect(log.lines.map((line) => line.message)).toContain('target reachable again; spool delivered');
  });
});
