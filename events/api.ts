import { z } from 'zod';
import {
  ApiError,
  FailureDomain,
  FaultlineEvent,
  HostId,
  Identifier,
  Issue,
  LIMITS,
  Plan,
  Rfc3339,
} from '../../events/index.ts';
import type { AffectedHost, DurationStats, IncidentRecord, IncidentStats } from '../adapters/store/port.ts';
import type { TimelineEntry } from '../core/index.ts';

/**
 * The schemas of the HTTP API (DESIGN.md §6): what the edge parses requests with, and what
 * `/openapi.json` is generated from. Responses mirror the store's projections; the compile-time
 * checks at the end keep each response schema able to describe every value the store returns.
 */

// ————————————————————————————————————————————— shared

export const ErrorBody = ApiError.meta({
  id: 'Error',
  description: 'Every error: a stable code, a message for people, and the input issues when there are any.',
});

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

export const CloudEvent = FaultlineEvent.meta({
  id: 'CloudEvent',
  description: 'A Faultline CloudEvent (DESIGN.md §3); `receivedat` is stamped by the API, never by agents.',
});

export const EventsRequest = z
  .union([CloudEvent, z.array(CloudEvent).min(1).max(LIMITS.maxBatchEvents)])
  .describe(
    `One CloudEvent, or a batch (a JSON array, application/cloudevents-batch+json) of at most ${LIMITS.maxBatchEvents}; ` +
      `each event ≤ ${LIMITS.maxEventBytes} bytes, the request ≤ ${LIMITS.maxBatchBytes} bytes.`,
  );

export const RejectedEvent = z.object({ index: z.int().min(0), issues: z.array(IssueBody) });

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

export const HostIdParams = z.strictObject({ hostId: HostId });

export const PlansQuery = z.strictObject({
  wait: QueryInt(0, 20)
    .optional()
    .describe(
      'Long polling: hold the request up to this many seconds until a plan is there (local runtime only).',
    ),
});

export const SignedPlan = Plan.meta({
  id: 'Plan',
  description: 'A signed remediation plan (DESIGN.md §4); verify `signature` before anything else.',
});

export const PlansResponse = z
  .object({
    plans: z.array(SignedPlan),
    nextPollSeconds: z.int().min(1).describe('When to ask again.'),
  })
  .meta({ id: 'Plans' });

// ————————————————————————————————————————————— incidents

export const IncidentStatusSchema = z.enum([
  'open',
  'awaiting-recovery',
  'remediating',
  'halted',
  'resolved',
]);
export const IncidentKindSchema = z.enum(['outage', 'local', 'double-fault']);

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
    downAt: Rfc3339.optional(),
    upAt: Rfc3339.nullable().optional(),
    detectedAt: Rfc3339.describe('When Faultline opened it: time to detect is detectedAt − downAt.'),
    revision: z.int(),
  })
  .meta({ id: 'Incident' });

export const TimelineEntryBody = z
  .object({
    id: z.string(),
    incidentId: z.string(),
    at: Rfc3339,
    hostId: z.string().optional(),
    text: z.string(),
  })
  .meta({ id: 'TimelineEntry' });

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

export const IncidentListQuery = z.strictObject({
  status: IncidentStatusSchema.optional(),
  domain: FailureDomain.optional(),
  host: HostId.optional(),
  since: Rfc3339.optional().describe('Opened at or after.'),
  until: Rfc3339.optional().describe('Opened at or before.'),
  limit: QueryInt(1, 500).optional().describe('Default 50.'),
  cursor: Cursor.optional(),
});

export const IncidentList = z
  .object({
    incidents: z.array(IncidentBody).describe('Newest first.'),
    cursor: z.string().nullable().describe('The next page, or null when this is the last.'),
  })
  .meta({ id: 'IncidentList' });

export const IncidentIdParams = z.strictObject({ id: Identifier });

export const IncidentDetailQuery = z.strictObject({
  limit: QueryInt(1, 1000).optional().describe('Timeline entries and affected hosts per page; default 100.'),
  timelineCursor: Cursor.optional(),
  hostsCursor: Cursor.optional(),
});

export const IncidentDetailBody = z
  .object({
    incident: IncidentBody,
    timeline: z.object({ items: z.array(TimelineEntryBody), cursor: z.string().nullable() }),
    affectedHosts: z.object({ items: z.array(AffectedHostBody), cursor: z.string().nullable() }),
  })
  .meta({ id: 'IncidentDetail' });

// ————————————————————————————————————————————— stats

export const StatsQuery = z.strictObject({
  since: Rfc3339.optional().describe('Incidents opened at or after.'),
  until: Rfc3339.optional().describe('Incidents opened at or before.'),
});

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
  })
  .meta({ id: 'Stats' });

// ————————————————————————————————————————————— operator commands

export const ApproveBody = z.strictObject({
  canaryHost: HostId.optional().describe('The host to run the canary plan on, instead of the first by id.'),
});

export const ResumeBody = z.strictObject({
  failureDomain: FailureDomain.optional().describe(
    "Lift this domain's halt; without it, end the global pause.",
  ),
});

export const MaintenanceParams = z.strictObject({
  kind: z.enum(['host', 'domain']),
  id: z
    .string()
    .min(1)
    .max(300)
    .describe('A host id, or a failure domain (its `/` may be sent as is or as %2F).'),
});

export const MaintenanceBody = z.strictObject({ on: z.boolean() });

export const CommandAccepted = z
  .object({
    commandId: Identifier.describe('The operator command queued; correlate applies it through the core.'),
    type: z.string(),
  })
  .meta({ id: 'CommandAccepted' });

// ————————————————————————————————————————————— tokens

const TokenLabel = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._@:-]{0,63}$/, 'letters, digits, space and . _ @ : - (at most 64)');

export const TokenRequest = z.union([
  z.strictObject({
    kind: z.literal('agent').optional(),
    hostId: HostId,
    label: TokenLabel.optional(),
  }),
  z.strictObject({ kind: z.literal('operator'), label: TokenLabel.optional() }),
]);

export const TokenCreated = z
  .object({
    token: z.string().describe('The secret: shown once, stored only as its SHA-256.'),
    kind: z.enum(['agent', 'operator']),
    hostId: HostId.optional(),
    label: z.string().optional(),
    createdAt: Rfc3339,
  })
  .meta({ id: 'TokenCreated' });

// ————————————————————————————————————————————— health

export const HealthBody = z
  .object({ status: z.literal('ok'), paused: z.boolean(), time: Rfc3339 })
  .meta({ id: 'Health' });

// ————————————————————————————————————————————— the store's values fit the documented shapes

/** True when every `Value` the store returns fits `Schema`; a mismatch fails the typecheck below. */
type Describes<Schema extends z.ZodType, Value> = [Value] extends [z.output<Schema>] ? true : false;
type Holds<Check extends true> = Check;

/** Compile-time only: the response schemas describe what the store returns. */
export type StoreShapesDescribed = [
  Holds<Describes<typeof IncidentBody, IncidentRecord>>,
  Holds<Describes<typeof TimelineEntryBody, TimelineEntry>>,
  Holds<Describes<typeof AffectedHostBody, AffectedHost>>,
  Holds<Describes<typeof StatsBody, IncidentStats>>,
  Holds<Describes<typeof Durations, DurationStats>>,
];
