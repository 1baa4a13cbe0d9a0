import { z } from 'zod';
import { ApiError } from './api-error.ts';
import { FaultlineEvent } from './event-types.ts';
import { FailureDomain, HostId, Identifier, Rfc3339 } from './names.ts';
import { Issue, LIMITS } from './parse.ts';
import { Plan } from './plan.ts';
import { ServerRole } from './storage.ts';

/**
 * The requests and answers of the HTTP API (docs/architecture.md §6): what the API parses requests with, what
 * its `/openapi.json` is generated from, and what the web page and third-party clients read. They
 * are the contract, so they are written here as wire shapes and import nothing outside `events/`;
 * the API checks at compile time that the store's values fit them (functions/api/routes/incidents.ts).
 */

// ————————————————————————————————————————————— shared

/** Every error answer, named `Error` in `/openapi.json` so each operation points at one schema. */
export const ErrorBody = ApiError.meta({
  id: 'Error',
  description: 'Every error: a stable code, a message for people, and the input issues when there are any.',
});

/** One problem with the input, named `Issue` in `/openapi.json`: shared by errors and rejected events. */
export const IssueBody = Issue.meta({ id: 'Issue', description: 'Where (`path`) and why (`message`).' });

const Cursor = z.string().min(1).max(4096).describe('Opaque: from the previous page, with the same filters.');

/** A count of something in a query string (`?limit=20`), documented as the integer it stands for. */
const QueryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, 'not a whole number')
    .transform(Number)
    .pipe(z.int().min(min).max(max))
    .meta({ type: 'integer', minimum: min, maximum: max, pattern: undefined });

// ————————————————————————————————————————————— events

/** A Faultline CloudEvent as the API documents it: the events of §3, under one name. */
export const CloudEvent = FaultlineEvent.meta({
  id: 'CloudEvent',
  description:
    'A Faultline CloudEvent (docs/architecture.md §3); `receivedat` is stamped by the API, never by agents.',
});

/** The body of `POST /v1/events`: agents send one event or a batch, within the limits of §3. */
export const EventsRequest = z
  .union([CloudEvent, z.array(CloudEvent).min(1).max(LIMITS.maxBatchEvents)])
  .describe(
    `One CloudEvent, or a batch (a JSON array, application/cloudevents-batch+json) of at most ${LIMITS.maxBatchEvents}; ` +
      `each event ≤ ${LIMITS.maxEventBytes} bytes, the request ≤ ${LIMITS.maxBatchBytes} bytes.`,
  );

/** An event of a batch that was refused, by its index, so an agent can tell which to drop. */
export const RejectedEvent = z.object({ index: z.int().min(0), issues: z.array(IssueBody) });

/** The answer to `POST /v1/events`: what was queued, what was refused, and whether plans wait. */
export const EventsAccepted = z
  .object({
    accepted: z.array(Identifier).describe('The ids of the events queued, in request order.'),
    rejected: z.array(RejectedEvent).describe('The events refused, by their index in the request.'),
    plansPending: z
      .boolean()
      .describe('Whether plans wait for this agent (fetch them now); always false for an operator.'),
  })
  .meta({ id: 'EventsAccepted' });

// ————————————————————————————————————————————— plans

/** The path parameters of a host's own routes: an agent token is bound to this host id. */
export const HostIdParams = z.strictObject({ hostId: HostId });

/** The query of `GET /v1/agents/:hostId/plans`: how long the agent is willing to wait. */
export const PlansQuery = z.strictObject({
  wait: QueryInt(0, 20)
    .optional()
    .describe(
      'Long polling: hold the request up to this many seconds until a plan is there (local runtime only).',
    ),
});

/** A signed plan as the API documents it, named `Plan` in `/openapi.json`. */
export const SignedPlan = Plan.meta({
  id: 'Plan',
  description:
    'A signed remediation plan (docs/architecture.md §4); verify `signature` before anything else.',
});

/** The answer to `GET /v1/agents/:hostId/plans`: the plans, and when the agent should ask again. */
export const PlansResponse = z
  .object({
    plans: z.array(SignedPlan),
    nextPollSeconds: z.int().min(1).describe('When to ask again.'),
  })
  .meta({ id: 'Plans' });

