import { describe, expect, it } from 'vitest';
import {
  PAGERDUTY_EVENTS_URL,
  parseNotifyConfig,
  resolveDestinations,
} from '../../../functions/notify/config.ts';
import { NotifyConfigError } from '../../../functions/notify/errors.ts';

const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';

describe('notify configuration', () => {
  it('fills in the PagerDuty endpoint and the retry policy', () => {
    const config = parseNotifyConfig(
      JSON.stringify({ destinations: [{ kind: 'pagerduty', name: 'pagerduty', routingKey: ROUTING_KEY }] }),
    );
    expect(config.destinations[0]?.url).toBe(PAGERDUTY_EVENTS_URL);
    expect(config.retry).toEqual({
      maxAttempts: 4,
      baseDelayMs: 500,
      maxDelayMs: 8_000,
      maxRetryAfterMs: 30_000,
      timeoutMs: 10_000,
    });
  });

  it('allows the destinations themselves when there is no separate allow-list', () => {
    const destinations = resolveDestinations(
      parseNotifyConfig({
        destinations: [
          { kind: 'pagerduty', name: 'pagerduty', routingKey: ROUTING_KEY },
          { kind: 'webhook', name: 'sink', url: 'http://127.0.0.1:9999/sink', secret: '0123456789abcdef' },
        ],
      }),
    );
    expect(destinations.allowed.map((d) => d.name)).toEqual(['pagerduty', 'sink']);
    expect([...destinations.allowList]).toEqual([PAGERDUTY_EVENTS_URL, 'http://127.0.0.1:9999/sink']);
  });

  it('blocks the destinations a separate allow-list does not name', () => {
    const destinations = resolveDestinations(
      parseNotifyConfig({
        destinations: [
          { kind: 'pagerduty', name: 'pagerduty', routingKey: ROUTING_KEY },
          { kind: 'slack', name: 'slack', url: 'https://hooks.slack.com/services/T0/B0/x' },
        ],
        allowList: [PAGERDUTY_EVENTS_URL],
      }),
    );
    expect(destinations.allowed.map((d) => d.name)).toEqual(['pagerduty']);
    expect(destinations.blocked.map((d) => d.name)).toEqual(['slack']);
  });

  it('refuses plain http except to loopback, credentials in URLs, short secrets and duplicate names, listing each', () => {
    let error: unknown;
    try {
      parseNotifyConfig({
        destinations: [
          { kind: 'slack', name: 'slack', url: 'http://hooks.slack.com/services/T0/B0/x' },
          {
            kind: 'webhook',
            name: 'hook',
            url: 'https://user:pw@ops.example.com/hook',
            secret: '0123456789abcdef',
          },
          { kind: 'webhook', name: 'hook', url: 'https://ops.example.com/other', secret: 'short' },
        ],
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(NotifyConfigError);
    const problems = (error as NotifyConfigError).problems;
    expect(problems).toEqual([
      expect.stringMatching(/^destinations\.0\.url: plain http/),
      expect.stringMatching(/^destinations\.1\.url: .*user name or password/),
      expect.stringMatching(/^destinations\.2\.secret: /),
      expect.stringMatching(/^destinations: destination names must be unique/),
    ]);
  });

  it('refuses text that is not JSON', () => {
    expect(() => parseNotifyConfig('{destinations')).toThrow(NotifyConfigError);
  });

  it('takes a public URL for the incidents’ pages, kept without a trailing slash, and hands it to each allowed destination', () => {
    const config = parseNotifyConfig({
      publicUrl: 'https://faultline.example.com/ops/',
      destinations: [
        { kind: 'pagerduty', name: 'pagerduty', routingKey: ROUTING_KEY },
        { kind: 'slack', name: 'slack', url: 'https://hooks.slack.com/services/T0/B0/x' },
      ],
      allowList: [PAGERDUTY_EVENTS_URL],
    });
    expect(config.publicUrl).toBe('https://faultline.example.com/ops');
    const destinations = resolveDestinations(config);
    expect(destinations.allowed).toEqual([
      expect.objectContaining({ name: 'pagerduty', publicUrl: 'https://faultline.example.com/ops' }),
    ]);
    // notify never calls it: it does not join the allow-list.
    expect([...destinations.allowList]).toEqual([PAGERDUTY_EVENTS_URL]);
  });

  it('leaves the destinations as they are without a public URL', () => {
    const destinations = resolveDestinations(
      parseNotifyConfig({
        destinations: [{ kind: 'pagerduty', name: 'pagerduty', routingKey: ROUTING_KEY }],
      }),
    );
    expect(destinations.allowed[0]).not.toHaveProperty('publicUrl');
  });

  it('accepts a plain http public URL on an internal name, which people open and notify never calls', () => {
    expect(parseNotifyConfig({ publicUrl: 'http://faultline.corp:8787', destinations: [] }).publicUrl).toBe(
      'http://faultline.corp:8787',
    );
  });

  it('refuses a public URL with credentials, a query or a fragment, or not http(s), naming the field', () => {
    const problemsOf = (publicUrl: string): readonly string[] => {
      try {
        parseNotifyConfig({ publicUrl, destinations: [] });
      } catch (error) {
        return (error as NotifyConfigError).problems;
      }
      throw new Error(`${publicUrl} was accepted`);
    };
    expect(problemsOf('https://admin:pw@faultline.example.com')).toEqual([
      expect.stringMatching(/^publicUrl: .*user name or password/),
    ]);
    expect(problemsOf('https://faultline.example.com/?tab=incidents')).toEqual([
      expect.stringMatching(/^publicUrl: .*no query or fragment/),
    ]);
    expect(problemsOf('https://faultline.example.com/#incidents')).toEqual([
      expect.stringMatching(/^publicUrl: .*no query or fragment/),
    ]);
    expect(problemsOf('ftp://faultline.example.com')).toEqual([expect.stringMatching(/^publicUrl: /)]);
  });
});
