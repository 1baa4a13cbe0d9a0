import { createHmac } from 'node:crypto';
import { canonicalJson } from '../../events/canonical-json.ts';
import type { Notification, NotificationAction } from '../../events/notification.ts';
import type { PagerDutyDestination, ResolvedDestination, WebhookDestination } from './config.ts';

/**
 * The HTTP request each kind of destination gets for a notification. Pure: the time is passed in.
 *
 * - **PagerDuty Events API v2**: `routing_key`, `event_action`, and `dedup_key` = the incident id
 *   (the notification's `dedupKey`), so a trigger, its acknowledge and its resolve act on one
 *   PagerDuty alert. A trigger carries the required `payload.summary`, `payload.source` and
 *   `payload.severity`, with `timestamp`, `group` (the failure domain) and `custom_details`;
 *   acknowledge and resolve carry no payload, which the API does not want for them.
 * - **Slack incoming webhook**: a `text` fallback (shown in notifications) and blocks: a header,
 *   the summary, the incident's fields and details, and the notification id.
 * - **Webhook**: the notification as canonical JSON (sorted keys, so the receiver can re-serialise
 *   and compare), with `X-Faultline-Delivery: <notification id>` to deduplicate on, and
 *   `X-Faultline-Signature: t=<unix seconds>,sha256=<hex>`, the HMAC-SHA256 of `<t>.<body>` with
 *   the destination's secret. Receivers recompute it and reject a `t` too far from their clock.
 */

export interface DeliveryRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export const USER_AGENT = 'Faultline-Notify/1';
export const DELIVERY_HEADER = 'X-Faultline-Delivery';
export const SIGNATURE_HEADER = 'X-Faultline-Signature';
const JSON_HEADERS = { 'content-type': 'application/json', 'user-agent': USER_AGENT } as const;

/** PagerDuty keeps a summary of at most 1,024 characters (a `dedup_key` of 255: incident ids are shorter). */
const PAGERDUTY_MAX_SUMMARY = 1_024;

const failureDomainOf = (notification: Notification): string | undefined => {
  const value = notification.details?.failureDomain;
  return typeof value === 'string' && value.length > 0 ? value : undefined;
};

/**
 * The incident's page on Faultline's web page (web/app.ts `GET /incidents/:id`) under `publicUrl`
 * (kept without a trailing slash by config.ts), or undefined without one.
 */
export const incidentPageUrl = (publicUrl: string | undefined, incidentId: string): string | undefined =>
  publicUrl === undefined ? undefined : `${publicUrl}/incidents/${encodeURIComponent(incidentId)}`;

/**
 * What the page is about, as PagerDuty's `payload.component`: the resource the core names in its
 * details (`md0`, `map:mpatha`, a path), arrays by their bare name as §3 names them; else, for an
 * outage, which concerns every array its failure domain serves, the failure domain.
 */
export const componentOf = (notification: Notification): string | undefined => {
  const resource = notification.details?.resource;
  if (typeof resource === 'string' && resource.length > 0) return resource.replace(/^array:/, '');
  return failureDomainOf(notification);
};

/** The Events API v2 body for a notification. */
export const pagerDutyEvent = (
  notification: Notification,
  destination: PagerDutyDestination & Pick<ResolvedDestination, 'publicUrl'>,
): Record<string, unknown> => {
  const base = {
    routing_key: destination.routingKey,
    event_action: notification.action,
    dedup_key: notification.dedupKey,
  };
  if (notification.action !== 'trigger') return base;
  const failureDomain = failureDomainOf(notification);
  const component = componentOf(notification);
  const incidentPage = incidentPageUrl(destination.publicUrl, notification.incidentId);
  const clientUrl = destination.clientUrl ?? destination.publicUrl;
  return {
    ...base,
    payload: {
      summary: notification.summary.slice(0, PAGERDUTY_MAX_SUMMARY),
      source: destination.source ?? failureDomain ?? 'faultline',
      severity: notification.severity,
      timestamp: notification.time,
      ...(component === undefined ? {} : { component }),
      ...(failureDomain === undefined ? {} : { group: failureDomain }),
      class: 'storage',
      custom_details: {
        ...notification.details,
        incidentId: notification.incidentId,
        notificationId: notification.id,
      },
    },
    client: 'Faultline',
    ...(clientUrl === undefined ? {} : { client_url: clientUrl }),
    ...(incidentPage === undefined
      ? {}
      : { links: [{ href: incidentPage, text: `Faultline incident ${notification.incidentId}` }] }),
  };
};

