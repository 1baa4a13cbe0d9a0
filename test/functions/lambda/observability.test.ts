import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { METRIC_NAMES } from '../../../functions/adapters/observability/metric-catalogue.ts';
import { SqliteQueueStore } from '../../../functions/adapters/queue/sqlite-queue.ts';
import { SqliteStore } from '../../../functions/adapters/store/sqlite-store.ts';
import { hashToken } from '../../../functions/adapters/store/tokens.ts';
import { createHandler as createApi } from '../../../functions/api/handler.ts';
import { createHandler as createCorrelate } from '../../../functions/correlate/handler.ts';
import { correlateFromEnv } from '../../../functions/lambda/correlate.ts';
import { notifyFromEnv } from '../../../functions/lambda/notify.ts';
import { lambdaObservability } from '../../../functions/lambda/observability.ts';
import { createHandler as createNotify } from '../../../functions/notify/handler.ts';
import { apiGatewayEvent } from '../../helpers/api-lambda.ts';
import { at, random, VscsiClient } from '../../helpers/core-fleet.ts';
import { queueRecord } from '../../helpers/store-correlate.ts';
import { INCIDENT_ID, notification, event as notifyEvent, record } from '../notify/notifications.ts';

/**
 * The Lambda handlers, wired by their composition roots (functions/lambda/), write CloudWatch
 * embedded metric format lines with the names `GET /metrics` has locally (the catalogue,
 * functions/adapters/observability/metric-catalogue.ts), under the namespace the environment
 * names and the function's name as `service`, and log through Powertools Logger as JSON. The
 * handlers run over SQLite (the composition roots take `sqlite:` stores), and their stdout, where
 * Lambda's runtime reads both, is captured.
 */

interface EmfLine {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [field: string]: unknown;
}

const NAMESPACE = 'FaultlineTest';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/111122223333/faultline-dlq';
const folder = mkdtempSync(join(tmpdir(), 'faultline-lambda-observability-'));
let written: string[] = [];

