import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeConfig } from '../../local/config.ts';
import { type ControlPlane, startControlPlane } from '../../local/control-plane.ts';
import { NOWHERE } from '../../local/pages.ts';
import { until } from '../helpers/faultline-up.ts';
import { type MetricFamily, parsePrometheusText, sampleValue } from '../helpers/prometheus-text.ts';

/**
 * `GET /metrics` of a real local control plane (the API, correlate and sweep in their thread, the
 * SQLite queues and store) while a storm goes through it: the 40-client VIOS IPL storm of
 * events/examples/storms, posted over HTTP with the operator token. The text is read with a parser
 * of the format (test/helpers/prometheus-text.ts) and its counters are seen to move: events
 * accepted at ingest and by correlate, rejected by reason, decisions, incident changes, the open
 * outage, the queues and the ingest → visible histogram.
 */

const STORM = join(
  import.meta.dirname,
  '..',
  '..',
  'events',
  'examples',
  'storms',
  'vios2-ipl-40-clients.ndjson',
);
/** The storm's lines before vios2 comes back: heartbeats and the 40 clients' symptoms. */
const OUTAGE_LINES = 82;
const OPERATOR_TOKEN = 'metrics-test-operator-token-0123456789';

const folder = mkdtempSync(join(tmpdir(), 'faultline-metrics-'));
let plane: ControlPlane;
const lines = readFileSync(STORM, 'utf8').split('\n').filter(Boolean);

beforeAll(async () => {
  plane = await startControlPlane({
    listen: '127.0.0.1',
    port: 0,
    dataDir: join(folder, 'data'),
    config: RuntimeConfig.parse({
      core: {
        groupingWindowSeconds: 10,
        holdDownSeconds: 10,
        stabilitySeconds: 1,
        escalateDownSeconds: 3600,
      },
      sweepIntervalSeconds: 0.2,
      queues: { waitTimeSeconds: 1, visibilityTimeoutSeconds: 5 },
      notify: { destinations: [] },
    }),
    operatorToken: OPERATOR_TOKEN,
    metricsListen: { host: '127.0.0.1', port: 0 },
    log: () => undefined,
  });
});

afterAll(async () => {
  await plane?.stop();
  rmSync(folder, { recursive: true, force: true });
});

const call = (path: string, init: RequestInit & { token?: string } = {}): Promise<Response> =>
  fetch(`${plane.url}${path}`, {
    ...init,
    headers: {
      'content-type': 'application/json',
      ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
    },
  });

const scrape = async (): Promise<Map<string, MetricFamily>> => {
  const response = await call('/metrics', { token: OPERATOR_TOKEN });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
};

const post = async (events: readonly string[]): Promise<Response> =>
  call('/v1/events', { method: 'POST', token: OPERATOR_TOKEN, body: `[${events.join(',')}]` });

const postAll = async (events: readonly string[]): Promise<void> => {
  for (let at = 0; at < events.length; at += 100) {
    const response = await post(events.slice(at, at + 100));
    expect(response.status).toBe(202);
  }
};

/** Waits until a scrape satisfies `holds` (every sample it names present), and answers that scrape. */
const scrapeUntil = (
  what: string,
  holds: (value: (name: string, labels?: Record<string, string>) => number) => boolean,
): Promise<Map<string, MetricFamily>> =>
  until(
    what,
    async () => {
      const families = await scrape();
      const value = (name: string, labels: Record<string, string> = {}) =>
        sampleValue(families, name, labels) ?? Number.NaN;
      return holds(value) ? families : undefined;
    },
    60,
  );

