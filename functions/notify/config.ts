import { z } from 'zod';
import { NotificationAction, Severity } from '../../events/notification.ts';
import { NotifyConfigError } from './errors.ts';

/**
 * Where notify delivers (docs/architecture.md §6 "Notifications"): PagerDuty Events API v2, Slack incoming
 * webhooks, and signed generic webhooks, each a named destination of the configuration, which is
 * also the allow-list of URLs notify may call.
 *
 * `allowList`, when given, is a second gate kept apart from the destinations (an operator's or
 * security team's list): a destination whose URL is not on it is never called, and is reported
 * when the configuration loads. Without it, the destinations' own URLs are the allow-list. Either
 * way, the HTTP layer refuses every URL outside the allow-list and never follows redirects.
 *
 * URLs are `https:`; plain `http:` only to a loopback address (the local runtime's webhook sink).
 *
 * `publicUrl`, when given, is where people reach Faultline's web page: a PagerDuty trigger then
 * `links` the incident's page (`<publicUrl>/incidents/<id>`, web/app.ts), a Slack message shows
 * the link, and a webhook body carries it as `incidentUrl`. notify never calls it, so it is not on
 * the allow-list and may be plain http (an operator console on an internal name).
 *
 * Secrets (PagerDuty routing keys, Slack webhook URLs, webhook signing secrets) sit in this
 * configuration. The local runtime reads it from its config file; in the cloud its composition
 * root (functions/lambda/notify.ts) reads it from Secrets Manager at run time, cached for a few
 * minutes, so it is never in the function's environment and a rotation takes effect within the
 * cache time.
 */

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** A destination URL: https, or http on loopback; no credentials in it. */
const DestinationUrl = z
  .url({ protocol: /^https?$/ })
  .refine((text) => {
    const url = new URL(text);
    return url.protocol === 'https:' || LOOPBACK_HOSTS.has(url.hostname);
  }, 'plain http is only allowed to a loopback address: use https')
  .refine((text) => {
    const url = new URL(text);
    return url.username === '' && url.password === '';
  }, 'a destination URL carries no user name or password')
  .transform((text) => new URL(text).href);

/** Names a destination in logs and in the delivery log: letters, digits and `-`. */
const DestinationName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a name of lowercase letters, digits and -');

const common = {
  name: DestinationName,
  /** Only these actions are sent here (default: all). */
  actions: z.array(NotificationAction).min(1).optional(),
  /**
   * Triggers below this severity are not sent here (default: all). Acknowledges and resolves are
   * always sent, so that what was paged is also resolved.
   */
  minSeverity: Severity.optional(),
};

export const PagerDutyDestination = z.strictObject({
  ...common,
  kind: z.literal('pagerduty'),
  url: DestinationUrl.default(PAGERDUTY_EVENTS_URL),
  /** The integration key of an Events API v2 integration on a PagerDuty service. */
  routingKey: z.string().regex(/^[A-Za-z0-9]{20,64}$/, 'a PagerDuty Events API v2 integration key'),
  /** `payload.source`; by default the incident's failure domain (`details.failureDomain`), else `faultline`. */
  source: z.string().min(1).max(255).optional(),
  /** `client_url`: a link back to Faultline (the operator console), if there is one. */
  clientUrl: z.url({ protocol: /^https?$/ }).optional(),
});
export type PagerDutyDestination = z.infer<typeof PagerDutyDestination>;

export const SlackDestination = z.strictObject({
  ...common,
  kind: z.literal('slack'),
  /** The incoming webhook URL (`https://hooks.slack.com/services/...`). */
  url: DestinationUrl,
});
export type SlackDestination = z.infer<typeof SlackDestination>;

export const WebhookDestination = z.strictObject({
  ...common,
  kind: z.literal('webhook'),
  url: DestinationUrl,
  /** The HMAC-SHA256 key of `X-Faultline-Signature`; shared with the receiver. */
  secret: z.string().min(16, 'a webhook secret has at least 16 characters'),
});
export type WebhookDestination = z.infer<typeof WebhookDestination>;

export const Destination = z.discriminatedUnion('kind', [
  PagerDutyDestination,
  SlackDestination,
  WebhookDestination,
]);
export type Destination = z.infer<typeof Destination>;

const MS_PER_SECOND = 1_000;