const SLACK_HEADER_MAX = 150;
const SLACK_TEXT_MAX = 3_000;
const SLACK_FIELD_MAX = 2_000;
const SLACK_MAX_FIELDS = 10;

const ACTION_LOOK: Record<NotificationAction, { emoji: string; verb: string }> = {
  trigger: { emoji: ':rotating_light:', verb: 'Triggered' },
  acknowledge: { emoji: ':eyes:', verb: 'Acknowledged' },
  resolve: { emoji: ':white_check_mark:', verb: 'Resolved' },
};

/** Slack's mrkdwn needs `&`, `<` and `>` escaped; nothing else is interpreted as a link or mention. */
const escapeSlack = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const cut = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

const detailText = (value: string | number | boolean | string[]): string =>
  Array.isArray(value) ? value.join(', ') : String(value);

/** A Slack mrkdwn link: `<url|text>`; `|` cannot stand in its URL, so it is percent-encoded. */
const slackLink = (url: string, text: string): string =>
  `<${escapeSlack(url.replace(/\|/g, '%7C'))}|${escapeSlack(text)}>`;

/** The Slack message (text fallback and blocks) for a notification, linking its incident's page when there is one. */
export const slackMessage = (
  notification: Notification,
  destination: Pick<ResolvedDestination, 'publicUrl'> = {},
): Record<string, unknown> => {
  const look = ACTION_LOOK[notification.action];
  const incidentPage = incidentPageUrl(destination.publicUrl, notification.incidentId);
  const title = `${look.verb} (${notification.severity}): ${notification.summary}`;
  const fields = [
    `*Incident*\n\`${notification.incidentId}\``,
    `*Severity*\n${notification.severity}`,
    `*Time*\n${notification.time}`,
    ...Object.entries(notification.details ?? {}).map(
      ([name, value]) => `*${escapeSlack(name)}*\n${escapeSlack(detailText(value))}`,
    ),
  ]
    .slice(0, SLACK_MAX_FIELDS)
    .map((text) => ({ type: 'mrkdwn', text: cut(text, SLACK_FIELD_MAX) }));
  return {
    text: cut(`${look.emoji} ${escapeSlack(title)}`, SLACK_TEXT_MAX),
    blocks: [
      {
        type: 'header',
        text: {
          type: 'plain_text',
          text: cut(`${look.verb}: ${notification.summary}`, SLACK_HEADER_MAX),
          emoji: true,
        },
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: cut(`${look.emoji} ${escapeSlack(notification.summary)}`, SLACK_TEXT_MAX),
        },
      },
      { type: 'section', fields },
      ...(incidentPage === undefined
        ? []
        : [
            {
              type: 'section',
              text: { type: 'mrkdwn', text: slackLink(incidentPage, 'Open the incident in Faultline') },
            },
          ]),
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `Faultline notification \`${notification.id}\`` }],
      },
    ],
  };
};

/** `t=<unix seconds>,sha256=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const webhookSignature = (secret: string, unixSeconds: number, body: string): string =>
  `t=${unixSeconds},sha256=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;

const webhookRequest = (
  notification: Notification,
  destination: WebhookDestination & Pick<ResolvedDestination, 'publicUrl'>,
  now: number,
): DeliveryRequest => {
  const incidentUrl = incidentPageUrl(destination.publicUrl, notification.incidentId);
  const body = canonicalJson(incidentUrl === undefined ? notification : { ...notification, incidentUrl });
  return {
    url: destination.url,
    headers: {
      ...JSON_HEADERS,
      [DELIVERY_HEADER]: notification.id,
      [SIGNATURE_HEADER]: webhookSignature(destination.secret, Math.floor(now / 1_000), body),
    },
    body,
  };
};

/** The request for `destination`; `now` (ms) timestamps webhook signatures. */
export const deliveryRequest = (
  destination: ResolvedDestination,
  notification: Notification,
  now: number,
): DeliveryRequest => {
  switch (destination.kind) {
    case 'pagerduty':
      return {
        url: destination.url,
        headers: JSON_HEADERS,
        body: JSON.stringify(pagerDutyEvent(notification, destination)),
      };
    case 'slack':
      return {
        url: destination.url,
        headers: JSON_HEADERS,
        body: JSON.stringify(slackMessage(notification, destination)),
      };
    case 'webhook':
      return webhookRequest(notification, destination, now);
  }
};
