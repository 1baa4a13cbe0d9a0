import { EventsAccepted, EventsRequest, LIMITS } from '../../../events/index.ts';
import { readJsonBodyText } from '../body.ts';
import { defineRoute, type RouteGroup, routeGroup } from '../define-route.ts';
import { chargeRateLimit, eventsIn, type IngestDeps, ingestEvents } from '../ingest.ts';
import { IngestRateLimit, RATE_LIMITED_ANSWER } from '../rate-limit.ts';

/**
 * The events route group, mounted at `/v1/events`: agents (and operators) post CloudEvents, which
 * ../ingest.ts parses, binds to their sender, judges against its host's grant and queues for correlate,
 * within the token's rate limit (../rate-limit.ts): admitted before the body is read, charged its
 * events once it is.
 */

/** The events group: `POST /v1/events`. */
export const eventRoutes = (deps: IngestDeps): RouteGroup => {
  const group = routeGroup();
  const rateLimit = deps.rateLimit ?? new IngestRateLimit({}, deps.now);

  defineRoute(
    group,
    {
      method: 'post',
      path: '/',
      access: 'authenticated',
      operationId: 'postEvents',
      summary: 'Ingest one CloudEvent or a batch',
      description:
        "An agent token may post only its own host's events, and says of the serving side only what its host's grant allows (`PUT /v1/hosts/:id`): a heartbeat's `role` hosting or control, `serves` and `guests`, and `ipl.completed`, `domain.rebooted` and `domain.going-down`, only within the grant (else `role-not-granted` or `domain-not-granted`); an operator token may post any. Accepted events are stamped with `receivedat` and `sentby` and queued for correlate.",
      tags: ['agents'],
      rawBody: {
        schema: EventsRequest,
        maxBytes: LIMITS.maxBatchBytes,
        mediaTypes: [
          'application/cloudevents-batch+json',
          'application/cloudevents+json',
          'application/json',
        ],
      },
      responses: {
        202: {
          description: 'At least one event was accepted; the others are listed by index with their issues.',
          content: { 'application/json': { schema: EventsAccepted } },
        },
        429: RATE_LIMITED_ANSWER,
      },
    },
    async (c, { principal }) => {
      const who = rateLimit.keyOf(principal);
      chargeRateLimit(rateLimit, who, 'admit', deps.metrics);
      const body = await readJsonBodyText(c.req.raw, { maxBytes: LIMITS.maxBatchBytes, required: true });
      chargeRateLimit(rateLimit, who, eventsIn(body.value), deps.metrics);
      return c.json(await ingestEvents(body.value, principal, deps, body.text), 202);
    },
  );

  return group;
};