/** How hard one delivery tries before the record is handed back to SQS. */
export const RetryPolicy = z.strictObject({
  /** Tries per destination per receive of the record, the first included. */
  maxAttempts: z.int().min(1).max(10).default(4),
  /** The first backoff; each next one doubles, up to `maxDelayMs`, half of it jittered. */
  baseDelayMs: z
    .int()
    .min(0)
    .max(60 * MS_PER_SECOND)
    .default(500),
  maxDelayMs: z
    .int()
    .min(0)
    .max(300 * MS_PER_SECOND)
    .default(8 * MS_PER_SECOND),
  /**
   * The longest `Retry-After` waited for in place. A longer one ends the tries at once and the
   * record goes back to SQS, whose visibility timeout is then the wait (a Lambda must not sleep
   * for minutes).
   */
  maxRetryAfterMs: z
    .int()
    .min(0)
    .max(300 * MS_PER_SECOND)
    .default(30 * MS_PER_SECOND),
  /** Per request. */
  timeoutMs: z
    .int()
    .min(100)
    .max(60 * MS_PER_SECOND)
    .default(10 * MS_PER_SECOND),
});
export type RetryPolicy = z.infer<typeof RetryPolicy>;

/**
 * Faultline's web page as people reach it: http(s), no credentials, no query or fragment (the
 * incident's path is appended to it). Kept without a trailing slash.
 */
export const PublicUrl = z
  .url({ protocol: /^https?$/ })
  .refine((text) => {
    const url = new URL(text);
    return url.username === '' && url.password === '';
  }, 'the public URL carries no user name or password')
  .refine((text) => {
    const url = new URL(text);
    return url.search === '' && url.hash === '';
  }, 'the public URL has no query or fragment: the incident page path is appended to it')
  .transform((text) => new URL(text).href.replace(/\/+$/, ''));

export const NotifyConfig = z
  .strictObject({
    destinations: z.array(Destination).max(50),
    /** Where people reach Faultline's web page; see the module doc. */
    publicUrl: PublicUrl.optional(),
    /** Exact URLs notify may call; see the module doc. */
    allowList: z.array(DestinationUrl).max(100).optional(),
    retry: RetryPolicy.default(RetryPolicy.parse({})),
  })
  .refine((config) => new Set(config.destinations.map((d) => d.name)).size === config.destinations.length, {
    message: 'destination names must be unique',
    path: ['destinations'],
  });
export type NotifyConfig = z.infer<typeof NotifyConfig>;
export type NotifyConfigInput = z.input<typeof NotifyConfig>;

/**
 * A destination as notify calls it: with the configuration's `publicUrl`, which its messages link
 * the incident's page under (requests.ts).
 */
export type ResolvedDestination = Destination & { readonly publicUrl?: string };

/** The configuration as notify uses it: the destinations it may call, and those it refused. */
export interface Destinations {
  readonly allowed: readonly ResolvedDestination[];
  /** Configured, but not on the allow-list: never called. */
  readonly blocked: readonly Destination[];
  /** Exactly the URLs the HTTP layer may call. */
  readonly allowList: ReadonlySet<string>;
  readonly retry: RetryPolicy;
}

/** Validates a configuration (an object, or its JSON text); throws `NotifyConfigError` listing every problem. */
export const parseNotifyConfig = (input: unknown): NotifyConfig => {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new NotifyConfigError('the notify configuration is not JSON', [], { cause: error });
    }
  }
  const parsed = NotifyConfig.safeParse(value);
  if (!parsed.success) {
    throw new NotifyConfigError(
      'invalid notify configuration',
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
      { cause: parsed.error },
    );
  }
  return parsed.data;
};

/** Splits the destinations into those on the allow-list and those not. */
export const resolveDestinations = (config: NotifyConfig): Destinations => {
  const allowList = new Set(config.allowList ?? config.destinations.map((destination) => destination.url));
  const { publicUrl } = config;
  return {
    allowed: config.destinations
      .filter((destination) => allowList.has(destination.url))
      .map(
        (destination): ResolvedDestination =>
          publicUrl === undefined ? destination : { ...destination, publicUrl },
      ),
    blocked: config.destinations.filter((destination) => !allowList.has(destination.url)),
    allowList,
    retry: config.retry,
  };
};