// ————————————————————————————————————————————— incidents

/** Where an incident is in its life, as clients filter and show it. */
export const IncidentStatusSchema = z.enum([
  'open',
  'awaiting-recovery',
  'remediating',
  'halted',
  'resolved',
]);
/** What kind of fault an incident is: a failure domain's outage, one host's fault, or both halves lost. */
export const IncidentKindSchema = z.enum(['outage', 'local', 'double-fault']);

/** One incident as the API shows it: what an operator needs to see and act on. */
export const IncidentBody = z
  .object({
    id: Identifier,
    kind: IncidentKindSchema,
    failureDomain: z.string(),
    status: IncidentStatusSchema,
    escalated: z.boolean(),
    affectedHosts: z.int().min(0).describe('How many hosts it affects.'),
    openedAt: Rfc3339,
    resolvedAt: Rfc3339.nullable(),
    hostId: z.string().optional().describe('The host of a local or double-fault incident.'),
    resource: z.string().optional().describe('The array or path of a local or double-fault incident.'),
    summary: z.string(),
    paged: z.boolean(),
    notificationSequence: z
      .int()
      .min(1)
      .optional()
      .describe(
        'How many notifications it has made: the `sequence` of its latest (notify keeps each destination in that order).',
      ),
    downAt: Rfc3339.optional(),
    upAt: Rfc3339.nullable().optional(),
    detectedAt: Rfc3339.describe('When Faultline opened it: time to detect is detectedAt − downAt.'),
    revision: z.int(),
  })
  .meta({ id: 'Incident' });
export type IncidentBody = z.infer<typeof IncidentBody>;

/** One line of an incident's timeline: what happened, when, and on which host. */
export const TimelineEntryBody = z
  .object({
    id: z.string(),
    incidentId: z.string(),
    at: Rfc3339,
    hostId: z.string().optional(),
    text: z.string(),
    kind: z
      .enum(['down', 'up', 'canary', 'wave', 'healthy', 'halted', 'escalated', 'operator', 'resolved'])
      .optional()
      .describe('The moment it marks, for a time axis; other entries have none.'),
  })
  .meta({ id: 'TimelineEntry' });
export type TimelineEntryBody = z.infer<typeof TimelineEntryBody>;

/** One host's part in an incident: where it is in the waves of remediation. */
export const AffectedHostBody = z
  .object({
    incidentId: z.string(),
    hostId: z.string(),
    failureDomain: z.string(),
    status: z.enum(['waiting', 'planned', 'healthy', 'failed', 'proposed', 'skipped']),
    joinedAt: Rfc3339,
    attempt: z.int(),
    planId: z.string().optional(),
    reason: z.string().optional(),
  })
  .meta({ id: 'AffectedHost' });
export type AffectedHostBody = z.infer<typeof AffectedHostBody>;

/** The query of `GET /v1/incidents`: the filters and the page. */
export const IncidentListQuery = z.strictObject({
  status: IncidentStatusSchema.optional(),
  domain: FailureDomain.optional(),
  host: HostId.optional(),
  since: Rfc3339.optional().describe('Opened at or after.'),
  until: Rfc3339.optional().describe('Opened at or before.'),
  limit: QueryInt(1, 500).optional().describe('Default 50.'),
  cursor: Cursor.optional(),
});

/** The answer to `GET /v1/incidents`: one page, and the cursor of the next. */
export const IncidentList = z
  .object({
    incidents: z.array(IncidentBody).describe('Newest first.'),
    cursor: z.string().nullable().describe('The next page, or null when this is the last.'),
  })
  .meta({ id: 'IncidentList' });
export type IncidentList = z.infer<typeof IncidentList>;

/** The path parameters of one incident's routes. */
export const IncidentIdParams = z.strictObject({ id: Identifier });

/** The query of `GET /v1/incidents/:id`: the page size and the cursors of its two listings. */
export const IncidentDetailQuery = z.strictObject({
  limit: QueryInt(1, 1000).optional().describe('Timeline entries and affected hosts per page; default 100.'),
  timelineCursor: Cursor.optional(),
  hostsCursor: Cursor.optional(),
});