beforeAll(() => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
});
afterEach(() => {
  vi.restoreAllMocks();
  written = [];
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** Captures what the handler writes to stdout, as Lambda's runtime reads it, one JSON object per line. */
const capture = (): void => {
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
};
const lines = (): Record<string, unknown>[] =>
  written
    .join('')
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
const emfLines = (): EmfLine[] => lines().filter((line): line is EmfLine => '_aws' in line);
const metricNames = (): Set<string> =>
  new Set(
    emfLines().flatMap((line) =>
      line._aws.CloudWatchMetrics.flatMap((set) => set.Metrics.map((m) => m.Name)),
    ),
  );
const emfValue = (name: string, dimensions: Record<string, string>): unknown =>
  emfLines().find(
    (line) => name in line && Object.entries(dimensions).every(([key, value]) => line[key] === value),
  )?.[name];

describe('the Lambda handlers’ embedded metrics and logs', () => {
  it('correlate writes its batch’s figures as EMF lines under the namespace, with the names of GET /metrics', async () => {
    const env = {
      FAULTLINE_STORE: `sqlite:${join(folder, 'correlate.db')}`,
      FAULTLINE_PLAN_SIGNER: `local:${join(folder, 'keys')}`,
      FAULTLINE_NOTIFY_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/111122223333/faultline-notify',
      FAULTLINE_EVENTS_DLQ_URL: DLQ_URL,
      FAULTLINE_METRICS_NAMESPACE: NAMESPACE,
      AWS_REGION: 'eu-west-1',
    };
    const handler = createCorrelate(correlateFromEnv(env));
    const client = new VscsiClient('lnx001', random(7));
    const sentAt = Date.now() - 200;
    const direct = (body: unknown, id: string) =>
      queueRecord(body, { messageId: id, sentAt, senderId: 'AROAEXAMPLE:lnx001' });
    capture();
    const answer = await handler({
      Records: [direct(client.heartbeat(at(0)), 'm1'), direct(client.rootDegraded(at(1)), 'm2')],
    });
    vi.restoreAllMocks();
    expect(answer).toEqual({ batchItemFailures: [] });
    const emf = emfLines();
    expect(emf.length).toBeGreaterThan(0);
    for (const line of emf) {
      expect(line.service).toBe('correlate');
      for (const set of line._aws.CloudWatchMetrics) {
        expect(set.Namespace).toBe(NAMESPACE);
        expect(set.Dimensions[0]).toEqual(['service']);
        for (const metric of set.Metrics) expect(METRIC_NAMES).toContain(metric.Name);
      }
    }
    expect(metricNames()).toEqual(
      new Set([
        'faultline_events_accepted_total',
        'faultline_decisions_total',
        'faultline_ingest_to_visible_seconds',
      ]),
    );
    expect(emfValue('faultline_events_accepted_total', { stage: 'correlate' })).toBe(2);
    expect(emfValue('faultline_decisions_total', { trigger: 'event', outcome: 'applied' })).toBe(2);
    const latency = emf.find((line) => 'faultline_ingest_to_visible_seconds' in line);
    expect(latency?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([
      { Name: 'faultline_ingest_to_visible_seconds', Unit: 'Seconds' },
    ]);
    expect(latency?.faultline_ingest_to_visible_seconds).toEqual([expect.any(Number), expect.any(Number)]);
    // A labelled metric is published under `service` alone too, for the alarms.
    const accepted = emf.find((line) => 'faultline_events_accepted_total' in line);
    expect(accepted?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service'], ['service', 'stage']]);
  });

  it('the api writes ingest’s counts after each request, rejects by reason, with the names of GET /metrics', async () => {
    const store = new SqliteStore({ path: join(folder, 'api.db') });
    const queues = SqliteQueueStore.open(join(folder, 'api-queues.db'));
    try {
      const token = 'operator-token-for-the-emf-test';
      await store.putToken({ hash: hashToken(token), kind: 'operator', createdAt: at(0) });
      const handler = createApi({
        store,
        eventsQueue: queues.queue('events'),
        ...lambdaObservability('api', { FAULTLINE_METRICS_NAMESPACE: NAMESPACE }),
      });
      const client = new VscsiClient('lnx002', random(8));
      capture();
      const answer = await handler(
        apiGatewayEvent('POST', '/v1/events', {
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify([client.heartbeat(at(0)), { not: 'an event' }]),
        }),
      );
      vi.restoreAllMocks();
      expect(answer.statusCode).toBe(202);
      expect(emfValue('faultline_events_accepted_total', { service: 'api', stage: 'ingest' })).toBe(1);
      expect(
        emfValue('faultline_events_rejected_total', { service: 'api', stage: 'ingest', reason: 'invalid' }),
      ).toBe(1);
      const rejected = emfLines().find((line) => 'faultline_events_rejected_total' in line);
      expect(rejected?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
        ['service'],
        ['service', 'stage', 'reason'],
      ]);
    } finally {
      queues.close();
      await store.close();
    }
  });

  it('notify keeps a page with no destination in its timeline through the store its environment names, and logs it through Powertools as JSON', async () => {
    const storeFile = join(folder, 'notify.db');
    const env = {
      FAULTLINE_NOTIFY_CONFIG: JSON.stringify({ destinations: [] }),
      FAULTLINE_NOTIFY_DLQ_URL: DLQ_URL,
      FAULTLINE_STORE: `sqlite:${storeFile}`,
      FAULTLINE_METRICS_NAMESPACE: NAMESPACE,
      AWS_REGION: 'eu-west-1',
    };
    const handler = createNotify(notifyFromEnv(env));
    capture();
    expect(await handler(notifyEvent(record(notification())))).toEqual({ batchItemFailures: [] });
    vi.restoreAllMocks();
    expect(
      emfValue('faultline_deliveries_total', { service: 'notify', destination: 'none', outcome: 'kept' }),
    ).toBe(1);
    const kept = lines().find((line) => line.change === 'paged');
    expect(kept).toMatchObject({
      level: 'INFO',
      service: 'notify',
      incident: INCIDENT_ID,
      message: expect.stringMatching(/^page kept in the timeline \(no destination is configured\)/),
      timestamp: expect.any(String),
    });
    const store = new SqliteStore({ path: storeFile });
    try {
      const timeline = (await store.listTimeline(INCIDENT_ID)).items;
      expect(timeline.map((entry) => entry.text)).toEqual([
        expect.stringMatching(
          /^page not sent, no destination is configured: it would have sent trigger \(critical\)/,
        ),
      ]);
    } finally {
      await store.close();
    }
  });
});
