import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../events/canonical-json.ts';
import {
  type Destination,
  type PagerDutyDestination,
  parseNotifyConfig,
  type ResolvedDestination,
  resolveDestinations,
} from '../../../functions/notify/config.ts';
import {
  componentOf,
  deliveryRequest,
  incidentPageUrl,
  pagerDutyEvent,
  SIGNATURE_HEADER,
  slackMessage,
  webhookSignature,
} from '../../../functions/notify/requests.ts';
import { INCIDENT_ID, notification, resolved } from './notifications.ts';

/**
 * The requests notify sends (functions/notify/requests.ts), built from a configuration the way
 * notify builds them: parsed, resolved against the allow-list, then one request per destination.
 */

const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';
const PUBLIC_URL = 'https://faultline.example.com/console';
const WEBHOOK_SECRET = '0123456789abcdef0123';
const NOW = Date.parse('2025-03-01T12:03:01Z');

const destinationsOf = (publicUrl?: string): ResolvedDestination[] => [
  ...resolveDestinations(
    parseNotifyConfig({
      ...(publicUrl === undefined ? {} : { publicUrl }),
      destinations: [
        { kind: 'pagerduty', name: 'oncall', routingKey: ROUTING_KEY },
        { kind: 'slack', name: 'storage-team', url: 'https://hooks.slack.com/services/T0/B0/x' },
        {
          kind: 'webhook',
          name: 'cmdb',
          url: 'https://cmdb.example.com/hooks/faultline',
          secret: WEBHOOK_SECRET,
        },
      ],
    }),
  ).allowed,
];

const named = (
  destinations: readonly ResolvedDestination[],
  kind: Destination['kind'],
): ResolvedDestination => {
  const found = destinations.find((destination) => destination.kind === kind);
  if (found === undefined) throw new Error(`no ${kind} destination`);
  return found;
};

const bodyOf = (destination: ResolvedDestination, page = notification()): Record<string, unknown> =>
  JSON.parse(deliveryRequest(destination, page, NOW).body) as Record<string, unknown>;

const INCIDENT_PAGE = `${PUBLIC_URL}/incidents/${INCIDENT_ID}`;

describe('PagerDuty trigger', () => {
  it('names the array a local fault or a double fault is about as payload.component, by its bare name', () => {
    const local = notification({
      details: {
        kind: 'local',
        failureDomain: 'vscsi:p10-a/vios2',
        host: 'lpar-0007',
        resource: 'array:md0',
      },
    });
    const double = notification({
      details: {
        kind: 'double-fault',
        failureDomain: 'vscsi:p10-a/vios1',
        host: 'lpar-0007',
        resource: 'md1',
      },
    });
    const map = notification({
      details: {
        kind: 'double-fault',
        failureDomain: 'fc:500a098188f6e1c4',
        host: 'db-01',
        resource: 'map:mpatha',
      },
    });
    const pagerDuty = named(destinationsOf(), 'pagerduty');
    expect(bodyOf(pagerDuty, local).payload).toMatchObject({ component: 'md0', group: 'vscsi:p10-a/vios2' });
    expect(bodyOf(pagerDuty, double).payload).toMatchObject({ component: 'md1' });
    expect(bodyOf(pagerDuty, map).payload).toMatchObject({ component: 'map:mpatha' });
  });

  it('names the failure domain as payload.component for an outage, which concerns every array it serves', () => {
    expect(componentOf(notification())).toBe('vscsi:p10-a/vios2');
    expect(bodyOf(named(destinationsOf(), 'pagerduty')).payload).toMatchObject({
      component: 'vscsi:p10-a/vios2',
    });
  });

  it('has no component when the notification names neither a resource nor a failure domain', () => {
    const bare = notification({ details: {} });
    expect(componentOf(bare)).toBeUndefined();
    expect(bodyOf(named(destinationsOf(), 'pagerduty'), bare).payload).not.toHaveProperty('component');
  });

  it('links the incident’s web page when a public URL is configured, and makes it the client_url', () => {
    const body = bodyOf(named(destinationsOf(`${PUBLIC_URL}/`), 'pagerduty'));
    expect(body.links).toEqual([{ href: INCIDENT_PAGE, text: `Faultline incident ${INCIDENT_ID}` }]);
    expect(body.client_url).toBe(PUBLIC_URL);
  });

  it('keeps a destination’s own client_url beside the incident link', () => {
    const [pagerDuty] = resolveDestinations(
      parseNotifyConfig({
        publicUrl: PUBLIC_URL,
        destinations: [
          {
            kind: 'pagerduty',
            name: 'oncall',
            routingKey: ROUTING_KEY,
            clientUrl: 'https://ops.example.com/',
          },
        ],
      }),
    ).allowed;
    const body = pagerDutyEvent(notification(), pagerDuty as PagerDutyDestination);
    expect(body.client_url).toBe('https://ops.example.com/');
    expect(body.links).toEqual([expect.objectContaining({ href: INCIDENT_PAGE })]);
  });

  it('has no links and no client_url without a public URL', () => {
    const body = bodyOf(named(destinationsOf(), 'pagerduty'));
    expect(body).not.toHaveProperty('links');
    expect(body).not.toHaveProperty('client_url');
  });

  it('sends no payload and no links with a resolve, which the Events API does not want', () => {
    const body = bodyOf(named(destinationsOf(PUBLIC_URL), 'pagerduty'), resolved());
    expect(body).toEqual({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: INCIDENT_ID });
  });

  it('escapes an incident id into the page’s path as web/app.ts reads it back', () => {
    const id = 'inc:vscsi:p10-a.vios2';
    expect(incidentPageUrl(PUBLIC_URL, id)).toBe(`${PUBLIC_URL}/incidents/inc%3Avscsi%3Ap10-a.vios2`);
    expect(decodeURIComponent(new URL(incidentPageUrl(PUBLIC_URL, id) ?? '').pathname)).toBe(
      `/console/incidents/${id}`,
    );
    expect(
      bodyOf(named(destinationsOf(PUBLIC_URL), 'pagerduty'), notification({ incidentId: id })).links,
    ).toEqual([
      { href: `${PUBLIC_URL}/incidents/inc%3Avscsi%3Ap10-a.vios2`, text: `Faultline incident ${id}` },
    ]);
  });
});

describe('Slack message', () => {
  it('links the incident’s page when a public URL is configured', () => {
    const message = bodyOf(named(destinationsOf(PUBLIC_URL), 'slack'));
    expect(JSON.stringify(message.blocks)).toContain(`<${INCIDENT_PAGE}|Open the incident in Faultline>`);
  });

  it('has no link without one', () => {
    expect(JSON.stringify(slackMessage(notification()))).not.toContain('/incidents/');
  });
});

describe('webhook', () => {
  it('carries the incident’s page as incidentUrl inside the signed body when a public URL is configured', () => {
    const request = deliveryRequest(named(destinationsOf(PUBLIC_URL), 'webhook'), notification(), NOW);
    expect(JSON.parse(request.body)).toEqual({ ...notification(), incidentUrl: INCIDENT_PAGE });
    expect(request.headers[SIGNATURE_HEADER]).toBe(
      webhookSignature(WEBHOOK_SECRET, NOW / 1000, request.body),
    );
  });

  it('sends the notification alone without one', () => {
    const request = deliveryRequest(named(destinationsOf(), 'webhook'), notification(), NOW);
    expect(request.body).toBe(canonicalJson(notification()));
  });
});