/** The answer to `GET /v1/incidents/:id`: the incident with a page of its timeline and of its hosts. */
export const IncidentDetailBody = z
  .object({
    incident: IncidentBody,
    timeline: z.object({ items: z.array(TimelineEntryBody), cursor: z.string().nullable() }),
    affectedHosts: z.object({ items: z.array(AffectedHostBody), cursor: z.string().nullable() }),
  })
  .meta({ id: 'IncidentDetail' });
export type IncidentDetailBody = z.infer<typeof IncidentDetailBody>;

// ————————————————————————————————————————————— stats

/** The query of `GET /v1/stats`: the window of incidents counted. */
export const StatsQuery = z.strictObject({
  since: Rfc3339.optional().describe('Incidents opened at or after.'),
  until: Rfc3339.optional().describe('Incidents opened at or before.'),
});

/** How long something took over several incidents (time to detect, time to heal); null with none. */
const Durations = z.object({
  count: z.int().min(0),
  meanSeconds: z.number().nullable(),
  maxSeconds: z.number().nullable(),
});

const statusCounts = z.object({
  open: z.int().optional(),
  'awaiting-recovery': z.int().optional(),
  remediating: z.int().optional(),
  halted: z.int().optional(),
  resolved: z.int().optional(),
});

const kindCounts = z.object({
  outage: z.int().optional(),
  local: z.int().optional(),
  'double-fault': z.int().optional(),
});

/**
 * Where pages go, as the runtime that answers knows it: the destinations notify may call (by name
 * and kind, never their URLs or secrets), and the same in words. With none, pages are kept in
 * their incident's timeline.
 */
export const PageRoutesBody = z
  .object({
    destinations: z.array(
      z.object({
        name: z.string(),
        kind: z.enum(['pagerduty', 'slack', 'webhook']),
        whileListening: z
          .boolean()
          .optional()
          .describe(
            "Sent to only while something listens at its loopback address (the demo's sink); otherwise the page is kept in its timeline.",
          ),
      }),
    ),
    description: z.string().describe('Where pages go, in words, as `faultline up` says it when it starts.'),
  })
  .meta({ id: 'PageRoutes' });
export type PageRoutesBody = z.infer<typeof PageRoutesBody>;

const secondsBetween = (
  from: string | null | undefined,
  to: string | null | undefined,
): number | undefined => {
  if (from === undefined || from === null || to === undefined || to === null) return undefined;
  const value = (Date.parse(to) - Date.parse(from)) / 1000;
  return Number.isFinite(value) ? Math.max(0, value) : undefined;
};

/**
 * One incident's time to detect (`detectedAt − (downAt ?? openedAt)`) and time to heal
 * (`resolvedAt − (upAt ?? openedAt)`: from the server back, or from the opening when it never went
 * down), in seconds: the figures `GET /v1/stats` averages, and every place that shows one
 * incident's (the web page, the demo) shows the same.
 */
export const incidentDurations = (
  incident: Pick<IncidentBody, 'openedAt' | 'resolvedAt' | 'downAt' | 'upAt'> & {
    readonly detectedAt?: string;
  },
): { detect?: number; heal?: number } => {
  const detect = secondsBetween(incident.downAt ?? incident.openedAt, incident.detectedAt);
  const heal = secondsBetween(incident.upAt ?? incident.openedAt, incident.resolvedAt);
  return { ...(detect === undefined ? {} : { detect }), ...(heal === undefined ? {} : { heal }) };
};

/** The answer to `GET /v1/stats`: the figures an operator reports on, overall and by failure domain. */
export const StatsBody = z
  .object({
    since: Rfc3339.nullable(),
    until: Rfc3339.nullable(),
    incidents: z.int().min(0),
    byStatus: statusCounts,
    byKind: kindCounts,
    timeToDetect: Durations,
    timeToHeal: Durations,
    byDomain: z
      .array(
        z.object({
          failureDomain: z.string(),
          incidents: z.int().min(0),
          open: z.int().min(0),
          resolved: z.int().min(0),
          affectedHosts: z.int().min(0),
          timeToDetect: Durations,
          timeToHeal: Durations,
        }),
      )
      .readonly(),
    pages: PageRoutesBody.optional().describe(
      "Where pages go, when the runtime knows (the local runtime does; on Lambda the API does not read notify's configuration).",
    ),
  })
  .meta({ id: 'Stats' });
