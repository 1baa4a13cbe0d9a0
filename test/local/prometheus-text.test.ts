import { describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '../../functions/adapters/observability/metric-catalogue.ts';
import { PrometheusMetrics } from '../../local/prometheus-metrics.ts';
import { PrometheusParseError, parsePrometheusText, sampleValue } from '../helpers/prometheus-text.ts';

/**
 * The test helper that reads `GET /metrics` (test/helpers/prometheus-text.ts) is a parser of the
 * text format, not a pattern: it reads what the format allows and refuses what it does not, and it
 * reads what prom-client writes for every metric of the catalogue.
 */

describe('the Prometheus text parser of the tests', () => {
  it('reads families with their help, type, labels (escaped), values and timestamps', () => {
    const families = parsePrometheusText(
      [
        '# HELP http_requests_total The total number of HTTP requests.\\nTwo lines, one \\\\.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="post",code="200"} 1027 1395066363000',
        'http_requests_total{method="post",code="400",} 3 1395066363000',
        '',
        '# A comment',
        'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
        'metric_without_timestamp_and_labels 12.47',
        '# TYPE something_weird gauge',
        'something_weird{problem="division by zero"} +Inf -3982045',
        '# TYPE rpc_duration_seconds histogram',
        'rpc_duration_seconds_bucket{le="0.05"} 24054',
        'rpc_duration_seconds_bucket{le="0.1"} 33444',
        'rpc_duration_seconds_bucket{le="+Inf"} 144320',
        'rpc_duration_seconds_sum 53423',
        'rpc_duration_seconds_count 144320',
        '# TYPE nan_gauge gauge',
        'nan_gauge NaN',
      ].join('\n'),
    );
    const requests = families.get('http_requests_total');
    expect(requests?.type).toBe('counter');
    expect(requests?.help).toBe('The total number of HTTP requests.\nTwo lines, one \\.');
    expect(requests?.samples).toEqual([
      {
        name: 'http_requests_total',
        labels: { method: 'post', code: '200' },
        value: 1027,
        timestamp: 1395066363000,
      },
      {
        name: 'http_requests_total',
        labels: { method: 'post', code: '400' },
        value: 3,
        timestamp: 1395066363000,
      },
    ]);
    expect(families.get('msdos_file_access_time_seconds')?.samples[0]?.labels).toEqual({
      path: 'C:\\DIR\\FILE.TXT',
      error: 'Cannot find file:\n"FILE.TXT"',
    });
    expect(sampleValue(families, 'msdos_file_access_time_seconds')).toBe(1.458255915e9);
    expect(families.get('metric_without_timestamp_and_labels')?.type).toBe('untyped');
    expect(sampleValue(families, 'something_weird')).toBe(Number.POSITIVE_INFINITY);
    expect(families.get('rpc_duration_seconds')?.samples).toHaveLength(5);
    expect(sampleValue(families, 'rpc_duration_seconds_bucket', { le: '+Inf' })).toBe(144320);
    expect(sampleValue(families, 'nan_gauge')).toBeNaN();
  });

  it.each([
    ['a value that is not a number', 'up one'],
    ['an unterminated label value', 'up{job="api} 1'],
    ['a bad escape in a label value', 'up{job="a\\tb"} 1'],
    ['a label given twice', 'up{job="a",job="b"} 1'],
    ['a missing value', 'up{job="a"}'],
    ['a bad metric name', '1up 1'],
    ['a sample given twice', 'up 1\nup 2'],
    ['a TYPE after the samples', 'up 1\n# TYPE up gauge'],
    ['a second TYPE', '# TYPE up gauge\n# TYPE up counter'],
    ['an unknown type', '# TYPE up meter'],
    ['a negative counter', '# TYPE c counter\nc -1'],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1'],
    [
      'a histogram whose buckets fall',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1',
    ],
    [
      'a histogram whose count is not its +Inf bucket',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3',
    ],
    ['a family whose samples are apart', 'a 1\nb 1\na{x="y"} 1'],
    ['garbage after the timestamp', 'up 1 2 3'],
    ['a reserved label name', 'up{__name__="x"} 1'],
  ])('refuses %s', (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow(PrometheusParseError);
  });

  it('reads what prom-client writes for every metric of the catalogue, labels and buckets included', async () => {
    const metrics = new PrometheusMetrics({
      collectQueues: async () => [
        { queue: 'events', visible: 3, inFlight: 1, delayed: 0, oldestAgeSeconds: 2.5 },
      ],
    });
    metrics.count('eventsAccepted', { stage: 'ingest' }, 40);
    metrics.count('eventsRejected', { stage: 'ingest', reason: 'say "no"\\n' }, 2);
    metrics.set('openIncidents', { kind: 'outage' }, 1);
    metrics.observe('ingestToVisible', 0.2);
    metrics.observe('ingestToVisible', 7);
    const families = parsePrometheusText(await metrics.text());
    expect([...families.keys()].sort()).toEqual([...METRIC_NAMES].sort());
    expect(sampleValue(families, 'faultline_events_accepted_total', { stage: 'ingest' })).toBe(40);
    expect(sampleValue(families, 'faultline_events_rejected_total', { reason: 'say "no"\\n' })).toBe(2);
    expect(sampleValue(families, 'faultline_queue_messages', { queue: 'events', state: 'visible' })).toBe(3);
    expect(sampleValue(families, 'faultline_queue_oldest_message_age_seconds', { queue: 'events' })).toBe(
      2.5,
    );
    expect(sampleValue(families, 'faultline_ingest_to_visible_seconds_bucket', { le: '0.25' })).toBe(1);
    expect(sampleValue(families, 'faultline_ingest_to_visible_seconds_count')).toBe(2);
    expect(families.get('faultline_ingest_to_visible_seconds')?.type).toBe('histogram');
  });
});