describe('GET /metrics on the local runtime', () => {
  it('answers Prometheus text whose counters move as a storm is ingested, decided and healed', async () => {
    const before = await scrape();
    expect(sampleValue(before, 'faultline_events_accepted_total', { stage: 'ingest' }) ?? 0).toBe(0);
    expect(sampleValue(before, 'faultline_ingest_to_visible_seconds_count')).toBe(0);
    expect(sampleValue(before, 'faultline_queue_messages', { queue: 'events', state: 'visible' })).toBe(0);

    await postAll(lines.slice(0, OUTAGE_LINES));
    const outage = await scrapeUntil(
      'correlate to take the outage, and sweep to count it open',
      (value) =>
        value('faultline_events_accepted_total', { stage: 'correlate' }) === OUTAGE_LINES &&
        value('faultline_open_incidents', { kind: 'outage' }) === 1,
    );
    expect(sampleValue(outage, 'faultline_events_accepted_total', { stage: 'ingest' })).toBe(OUTAGE_LINES);
    expect(sampleValue(outage, 'faultline_events_accepted_total', { stage: 'correlate' })).toBe(OUTAGE_LINES);
    expect(
      sampleValue(outage, 'faultline_decisions_total', { trigger: 'event', outcome: 'applied' }),
    ).toBeGreaterThan(0);
    expect(sampleValue(outage, 'faultline_incident_changes_total', { change: 'opened' })).toBe(1);
    expect(sampleValue(outage, 'faultline_incident_changes_total', { change: 'down' })).toBe(1);
    const visible = sampleValue(outage, 'faultline_ingest_to_visible_seconds_count') ?? 0;
    expect(visible).toBeGreaterThan(0);
    expect(visible).toBeLessThanOrEqual(OUTAGE_LINES);
    expect(sampleValue(outage, 'faultline_open_incidents', { kind: 'local' })).toBe(0);

    // One event of a batch is not an event: it is rejected, the other accepted; a request of
    // nothing but a non-event is refused whole, and counted too.
    const mixed = await post([JSON.stringify({ not: 'an event' }), lines[0] ?? '']);
    expect(mixed.status).toBe(202);
    const refused = await post([JSON.stringify({ not: 'an event' })]);
    expect(refused.status).toBe(400);
    const rejected = await scrape();
    expect(
      sampleValue(rejected, 'faultline_events_rejected_total', { stage: 'ingest', reason: 'invalid' }),
    ).toBe(2);
    expect(sampleValue(rejected, 'faultline_events_accepted_total', { stage: 'ingest' })).toBe(
      OUTAGE_LINES + 1,
    );

    await postAll(lines.slice(OUTAGE_LINES));
    const healed = await scrapeUntil(
      'correlate to take the whole storm',
      (value) => value('faultline_events_accepted_total', { stage: 'correlate' }) === lines.length + 1,
    );
    expect(sampleValue(healed, 'faultline_events_accepted_total', { stage: 'ingest' })).toBe(
      lines.length + 1,
    );
    expect(sampleValue(healed, 'faultline_incident_changes_total', { change: 'up' })).toBe(1);
    expect(sampleValue(healed, 'faultline_incident_changes_total', { change: 'healthy' })).toBeGreaterThan(0);
    // The storm's first line came twice: its second copy was found decided already.
    expect(
      sampleValue(healed, 'faultline_decisions_total', { trigger: 'event', outcome: 'duplicate' }),
    ).toBeGreaterThan(0);
    expect(sampleValue(healed, 'faultline_ingest_to_visible_seconds_count')).toBeGreaterThan(visible);
    expect(sampleValue(healed, 'faultline_queue_messages', { queue: 'events-dlq', state: 'visible' })).toBe(
      0,
    );
  });

  it('answers an operator token only, and anyone on its own address', async () => {
    expect((await call('/metrics')).status).toBe(401);
    const minted = await call('/v1/tokens', {
      method: 'POST',
      token: OPERATOR_TOKEN,
      body: JSON.stringify({ kind: 'agent', hostId: 'lnx-metrics' }),
    });
    const agentToken = ((await minted.json()) as { token: string }).token;
    expect((await call('/metrics', { token: agentToken })).status).toBe(403);
    expect(plane.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const open = await fetch(plane.metricsUrl ?? '');
    expect(open.status).toBe(200);
    expect(parsePrometheusText(await open.text()).has('faultline_events_accepted_total')).toBe(true);
    expect((await fetch((plane.metricsUrl ?? '').replace('/metrics', '/v1/health'))).status).toBe(404);
  });

  it('says in GET /v1/stats where pages go: nowhere, kept in the timeline, with no destination', async () => {
    const stats = (await (await call('/v1/stats', { token: OPERATOR_TOKEN })).json()) as {
      pages?: { destinations: unknown[]; description: string };
    };
    expect(stats.pages).toEqual({ destinations: [], description: NOWHERE });
  });
});