export type StatsBody = z.infer<typeof StatsBody>;

// ————————————————————————————————————————————— topology and impact

const Domains = z.array(z.string()).describe('Failure domains, sorted.');

/** The query of `GET /v1/topology`: a failure domain to look at, and the page. */
export const TopologyQuery = z.strictObject({
  domain: FailureDomain.optional().describe(
    'Only the hosts that depend on this failure domain, and the single points of failure on it.',
  ),
  limit: QueryInt(1, 1000)
    .optional()
    .describe('Hosts of the fleet read per page (default 100); with `domain`, a page may show fewer.'),
  cursor: Cursor.optional(),
});

/** An array of a host, each member with the failure domain its copy depends on. */
const ArrayTopologyBody = z.object({
  array: z.string(),
  kind: z.string(),
  level: z.string(),
  health: z.enum(['healthy', 'degraded', 'recovering']),
  members: z.array(
    z.object({
      device: z.string(),
      disk: z.string(),
      state: z.string(),
      failureDomain: z.string(),
      submirror: z.string().optional(),
    }),
  ),
  domains: Domains.describe('Every domain its members (and members removed since it was healthy) sit on.'),
  inSyncDomains: Domains.describe('Where its good copies are now.'),
  singlePointOfFailure: z.boolean().describe('Every half on one domain: mirrored on paper only.'),
});

/** A multipath map of a host, each path with the failure domain it goes through. */
const MapTopologyBody = z.object({
  map: z.string(),
  wwid: z.string(),
  paths: z.array(
    z.object({ path: z.string(), hctl: z.string(), state: z.string(), failureDomain: z.string() }),
  ),
  domains: Domains,
  usableDomains: Domains.describe('Where its active or ghost paths go through now.'),
  singlePointOfFailure: z.boolean().describe('Every path through one domain.'),
});

/** One host as the topology shows it: its arrays and maps, and every domain it depends on. */
export const TopologyHostBody = z
  .object({
    hostId: z.string(),
    role: z.string().optional(),
    platform: z.string().optional(),
    domains: Domains,
    arrays: z.array(ArrayTopologyBody),
    maps: z.array(MapTopologyBody),
  })
  .meta({ id: 'TopologyHost' });
export type TopologyHostBody = z.infer<typeof TopologyHostBody>;

/** An array or map whose halves all depend on one domain: that server going down takes every copy. */
export const SinglePointOfFailureBody = z
  .object({
    hostId: z.string(),
    kind: z.enum(['array', 'map']),
    name: z.string(),
    failureDomain: z.string(),
  })
  .meta({ id: 'SinglePointOfFailure' });
export type SinglePointOfFailureBody = z.infer<typeof SinglePointOfFailureBody>;

/** The answer to `GET /v1/topology`: a page of hosts by host id, and their single points of failure. */
export const TopologyBody = z
  .object({
    hosts: z.array(TopologyHostBody),
    singlePointsOfFailure: z.array(SinglePointOfFailureBody).describe("The page's hosts' only."),
    cursor: z.string().nullable().describe('The next page, or null when this is the last.'),
  })
  .meta({ id: 'Topology' });
export type TopologyBody = z.infer<typeof TopologyBody>;

/** The path parameters of `GET /v1/domains/:id/impact` (the domain's `/` may be sent as is or as %2F). */
export const DomainIdParams = z.strictObject({ id: FailureDomain });

/** What the domain going down costs one host. */
const HostImpactBody = z.object({
  hostId: z.string(),
  losesLast: z.boolean().describe('Some array would lose its last good copy, or some map its last path.'),
  resources: z.array(
    z.object({
      kind: z.enum(['array', 'map']),
      name: z.string(),
      degraded: z.boolean().describe('Already short of a copy or a path.'),
      remainingDomains: Domains.describe(
        'Where a good copy or a usable path is left once the domain is gone.',
      ),
      losesLast: z.boolean(),
    }),
  ),
});

/** The answer to `GET /v1/domains/:id/impact`: what that server going down now would cost (§5.4). */
export const DomainImpactBody = z
  .object({
    failureDomain: z.string(),
    hosts: z.array(HostImpactBody).describe('Every host that would lose a copy or a path, by host id.'),
    losingHalf: z.int().min(0).describe('Hosts that keep a good copy of everything elsewhere.'),
    losingLast: z.int().min(0).describe('Hosts that would lose the last good copy of an array or a map.'),
  })
  .meta({ id: 'DomainImpact' });
export type DomainImpactBody = z.infer<typeof DomainImpactBody>;

// ————————————————————————————————————————————— operator commands

/** The body of `POST /v1/incidents/:id/approve`: the operator may choose the canary. */
export const ApproveBody = z.strictObject({
  canaryHost: HostId.optional().describe('The host to run the canary plan on, instead of the first by id.'),
});

/** The body of `POST /v1/control/resume`: one domain's halt, or the global pause. */
export const ResumeBody = z.strictObject({
  failureDomain: FailureDomain.optional().describe(
    "Lift this domain's halt; without it, end the global pause.",
  ),
});

/** The path parameters of `PUT /v1/maintenance/:kind/:id`; the id is checked by its kind afterwards. */
export const MaintenanceParams = z.strictObject({
  kind: z.enum(['host', 'domain']),
  id: z
    .string()
    .min(1)
    .max(300)
    .describe('A host id, or a failure domain (its `/` may be sent as is or as %2F).'),
});

/** The body of `PUT /v1/maintenance/:kind/:id`: in or out of maintenance. */
export const MaintenanceBody = z.strictObject({ on: z.boolean() });

/** The answer to every operator command: it is queued, not yet applied, under this id. */
export const CommandAccepted = z
  .object({
    commandId: Identifier.describe('The operator command queued; correlate applies it through the core.'),
    type: z.string(),
  })
  .meta({ id: 'CommandAccepted' });

// ————————————————————————————————————————————— tokens

/**
 * What a token is known by in lists, logs and the timeline (`resumed by <label> (tok-…, cmd-…)`): it is
 * printed to terminals and pages, so it holds no control or markup characters.
 */
export const TokenLabel = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._@:-]{0,63}$/, 'letters, digits, space and . _ @ : - (at most 64)');

/**
 * A token's id: `tok-` and the first 16 hex digits of the SHA-256 of its stored hash. Derived, so
 * stable and never stored; not the secret, nor the hash the store looks the secret up by.
 */
export const TokenId = z
  .string()
  .regex(/^tok-[0-9a-f]{16}$/, 'not a token id (tok- and 16 hex digits, from faultline tokens list)');

/** The failure domains a server is granted: at least one, each once. */
const GrantedDomains = z
  .array(FailureDomain)
  .min(1)
  .max(64)
  .refine((domains) => new Set(domains).size === domains.length, 'a domain is listed twice');

/** A server's grant (§3 "Sender binding"): the body of `PUT /v1/hosts/:id`. */
export const HostGrant = z
  .strictObject({
    role: ServerRole.describe(
      'What the host is: a hosting partition (VIOS, IBM i) or an LDoms control domain.',
    ),
    serves: GrantedDomains.describe(
      'The failure domains it may announce and list in its heartbeats: vscsi:<system>/<partition> or vdisk:<control>/<service domain>.',
    ),
  })
  .meta({ id: 'HostGrant' });
export type HostGrant = z.infer<typeof HostGrant>;

/** The path parameters of `PUT /v1/hosts/:id`. */
export const HostRecordParams = z.strictObject({ id: HostId });

/** A registered server: its grant, when and by whom it was given. */
export const HostRecordBody = z
  .object({
    hostId: HostId,
    role: ServerRole,
    serves: z.array(FailureDomain),
    registeredAt: Rfc3339,
    registeredBy: z.string().describe('The label of the operator token that registered it.'),
  })
  .meta({ id: 'HostRecord' });
export type HostRecordBody = z.infer<typeof HostRecordBody>;

/** The answer to `GET /v1/hosts`: the registered servers, by host id. Every other host is a client. */
export const HostList = z.object({ hosts: z.array(HostRecordBody) }).meta({ id: 'HostList' });
export type HostList = z.infer<typeof HostList>;

/** The body of `POST /v1/tokens`: an agent token for one host, or an operator token. */
export const TokenRequest = z.union([
  z
    .strictObject({
      kind: z.literal('agent').optional(),
      hostId: HostId,
      label: TokenLabel.optional(),
      role: ServerRole.optional().describe(
        'With `serves`: registers the host as a server (the grant goes to its host record).',
      ),
      serves: GrantedDomains.optional(),
    })
    .refine((body) => (body.role === undefined) === (body.serves === undefined), {
      message: 'role and serves come together: a server is registered with both',
      path: ['serves'],
    }),
  z.strictObject({ kind: z.literal('operator'), label: TokenLabel.optional() }),
]);

/** The answer to `POST /v1/tokens`: the only time the secret is shown. */
export const TokenCreated = z
  .object({
    token: z.string().describe('The secret: shown once, stored only as its SHA-256.'),
    id: TokenId.describe('What `GET /v1/tokens` lists it by and `DELETE /v1/tokens/:id` revokes it by.'),
    kind: z.enum(['agent', 'operator']),
    hostId: HostId.optional(),
    label: z.string().optional(),
    createdAt: Rfc3339,
  })
  .meta({ id: 'TokenCreated' });

/** A token as listed: who it is for and when it was made, never its secret or its hash. */
export const TokenSummary = z
  .object({
    id: TokenId,
    kind: z.enum(['agent', 'operator']),
    hostId: HostId.optional().describe('The host an agent token is bound to.'),
    label: z.string().optional(),
    createdAt: Rfc3339,
  })
  .meta({ id: 'TokenSummary' });
export type TokenSummary = z.infer<typeof TokenSummary>;

/** The query of `GET /v1/tokens`. */
export const TokenListQuery = z.strictObject({
  limit: QueryInt(1, 1000).optional().describe('Default 500.'),
  cursor: Cursor.optional(),
});

/** The answer to `GET /v1/tokens`: one page, oldest first, and the cursor of the next. */
export const TokenList = z
  .object({
    tokens: z.array(TokenSummary),
    cursor: z.string().nullable().describe('The next page, or null when this is the last.'),
  })
  .meta({ id: 'TokenList' });
export type TokenList = z.infer<typeof TokenList>;

/** The path parameters of `DELETE /v1/tokens/:id`. */
export const TokenIdParams = z.strictObject({ id: TokenId });

// ————————————————————————————————————————————— health

export const HEALTH_STATES = ['ok', 'degraded', 'unavailable'] as const;

/** One part the control plane depends on: whether it is well, and if not, why, in a few words. */
export const HealthPart = z.object({
  ok: z.boolean(),
  detail: z.string().optional().describe('Why it is not well: a short phrase, never a path'),
});
export type HealthPart = z.infer<typeof HealthPart>;

/**
 * The answer to `GET /v1/health`, for load balancers and monitors, without a token. `status`: `ok`; `degraded` (it answers, slowly or with one of
 * its parts restarting: events are still acknowledged); `unavailable` (an event posted now would
 * not be acknowledged: 503). `queue` is there where the runtime answers for its queue (the local
 * one: a file of its own); on Lambda the queue is SQS's, whose own failures answer 503 on ingest.
 */
export const ServiceHealth = z
  .object({
    status: z.enum(HEALTH_STATES),
    paused: z.boolean().optional().describe('The global pause; absent when the store did not answer'),
    time: Rfc3339,
    store: HealthPart,
    queue: HealthPart.optional(),
    correlation: HealthPart.optional(),
  })
  .meta({ id: 'ServiceHealth' });
export type ServiceHealth = z.infer<typeof ServiceHealth>;
